import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, parseConfig, readSettings, requireSetting } from '@sisporta/config'

const good = `
streams:
  - name: products
    source: { table: dbo.Produtos, version: RowVer }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku,        from: ProdCode, type: string }
      - { name: price,      from: Preco,    type: decimal, precision: 19, scale: 4 }
      - { name: updated_at, from: DataAlt,  type: datetime }
    deletes: hard
    maxDeleteRatio: 0.2
`

function bad (yaml: string): unknown {
  try {
    parseConfig(yaml, 'sisporta.yaml', { TBL: 'dbo.X' })
  } catch (err) {
    return err
  }
  return undefined
}

t.test('config – the brief\'s example loads with defaults applied and frozen', async (t) => {
  const config = parseConfig(good, 'sisporta.yaml', {})
  const products = config.stream('products')!
  t.equal(products.deletes, 'hard')
  t.equal(products.maxDeleteRatio, 0.2)
  t.same(products.target.key, ['sku'])
  t.ok(Object.isFrozen(products.columns[0]), 'columns are frozen')
  t.equal(parseConfig(good.replace('    deletes: hard\n    maxDeleteRatio: 0.2\n', ''), 'x.yaml', {}).stream('products')!.deletes, 'hard', 'deletes defaults to hard')
})

t.test('config – ${VAR} is replaced from the environment, a missing one names file and line', async (t) => {
  const config = parseConfig(good.replace('dbo.Produtos', '${TBL}'), 'sisporta.yaml', { TBL: 'dbo.Itens' })
  t.equal(config.stream('products')!.source.table, 'dbo.Itens')
  t.equal(parseConfig(good.replace('dbo.Produtos', '${TBL:-dbo.Def}'), 'sisporta.yaml', {}).stream('products')!.source.table, 'dbo.Def')
  t.match(bad(good.replace('dbo.Produtos', '${NOPE}')), { code: 'SIS_CFG_ENV_MISSING', exitCode: 2, message: /^sisporta\.yaml:4: environment variable NOPE is not set/ })
})

t.test('config – an unknown key names file, stream and key', async (t) => {
  t.match(bad(good.replace('    deletes: hard', '    delets: hard')), { code: 'SIS_CFG_INVALID', exitCode: 2, message: /^sisporta\.yaml: stream 'products', key 'delets': unknown key/ })
  t.match(bad(good.replace('type: datetime }', 'type: datetime, colour: red }')), { message: /stream 'products', columns\[2\] \(updated_at\), key 'colour': unknown key/ })
  t.match(bad(`${good}\nextra: 1\n`), { message: /key 'extra': unknown key/ })
})

t.test('config – a bad type names the column and the key', async (t) => {
  t.match(bad(good.replace('type: datetime', 'type: timestamp')), { code: 'SIS_CFG_INVALID', message: /stream 'products', columns\[2\] \(updated_at\), key 'type'/ })
  t.match(bad(good.replace('maxDeleteRatio: 0.2', 'maxDeleteRatio: 2')), { message: /stream 'products', key 'maxDeleteRatio'.*got 2/ })
})

t.test('config – a stream name that is not an identifier is refused', async (t) => {
  t.match(bad(good.replace('name: products', 'name: Products-2')), { code: 'SIS_CFG_INVALID', message: /stream 'Products-2', key 'name'/ })
})

