import t from 'tap'
import {
  SESSION_SQL, buildKeysetCondition, buildPageSql, buildQueryDescribeSql, quoteIdentifier, quoteQualified
} from '../src/postgres/postgres-sql.js'

t.test('postgres sql – single key: first page and next page', async (t) => {
  const spec = { source: { table: ['erp', 'products'] as const }, columns: [{ column: 'ProdCode' }, { column: 'Descr' }, { column: 'Preco' }], key: ['ProdCode'] }
  t.equal(buildPageSql(spec, false), 'SELECT "ProdCode", "Descr", "Preco" FROM "erp"."products" ORDER BY "ProdCode" LIMIT $1')
  t.equal(buildPageSql(spec, true), 'SELECT "ProdCode", "Descr", "Preco" FROM "erp"."products" WHERE "ProdCode" > $1 ORDER BY "ProdCode" LIMIT $2')
})

t.test('postgres sql – composite key is a row comparison (an index range on PostgreSQL)', async (t) => {
  const spec = { source: { table: ['public', 'lines'] as const }, columns: [{ column: 'doc' }, { column: 'line' }, { column: 'qty' }], key: ['doc', 'line'] }
  t.equal(buildPageSql(spec, false), 'SELECT "doc", "line", "qty" FROM "public"."lines" ORDER BY "doc", "line" LIMIT $1')
  t.equal(buildPageSql(spec, true),
    'SELECT "doc", "line", "qty" FROM "public"."lines" WHERE ("doc", "line") > ($1, $2) ORDER BY "doc", "line" LIMIT $3')
  t.equal(buildKeysetCondition(['a', 'b', 'c']), '("a", "b", "c") > ($1, $2, $3)')
  t.equal(buildKeysetCondition(['a', 'b'], 4), '("a", "b") > ($4, $5)')
  t.equal(buildKeysetCondition(['id']), '"id" > $1')
})

t.test('postgres sql – a query stream is wrapped as a derived table', async (t) => {
  const spec = {
    source: { query: '  SELECT p.code AS sku, p.price FROM products p WHERE p.active AND p.note <> \'$1\' -- live only\n;  ' },
    columns: [{ column: 'sku' }, { column: 'price' }],
    key: ['sku']
  }
  t.equal(buildPageSql(spec, false),
    'SELECT "sku", "price" FROM (\nSELECT p.code AS sku, p.price FROM products p WHERE p.active AND p.note <> \'$1\' -- live only\n) AS q ORDER BY "sku" LIMIT $1')
  t.equal(buildPageSql(spec, true),
    'SELECT "sku", "price" FROM (\nSELECT p.code AS sku, p.price FROM products p WHERE p.active AND p.note <> \'$1\' -- live only\n) AS q WHERE "sku" > $1 ORDER BY "sku" LIMIT $2')
  t.equal(buildQueryDescribeSql('SELECT 1 AS a;'), 'SELECT * FROM (\nSELECT 1 AS a\n) AS q LIMIT 0')
})

t.test('postgres sql – arrays and composite values are selected as JSON', async (t) => {
  const spec = { source: { table: ['public', 't'] as const }, columns: [{ column: 'id' }, { column: 'Tags', toJson: true }], key: ['id'] }
  t.equal(buildPageSql(spec, true), 'SELECT "id", to_json("Tags") AS "Tags" FROM "public"."t" WHERE "id" > $1 ORDER BY "id" LIMIT $2')
})

t.test('postgres sql – odd names are quoted, double quotes doubled', async (t) => {
  t.equal(quoteIdentifier('Preço Unitário'), '"Preço Unitário"')
  t.equal(quoteIdentifier('a"b'), '"a""b"')
  t.equal(quoteIdentifier('x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"')
  t.equal(quoteQualified(['my-schema', 'order']), '"my-schema"."order"')
  t.equal(buildPageSql({ source: { table: ['erp', 'select'] }, columns: [{ column: 'from' }, { column: 'Descrição' }], key: ['from'] }, true),
    'SELECT "from", "Descrição" FROM "erp"."select" WHERE "from" > $1 ORDER BY "from" LIMIT $2')
  t.throws(() => quoteIdentifier(''), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => quoteIdentifier('a\u0000b'), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => buildPageSql({ source: { table: ['a', 'b'] }, columns: [], key: ['x'] }, false), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('postgres sql – the session is read-only READ COMMITTED with exact text forms', async (t) => {
  t.equal(SESSION_SQL,
    'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY; ' +
    "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET bytea_output = 'hex'; SET extra_float_digits = 3")
})
