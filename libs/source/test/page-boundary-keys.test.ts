/**
 * Keys repeated across a page boundary (issue 12, defect 9, for MySQL/MariaDB and PostgreSQL): a
 * view, a query or a table without a unique index on exactly the key is read with next pages that
 * start at the previous page's last key, and two rows equal to it (as the server compares them)
 * stop the load with SIS_SRC_KEY instead of the second being skipped. A table whose primary key
 * or unique index vouches for the key is read as before, with `>` and no flag.
 */
import t from 'tap'
import { createSourceDialect, streamPages, type SourceLogger, type WireRow } from '../src/index.js'
import { buildPageSql as buildMysqlPageSql } from '../src/mysql/mysql-sql.js'
import { buildPageSql as buildPostgresPageSql } from '../src/postgres/postgres-sql.js'
import { buildCheckedPageSql, checkedPage, takeKeyFlags, vouchingIndex } from '../src/page-boundary-keys.js'
import { ENGINES, engine as engineNamed, type Engine, type EngineDatabase } from './engines.js'
import { stream } from './fixtures.js'

t.test('sql – mysql: a vouched key pages with `>` and no flag; a checked one starts at the key and flags it', async (t) => {
  const single = { source: { table: ['erp', 'items'] as const }, columns: ['id', 'v'], key: [{ column: 'id', cast: { kind: 'signed' as const } }] }
  t.equal(buildMysqlPageSql(single, true), 'SELECT `id`, `v` FROM `erp`.`items` WHERE `id` > CAST(? AS SIGNED) ORDER BY `id` LIMIT ?')
  t.equal(buildMysqlPageSql({ ...single, checkKeys: false }, true), 'SELECT `id`, `v` FROM `erp`.`items` WHERE `id` > CAST(? AS SIGNED) ORDER BY `id` LIMIT ?')
  t.equal(buildMysqlPageSql({ ...single, checkKeys: true }, true),
    'SELECT `sisporta_1`, `sisporta_2`, (`sisporta_1` = LAG(`sisporta_1`) OVER (ORDER BY `sisporta_1`)) AS `sisporta_same_key`, `sisporta_at_after` FROM (' +
    'SELECT `id` AS `sisporta_1`, `v` AS `sisporta_2`, (`id` = CAST(? AS SIGNED)) AS `sisporta_at_after` FROM `erp`.`items` WHERE `id` >= CAST(? AS SIGNED) ORDER BY `id` LIMIT ?' +
    ') AS p ORDER BY `sisporta_1`')
  t.equal(buildMysqlPageSql({ ...single, checkKeys: true }, false),
    'SELECT `sisporta_1`, `sisporta_2`, (`sisporta_1` = LAG(`sisporta_1`) OVER (ORDER BY `sisporta_1`)) AS `sisporta_same_key` FROM (' +
    'SELECT `id` AS `sisporta_1`, `v` AS `sisporta_2` FROM `erp`.`items` ORDER BY `id` LIMIT ?) AS p ORDER BY `sisporta_1`', 'the first page has nothing to start at')
  const composite = { source: { query: 'SELECT line, doc FROM x' }, columns: ['line', 'doc'], key: [{ column: 'doc' }, { column: 'line' }], checkKeys: true }
  t.equal(buildMysqlPageSql(composite, true),
    'SELECT `sisporta_1`, `sisporta_2`, (`sisporta_2` = LAG(`sisporta_2`) OVER (ORDER BY `sisporta_2`, `sisporta_1`) AND `sisporta_1` = LAG(`sisporta_1`) OVER (ORDER BY `sisporta_2`, `sisporta_1`)) AS `sisporta_same_key`, `sisporta_at_after` FROM (' +
    'SELECT `line` AS `sisporta_1`, `doc` AS `sisporta_2`, (`doc` = ? AND `line` = ?) AS `sisporta_at_after` FROM (\nSELECT line, doc FROM x\n) AS q WHERE (`doc` > ? OR (`doc` = ? AND `line` >= ?)) ORDER BY `doc`, `line` LIMIT ?' +
    ') AS p ORDER BY `sisporta_2`, `sisporta_1`')
})

