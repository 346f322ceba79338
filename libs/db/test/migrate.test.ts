import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { createDb, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'

const yaml = `
streams:
  - name: products
    source: { table: erp.products }
    target: { table: products, key: [sku] }
    deletes: soft
    columns:
      - { name: sku, from: code, type: string, length: 40 }
      - { name: price, from: price, type: decimal, precision: 19, scale: 4 }
      - { name: changed, from: changed, type: datetime }
`

t.test('migrate – creates bookkeeping and target tables, then changes nothing', async (t) => {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const config = parseConfig(yaml, 'test.yaml', {})
  const first = await migrate(db, config)
  t.same(first.changes, ['created table products (stream products)'])
  const second = await migrate(db, config)
  t.same(second.changes, [])
  const [cols] = await sql.query('SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', ['products'])
  t.same((cols as { COLUMN_NAME: string, COLUMN_TYPE: string }[]).map((c) => `${c.COLUMN_NAME} ${c.COLUMN_TYPE}`),
    ['sku varchar(40)', 'price decimal(19,4)', 'changed datetime(6)', '_sisporta_load bigint(20)', '_sisporta_deleted_at datetime(6)'])
})

t.test('migrate – refuses an existing target that would round decimals', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query('CREATE TABLE products (sku VARCHAR(40) PRIMARY KEY, price DECIMAL(10,2), changed DATETIME(6))')
  const db = createDb(url)
  t.teardown(() => db.destroy())
  await t.rejects(migrate(db, parseConfig(yaml, 'test.yaml', {})), { code: 'SIS_DB_TARGET_TYPE', message: /stream 'products'.*column 'price' is decimal\(10,2\)/ })
})

t.test('migrate – adds the stamp columns to an existing target', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query('CREATE TABLE products (sku VARCHAR(40) PRIMARY KEY, price DECIMAL(19,4), changed DATETIME(6), extra INT)')
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const report = await migrate(db, parseConfig(yaml, 'test.yaml', {}))
  t.same(report.changes, ['added _sisporta_load to products', 'added _sisporta_deleted_at to products', 'added index _sisporta_live_idx to products'])
  t.same((await migrate(db, parseConfig(yaml, 'test.yaml', {}))).changes, [], 'then nothing more')
})

t.test('migrate – reports each mapped text column that is not utf8mb4, with the ALTER that converts it keeping its definition', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query(`CREATE TABLE products (
    sku VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL PRIMARY KEY,
    name VARCHAR(80) CHARACTER SET latin1 NOT NULL DEFAULT 'it''s \\\\ new' COMMENT 'shown in the app',
    note TEXT CHARACTER SET utf8mb3 NULL,
    kind ENUM('a','b''c') CHARACTER SET latin1 NULL DEFAULT NULL,
    doc LONGTEXT CHARACTER SET latin1,
    label VARCHAR(10) CHARACTER SET utf8mb4,
    ref CHAR(36) CHARACTER SET ascii,
    app_own VARCHAR(5) CHARACTER SET latin1,
    price DECIMAL(19,4), changed DATETIME(6))`)
  const config = parseConfig(`
streams:
  - name: products
    source: { table: erp.products }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: code, type: string, length: 40 }
      - { name: name, from: name, type: string, length: 80 }
      - { name: note, from: note, type: string, length: 16383 }
      - { name: doc, from: doc, type: json }
      - { name: label, from: label, type: string, length: 10 }
      - { name: ref, from: ref, type: uuid }
      - { name: price, from: price, type: decimal, precision: 19, scale: 4 }
      - { name: changed, from: changed, type: datetime }
`, 'test.yaml', {})
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const definitions = async (): Promise<Record<string, string>> => {
    const [cols] = await sql.query(`SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT, CHARACTER_SET_NAME, COLLATION_NAME
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'products'`) as unknown as [Record<string, string | null>[]]
    return Object.fromEntries(cols.map((c) => [c.COLUMN_NAME, `${c.COLUMN_TYPE} ${c.IS_NULLABLE} ${c.COLUMN_DEFAULT} '${c.COLUMN_COMMENT}' ${c.CHARACTER_SET_NAME} ${c.COLLATION_NAME}`]))
  }
  const before = await definitions()
  const report = await migrate(db, config)
  // sku is also a key under a PAD SPACE collation (migrate-key-collation.test.ts): the same ALTER fixes both
  const keyWarnings = report.warnings.filter((w) => / key column /.test(w))
  t.equal(keyWarnings.length, 1)
  t.match(keyWarnings[0], /^table 'products', key column 'sku' .* latin1_bin, which ignores trailing blanks: .*: ALTER TABLE `products` MODIFY `sku` varchar\(40\) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;$/)
  t.same(report.warnings.filter((w) => !/ key column /.test(w)).map((w) => w.replace(/^table 'products', column '(\w+)'.* is (\w+) \(([\w]+)\), not utf8mb4: .* run: (.*)$/, '$1 $2 $3 | $4')), [
    "sku latin1 latin1_bin | ALTER TABLE `products` MODIFY `sku` varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;",
    "name latin1 latin1_swedish_ci | ALTER TABLE `products` MODIFY `name` varchar(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'it''s \\\\ new' COMMENT 'shown in the app';",
    'note utf8mb3 utf8mb3_general_ci | ALTER TABLE `products` MODIFY `note` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL;',
    'doc latin1 latin1_swedish_ci | ALTER TABLE `products` MODIFY `doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL;'
  ], 'each text column sisporta writes that is not utf8mb4 (not the uuid in ascii, not the application\'s own columns)')
  t.match(report.warnings[0], /refused and its batch dead-lettered/)
  // running the ALTERs as printed converts the columns and keeps the rest of their definition
  for (const warning of report.warnings) await sql.query(warning.slice(warning.indexOf('ALTER TABLE')))
  const after = await definitions()
  for (const column of ['sku', 'name', 'note', 'doc']) {
    t.equal(after[column]!.replace(/ utf8mb4 \w+$/, ''), before[column]!.replace(/ \w+ \w+$/, ''), `${column}: type, length, nullability, default, comment kept`)
    t.match(after[column], / utf8mb4 utf8mb4_\w+$/, `${column}: now utf8mb4`)
  }
  t.same((await migrate(db, config)).warnings, [], 'then nothing more to report')
})
