import t from 'tap'
import { createSourceDialect, keyOf, streamPages, type SourceDialect, type WireRow } from '../src/index.js'
import { createSourceDatabase, stream, type SourceDatabase } from './fixtures.js'

const ROWS = 2_500

/** `lines`: composite key (doc, line), 2,500 rows inserted in shuffled order. */
async function setUp (t: { teardown (fn: () => unknown): void }): Promise<{ db: SourceDatabase, dialect: SourceDialect, expected: [string, number, string][] }> {
  const db = await createSourceDatabase(t)
  await db.admin.query(`CREATE TABLE \`Order Lines\` (
    doc VARCHAR(20) NOT NULL, line INT NOT NULL, qty DECIMAL(12,3) NOT NULL, note VARCHAR(40),
    PRIMARY KEY (doc, line))`)
  const expected: [string, number, string][] = []
  for (let d = 0; d < 125; d++) {
    for (let l = 1; l <= 20; l++) expected.push([`D${String(d).padStart(4, '0')}`, l, `${d}.${String(l).padStart(3, '0')}`])
  }
  const shuffled = [...expected].sort(() => Math.random() - 0.5)
  await db.admin.query('INSERT INTO `Order Lines` (doc, line, qty, note) VALUES ?', [shuffled.map(([doc, line, qty]) => [doc, line, qty, line % 2 === 0 ? 'why?' : 'ok'])])
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

t.test('pagination – composite key: every row exactly once, in key order, 1000 per page', async (t) => {
  const { dialect, expected } = await setUp(t)
  const pages: WireRow[][] = []
  for await (const page of streamPages(dialect, lines, 1000)) pages.push(page)
  t.same(pages.map((p) => p.length), [1000, 1000, 500])
  t.same(pages.flat(), expected, 'all 2,500 rows, each once, in (doc, line) order, values exact')
})

t.test('pagination – readPage continues after a composite key; a full last page ends with an empty read', async (t) => {
  const { dialect, expected } = await setUp(t)
  const first = await dialect.readPage(lines, undefined, 7)
  t.same(first, expected.slice(0, 7))
  t.same(keyOf(lines, first[6]!), ['D0000', 7])
  const next = await dialect.readPage(lines, keyOf(lines, first[6]!), 30)
  t.same(next, expected.slice(7, 37), 'crosses from doc D0000 into D0001')
  const tail = await dialect.readPage(lines, ['D0124', 19], 1000)
  t.same(tail, [expected[ROWS - 1]])
  t.same(await dialect.readPage(lines, ['D0124', 20], 1000), [], 'after the last key there is nothing')
  const pages: number[] = []
  for await (const page of streamPages(dialect, lines, 500, { readAhead: false })) pages.push(page.length)
  t.same(pages, [500, 500, 500, 500, 500], 'an exact multiple yields no empty page')
  const resumed: WireRow[] = []
  for await (const page of streamPages(dialect, lines, 1000, { after: ['D0099', 20] })) resumed.push(...page)
  t.same(resumed, expected.slice(2000), 'resumes after a checkpointed key')
})

t.test('pagination – a query stream paginates too, with ? inside its literals', async (t) => {
  const { dialect, expected } = await setUp(t)
  const even = stream({
    name: 'even_lines',
    source: { query: "SELECT l.doc AS document, l.line AS line_no, l.qty * 2 AS twice FROM `Order Lines` l WHERE l.note = 'why?' -- even lines\n;" },
    key: ['document', 'line_no'],
    columns: [
      { name: 'document', from: 'document', type: 'string' },
      { name: 'line_no', from: 'LINE_NO', type: 'int' },
      { name: 'twice', from: 'twice', type: 'decimal' }
    ]
  })
  const d = await dialect.describe(even)
  t.equal(d.object, '(query)')
  t.same(d.columns.map((c) => [c.from, c.sourceType]), [['document', 'varchar'], ['line_no', 'int'], ['twice', 'decimal(13,3)']])
  t.equal(await dialect.estimateRows(even), undefined)
  const rows: WireRow[] = []
  const sizes: number[] = []
  for await (const page of streamPages(dialect, even, 300)) { rows.push(...page); sizes.push(page.length) }
  t.same(sizes, [300, 300, 300, 300, 50])
  const want = expected.filter(([, line]) => line % 2 === 0).map(([doc, line, qty]) => [doc, line, (Number(qty) * 2).toFixed(3)])
  t.same(rows, want)
})

t.test('pagination – BIGINT and DECIMAL keys beyond 2^53 compare exactly', async (t) => {
  const db = await createSourceDatabase(t)
  await db.admin.query('CREATE TABLE ids (id BIGINT NOT NULL, n DECIMAL(38,0) NOT NULL, PRIMARY KEY (id, n))')
  const base = 9007199254740992n
  const ids = [0n, 1n, 2n, 3n].map((i) => (base + i).toString())
  const ns = ['99999999999999999999999999999999999998', '99999999999999999999999999999999999999']
  await db.admin.query('INSERT INTO ids VALUES ?', [ids.flatMap((id) => ns.map((n) => [id, n]))])
  const dialect = createSourceDialect(db.url)
  t.teardown(() => dialect.close())
  const s = stream({ name: 'ids', source: { table: 'ids' }, key: ['id', 'n'], columns: [{ name: 'id', from: 'id', type: 'bigint' }, { name: 'n', from: 'n', type: 'decimal' }] })
  const rows: WireRow[] = []
  for await (const page of streamPages(dialect, s, 1)) rows.push(...page)
  t.same(rows, ids.flatMap((id) => ns.map((n) => [id, n])), 'page size 1: no row skipped or repeated')
})

t.test('describe – a missing column fails clearly, naming stream and column', async (t) => {
  const { dialect } = await setUp(t)
  const broken = stream({
    name: 'order_lines',
    source: { table: 'Order Lines' },
    key: ['document'],
    columns: [
      { name: 'document', from: 'doc', type: 'string' },
      { name: 'price', from: 'Preco', type: 'decimal' }
    ]
  })
  const err = await dialect.describe(broken).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_COLUMN_NOT_FOUND', stream: 'order_lines', column: 'price' })
  t.match((err as Error).message, /stream 'order_lines'/)
  t.match((err as Error).message, /source column 'Preco' \(mapped to column 'price', type decimal\) is not in table `sisporta_src_\w+`\.`Order Lines`/)
  t.match((err as Error).message, /which has: doc varchar\(20\), line int\(11\), qty decimal\(12,3\), note varchar\(40\)/)
  await t.rejects(dialect.readPage(broken, undefined, 10), { code: 'SIS_SRC_COLUMN_NOT_FOUND' }, 'readPage describes first')

  const brokenQuery = stream({ name: 'q_stream', source: { query: 'SELECT doc FROM `Order Lines`' }, key: ['document'], columns: [{ name: 'document', from: 'document', type: 'string' }] })
  await t.rejects(dialect.describe(brokenQuery), { code: 'SIS_SRC_COLUMN_NOT_FOUND', column: 'document', message: /stream 'q_stream': source column 'document' .* is not in the query's result, which has: doc varchar/ })
})

t.test('describe – missing table, bad query, unusable key, missing version column', async (t) => {
  const { dialect } = await setUp(t)
  const cols = [{ name: 'document', from: 'doc', type: 'string' as const }]
  await t.rejects(dialect.describe(stream({ name: 's1', source: { table: 'nope' }, key: ['document'], columns: cols })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /stream 's1': source table 'sisporta_src_\w+\.nope' does not exist/ })
  await t.rejects(dialect.describe(stream({ name: 's2', source: { query: 'SELEC doc FROM x' }, key: ['document'], columns: cols })),
    { code: 'SIS_SRC_QUERY', message: /stream 's2': the source query cannot run: ER_PARSE_ERROR/ })
  await t.rejects(dialect.describe(stream({ name: 's3', source: { table: 'Order Lines', version: 'changed_at' }, key: ['document'], columns: cols })),
    { code: 'SIS_SRC_COLUMN_NOT_FOUND', message: /stream 's3': version column 'changed_at'/ })
  await t.rejects(dialect.describe(stream({ name: 's4', source: { table: 'Order Lines' }, key: ['line_no'], columns: [{ name: 'line_no', from: 'line', type: 'float' }] })),
    { code: 'SIS_SRC_KEY', column: 'line_no', message: /stream 's4': key column 'line_no' .*float column cannot be a key/ })
  await t.rejects(dialect.describe(stream({ name: 's5', source: { table: 'Order Lines' }, key: ['doc_no'], columns: [{ name: 'doc_no', from: 'doc', type: 'int' }] })),
    { code: 'SIS_SRC_KEY', message: /text column type varchar\(20\); declare it as string/ })
  await t.rejects(dialect.describe(stream({ name: 's6', source: { table: 'Order Lines' }, key: ['other'], columns: cols })),
    { code: 'SIS_SRC_KEY', message: /key column 'other' is not among the mapped columns/ })
  await t.rejects(dialect.describe(stream({ name: 's7', source: { table: 'other_db.t' }, key: ['document'], columns: cols })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND' })
})

t.test('pagination – a key that is not unique in the source is an error, not skipped rows', async (t) => {
  const { dialect } = await setUp(t)
  const dup = stream({ name: 'docs', source: { query: 'SELECT doc, qty FROM `Order Lines`' }, key: ['doc'], columns: [{ name: 'doc', from: 'doc', type: 'string' }, { name: 'qty', from: 'qty', type: 'decimal' }] })
  await t.rejects(dialect.readPage(dup, undefined, 100), { code: 'SIS_SRC_KEY', message: /stream 'docs': two source rows have the key \{doc: 'D0000'\}/ })
})

t.test('session – reads run read-only with READ COMMITTED', async (t) => {
  const { dialect } = await setUp(t)
  const s = stream({
    name: 'session',
    source: { query: 'SELECT 1 AS id, @@session.tx_read_only AS ro, @@session.tx_isolation AS iso' },
    key: ['id'],
    columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'ro', from: 'ro', type: 'bool' }, { name: 'iso', from: 'iso', type: 'string' }]
  })
  t.same(await dialect.readPage(s, undefined, 10), [[1, true, 'READ-COMMITTED']])
  await dialect.close()
  await dialect.close()
  await t.rejects(dialect.readPage(s, undefined, 10), { code: 'SIS_SRC_CLOSED' })
})