t.test('config – missing column mapping and key problems', async (t) => {
  t.match(bad(good.replace('{ name: price,      from: Preco,', '{ name: price,')), { message: /stream 'products', columns\[1\] \(price\), key 'from'/ })
  t.match(bad(good.replace('key: [sku]', 'key: [code]')), { code: 'SIS_CFG_KEY_UNMAPPED', message: /stream 'products', key 'target.key\[0\]': key column 'code' has no mapping/ })
  t.match(bad(good.replace('source: { table: dbo.Produtos, version: RowVer }', 'source: { version: RowVer }')), { code: 'SIS_CFG_SOURCE', message: /exactly one of 'table' or 'query'/ })
  t.match(bad(good.replace('type: string }', 'type: float }')), { code: 'SIS_CFG_KEY_TYPE' })
  t.match(bad(good.replace('{ name: price,      from: Preco,', '{ name: sku,      from: Preco,')), { code: 'SIS_CFG_DUPLICATE_COLUMN' })
  t.match(bad(good.replace('precision: 19, scale: 4', 'precision: 4, scale: 19')), { code: 'SIS_CFG_COLUMN', message: /scale 19 is larger than precision 4/ })
  t.match(bad(good.replace('type: datetime', 'type: datetime, scale: 3')), { code: 'SIS_CFG_COLUMN', message: /columns\[2\] \(updated_at\), key 'scale': only decimal columns have a scale/ })
  t.match(bad(good.replace('type: string }', 'type: string, precision: 3 }')), { code: 'SIS_CFG_COLUMN', message: /key 'precision': only decimal \(total digits\) and datetime \(fractional-second digits\) columns have a precision/ })
})

t.test('config – invalid YAML and unreadable files name the file', async (t) => {
  t.match(bad('streams: [\n  - name: x'), { code: 'SIS_CFG_YAML', message: /^sisporta\.yaml: invalid YAML at line/ })
  t.throws(() => loadConfig('/nonexistent/sisporta.yaml', {}), { code: 'SIS_CFG_UNREADABLE', message: /\/nonexistent\/sisporta\.yaml: cannot read/ })
  const dir = mkdtempSync(join(tmpdir(), 'sis-cfg-'))
  writeFileSync(join(dir, 'sisporta.yaml'), good)
  t.equal(loadConfig(join(dir, 'sisporta.yaml'), {}).streams.length, 1)
})

t.test('settings – defaults work locally, bad numbers name the variable', async (t) => {
  const s = readSettings({})
  t.equal(s.natsUrl, 'nats://127.0.0.1:4222')
  t.equal(s.mysqlUrl, undefined, 'no default database login (root) outside the demo')
  t.equal(s.sourceUrl, undefined)
  t.throws(() => requireSetting(s.mysqlUrl, 'SISPORTA_MYSQL_URL'), { code: 'SIS_CFG_ENV', message: /SISPORTA_MYSQL_URL is not set/ })
  t.equal(requireSetting(readSettings({ SISPORTA_MYSQL_URL: 'mysql://u:p@db/app' }).mysqlUrl, 'SISPORTA_MYSQL_URL'), 'mysql://u:p@db/app')
  t.equal(s.jwtMaxTtlSec, 30 * 86400)
  t.equal(readSettings({ SISPORTA_JWT_MAX_TTL: '12h' }).jwtMaxTtlSec, 43200)
  t.throws(() => readSettings({ SISPORTA_JWT_MAX_TTL: '400d' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_JWT_MAX_TTL='400d'/ })
  t.equal(s.gatewayMaxInFlightPerToken, 8, 'half the global bound by default')
  t.equal(readSettings({ SISPORTA_GATEWAY_MAX_IN_FLIGHT: '5' }).gatewayMaxInFlightPerToken, 3)
  t.equal(s.gatewayBodyTimeoutSec, 30)
  t.equal(s.namespace, 'sisporta')
  t.equal(s.batchSize, 2000)
  t.throws(() => readSettings({ SISPORTA_BATCH_SIZE: 'lots' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_BATCH_SIZE='lots'/ })
  t.throws(() => readSettings({ SISPORTA_NAMESPACE: 'Has.Dots' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_NAMESPACE/ })
})

t.test('config – the example in examples/sisporta.yaml is valid', async (t) => {
  const config = loadConfig(new URL('../../../examples/sisporta.yaml', import.meta.url).pathname, {})
  t.same(config.streams.map((s) => s.name), ['products', 'customers', 'price_list'])
  t.equal(config.stream('price_list')!.source.table, 'dbo.TabelaPrecos', '${ERP_SCHEMA:-dbo} falls back to its default')
  t.equal(config.stream('customers')!.deletes, 'soft')
})
