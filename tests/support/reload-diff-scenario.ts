import type { Test } from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import type { Pipeline } from './pipeline.js'

// The end-to-end scenario of diffed reloads and `sisporta verify` (docs/reloads.md), shared by
// tests/e2e/reload-diff.test.ts (MariaDB source) and reload-diff-postgres.test.ts (PostgreSQL):
// the same rows, the same changes, the same expectations. Every expectation is read
// independently of sisporta's readers: the mirror check (the databases' own comparison), and
// plain SQL on the target's `_sisporta_load` stamps and `sisporta_batches`. The expected
// numbers (rows sent, rows deleted) come from the changes the test makes itself.

/** The two streams of the scenario; the source tables are created by the test file (its own dialect). */
export const RELOAD_DIFF_CONFIG = `streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    deletes: hard
    maxDeleteRatio: 0.2
    columns:
      - { name: id,         from: id,         type: int }
      - { name: name,       from: name,       type: string, length: 100 }
      - { name: amount,     from: amount,     type: decimal, precision: 14, scale: 6 }
      - { name: changed_at, from: changed_at, type: datetime, precision: 6 }
      - { name: doc,        from: doc,        type: json }
  - name: odd
    source: { table: odd_values }
    target: { table: odd_values, key: [id] }
    deletes: hard
    columns:
      - { name: id,     from: id,     type: int }
      - { name: amount, from: amount, type: decimal, precision: 10, scale: 4 }
      - { name: at,     from: at,     type: datetime, precision: 6 }
      - { name: doc,    from: doc,    type: json }
`

/** Rows of `items` at first: even keys 2…2·ITEMS, so that inserts can land between them. */
export const ITEMS = 3000

/**
 * Environment of the pipeline: small ranges (many of them, a few rows each) and pages that
 * fill a range exactly.
 */
export const RELOAD_DIFF_ENV = { SISPORTA_COMPARE_ROWS: '500', SISPORTA_BATCH_SIZE: '100' }

/** What the scenario needs of the source, whatever its engine: portable SQL only. */
export interface ScenarioSource {
  /** Runs one statement. */
  run(statement: string): Promise<void>
  /** The `id` column of a query's rows. */
  ids(statement: string): Promise<number[]>
}

/**
 * One `items` row as SQL literals. Values whose text is ambiguous on purpose: decimals written
 * with fewer digits than the target's scale (`1.5` into scale 6), datetimes with fewer
 * fractional digits than the column's precision, JSON with spaces and trailing zeros, NULLs.
 */
export function itemValues (id: number, version = 1): string {
  const amount = id % 22 === 0 ? 'NULL' : id % 14 === 0 ? "'1.5'" : `'${id}.${id % 97}'`
  const fraction = ['', '.5', '.12', '.123'][id % 4]!
  const at = `'2026-0${1 + (id % 9)}-${String(1 + (id % 28)).padStart(2, '0')} 1${id % 10}:${String(id % 60).padStart(2, '0')}:0${id % 10}${fraction}'`
  const doc = id % 33 === 0 ? 'NULL' : `'{"n": ${id}, "tags": ["a", "b"], "price": 1.50, "v": ${version}}'`
  return `(${id}, 'item ${id} v${version} ✨', ${amount}, ${at}, ${doc})`
}

/** Inserts `items` rows, a few hundred per statement. */
export async function insertItems (src: ScenarioSource, ids: readonly number[], version = 1): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await src.run(`INSERT INTO items (id, name, amount, changed_at, doc) VALUES ${ids.slice(i, i + 500).map((id) => itemValues(id, version)).join(', ')}`)
  }
}

/**
 * Rows of `odd_values`: `ordinary` ones whose canonical form must agree on both sides (a
 * decimal without trailing zeros, a datetime with one fractional digit, JSON objects and
 * arrays), and `scalarJson` ones whose JSON is a bare string, number or boolean (the JSON
 * string "5" must not be taken for the number 5, nor re-sent on every load).
 */
