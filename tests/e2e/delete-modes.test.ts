import t, { type Test } from 'tap'
import type { Connection } from 'mysql2/promise'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { checkMirror, type MirrorReport } from '../support/mirror-check.js'

// The three delete modes end to end, over one source table read by three streams, with the
// delete guard at its boundary: deleting exactly maxDeleteRatio of the table (20 of 100 at 0.2)
// reconciles; one row more (17 of the 80 left, 0.2125) is held. `hard` deletes the rows, `soft`
// marks them (and the mirror is the unmarked rows), `none` keeps them (the target has exactly
// the deleted rows more). Checked with the independent mirror check.
const CONFIG = (['hard', 'soft', 'none'] as const).map((mode) => `
  - name: items_${mode}
    source: { table: Items }
    target: { table: items_${mode}, key: [id] }
    deletes: ${mode}
    maxDeleteRatio: 0.2
    columns:
      - { name: id,    from: Id,    type: int }
      - { name: name,  from: Nome,  type: string, length: 60 }
      - { name: price, from: Preco, type: decimal, precision: 12, scale: 3 }`).join('')

async function fill (sql: Connection): Promise<void> {
  await sql.query('CREATE TABLE Items (Id INT PRIMARY KEY, Nome VARCHAR(60) NOT NULL, Preco DECIMAL(12,3) NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci')
  await sql.query('INSERT INTO Items VALUES ?', [Array.from({ length: 100 }, (_, i) => [i + 1, `item ${i + 1} — ação`, i % 7 === 0 ? null : `${i}.125`])])
}

const keys = (ids: number[]): string[] => ids.map((id) => JSON.stringify([String(id)])).sort()
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const counts = (r: MirrorReport): unknown => ({ missing: r.missing, extra: r.extra, different: r.different })

t.test('delete modes – hard, soft and none end to end, with the delete guard at its boundary', async (t) => {
  const p = await startPipeline(t, { configYaml: `streams:${CONFIG}\n`, fillSource: fill })
  const ends = { sourceUrl: p.sourceUrl, targetUrl: p.targetUrl }
  const stream = (mode: string) => p.config.stream(`items_${mode}`)!
  const extractAll = async (t: Test): Promise<Record<string, number>> => {
    const codes: Record<string, number> = {}
    for (const mode of ['hard', 'soft', 'none']) {
      const result = await p.extract(`items_${mode}`)
      codes[mode] = result.code
      if (result.code !== 0) t.comment(`extract items_${mode}: exit ${result.code}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`)
    }
    return codes
  }

  await t.test('first full load: every mode mirrors the 100 rows', async (t) => {
    t.same(await extractAll(t), { hard: 0, soft: 0, none: 0 })
    await p.expectMirror(t)
  })

  await t.test('exactly maxDeleteRatio (20 of 100) deleted in the source: hard deletes, soft marks, none keeps', async (t) => {
    await p.source.query('DELETE FROM Items WHERE Id <= 20')
    t.same(await extractAll(t), { hard: 0, soft: 0, none: 0 }, 'every load is reconciled: none is held at the boundary')
    for (const mode of ['hard', 'soft', 'none']) {
      t.match((await p.loads(`items_${mode}`)).at(-1), { state: 'reconciled', deletedRows: mode === 'none' ? 0 : 20 }, `items_${mode}: reconciled`)
    }
    await p.expectMirror(t, 'items_hard')
    await p.expectMirror(t, 'items_soft')
    const [marked] = await p.target.query('SELECT id FROM items_soft WHERE _sisporta_deleted_at IS NOT NULL ORDER BY id') as unknown as [{ id: number }[]]
    t.same(marked.map((r) => r.id), range(1, 20), 'soft: exactly the 20 deleted rows are marked, and still there')
    const none = await checkMirror(stream('none'), ends)
    t.same(counts(none), { missing: 0, extra: 20, different: 0 }, 'none: the target has exactly the 20 deleted rows more')
    t.same(none.examples.extra, keys(range(1, 20)).slice(0, 5), 'none: the extra rows are the deleted ones')
  })

  await t.test('one row above maxDeleteRatio (17 of 80) deleted: hard and soft are held and delete nothing; approving deletes', async (t) => {
    await p.source.query('DELETE FROM Items WHERE Id BETWEEN 21 AND 37')
    t.same(await extractAll(t), { hard: 1, soft: 1, none: 0 }, 'extract --wait exits 1 for the held loads')
    for (const mode of ['hard', 'soft']) {
      const held = (await p.loads(`items_${mode}`)).at(-1)!
      t.match(held, { state: 'held', absentRows: 17 }, `items_${mode}: held`)
      const report = await checkMirror(stream(mode), ends)
      t.same(counts(report), { missing: 0, extra: 17, different: 0 }, `items_${mode}: nothing deleted while held`)
      t.same(report.examples.extra, keys(range(21, 37)).slice(0, 5))
      t.equal((await p.cli(['loads', 'approve', String(held.id)])).code, 0, `items_${mode}: approved`)
    }
    t.same(counts(await checkMirror(stream('none'), ends)), { missing: 0, extra: 37, different: 0 }, 'none: every deleted row kept')
    for (const mode of ['hard', 'soft']) {
      const id = (await p.loads(`items_${mode}`)).at(-1)!.id
      await eventually(async () => (await p.loads(`items_${mode}`)).find((l) => l.id === id)?.state === 'reconciled' ? true : undefined,
        { what: `the approved load of items_${mode} to be reconciled`, timeoutMs: 120_000 })
    }
    await p.expectMirror(t, 'items_hard')
    await p.expectMirror(t, 'items_soft')
    const [marked] = await p.target.query('SELECT COUNT(*) AS n FROM items_soft WHERE _sisporta_deleted_at IS NOT NULL') as unknown as [{ n: string }[]]
    t.equal(Number(marked[0]!.n), 37, 'soft: the 37 deleted rows are marked')
  })

  await t.test('a soft-deleted row the source brings back is live again', async (t) => {
    await p.source.query("INSERT INTO Items VALUES (5, 'de volta', 1.5)")
    t.same(await extractAll(t), { hard: 0, soft: 0, none: 0 })
    await p.expectMirror(t, 'items_hard')
    await p.expectMirror(t, 'items_soft')
    t.same(counts(await checkMirror(stream('none'), ends)), { missing: 0, extra: 36, different: 0 }, 'none: the row is back, the other 36 kept')
    const [rows] = await p.target.query('SELECT name, _sisporta_deleted_at AS deleted FROM items_soft WHERE id = 5') as unknown as [{ name: string, deleted: string | null }[]]
    t.same(rows, [{ name: 'de volta', deleted: null }])
  })
})
