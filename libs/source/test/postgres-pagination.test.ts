/**
 * Pagination, query streams and describe errors. The bodies that say nothing engine-specific run
 * for every engine with a local server (`for (const engine of ENGINES)`, as Kysely's tests do):
 * PostgreSQL, and MariaDB again, so that both dialects are held to the same behaviour.
 * PostgreSQL-only checks (the plan, the session, connections) follow.
 */
import t from 'tap'
import { buildPageSql } from '../src/postgres/postgres-sql.js'
import { PostgresDialect, createSourceDialect, keyOf, streamPages, type SourceDialect, type WireRow } from '../src/index.js'
import { createPostgresSourceDatabase } from './fixtures-pg.js'
import { createSourceDatabase, stream } from './fixtures.js'

interface EngineDatabase {
  readonly url: string
  /** Runs set-up SQL (DDL, literal inserts) as the test's admin. */
  exec (sql: string): Promise<void>
}

interface Engine {
  readonly name: string
  /** Quotes an identifier as the engine does. */
  q (name: string): string
  /** How describe errors name a table of the test database. */
  readonly tablePattern: (table: string) => string
  database (t: { teardown (fn: () => unknown): void }): Promise<EngineDatabase>
}

const ENGINES: readonly Engine[] = [
  {
    name: 'postgres',
    q: (name) => `"${name}"`,
    tablePattern: (table) => `"public"\\."${table}"`,
    async database (t) {
      const db = await createPostgresSourceDatabase(t)
      return { url: db.url, exec: async (sql) => { await db.admin.query(sql) } }
    }
  },
  {
    name: 'mysql',
    q: (name) => `\`${name}\``,
    tablePattern: (table) => `\`sisporta_src_\\w+\`\\.\`${table}\``,
    async database (t) {
      const db = await createSourceDatabase(t)
      return { url: db.url, exec: async (sql) => { await db.admin.query(sql) } }
    }
  }
]

const ROWS = 2_500
type Line = [string, number, string]

/** `Order Lines`: composite key (doc, line), 2,500 rows inserted in shuffled order. */
async function setUp (t: { teardown (fn: () => unknown): void }, engine: Engine): Promise<{ db: EngineDatabase, dialect: SourceDialect, expected: Line[] }> {
  const db = await engine.database(t)
  await db.exec(`CREATE TABLE ${engine.q('Order Lines')} (
    doc VARCHAR(20) NOT NULL, line INT NOT NULL, qty DECIMAL(12,3) NOT NULL, note VARCHAR(40),
    PRIMARY KEY (doc, line))`)
  const expected: Line[] = []
  for (let d = 0; d < 125; d++) {
    for (let l = 1; l <= 20; l++) expected.push([`D${String(d).padStart(4, '0')}`, l, `${d}.${String(l).padStart(3, '0')}`])
  }
  const shuffled = [...expected].sort(() => Math.random() - 0.5)
  const rows = shuffled.map(([doc, line, qty]) => `('${doc}', ${line}, ${qty}, '${line % 2 === 0 ? 'why? $1' : 'ok'}')`)
  await db.exec(`INSERT INTO ${engine.q('Order Lines')} (doc, line, qty, note) VALUES ${rows.join(', ')}`)
  const dialect = createSourceDialect(db.url, { poolSize: 2 })
  t.teardown(() => dialect.close())
  return { db, dialect, expected }
}

const lines = stream({
  name: 'order_lines',
  source: { table: 'Order Lines' },
  key: ['document', 'line_no'],
  columns: [
    { name: 'document', from: 'DOC', type: 'string' },
    { name: 'line_no', from: 'line', type: 'int' },
    { name: 'quantity', from: 'qty', type: 'decimal' }
  ]
})