t.test('sql – postgres: a vouched key pages with `>` and no flag; a checked one starts at the key and flags it', async (t) => {
  const composite = { source: { table: ['erp', 'lines'] as const }, columns: [{ column: 'doc' }, { column: 'line' }], key: ['doc', 'line'] }
  t.equal(buildPostgresPageSql(composite, true), 'SELECT "doc", "line" FROM "erp"."lines" WHERE ("doc", "line") > ($1, $2) ORDER BY "doc", "line" LIMIT $3')
  t.equal(buildPostgresPageSql({ ...composite, checkKeys: true }, true),
    'SELECT "sisporta_1", "sisporta_2", ("sisporta_1" = LAG("sisporta_1") OVER (ORDER BY "sisporta_1", "sisporta_2") AND "sisporta_2" = LAG("sisporta_2") OVER (ORDER BY "sisporta_1", "sisporta_2")) AS "sisporta_same_key", "sisporta_at_after" FROM (' +
    'SELECT "doc" AS "sisporta_1", "line" AS "sisporta_2", ("doc", "line") = ($1, $2) AS "sisporta_at_after" FROM "erp"."lines" WHERE ("doc", "line") >= ($1, $2) ORDER BY "doc", "line" LIMIT $3' +
    ') AS p ORDER BY "sisporta_1", "sisporta_2"')
  const single = { source: { table: ['erp', 'items'] as const }, columns: [{ column: 'tags', toJson: true }, { column: 'id' }], key: ['id'], checkKeys: true }
  t.equal(buildPostgresPageSql(single, true),
    'SELECT "sisporta_1", "sisporta_2", ("sisporta_2" = LAG("sisporta_2") OVER (ORDER BY "sisporta_2")) AS "sisporta_same_key", "sisporta_at_after" FROM (' +
    'SELECT to_json("tags") AS "sisporta_1", "id" AS "sisporta_2", "id" = $1 AS "sisporta_at_after" FROM "erp"."items" WHERE "id" >= $1 ORDER BY "id" LIMIT $2) AS p ORDER BY "sisporta_2"')
  t.equal(buildPostgresPageSql({ ...single, checkKeys: false }, false), 'SELECT to_json("tags") AS "tags", "id" FROM "erp"."items" ORDER BY "id" LIMIT $1')
  t.throws(() => buildCheckedPageSql('SELECT 1', 1, [1], (n) => n, false), { code: 'SIS_SRC_ARGUMENT' }, 'a key column that is not selected')
})

t.test('vouchingIndex: exactly the key columns, in any order, all NOT NULL', async (t) => {
  const pk = [['PRIMARY', 'doc'], ['PRIMARY', 'line']]
  t.equal(vouchingIndex(['doc', 'line'], pk, false), 'PRIMARY')
  t.equal(vouchingIndex(['line', 'doc'], pk, false), 'PRIMARY', 'column order does not matter for uniqueness')
  t.equal(vouchingIndex(['doc', 'line'], pk, true), undefined, 'a nullable key column')
  t.equal(vouchingIndex(['doc'], pk, false), undefined, 'a part of the primary key is not unique')
  t.equal(vouchingIndex(['doc', 'line', 'x'], pk, false), undefined, 'a superset is unique but not what the index keeps unique: checked all the same')
  t.equal(vouchingIndex(['doc'], [['u_expr', null]], false), undefined, 'a functional index part')
  t.equal(vouchingIndex(['DOC'], [['u', 'doc']], false), undefined)
  t.equal(vouchingIndex(['DOC'], [['u', 'doc']], false, true), 'u', 'MySQL column names ignore case')
  t.equal(vouchingIndex(['doc'], [], false), undefined, 'a view has no index')
})

