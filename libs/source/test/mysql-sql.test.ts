import t from 'tap'
import {
  buildKeysetCondition, buildPageSql, buildQueryDescribeSql, keysetParameters, quoteIdentifier, quoteQualified
} from '../src/mysql/mysql-sql.js'

t.test('mysql sql – single key: first page and next page', async (t) => {
  const spec = { source: { table: ['erp', 'products'] as const }, columns: ['ProdCode', 'Descr', 'Preco'], key: [{ column: 'ProdCode' }] }
  t.equal(buildPageSql(spec, false), 'SELECT `ProdCode`, `Descr`, `Preco` FROM `erp`.`products` ORDER BY `ProdCode` LIMIT ?')
  t.equal(buildPageSql(spec, true), 'SELECT `ProdCode`, `Descr`, `Preco` FROM `erp`.`products` WHERE `ProdCode` > ? ORDER BY `ProdCode` LIMIT ?')
  t.same(keysetParameters(['A1']), ['A1'])
})

t.test('mysql sql – composite key expands into a range the index can seek', async (t) => {
  const spec = { source: { table: ['erp', 'lines'] as const }, columns: ['doc', 'line', 'qty'], key: [{ column: 'doc' }, { column: 'line' }] }
  t.equal(buildPageSql(spec, false), 'SELECT `doc`, `line`, `qty` FROM `erp`.`lines` ORDER BY `doc`, `line` LIMIT ?')
  t.equal(buildPageSql(spec, true),
    'SELECT `doc`, `line`, `qty` FROM `erp`.`lines` WHERE (`doc` > ? OR (`doc` = ? AND `line` > ?)) ORDER BY `doc`, `line` LIMIT ?')
  t.same(keysetParameters(['D1', 7]), ['D1', 'D1', 7])
  t.equal(buildKeysetCondition([{ column: 'a' }, { column: 'b' }, { column: 'c' }]),
    '(`a` > ? OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` > ?))')
  t.same(keysetParameters([1, 2, 3]), [1, 1, 2, 1, 2, 3])
})

t.test('mysql sql – key casts keep big integers, decimals and date-times exact', async (t) => {
  t.equal(buildKeysetCondition([{ column: 'id', cast: { kind: 'signed' } }]), '`id` > CAST(? AS SIGNED)')
  t.equal(buildKeysetCondition([{ column: 'id', cast: { kind: 'unsigned' } }]), '`id` > CAST(? AS UNSIGNED)')
  t.equal(buildKeysetCondition([{ column: 'n', cast: { kind: 'decimal', precision: 38, scale: 0 } }, { column: 'at', cast: { kind: 'datetime' } }]),
    '(`n` > CAST(? AS DECIMAL(38,0)) OR (`n` = CAST(? AS DECIMAL(38,0)) AND `at` > CAST(? AS DATETIME(6))))')
  t.equal(buildKeysetCondition([{ column: 'd', cast: { kind: 'date' } }]), '`d` > CAST(? AS DATE)')
  t.throws(() => buildKeysetCondition([{ column: 'n', cast: { kind: 'decimal', precision: 66, scale: 0 } }]), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('mysql sql – a query stream is wrapped as a derived table', async (t) => {
  const spec = {
    source: { query: '  SELECT p.code AS sku, p.price FROM products p WHERE p.active = 1 -- live only\n;  ' },
    columns: ['sku', 'price'],
    key: [{ column: 'sku' }]
  }
  t.equal(buildPageSql(spec, false),
    'SELECT `sku`, `price` FROM (\nSELECT p.code AS sku, p.price FROM products p WHERE p.active = 1 -- live only\n) AS q ORDER BY `sku` LIMIT ?')
  t.equal(buildPageSql(spec, true),
    'SELECT `sku`, `price` FROM (\nSELECT p.code AS sku, p.price FROM products p WHERE p.active = 1 -- live only\n) AS q WHERE `sku` > ? ORDER BY `sku` LIMIT ?')
  t.equal(buildQueryDescribeSql('SELECT 1 AS a;'), 'SELECT * FROM (\nSELECT 1 AS a\n) AS q LIMIT 0')
})

t.test('mysql sql – odd names are quoted, backticks doubled', async (t) => {
  t.equal(quoteIdentifier('Preço Unitário'), '`Preço Unitário`')
  t.equal(quoteIdentifier('a`b'), '`a``b`')
  t.equal(quoteIdentifier('x`; DROP TABLE t; --'), '`x``; DROP TABLE t; --`')
  t.equal(quoteQualified(['my-db', 'order']), '`my-db`.`order`')
  t.equal(buildPageSql({ source: { table: ['erp', 'select'] }, columns: ['from', 'Descrição'], key: [{ column: 'from' }] }, true),
    'SELECT `from`, `Descrição` FROM `erp`.`select` WHERE `from` > ? ORDER BY `from` LIMIT ?')
  t.throws(() => quoteIdentifier(''), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => quoteIdentifier('a\u0000b'), { code: 'SIS_SRC_ARGUMENT' })
})