for (const engine of ENGINES) {
  t.test(`pagination – ${engine.name}: composite key, every row exactly once, in key order, 1000 per page`, async (t) => {
    const { dialect, expected } = await setUp(t, engine)
    const pages: WireRow[][] = []
    for await (const page of streamPages(dialect, lines, 1000)) pages.push(page)
    t.same(pages.map((p) => p.length), [1000, 1000, 500])
    t.same(pages.flat(), expected, 'all 2,500 rows, each once, in (doc, line) order, values exact')
  })

  t.test(`pagination – ${engine.name}: readPage continues after a composite key; resumes from a checkpoint`, async (t) => {
    const { dialect, expected } = await setUp(t, engine)
    const first = await dialect.readPage(lines, undefined, 7)
    t.same(first, expected.slice(0, 7))
    t.same(keyOf(lines, first[6]!), ['D0000', 7])
    t.same(await dialect.readPage(lines, keyOf(lines, first[6]!), 30), expected.slice(7, 37), 'crosses from doc D0000 into D0001')
    t.same(await dialect.readPage(lines, ['D0124', 19], 1000), [expected[ROWS - 1]])
    t.same(await dialect.readPage(lines, ['D0124', 20], 1000), [], 'after the last key there is nothing')
    const pages: number[] = []
    for await (const page of streamPages(dialect, lines, 500, { readAhead: false })) pages.push(page.length)
    t.same(pages, [500, 500, 500, 500, 500], 'an exact multiple yields no empty page')
    const resumed: WireRow[] = []
    for await (const page of streamPages(dialect, lines, 1000, { after: ['D0099', 20] })) resumed.push(...page)
    t.same(resumed, expected.slice(2000), 'resumes after a checkpointed key')
    await t.rejects(dialect.readPage(lines, ['D0001'], 10), { code: 'SIS_SRC_ARGUMENT', message: /'after' has 1 values, the key \(document, line_no\) has 2/ })
    await t.rejects(dialect.readPage(lines, ['D0001', null], 10), { code: 'SIS_SRC_ARGUMENT', message: /NULL for key column 'line_no'/ })
    await t.rejects(dialect.readPage(lines, undefined, 0), { code: 'SIS_SRC_ARGUMENT' })
  })

  t.test(`pagination – ${engine.name}: a query stream paginates too, with placeholders inside its literals`, async (t) => {
    const { dialect, expected } = await setUp(t, engine)
    const even = stream({
      name: 'even_lines',
      source: { query: `SELECT l.doc AS document, l.line AS line_no, l.qty * 2 AS twice FROM ${engine.q('Order Lines')} l WHERE l.note = 'why? $1' -- even lines\n;` },
      key: ['document', 'line_no'],
      columns: [
        { name: 'document', from: 'document', type: 'string' },
        { name: 'line_no', from: 'LINE_NO', type: 'int' },
        { name: 'twice', from: 'twice', type: 'decimal' }
      ]
    })
    const d = await dialect.describe(even)
    t.equal(d.object, '(query)')
    t.same(d.columns.map((c) => c.from), ['document', 'line_no', 'twice'])
    t.equal(await dialect.estimateRows(even), undefined)
    const rows: WireRow[] = []
    const sizes: number[] = []
    for await (const page of streamPages(dialect, even, 300)) { rows.push(...page); sizes.push(page.length) }
    t.same(sizes, [300, 300, 300, 300, 50])
    t.same(rows, expected.filter(([, line]) => line % 2 === 0).map(([doc, line, qty]) => [doc, line, (Number(qty) * 2).toFixed(3)]))
  })

  t.test(`pagination – ${engine.name}: bigint and decimal keys beyond 2^53 compare exactly`, async (t) => {
    const db = await engine.database(t)
    const base = 9007199254740992n
    const ids = [0n, 1n, 2n, 3n].map((i) => (base + i).toString())
    const ns = ['99999999999999999999999999999999999998', '99999999999999999999999999999999999999']
    await db.exec('CREATE TABLE ids (id BIGINT NOT NULL, n DECIMAL(38,0) NOT NULL, PRIMARY KEY (id, n))')
    await db.exec(`INSERT INTO ids VALUES ${ids.flatMap((id) => ns.map((n) => `(${id}, ${n})`)).join(', ')}`)
    const dialect = createSourceDialect(db.url)
    t.teardown(() => dialect.close())
    const s = stream({ name: 'ids', source: { table: 'ids' }, key: ['id', 'n'], columns: [{ name: 'id', from: 'id', type: 'bigint' }, { name: 'n', from: 'n', type: 'decimal' }] })
    const rows: WireRow[] = []
    for await (const page of streamPages(dialect, s, 1)) rows.push(...page)
    t.same(rows, ids.flatMap((id) => ns.map((n) => [id, n])), 'page size 1: no row skipped or repeated')
  })

  t.test(`describe – ${engine.name}: a missing column fails clearly, naming stream and column`, async (t) => {
    const { dialect } = await setUp(t, engine)
    const broken = stream({
      name: 'order_lines',
      source: { table: 'Order Lines' },
      key: ['document'],
      columns: [{ name: 'document', from: 'doc', type: 'string' }, { name: 'price', from: 'Preco', type: 'decimal' }]
    })
    const err = await dialect.describe(broken).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_COLUMN_NOT_FOUND', stream: 'order_lines', column: 'price' })
    t.match((err as Error).message, new RegExp(`^stream 'order_lines': source column 'Preco' \\(mapped to column 'price', type decimal\\) is not in table ${engine.tablePattern('Order Lines')}, which has: doc `))
    await t.rejects(dialect.readPage(broken, undefined, 10), { code: 'SIS_SRC_COLUMN_NOT_FOUND' }, 'readPage describes first')
    const brokenQuery = stream({ name: 'q_stream', source: { query: `SELECT doc FROM ${engine.q('Order Lines')}` }, key: ['document'], columns: [{ name: 'document', from: 'document', type: 'string' }] })
    await t.rejects(dialect.describe(brokenQuery), { code: 'SIS_SRC_COLUMN_NOT_FOUND', column: 'document', message: /stream 'q_stream': source column 'document' .* is not in the query's result, which has: doc / })
  })

  t.test(`describe – ${engine.name}: missing table, bad query, unusable key, missing version column`, async (t) => {
    const { dialect } = await setUp(t, engine)
    const cols = [{ name: 'document', from: 'doc', type: 'string' as const }]
    await t.rejects(dialect.describe(stream({ name: 's1', source: { table: 'nope' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /stream 's1': source table '\w+\.nope' does not exist/ })
    await t.rejects(dialect.describe(stream({ name: 's2', source: { query: 'SELEC doc FROM x' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_QUERY', message: /stream 's2': the source query cannot run: / })
    await t.rejects(dialect.describe(stream({ name: 's3', source: { table: 'Order Lines', version: 'changed_at' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_COLUMN_NOT_FOUND', message: /stream 's3': version column 'changed_at'/ })
    await t.rejects(dialect.describe(stream({ name: 's4', source: { table: 'Order Lines' }, key: ['line_no'], columns: [{ name: 'line_no', from: 'line', type: 'float' }] })),
      { code: 'SIS_SRC_KEY', column: 'line_no', message: /stream 's4': key column 'line_no' .*float column cannot be a key/ })
    await t.rejects(dialect.describe(stream({ name: 's5', source: { table: 'Order Lines' }, key: ['doc_no'], columns: [{ name: 'doc_no', from: 'doc', type: 'int' }] })),
      { code: 'SIS_SRC_KEY', message: /text column type .*varying.*\(20\); declare it as string|text column type varchar\(20\); declare it as string/ })
    await t.rejects(dialect.describe(stream({ name: 's6', source: { table: 'Order Lines' }, key: ['other'], columns: cols })),
      { code: 'SIS_SRC_KEY', message: /key column 'other' is not among the mapped columns/ })
    await t.rejects(dialect.describe(stream({ name: 's7', source: { table: 'other_db.t' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_TABLE_NOT_FOUND' })
  })

  t.test(`pagination – ${engine.name}: a key that is not unique in the source is an error, not skipped rows`, async (t) => {
    const { dialect } = await setUp(t, engine)
    const dup = stream({ name: 'docs', source: { query: `SELECT doc, qty FROM ${engine.q('Order Lines')}` }, key: ['doc'], columns: [{ name: 'doc', from: 'doc', type: 'string' }, { name: 'qty', from: 'qty', type: 'decimal' }] })
    await t.rejects(dialect.readPage(dup, undefined, 100), { code: 'SIS_SRC_KEY', message: /stream 'docs': two source rows have the key \{doc: 'D0000'\}/ })
  })
}

const postgres = ENGINES[0]!

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
  const { db, dialect } = await setUp(t, postgres)
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
  t.equal((await dialect.readPage(lines, undefined, 1_000_000)).length, ROWS, 'nothing was deleted')
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
  const { db, expected } = await setUp(t, postgres)
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
  await new Promise((resolve) => setTimeout(resolve, 200))
  const second = await dialect.readPage(lines, keyOf(lines, first.at(-1)!), 1000)
  t.same([...first, ...second], expected.slice(0, 2000), 'the next page reads on a new connection')
  t.ok(warnings.length > 0, 'the lost idle connection was logged')

  const slow = stream({ name: 'slow', source: { query: 'SELECT 1 AS id, pg_sleep(30)::text AS pause' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'pause', from: 'pause', type: 'string' }] })
  await dialect.describe(slow)
  const reading = dialect.readPage(slow, undefined, 10).then(() => undefined, (e: unknown) => e)
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (((await kill('%pg_sleep(30)%LIMIT%')) as unknown[]).length > 0) break
  }
  const err = await reading
  t.match(err, { code: 'SIS_SRC_READ', stream: 'slow', transient: true, message: /stream 'slow': could not read a page: .*(terminating connection due to administrator command \(SQLSTATE 57P01\)|Connection terminated)/ })
  t.same(await dialect.readPage(lines, ['D0124', 19], 10), [expected[ROWS - 1]], 'and the dialect reads on')
})
