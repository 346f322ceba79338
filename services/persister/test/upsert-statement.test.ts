import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { createDb, flavourOfVersion } from '@sisporta/db'
import { prepareUpsert } from '../src/index.js'

// The exact text of the upsert on each server flavour: MySQL 8.0.19+ reads the values sent
// through a row alias (VALUES() is deprecated there, warning 1287 on every statement);
// MariaDB, which has no row alias, keeps VALUES(). The stamp is assigned last in both, so every
// condition compares the incoming load with the stored one. No MySQL 8 runs here: the
// Bitbucket pipeline runs the whole suite against MySQL 8.0 and 8.4 as well.

const config = parseConfig(`
streams:
  - name: products
    source: { table: erp.products }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: sku, type: string, length: 20 }
      - { name: name, from: name, type: string }
      - { name: price, from: price, type: decimal }
    deletes: soft
  - name: lines
    source: { table: erp.lines }
    target: { table: new, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: qty, from: qty, type: int }
`, 'upsert-statement-test.yaml', {})

const db = createDb('mysql://nobody@127.0.0.1:1/none', { poolSize: 1 })
t.teardown(() => db.destroy())
const VALUES = "('A1','x','1.5',42)"

t.test('upsert statement – MariaDB and MySQL before 8.0.19: VALUES()', async (t) => {
  const upsert = prepareUpsert(db, config.stream('products')!, ['sku', 'name', 'price'], flavourOfVersion('10.11.19-MariaDB'))
  const guard = 'IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0)'
  t.equal(upsert(VALUES).sql,
    'INSERT INTO `products` (`sku`, `name`, `price`, `_sisporta_load`) VALUES ' + VALUES +
    ' ON DUPLICATE KEY UPDATE ' +
    `\`name\` = ${guard}, VALUES(\`name\`), \`name\`), ` +
    `\`price\` = ${guard}, VALUES(\`price\`), \`price\`), ` +
    `\`_sisporta_deleted_at\` = ${guard}, NULL, \`_sisporta_deleted_at\`), ` +
    '`_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), VALUES(`_sisporta_load`))')
  t.equal(prepareUpsert(db, config.stream('products')!, ['sku', 'name', 'price'], flavourOfVersion('5.7.44-log'))(VALUES).sql, upsert(VALUES).sql, 'MySQL 5.7: the same')
})

t.test('upsert statement – MySQL 8.0.19+: a row alias, the stamp still assigned last', async (t) => {
  const upsert = prepareUpsert(db, config.stream('products')!, ['sku', 'name', 'price'], flavourOfVersion('8.0.36'))
  const guard = 'IF(`_sisporta_new`.`_sisporta_load` >= COALESCE(`_sisporta_load`, 0)'
  t.equal(upsert(VALUES).sql,
    'INSERT INTO `products` (`sku`, `name`, `price`, `_sisporta_load`) VALUES ' + VALUES +
    ' AS `_sisporta_new` ON DUPLICATE KEY UPDATE ' +
    `\`name\` = ${guard}, \`_sisporta_new\`.\`name\`, \`name\`), ` +
    `\`price\` = ${guard}, \`_sisporta_new\`.\`price\`, \`price\`), ` +
    `\`_sisporta_deleted_at\` = ${guard}, NULL, \`_sisporta_deleted_at\`), ` +
    '`_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), `_sisporta_new`.`_sisporta_load`)')
  t.notMatch(upsert(VALUES).sql, /VALUES\(/, 'no deprecated VALUES()')
  t.equal(prepareUpsert(db, config.stream('products')!, ['sku', 'name', 'price'], flavourOfVersion('8.4.3'))(VALUES).sql, upsert(VALUES).sql, 'MySQL 8.4: the same')

  // a target table named like a common alias is no problem: the alias is sisporta's own name
  const lines = prepareUpsert(db, config.stream('lines')!, ['id', 'qty'], flavourOfVersion('8.4.3'))
  t.equal(lines('(1,2,42)').sql, 'INSERT INTO `new` (`id`, `qty`, `_sisporta_load`) VALUES (1,2,42) AS `_sisporta_new` ON DUPLICATE KEY UPDATE ' +
    '`qty` = IF(`_sisporta_new`.`_sisporta_load` >= COALESCE(`_sisporta_load`, 0), `_sisporta_new`.`qty`, `qty`), ' +
    '`_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), `_sisporta_new`.`_sisporta_load`)')
})
