import t from 'tap'
import type { Connection } from 'mysql2/promise'
import { checkMirror } from '../support/mirror-check.js'
import { startPipeline } from '../support/pipeline.js'

// The four services as separate processes over real NATS and MariaDB. The source holds keys
// that differ only in case ('a', 'A') and in a trailing blank ('c', 'c '); the application's own
// target table keys them under utf8mb4_unicode_ci, which treats each pair as one key. Nothing
// errs when the second row of a pair is upserted: it silently updates the first. The reconciler
// must notice before deleting anything, and the load must fail instead of being called a mirror.

const CONFIG = `
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [code] }
    deletes: hard
    maxDeleteRatio: 1
    columns:
      - { name: code, from: code, type: string, length: 20 }
      - { name: label, from: label, type: string, length: 40 }
  - name: item_numbers
    source: { table: items }
    target: { table: item_numbers, key: [code] }
    columns:
      - { name: code, from: code, type: string, length: 20 }
      - { name: label_no, from: label, type: int }
`

async function fillSource (sql: Connection): Promise<void> {
  await sql.query('CREATE TABLE items (code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY, label VARCHAR(40) NOT NULL)')
  await sql.query("INSERT INTO items VALUES ('a', 'lower a'), ('A', 'upper A'), ('b', 'bee'), ('c', 'cee'), ('c ', 'cee and a blank')")
}

/** The application's own table, as its migration created it: a case-insensitive, PAD SPACE key, and rows of its own. */
async function prepareTarget (sql: Connection): Promise<void> {
  await sql.query('CREATE TABLE items (code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, label VARCHAR(40) NOT NULL)')
  await sql.query("INSERT INTO items VALUES ('old-1', 'gone from the ERP'), ('old-2', 'gone too')")
}

/** Target rows as `HEX(code) label stamp`, in byte order: exact keys, whatever the collation. */
async function targetRows (sql: Connection): Promise<string[]> {
  const [rows] = await sql.query('SELECT HEX(code) AS k, label, _sisporta_load AS stamp FROM items ORDER BY BINARY code') as unknown as [Array<{ k: string, label: string, stamp: string | null }>]
  return rows.map((r) => `${r.k} ${r.label} ${r.stamp === null ? '-' : 'stamped'}`)
}

t.test('key collisions', async (t) => {
  const p = await startPipeline(t, { configYaml: CONFIG, fillSource, prepareTarget })

  await t.test('describe – a varchar mapped to int stops the extract with exit 2 before a load is opened', async (t) => {
    const result = await p.cli(['extract', '--stream', 'item_numbers', '--mode', 'full', '--wait', '--timeout', '120s'])
    t.equal(result.code, 2, 'exit 2: the configuration does not fit the source', { stderr: result.stderr })
    t.match(result.stderr, /stream 'item_numbers', column 'label_no' \(from label varchar\(40\) to int\): source type varchar\(40\) cannot be read as int without loss; it maps to string, json, uuid \[SIS_SRC_TYPE\]/)
    t.same(await p.loads('item_numbers'), [], 'no load was opened')
  })

  await t.test('migrate – warns about the key column, naming table, column, collation and the ALTER to run', async (t) => {
    const result = await p.cli(['migrate'])
    t.equal(result.code, 0, 'a warning, not a refusal', { stderr: result.stderr })
    const warnings = result.stderr.split('\n').filter((line) => / key column /.test(line))
    t.equal(warnings.length, 1, 'one key column is loose', { stderr: result.stderr })
    t.match(warnings[0], /^migrate: warning: table 'items', key column 'code' \(stream items\) has collation utf8mb4_unicode_ci, which ignores case, accents, trailing blanks and language rules: .* ALTER TABLE `items` MODIFY `code` varchar\(20\) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;$/)
  })

  await t.test('reconciler – a load whose rows collided fails, explaining the difference; the target keeps its rows, nothing is deleted', async (t) => {
    const before = await targetRows(p.target)
    t.same(before, ['6F6C642D31 gone from the ERP -', '6F6C642D32 gone too -'])
    const result = await p.extract('items')
    t.equal(result.code, 1, 'extract --wait exits 1: the load failed', { stdout: result.stdout, stderr: result.stderr })
    const reason = /the load sent 5 rows but 3 target rows carry its stamp: 2 source rows were merged into others or lost — e\.g\. keys that differ only in case \('a' and 'A'\) under collation utf8mb4_unicode_ci of key column 'code', which ignores case, accents, trailing blanks and language rules\. Give the key a binary NO PAD collation \(`sisporta migrate` prints the ALTER TABLE\), then run a full load again; nothing deleted/
    t.match(result.stderr, reason)
    t.match(result.stderr, /ended failed/)
    const [load] = await p.loads('items')
    t.match(load, { state: 'failed', rows: 5, appliedRows: 5, reason })
    t.equal(load?.deletedRows, undefined, 'the load deleted nothing')
    // the merge the check caught: one row per pair, holding the second row's label under the first row's key
    t.same(await targetRows(p.target), [
      '41 lower a stamped', '62 bee stamped', '63 cee and a blank stamped', '6F6C642D31 gone from the ERP -', '6F6C642D32 gone too -'
    ], 'the application\'s rows are still there, and the target says what the collation made of the source')
    const mirror = await checkMirror(p.config.stream('items')!, p)
    t.match(mirror, { equal: false, missing: 2 }, 'the independent check agrees: two source rows have no row of their own')
  })

  await t.test('reconciler – once the key compares exactly, the next full load mirrors every row and deletes the absent ones', async (t) => {
    const migrated = await p.cli(['migrate'])
    const warning = migrated.stderr.split('\n').find((line) => / key column /.test(line))!
    await p.target.query(warning.slice(warning.indexOf('ALTER TABLE')))
    t.notMatch((await p.cli(['migrate'])).stderr, / key column /, 'migrate has nothing more to say about it')
    const result = await p.extract('items')
    t.equal(result.code, 0, 'extract exits 0', { stderr: result.stderr.slice(-2000) })
    const loads = await p.loads('items')
    t.match(loads.at(-1), { state: 'reconciled', rows: 5, deletedRows: 2 })
    t.same(await targetRows(p.target), ['41 upper A stamped', '61 lower a stamped', '62 bee stamped', '63 cee stamped', '6320 cee and a blank stamped'])
    await p.expectMirror(t, 'items')
  })
})