export const ODD_ROWS = {
  ordinary: [
    "(1, '1.5', '2026-03-04 05:06:07.1', '{\"b\": 1, \"a\": [1, 2.50, \"x\"]}')",
    "(2, '0', '2026-03-04 05:06:07', '[1, 2, 3]')",
    "(3, '-12.3', '2026-03-04 05:06:07.000001', '{\"nested\": {\"k\": [true, false, null]}, \"e\": 1e3}')",
    '(4, NULL, NULL, NULL)',
    "(5, '99.99', '2026-12-31 23:59:59.99', '{}')"
  ],
  scalarJson: [
    "(6, '1', '2026-01-01 00:00:00', '\"just a string\"')",
    "(7, '2', '2026-01-01 00:00:00', '42')",
    "(8, '3', '2026-01-01 00:00:00', 'true')"
  ]
} as const

/** Creates the source rows (the tables exist already). */
export async function fillScenarioSource (src: ScenarioSource): Promise<void> {
  await insertItems(src, Array.from({ length: ITEMS }, (_, i) => 2 * (i + 1)))
  await src.run(`INSERT INTO odd_values (id, amount, at, doc) VALUES ${[...ODD_ROWS.ordinary, ...ODD_ROWS.scalarJson].join(', ')}`)
}

type Row = Record<string, unknown>

async function query<T extends Row> (p: Pipeline, statement: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await p.target.query(statement, params) as unknown as [T[]]
  return rows
}

/** Every target row's key and stamp, by SQL: `id → _sisporta_load`. */
async function stamps (p: Pipeline, table: string): Promise<Map<number, number | null>> {
  const rows = await query<{ id: number, s: string | null }>(p, `SELECT id, _sisporta_load AS s FROM \`${table}\``)
  return new Map(rows.map((r) => [Number(r.id), r.s === null ? null : Number(r.s)]))
}

async function keysStamped (p: Pipeline, table: string, stamp: number): Promise<number[]> {
  return (await query<{ id: number }>(p, `SELECT id FROM \`${table}\` WHERE _sisporta_load = ? ORDER BY id`, [stamp])).map((r) => Number(r.id))
}

async function negativeStamps (p: Pipeline, table: string): Promise<number> {
  return Number((await query<{ n: string }>(p, `SELECT COUNT(*) AS n FROM \`${table}\` WHERE _sisporta_load < 0`))[0]!.n)
}

/** Rows and batches `sisporta_batches` holds for a load (what the persisters applied). */
async function booked (p: Pipeline, stream: string, loadId: number): Promise<{ rows: number, batches: number }> {
  const [row] = await query<{ r: string | null, b: string }>(p, 'SELECT SUM(row_count) AS r, COUNT(*) AS b FROM sisporta_batches WHERE stream = ? AND load_id = ?', [stream, loadId])
  return { rows: Number(row!.r ?? 0), batches: Number(row!.b) }
}

const sorted = (xs: Iterable<number>): number[] => [...xs].sort((a, b) => a - b)

/** Runs one full load with `--wait`; it must end reconciled. */
async function reload (t: Test, p: Pipeline, stream: string, extra: string[] = []): Promise<LoadRecord> {
  const before = (await p.loads(stream)).at(-1)?.id ?? 0
  const result = await p.extract(stream, extra)
  t.equal(result.code, 0, `extract ${stream} exits 0`, { stderr: result.stderr.slice(-2000) })
  const load = (await p.loads(stream)).at(-1)!
  t.ok(load.id > before, 'a new load')
  t.equal(load.state, 'reconciled', `load ${load.id} reconciled`, { reason: load.reason })
  return load
}

/**
 * A diffed reload after known changes: the record counts exactly them, the target holds them
 * (and only them) under the new stamp, every other row keeps its stamp, no mark is left.
 */
