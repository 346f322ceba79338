/**
 * PostgreSQL-only checks: the plan of a keyset page, the session, names and estimates, lost
 * connections. What every engine does alike: source-pagination.test.ts.
 */
import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { buildPageSql } from '../src/postgres/postgres-sql.js'
import { PostgresDialect, createSourceDialect, keyOf } from '../src/index.js'
import { ORDER_LINES_ROWS, engine, orderLines as lines, setUpOrderLines } from './engines.js'
import { createPostgresSourceDatabase } from './fixtures-pg.js'
import { stream } from './fixtures.js'

const postgres = engine('postgres')

t.test('pagination – postgres: the keyset page is an index range scan, not a filter from the start', async (t) => {
  const db = await createPostgresSourceDatabase(t)
  await db.admin.query(`CREATE TABLE "Order Lines" (doc varchar(20) NOT NULL, line int NOT NULL, qty numeric(12,3), PRIMARY KEY (doc, line));
    INSERT INTO "Order Lines" SELECT 'D' || lpad(d::text, 5, '0'), l, d + l / 1000.0 FROM generate_series(0, 9999) d, generate_series(1, 20) l;
    ANALYZE "Order Lines"`)
  const sql = buildPageSql({ source: { table: ['public', 'Order Lines'] }, columns: [{ column: 'doc' }, { column: 'line' }, { column: 'qty' }], key: ['doc', 'line'] }, true)
  const plan = (await db.admin.query({ text: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${sql}`, values: ['D05000', 7, 1000] })).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')
  t.match(plan, /Index Scan using "Order Lines_pkey"/, plan)
  t.match(plan, /Index Cond: \(ROW\(\(?doc\)?(::text)?, line\) > ROW\(/, 'the row comparison is the index condition')
  t.notMatch(plan, /Rows Removed by Filter/, 'no row before the key is read')
})

t.test('session – postgres: pages are read-only READ COMMITTED statements, no transaction left open', async (t) => {
  const { db, dialect } = await setUpOrderLines(t, postgres)
  const s = stream({
    name: 'session',
    source: { query: "SELECT 1 AS id, current_setting('transaction_read_only') AS ro, current_setting('transaction_isolation') AS iso, current_setting('TimeZone') AS tz" },
    key: ['id'],
    columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'ro', from: 'ro', type: 'string' }, { name: 'iso', from: 'iso', type: 'string' }, { name: 'tz', from: 'tz', type: 'string' }]
  })
  t.same(await dialect.readPage(s, undefined, 10), [[1, 'on', 'read committed', 'UTC']])
  await dialect.readPage(lines, undefined, 10)
  const admin = createSourceDialect(db.url)
  t.teardown(() => admin.close())
  const activity = stream({
    name: 'activity',
    source: { query: "SELECT pid, state FROM pg_stat_activity WHERE application_name = 'sisporta' AND datname = current_database() AND pid <> pg_backend_pid()" },
    key: ['pid'],
    columns: [{ name: 'pid', from: 'pid', type: 'int' }, { name: 'state', from: 'state', type: 'string' }]
  })
  const states = (await admin.readPage(activity, undefined, 10)).map((r) => r[1])
  t.ok(states.length > 0, 'the dialect keeps its connection for the next page')
  t.same([...new Set(states)], ['idle'], 'idle, never idle in transaction, between pages')
  await db.exec('CREATE SEQUENCE numbers')
  const write = stream({ name: 'writer', source: { query: "SELECT nextval('numbers') AS id" }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'bigint' }] })
  await t.rejects(dialect.readPage(write, undefined, 10), { code: 'SIS_SRC_READ', message: /stream 'writer': could not read a page: cannot execute nextval\(\) in a read-only transaction \(SQLSTATE 25006\)/ })
  const cte = stream({ name: 'cte', source: { query: 'WITH w AS (DELETE FROM "Order Lines" RETURNING doc) SELECT doc FROM w' }, key: ['doc'], columns: [{ name: 'doc', from: 'doc', type: 'string' }] })
  await t.rejects(dialect.describe(cte), { code: 'SIS_SRC_QUERY', message: /data-modifying statement must be at the top level/ }, 'wrapping alone refuses a writing query')
  const several = stream({ name: 'several', source: { query: 'SELECT 1 AS id) AS q; SELECT * FROM (SELECT 1 AS id' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  await t.rejects(dialect.describe(several), { code: 'SIS_SRC_QUERY', message: /cannot insert multiple commands into a prepared statement/ }, 'a query is one statement')
  t.equal((await dialect.readPage(lines, undefined, 1_000_000)).length, ORDER_LINES_ROWS, 'nothing was deleted')
  await dialect.close()
  await dialect.close()
  await t.rejects(dialect.readPage(s, undefined, 10), { code: 'SIS_SRC_CLOSED' })
})

t.test('describe – postgres: schema.table, case folding, views, estimates, duplicate query columns', async (t) => {
  const db = await createPostgresSourceDatabase(t)
  await db.admin.query(`CREATE SCHEMA erp;
    CREATE TABLE erp.produtos (prodcode varchar(10) PRIMARY KEY, "Descr" text);
    INSERT INTO erp.produtos SELECT 'P' || i, 'd' || i FROM generate_series(1, 50) i;
    CREATE VIEW erp.v_produtos AS SELECT * FROM erp.produtos;
    CREATE TABLE public."Mixed" (id int PRIMARY KEY);
    CREATE TABLE public.mixed (id int PRIMARY KEY)`)
  const dialect = createSourceDialect(db.url)
  t.teardown(() => dialect.close())
  t.ok(dialect instanceof PostgresDialect)
  const products = stream({ name: 'products', source: { table: 'ERP.Produtos' }, key: ['sku'], columns: [{ name: 'sku', from: 'ProdCode', type: 'string' }, { name: 'descr', from: 'Descr', type: 'string' }] })
  const d = await dialect.describe(products)
  t.equal(d.object, '"erp"."produtos"', 'an unquoted name folds to lower case, as PostgreSQL does')
  t.same(d.columns.map((c) => c.from), ['prodcode', 'Descr'])
  t.equal(await dialect.estimateRows(products), undefined, 'never analysed')
  await db.admin.query('ANALYZE erp.produtos')
  t.equal(await dialect.estimateRows(products), 50, 'pg_class.reltuples after ANALYZE')
  const view = stream({ name: 'view_products', source: { table: 'erp.v_produtos' }, key: ['sku'], columns: [...products.columns] })
  t.equal((await dialect.readPage(view, ['P10'], 2)).map((r) => r[0]).join(','), 'P11,P12')
  t.equal(await dialect.estimateRows(view), undefined, 'a view has no estimate')
  t.equal((await dialect.describe(stream({ name: 'm', source: { table: 'Mixed' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] }))).object, '"public"."Mixed"', 'the exact name wins')
  await t.rejects(dialect.describe(stream({ name: 'm2', source: { table: 'MIXED' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /names differing only in case: public\.Mixed, public\.mixed|names differing only in case: public\.mixed, public\.Mixed/ })
  await t.rejects(dialect.describe(stream({ name: 'three', source: { table: 'db.erp.produtos' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /names a table as schema\.table/ })
  const dup = stream({ name: 'dup', source: { query: 'SELECT p.prodcode AS id, v.prodcode AS id FROM erp.produtos p JOIN erp.v_produtos v USING (prodcode)' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'string' }] })
  await t.rejects(dialect.describe(dup), { code: 'SIS_SRC_QUERY', column: 'id', message: /more than one column named 'id'/ })
})

t.test('connections – postgres: a dropped idle connection is replaced; a killed read is a transient error', async (t) => {
  const { db, expected } = await setUpOrderLines(t, postgres)
  const warnings: object[] = []
  const dialect = createSourceDialect(db.url, { log: { debug: () => {}, warn: (obj) => { warnings.push(obj) } } })
  t.teardown(() => dialect.close())
  const server = createSourceDialect(db.url)
  t.teardown(() => server.close())
  const kill = (pattern: string): Promise<unknown> => server.readPage(stream({
    name: 'kill',
    source: { query: `SELECT pid, pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'sisporta' AND datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '${pattern}'` },
    key: ['pid'],
    columns: [{ name: 'pid', from: 'pid', type: 'int' }, { name: 'done', from: 'done', type: 'bool' }]
  }), undefined, 100)
  const first = await dialect.readPage(lines, undefined, 1000)
  await kill('%Order Lines%')
  // the pool notices the dead idle connection (and says so) before the next page is read
  await eventually(() => warnings.length > 0 ? true : undefined, { what: 'the lost idle connection to be noticed', timeoutMs: 120_000 })
  const second = await dialect.readPage(lines, keyOf(lines, first.at(-1)!), 1000)
  t.same([...first, ...second], expected.slice(0, 2000), 'the next page reads on a new connection')
  t.ok(warnings.length > 0, 'the lost idle connection was logged')

  // a read that would take ten minutes, killed as soon as the server shows it running
  const slow = stream({ name: 'slow', source: { query: 'SELECT 1 AS id, pg_sleep(600)::text AS pause' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'pause', from: 'pause', type: 'string' }] })
  await dialect.describe(slow)
  const reading = dialect.readPage(slow, undefined, 10).then(() => undefined, (e: unknown) => e)
  await eventually(async () => ((await kill('%pg_sleep(600)%LIMIT%')) as unknown[]).length > 0 ? true : undefined, { what: 'the slow read to be running, and killed', timeoutMs: 120_000 })
  const err = await reading
  t.match(err, { code: 'SIS_SRC_READ', stream: 'slow', transient: true, message: /stream 'slow': could not read a page: .*(terminating connection due to administrator command \(SQLSTATE 57P01\)|Connection terminated)/ })
  t.same(await dialect.readPage(lines, ['D0124', 19], 10), [expected[ORDER_LINES_ROWS - 1]], 'and the dialect reads on')
})
