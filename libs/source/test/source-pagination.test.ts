/**
 * Pagination, query streams and describe errors, one body for every engine with a local server
 * (`for (const engine of ENGINES)`, as Kysely's tests do): PostgreSQL and MariaDB are held to the
 * same behaviour, and differ only where the engine's own spelling shows (types, messages).
 * Engine-only checks: postgres-pagination.test.ts, mysql-pagination.test.ts.
 */
import t from 'tap'
import { createSourceDialect, keyOf, streamPages, type WireRow } from '../src/index.js'
import { ENGINES, ORDER_LINES_ROWS, escapePattern, orderLines as lines, setUpOrderLines } from './engines.js'
import { stream } from './fixtures.js'

for (const engine of ENGINES) {
  t.test(`pagination – ${engine.name}: composite key, every row exactly once, in key order, 1000 per page`, async (t) => {
    const { dialect, expected } = await setUpOrderLines(t, engine)
    const pages: WireRow[][] = []
    for await (const page of streamPages(dialect, lines, 1000)) pages.push(page)
    t.same(pages.map((p) => p.length), [1000, 1000, 500])
    t.same(pages.flat(), expected, 'all 2,500 rows, each once, in (doc, line) order, values exact')
  })

  t.test(`pagination – ${engine.name}: readPage continues after a composite key; resumes from a checkpoint`, async (t) => {
    const { dialect, expected } = await setUpOrderLines(t, engine)
    const first = await dialect.readPage(lines, undefined, 7)
    t.same(first, expected.slice(0, 7))
    t.same(keyOf(lines, first[6]!), ['D0000', 7])
    t.same(await dialect.readPage(lines, keyOf(lines, first[6]!), 30), expected.slice(7, 37), 'crosses from doc D0000 into D0001')
    t.same(await dialect.readPage(lines, ['D0124', 19], 1000), [expected[ORDER_LINES_ROWS - 1]])
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
    const { dialect, expected } = await setUpOrderLines(t, engine)
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
    t.same(d.columns.map((c) => [c.from, c.sourceType]), ['document', 'line_no', 'twice'].map((from, i) => [from, engine.evenLinesTypes[i]]))
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
    const s = stream({ name: 'ids', source: { table: 'ids' }, key: ['id', 'n'], columns: [{ name: 'id', from: 'id', type: 'bigint' }, { name: 'n', from: 'n', type: 'decimal', precision: 38, scale: 0 }] })
    const rows: WireRow[] = []
    for await (const page of streamPages(dialect, s, 1)) rows.push(...page)
    t.same(rows, ids.flatMap((id) => ns.map((n) => [id, n])), 'page size 1: no row skipped or repeated')
  })

  t.test(`describe – ${engine.name}: a missing column fails clearly, naming stream and column`, async (t) => {
    const { dialect } = await setUpOrderLines(t, engine)
    const broken = stream({
      name: 'order_lines',
      source: { table: 'Order Lines' },
      key: ['document'],
      columns: [{ name: 'document', from: 'doc', type: 'string' }, { name: 'price', from: 'Preco', type: 'decimal' }]
    })
    const err = await dialect.describe(broken).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_COLUMN_NOT_FOUND', stream: 'order_lines', column: 'price' })
    const { doc, line, qty, note } = engine.orderLinesTypes
    const has = escapePattern(`doc ${doc}, line ${line}, qty ${qty}, note ${note}`)
    t.match((err as Error).message, new RegExp(`^stream 'order_lines': source column 'Preco' \\(mapped to column 'price', type decimal\\) is not in table ${engine.tablePattern('Order Lines')}, which has: ${has}$`))
    await t.rejects(dialect.readPage(broken, undefined, 10), { code: 'SIS_SRC_COLUMN_NOT_FOUND' }, 'readPage describes first')
    const brokenQuery = stream({ name: 'q_stream', source: { query: `SELECT doc FROM ${engine.q('Order Lines')}` }, key: ['document'], columns: [{ name: 'document', from: 'document', type: 'string' }] })
    await t.rejects(dialect.describe(brokenQuery), {
      code: 'SIS_SRC_COLUMN_NOT_FOUND',
      column: 'document',
      message: new RegExp(`stream 'q_stream': source column 'document' .* is not in the query's result, which has: doc ${escapePattern(engine.evenLinesTypes[0]!)}`)
    })
  })

  t.test(`describe – ${engine.name}: missing table, bad query, unusable key, missing version column`, async (t) => {
    const { dialect } = await setUpOrderLines(t, engine)
    const cols = [{ name: 'document', from: 'doc', type: 'string' as const }]
    await t.rejects(dialect.describe(stream({ name: 's1', source: { table: 'nope' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_TABLE_NOT_FOUND', message: new RegExp(`stream 's1': source table '${engine.defaultSchema}\\.nope' does not exist`) })
    await t.rejects(dialect.describe(stream({ name: 's2', source: { query: 'SELEC doc FROM x' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_QUERY', message: new RegExp(`stream 's2': the source query cannot run: ${engine.syntaxError}`) })
    await t.rejects(dialect.describe(stream({ name: 's3', source: { table: 'Order Lines', version: 'changed_at' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_COLUMN_NOT_FOUND', message: /stream 's3': version column 'changed_at'/ })
    await t.rejects(dialect.describe(stream({ name: 's4', source: { table: 'Order Lines' }, key: ['line_no'], columns: [{ name: 'line_no', from: 'line', type: 'float' }] })),
      { code: 'SIS_SRC_KEY', column: 'line_no', message: /stream 's4': key column 'line_no' .*float column cannot be a key/ })
    // the source type is checked before the key: text can never be an int, key or not
    await t.rejects(dialect.describe(stream({ name: 's5', source: { table: 'Order Lines' }, key: ['doc_no'], columns: [{ name: 'doc_no', from: 'doc', type: 'int' }] })),
      { code: 'SIS_SRC_TYPE', column: 'doc_no', message: new RegExp(`source type ${escapePattern(engine.orderLinesTypes.doc)} cannot be read as int without loss`) })
    await t.rejects(dialect.describe(stream({ name: 's6', source: { table: 'Order Lines' }, key: ['other'], columns: cols })),
      { code: 'SIS_SRC_KEY', message: /key column 'other' is not among the mapped columns/ })
    await t.rejects(dialect.describe(stream({ name: 's7', source: { table: 'other_db.t' }, key: ['document'], columns: cols })),
      { code: 'SIS_SRC_TABLE_NOT_FOUND' })
  })

  t.test(`pagination – ${engine.name}: a key that is not unique in the source is an error, not skipped rows`, async (t) => {
    const { dialect } = await setUpOrderLines(t, engine)
    const dup = stream({ name: 'docs', source: { query: `SELECT doc, qty FROM ${engine.q('Order Lines')}` }, key: ['doc'], columns: [{ name: 'doc', from: 'doc', type: 'string' }, { name: 'qty', from: 'qty', type: 'decimal' }] })
    await t.rejects(dialect.readPage(dup, undefined, 100), { code: 'SIS_SRC_KEY', message: /stream 'docs': two source rows have the key \{doc: 'D0000'\}/ })
  })
}