async function expectDiffedReload (t: Test, p: Pipeline, changes: { sent: readonly number[], deleted: readonly number[] }): Promise<LoadRecord> {
  const previous = await stamps(p, 'items')
  const load = await reload(t, p, 'items')
  const expectedRows = previous.size - changes.deleted.length + changes.sent.filter((id) => !previous.has(id)).length
  t.equal(load.reload, 'diff', 'the gateway opened a diffed reload')
  t.equal(load.comparedRows, expectedRows, 'comparedRows: every source row')
  t.equal(load.rows, changes.sent.length, `rows sent: exactly the ${changes.sent.length} rows changed or inserted`)
  t.equal(load.deletedRows, changes.deleted.length, `deletedRows: exactly the ${changes.deleted.length} rows deleted at the source`)
  t.ok(load.comparedRanges! >= Math.floor(expectedRows / 500), `${load.comparedRanges} ranges compared`)
  t.same(await booked(p, 'items', load.id).then((b) => b.rows), changes.sent.length, 'sisporta_batches books exactly the rows sent')
  await p.expectMirror(t, 'items')
  t.same(await keysStamped(p, 'items', load.id), sorted(changes.sent), 'the rows changed or inserted, and only they, carry the new load id')
  const after = await stamps(p, 'items')
  const deleted = new Set(changes.deleted)
  const sent = new Set(changes.sent)
  t.same(sorted([...previous.keys()].filter((id) => !after.has(id))), sorted(deleted), 'exactly the rows deleted at the source are gone')
  const kept = [...previous].filter(([id]) => !deleted.has(id) && !sent.has(id))
  t.equal(kept.filter(([id, stamp]) => after.get(id) !== stamp).length, 0, `the other ${kept.length} rows keep their old stamp`)
  t.equal(await negativeStamps(p, 'items'), 0, 'no row with a negative stamp remains')
  return load
}

/** The scenario, one subtest per step; the steps build on each other. */
export async function runReloadDiffScenario (t: Test, p: Pipeline, src: ScenarioSource, options: { verifyAndGuard?: boolean } = {}): Promise<void> {
  await t.test('first full load sends every row', async (t) => {
    const load = await reload(t, p, 'items')
    t.equal(load.reload, undefined, 'the first load of a stream is a load of rows')
    t.equal(load.rows, ITEMS)
    t.equal((await booked(p, 'items', load.id)).rows, ITEMS, 'sisporta_batches books every row')
    t.same(await keysStamped(p, 'items', load.id), Array.from({ length: ITEMS }, (_, i) => 2 * (i + 1)), 'every row carries its stamp')
    await p.expectMirror(t, 'items')
  })

  await t.test('diffed reload after scattered changes: updates, inserts between keys and past the end, deletes', async (t) => {
    const updated = await src.ids('SELECT id FROM items WHERE MOD(id, 200) = 0 ORDER BY id') // every 100th row
    await src.run("UPDATE items SET name = CONCAT(name, ' changed'), changed_at = '2026-11-30 12:00:00.5' WHERE MOD(id, 200) = 0")
    const inserted = [...Array.from({ length: 15 }, (_, k) => 400 * k + 1), 2 * ITEMS + 2, 2 * ITEMS + 4, 2 * ITEMS + 6]
    await insertItems(src, inserted, 2)
    const deleted = await src.ids('SELECT id FROM items WHERE MOD(id, 400) = 202 ORDER BY id') // 0.5 %
    await src.run('DELETE FROM items WHERE MOD(id, 400) = 202')
    t.equal(updated.length, ITEMS / 100)
    t.equal(deleted.length, ITEMS / 200)
    const load = await expectDiffedReload(t, p, { sent: [...updated, ...inserted], deleted })
    t.ok(load.equalRanges! < load.comparedRanges!, 'changes in every part of the table: few ranges equal')
  })

  await t.test('diffed reload after clustered changes: the newest 1 % of keys updated, some deleted', async (t) => {
    const newest = await src.ids('SELECT id FROM items ORDER BY id DESC')
    const updated = newest.slice(0, Math.ceil(newest.length / 100))
    const deleted = newest.slice(updated.length, updated.length + 10)
    await src.run(`UPDATE items SET amount = '7.25', doc = '{"clustered": true}' WHERE id IN (${updated.join(', ')})`)
    await src.run(`DELETE FROM items WHERE id IN (${deleted.join(', ')})`)
    const load = await expectDiffedReload(t, p, { sent: updated, deleted })
    // the changes sit in the last full range and the open-ended one past it
    t.ok(load.equalRanges! >= load.comparedRanges! - 2 && load.equalRanges! < load.comparedRanges!, `${load.equalRanges} of ${load.comparedRanges} ranges found equal`)
  })

  await t.test('diffed reload with nothing changed sends nothing and deletes nothing', async (t) => {
    const before = await stamps(p, 'items')
    const load = await reload(t, p, 'items')
    t.equal(load.reload, 'diff')
    t.equal(load.rows, 0, 'no row sent: every canonical form agrees (decimals, datetimes, JSON)')
    t.equal(load.deletedRows, 0, 'nothing deleted')
    t.equal(load.equalRanges, load.comparedRanges, 'every range equal')
    t.equal(load.comparedRows, before.size)
    t.same((await booked(p, 'items', load.id)).batches, 0, 'no batch booked')
    t.same(await stamps(p, 'items'), before, 'no stamp changed')
  })

  // verify and the delete guard work on the target alone: one source covers them (the MariaDB file)
  if (options.verifyAndGuard !== false) await verifyAndGuard(t, p, src)
  await oddValues(t, p)
}