t.test('checkedPage: drops the row of the `after` key, refuses two, or two equal neighbours, keeps at most `limit`', async (t) => {
  const s = stream({ name: 'v', source: { query: 'x' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  const raw = [[3, null, 1], [4, 0, 0], [5, 0, 0], [6, 0, 0]]
  const flags = takeKeyFlags(raw, 1, true)
  t.same(flags, { same: [false, false, false, false], atAfter: [true, false, false, false] })
  t.same(raw, [[3], [4], [5], [6]], 'the flag columns are removed')
  t.same(checkedPage(s, [0], raw as WireRow[], flags, 3, 'MariaDB'), [[4], [5], [6]])
  const none = { same: [false, false, false, false], atAfter: [false, false, false, false] }
  t.same(checkedPage(s, [0], [[4], [5], [6], [7]], none, 3, 'MariaDB'), [[4], [5], [6]], 'the previous last row is gone: the extra row waits')
  t.same(checkedPage(s, [0], [[4], [5]], { same: [false, false], atAfter: [false, false] }, 3, 'MariaDB'), [[4], [5]], 'a first or last page')
  t.throws(() => checkedPage(s, [0], [[3], [3], [4]], { same: [false, true, false], atAfter: [true, true, false] }, 3, 'MariaDB'),
    { code: 'SIS_SRC_KEY', message: /^stream 'v': two source rows have the key \{id: 3\}, across a page boundary \(one was the last row of the page before\); target\.key \(id\) must identify one row, or pages would skip rows/ })
  t.throws(() => checkedPage(s, [0], [[3], [3], [4]], { same: [false, false, false], atAfter: [true, true, false] }, 3, 'MariaDB'),
    { code: 'SIS_SRC_KEY', message: /across a page boundary/ }, 'the boundary flag alone')
  t.throws(() => checkedPage(s, [0], [[1], [2], [3]], { same: [false, false, true], atAfter: [false, false, false] }, 3, 'PostgreSQL'),
    { code: 'SIS_SRC_KEY', message: /^stream 'v': two source rows have the keys \{id: 2\} and \{id: 3\}, one key as PostgreSQL compares them \(a key column's collation may ignore case, accents or trailing spaces\); target/ })
  t.same(takeKeyFlags([['a', 't', 'f'], ['b', 'f', 't'], ['c', true, null], ['d', null, 1]], 1, false),
    { same: [true, false, true, false], atAfter: [false, false, false, false] }, 'PostgreSQL text form, booleans, NULL; no `after` flag on a first page')
})

interface Captured { readonly log: SourceLogger, readonly described: Array<Record<string, unknown>> }

function capture (): Captured {
  const described: Array<Record<string, unknown>> = []
  return { described, log: { debug: (obj, msg) => { if (msg === 'source described') described.push(obj as Record<string, unknown>) }, warn: () => {} } }
}

async function readAll (dialect: ReturnType<typeof createSourceDialect>, s: ReturnType<typeof stream>, pageSize: number): Promise<{ rows: WireRow[], sizes: number[] }> {
  const rows: WireRow[] = []
  const sizes: number[] = []
  for await (const page of streamPages(dialect, s, pageSize)) { rows.push(...page); sizes.push(page.length) }
  return { rows, sizes }
}

const items = (name: string, source: { table: string } | { query: string }): ReturnType<typeof stream> =>
  stream({ name, source, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'v', from: 'v', type: 'string' }] })

const lines = (name: string, source: { table: string } | { query: string }): ReturnType<typeof stream> =>
  stream({ name, source, key: ['doc', 'line'], columns: [{ name: 'doc', from: 'doc', type: 'string' }, { name: 'line', from: 'line', type: 'int' }, { name: 'v', from: 'v', type: 'string' }] })

async function database (t: Parameters<Engine['database']>[0], engine: Engine): Promise<{ db: EngineDatabase, captured: Captured, dialect: ReturnType<typeof createSourceDialect> }> {
  const db = await engine.database(t)
  const captured = capture()
  const dialect = createSourceDialect(db.url, { poolSize: 2, log: captured.log })
  t.teardown(() => dialect.close())
  return { db, captured, dialect }
}

for (const engine of ENGINES) {
  t.test(`boundary – ${engine.name}: a key repeated exactly at a page boundary is refused, not skipped (view, query, table without a key)`, async (t) => {
    const { db, dialect, captured } = await database(t, engine)
    // no key at all, rows inserted out of order: ORDER BY id alone decides the pages
    await db.exec('CREATE TABLE dup (id INT NOT NULL, v VARCHAR(10) NOT NULL)')
    await db.exec("INSERT INTO dup VALUES (4, 'd'), (3, 'c2'), (1, 'a'), (3, 'c1'), (2, 'b')")
    await db.exec('CREATE VIEW dup_view AS SELECT id, v FROM dup')
    for (const s of [items('dup_view', { table: 'dup_view' }), items('dup_query', { query: 'SELECT id, v FROM dup' }), items('dup_table', { table: 'dup' })]) {
      await dialect.describe(s)
      t.equal(captured.described.at(-1)?.['uniqueKey'], 'checked while reading', `${s.name}: no unique index vouches for the key`)
      await t.rejects(readAll(dialect, s, 3), {
        code: 'SIS_SRC_KEY',
        message: new RegExp(`^stream '${s.name}': two source rows have the key \\{id: 3\\}, across a page boundary .*pages would skip rows`)
      }, `${s.name}: keys 1,2,3 | 3,4 with page size 3`)
    }
    // the same rows with page size 4: the duplicate falls inside the first page, refused there as before
    await t.rejects(readAll(dialect, items('dup_view', { table: 'dup_view' }), 4), { code: 'SIS_SRC_KEY' })
  })

  t.test(`boundary – ${engine.name}: a composite key repeated at a page boundary is refused`, async (t) => {
    const { db, dialect } = await database(t, engine)
    await db.exec('CREATE TABLE dup2 (doc VARCHAR(10) NOT NULL, line INT NOT NULL, v VARCHAR(10) NOT NULL)')
    await db.exec("INSERT INTO dup2 VALUES ('B', 2, 'e'), ('B', 1, 'x2'), ('A', 1, 'a'), ('B', 1, 'x1'), ('A', 2, 'b')")
    await db.exec('CREATE VIEW dup2_view AS SELECT doc, line, v FROM dup2')
    await t.rejects(readAll(dialect, lines('dup2_view', { table: 'dup2_view' }), 3), {
      code: 'SIS_SRC_KEY', message: /^stream 'dup2_view': two source rows have the key \{doc: 'B', line: 1\}, across a page boundary/
    })
    // the last component inclusive only: (A, 2) then (B, 1) at a boundary is no repeat
    await db.exec("DELETE FROM dup2 WHERE v = 'x2'")
    t.same((await readAll(dialect, lines('dup2_view', { table: 'dup2_view' }), 2)).rows, [['A', 1, 'a'], ['A', 2, 'b'], ['B', 1, 'x1'], ['B', 2, 'e']])
  })

  t.test(`boundary – ${engine.name}: a clean view or query reads every row exactly once, row counts around multiples of the page size`, async (t) => {
    const { db, dialect } = await database(t, engine)
    await db.exec('CREATE TABLE clean (id INT NOT NULL, v VARCHAR(10) NOT NULL)')
    await db.exec('CREATE VIEW clean_view AS SELECT id, v FROM clean')
    await db.exec('CREATE TABLE clean2 (doc VARCHAR(10) NOT NULL, line INT NOT NULL, v VARCHAR(10) NOT NULL)')
    let inserted = 0
    for (const count of [5, 6, 7, 9]) {
      const fresh = Array.from({ length: count - inserted }, (_, i) => inserted + i + 1)
      await db.exec(`INSERT INTO clean VALUES ${fresh.map((id) => `(${id}, 'v${id}')`).join(', ')}`)
      await db.exec(`INSERT INTO clean2 VALUES ${fresh.map((id) => `('D${Math.ceil(id / 2)}', ${id % 2}, 'v${id}')`).join(', ')}`)
      inserted = count
      const expected = Array.from({ length: count }, (_, i) => [i + 1, `v${i + 1}`])
      // after a full last page (6, 9 rows) one more read comes back empty, and is not yielded
      const sizes = Array.from({ length: Math.ceil(count / 3) }, (_, i) => Math.min(3, count - 3 * i))
      for (const s of [items('clean_view', { table: 'clean_view' }), items('clean_query', { query: 'SELECT id, v FROM clean' })]) {
        const read = await readAll(dialect, s, 3)
        t.same(read.rows, expected, `${s.name}, ${count} rows: every row once, in key order`)
        t.same(read.sizes, sizes, `${s.name}, ${count} rows: full pages of 3`)
      }
      const composite = await readAll(dialect, lines('clean2', { query: 'SELECT doc, line, v FROM clean2' }), 3)
      t.same(composite.rows.map((r) => r[2]), Array.from({ length: count }, (_, i) => i + 1)
        .map((id) => ({ id, doc: `D${Math.ceil(id / 2)}`, line: id % 2 }))
        .sort((a, b) => a.doc < b.doc ? -1 : a.doc > b.doc ? 1 : a.line - b.line).map((r) => `v${r.id}`), `composite, ${count} rows`)
    }
    // the previous page's last row deleted between pages: no row equals `after`, the page is still `limit` rows
    t.same(await dialect.readPage(items('clean_view', { table: 'clean_view' }), [2], 3), [[3, 'v3'], [4, 'v4'], [5, 'v5']])
    await db.exec('DELETE FROM clean WHERE id = 3')
    t.same(await dialect.readPage(items('clean_view', { table: 'clean_view' }), [3], 3), [[4, 'v4'], [5, 'v5'], [6, 'v6']])
  })

  t.test(`boundary – ${engine.name}: a primary key or a unique index on exactly the key vouches for it; a nullable one does not`, async (t) => {
    const { db, dialect, captured } = await database(t, engine)
    await db.exec('CREATE TABLE with_pk (id INT NOT NULL, v VARCHAR(10) NOT NULL, PRIMARY KEY (id))')
    await db.exec('CREATE TABLE with_unique (doc VARCHAR(10) NOT NULL, line INT NOT NULL, v VARCHAR(10) NOT NULL, CONSTRAINT u_lines UNIQUE (line, doc))')
    await db.exec('CREATE TABLE nullable_unique (id INT NULL, v VARCHAR(10) NOT NULL, CONSTRAINT u_id UNIQUE (id))')
    await db.exec('CREATE TABLE wider_pk (doc VARCHAR(10) NOT NULL, line INT NOT NULL, v VARCHAR(10) NOT NULL, PRIMARY KEY (doc, line))')
    await db.exec('CREATE TABLE plain_index (id INT NOT NULL, v VARCHAR(10) NOT NULL)')
    await db.exec('CREATE INDEX i_plain ON plain_index (id)')
    await db.exec("INSERT INTO with_pk VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
    const uniqueKey = async (s: ReturnType<typeof stream>): Promise<unknown> => {
      await dialect.describe(s)
      return captured.described.at(-1)?.['uniqueKey']
    }
    t.equal(await uniqueKey(items('with_pk', { table: 'with_pk' })), engine.name === 'mysql' ? 'PRIMARY' : 'with_pk_pkey')
    t.equal(await uniqueKey(lines('with_unique', { table: 'with_unique' })), 'u_lines')
    t.equal(await uniqueKey(items('nullable_unique', { table: 'nullable_unique' })), 'checked while reading')
    t.equal(await uniqueKey(items('plain_index', { table: 'plain_index' })), 'checked while reading', 'an index that is not unique')
    if (engine.name === 'postgres') {
      await db.exec('CREATE TABLE partial_unique (id INT NOT NULL, v VARCHAR(10) NOT NULL)')
      await db.exec('CREATE UNIQUE INDEX u_partial ON partial_unique (id) WHERE id > 0')
      t.equal(await uniqueKey(items('partial_unique', { table: 'partial_unique' })), 'checked while reading', 'a partial unique index')
    }
    t.equal(await uniqueKey(stream({ name: 'wider_pk', source: { table: 'wider_pk' }, key: ['doc'], columns: [{ name: 'doc', from: 'doc', type: 'string' }] })), 'checked while reading', 'a part of the key')
    t.same((await readAll(dialect, items('with_pk', { table: 'with_pk' }), 2)).rows, [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']])
  })
}

t.test('boundary – mysql: keys equal under a case-insensitive collation are one key across a page boundary', async (t) => {
  const engine = engineNamed('mysql')
  const { db, dialect } = await database(t, engine)
  await db.exec('CREATE TABLE ci (code VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL, v VARCHAR(10) NOT NULL)')
  await db.exec("INSERT INTO ci VALUES ('a', '1'), ('b', '2'), ('c', 'lower'), ('C', 'upper'), ('d', '4')")
  await db.exec('CREATE VIEW ci_view AS SELECT code, v FROM ci')
  const s = stream({ name: 'ci_view', source: { table: 'ci_view' }, key: ['code'], columns: [{ name: 'code', from: 'code', type: 'string' }, { name: 'v', from: 'v', type: 'string' }] })
  // page 1 ends with one of 'c' / 'C' (a tie to MariaDB); page 2 starts at it and finds both
  await t.rejects(readAll(dialect, s, 3), { code: 'SIS_SRC_KEY', message: /^stream 'ci_view': two source rows have the keys \{code: '[cC]'\} and \{code: '[cC]'\}, one key as MySQL\/MariaDB compares them \(.*\), across a page boundary/ })
  // inside one page: JavaScript sees 'c' and 'C' as two keys, MariaDB as one
  await t.rejects(readAll(dialect, s, 10), { code: 'SIS_SRC_KEY', message: /^stream 'ci_view': two source rows have the keys \{code: '[cC]'\} and \{code: '[cC]'\}, one key as MySQL\/MariaDB compares them \(a key column's collation may ignore case, accents or trailing spaces\); target/ })
  // trailing spaces: a PAD SPACE collation compares 'e' and 'e ' equal
  await db.exec("DELETE FROM ci WHERE v = 'upper'")
  await db.exec("INSERT INTO ci VALUES ('e', '5'), ('e ', '6')")
  await t.rejects(readAll(dialect, s, 10), { code: 'SIS_SRC_KEY', message: /^stream 'ci_view': two source rows have the keys \{code: 'e ?'\} and \{code: 'e ?'\}, one key as MySQL\/MariaDB compares them / })
  await db.exec("DELETE FROM ci WHERE v = '6'")
  t.same((await readAll(dialect, s, 2)).rows, [['a', '1'], ['b', '2'], ['c', 'lower'], ['d', '4'], ['e', '5']], 'once the keys are distinct to MariaDB')
})

t.test('boundary – postgres: keys equal under a nondeterministic collation are one key, in a page and across a boundary', async (t) => {
  const engine = engineNamed('postgres')
  const { db, dialect } = await database(t, engine)
  await db.exec("CREATE COLLATION ci_und (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
  await db.exec('CREATE TABLE ci (code VARCHAR(10) COLLATE ci_und NOT NULL, v VARCHAR(10) NOT NULL)')
  await db.exec("INSERT INTO ci VALUES ('a', '1'), ('b', '2'), ('c', 'lower'), ('C', 'upper'), ('d', '4')")
  const s = stream({ name: 'ci_query', source: { query: 'SELECT code, v FROM ci' }, key: ['code'], columns: [{ name: 'code', from: 'code', type: 'string' }, { name: 'v', from: 'v', type: 'string' }] })
  await t.rejects(readAll(dialect, s, 3), { code: 'SIS_SRC_KEY', message: /^stream 'ci_query': two source rows have the keys \{code: '[cC]'\} and \{code: '[cC]'\}, one key as PostgreSQL compares them \(.*\), across a page boundary/ })
  await t.rejects(readAll(dialect, s, 10), { code: 'SIS_SRC_KEY', message: /^stream 'ci_query': two source rows have the keys \{code: '[cC]'\} and \{code: '[cC]'\}, one key as PostgreSQL compares them \(.*\); target/ })
})
