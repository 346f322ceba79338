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
