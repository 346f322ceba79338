import t from 'tap'
import { parseConfig } from '@sisporta/config'

// `fraction: truncate` (SQL Server datetime2(7) read cut to the microsecond): datetime columns
// only, never on a key, and nothing but `truncate`.

const config = (columns: string, key = 'id'): string => `
streams:
  - name: orders
    source: { table: dbo.Pedidos }
    target: { table: orders, key: [${key}] }
    columns:
      - { name: id, from: Id, type: int }
${columns}
`

function bad (yaml: string): unknown {
  try {
    parseConfig(yaml, 'sisporta.yaml', {})
  } catch (err) {
    return err
  }
  return undefined
}

t.test('fraction – truncate on a datetime column loads and is kept', async (t) => {
  const stream = parseConfig(config('      - { name: created, from: Criado, type: datetime, fraction: truncate }'), 'x.yaml', {}).stream('orders')!
  t.equal(stream.columns[1]!.fraction, 'truncate')
  const withPrecision = parseConfig(config('      - { name: created, from: Criado, type: datetime, precision: 3, fraction: truncate }'), 'x.yaml', {}).stream('orders')!
  t.match(withPrecision.columns[1], { precision: 3, fraction: 'truncate' })
  t.notOk('fraction' in parseConfig(config('      - { name: created, from: Criado, type: datetime }'), 'x.yaml', {}).stream('orders')!.columns[1]!)
})

t.test('fraction – refused on other types, on keys, and for other values', async (t) => {
  t.match(bad(config('      - { name: note, from: Nota, type: string, fraction: truncate }')),
    { code: 'SIS_CFG_COLUMN', message: /stream 'orders', columns\[1\] \(note\), key 'fraction': only datetime columns have a fraction/ })
  t.match(bad(config('      - { name: day, from: Dia, type: date, fraction: truncate }')), { code: 'SIS_CFG_COLUMN', message: /key 'fraction'/ })
  t.match(bad(config('      - { name: created, from: Criado, type: datetime, fraction: truncate }', 'id, created')),
    { code: 'SIS_CFG_KEY_TYPE', message: /stream 'orders', key 'target.key\[1\]': key column 'created' cannot declare fraction: truncate/ })
  t.match(bad(config('      - { name: created, from: Criado, type: datetime, fraction: round }')), { message: /fraction/ })
})