async function verifyAndGuard (t: Test, p: Pipeline, src: ScenarioSource): Promise<void> {
  await t.test('sisporta verify finds a row edited, deleted and inserted behind sisporta\'s back; --repair fixes exactly those', async (t) => {
    const identical = await p.cli(['verify', '--stream', 'items'])
    t.equal(identical.code, 0, 'verify exits 0 on a mirror', { stderr: identical.stderr.slice(-2000) })
    t.match(identical.stdout, /identical/)
    const [edited, removed, ghost] = [1000, 2000, 777]
    t.same(await src.ids(`SELECT id FROM items WHERE id IN (${edited}, ${removed}, ${ghost}) ORDER BY id`), [edited, removed], 'the keys are what the test expects at the source')
    await p.target.query('UPDATE items SET name = ? WHERE id = ?', ['edited behind sisporta\'s back', edited])
    await p.target.query('DELETE FROM items WHERE id = ?', [removed])
    await p.target.query('INSERT INTO items (id, name, amount, changed_at, doc) VALUES (?, ?, ?, ?, ?)', [ghost, 'ghost', '1.000000', '2026-01-01 00:00:00', '{}'])
    const before = await stamps(p, 'items')

    const verified = await p.cli(['verify', '--stream', 'items', '--json'])
    t.equal(verified.code, 1, 'verify exits 1 when the target differs', { stderr: verified.stderr.slice(-2000) })
    const report = (JSON.parse(verified.stdout) as { before: { missing: number, extra: number, different: number, firstKeys: Record<string, unknown[][]>, sourceRows: number, targetRows: number } }).before
    t.match(report, { missing: 1, extra: 1, different: 1 }, 'one row missing, one extra, one different')
    t.same(report.firstKeys, { missing: [[removed]], extra: [[ghost]], different: [[edited]] }, 'and their keys')
    t.equal(report.targetRows, before.size)
    t.same(await stamps(p, 'items'), before, 'verify wrote nothing: every stamp as it was')
    const text = await p.cli(['verify', '--stream', 'items'])
    t.equal(text.code, 1)
    t.match(text.stdout, /DIFFERENT/)

    const repaired = await p.cli(['verify', '--stream', 'items', '--repair', '--json'])
    t.equal(repaired.code, 0, 'verify --repair exits 0 once the target is identical again', { stderr: repaired.stderr.slice(-2000) })
    const out = JSON.parse(repaired.stdout) as { repair: LoadRecord, after: { missing: number, extra: number, different: number } }
    t.match(out.after, { missing: 0, extra: 0, different: 0 }, 'verified identical after the repair')
    const repair = (await p.loads('items')).at(-1)!
    t.equal(repair.id, out.repair.id)
    t.match(repair, { state: 'reconciled', reload: 'diff', rows: 2, deletedRows: 1 }, 'the repair sent the missing and the different row, deleted the extra one')
    t.equal((await booked(p, 'items', repair.id)).rows, 2, 'sisporta_batches books 2 rows')
    await p.expectMirror(t, 'items')
    const after = await stamps(p, 'items')
    t.same(await keysStamped(p, 'items', repair.id), [edited, removed], 'exactly those two rows carry the repair\'s stamp')
    t.notOk(after.has(ghost), 'the extra row is gone')
    const others = [...before].filter(([id]) => id !== edited && id !== ghost)
    t.equal(others.filter(([id, stamp]) => after.get(id) !== stamp).length, 0, `the other ${others.length} rows keep their stamp`)
    t.equal(await negativeStamps(p, 'items'), 0, 'no mark left')
  })

  await t.test('a diffed reload that would delete too much is held with its marks; approve deletes exactly them', async (t) => {
    const deleted = await src.ids('SELECT id FROM items WHERE MOD(id, 8) = 0 ORDER BY id')
    await src.run('DELETE FROM items WHERE MOD(id, 8) = 0')
    const before = await stamps(p, 'items')
    t.ok(deleted.length / before.size > 0.2, `${deleted.length} of ${before.size} rows deleted at the source: above maxDeleteRatio`)
    const result = await p.extract('items')
    t.equal(result.code, 1, 'extract --wait exits 1')
    t.match(result.stderr, /is held: it would delete \d+ of \d+ rows/)
    const held = (await p.loads('items')).at(-1)!
    t.match(held, { state: 'held', reload: 'diff', rows: 0, absentRows: deleted.length, tableRows: before.size }, 'held, counting exactly the rows deleted at the source')
    const marked = await keysStamped(p, 'items', -held.id)
    t.same(marked, deleted, 'the rows absent from the source are marked with the negative load id')
    t.equal((await stamps(p, 'items')).size, before.size, 'nothing deleted while held')
    t.equal(await negativeStamps(p, 'items'), deleted.length, 'and no other row is marked')

    const approve = await p.cli(['loads', 'approve', String(held.id)])
    t.equal(approve.code, 0, 'loads approve exits 0', { stderr: approve.stderr })
    const done = await eventually(async () => {
      const l = (await p.loads('items')).find((x) => x.id === held.id)
      return l?.state === 'reconciled' ? l : undefined
    }, { timeoutMs: 60_000, what: 'the approved load to be reconciled' })
    t.equal(done.deletedRows, deleted.length, 'deletedRows: the marked rows')
    const after = await stamps(p, 'items')
    t.same(sorted([...before.keys()].filter((id) => !after.has(id))), deleted, 'exactly the marked rows were deleted')
    t.equal([...after].filter(([id, stamp]) => before.get(id) !== stamp).length, 0, 'every other row keeps its stamp')
    t.equal(await negativeStamps(p, 'items'), 0)
    await p.expectMirror(t, 'items')
  })

}

async function oddValues (t: Test, p: Pipeline): Promise<void> {
  await t.test('values with more than one spelling converge: reloaded twice, nothing is sent again', async (t) => {
    const first = await reload(t, p, 'odd')
    t.equal(first.rows, ODD_ROWS.ordinary.length + ODD_ROWS.scalarJson.length)
    await p.expectMirror(t, 'odd')
    for (const round of [1, 2]) {
      const load = await reload(t, p, 'odd')
      t.equal(load.reload, 'diff', `reload ${round} is diffed`)
      t.same(await keysStamped(p, 'odd_values', load.id), [], `reload ${round}: no row sent again, bare JSON scalars included (decimal without trailing zeros, short fractions, JSON text)`)
      t.equal(load.rows, 0, `reload ${round}: 0 rows sent`)
      t.equal(load.deletedRows, 0)
      t.equal(await negativeStamps(p, 'odd_values'), 0)
      await p.expectMirror(t, 'odd')
    }
  })
}
