import t from 'tap'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, busNames } from '@sisporta/contracts'
import { createBatchDecoder } from '../src/index.js'
import { config } from './helpers.js'

const names = busNames('t_decode')
const decode = createBatchDecoder(config, names)

function message (overrides: Record<string, string | undefined> = {}, body: unknown = { columns: ['id', 'label'], rows: [[1, 'a'], [2, null]] }, subject?: string) {
  const values: Record<string, string | undefined> = { [BatchHeaders.Stream]: 'shorts', [BatchHeaders.Load]: '12', [BatchHeaders.Batch]: '3', [BatchHeaders.Mode]: 'full', [BatchHeaders.Rows]: '2', ...overrides }
  const h = natsHeaders()
  for (const [k, v] of Object.entries(values)) if (v !== undefined) h.set(k, v)
  const stream = values[BatchHeaders.Stream] ?? 'shorts'
  const data = typeof body === 'string' ? new TextEncoder().encode(body) : new TextEncoder().encode(JSON.stringify(body))
  return { subject: subject ?? names.batchSubject(stream), data, headers: h }
}

t.test('decode batch – reads headers and body of a well-formed batch, rendering its rows as SQL', async (t) => {
  const batch = decode(message())
  t.equal(batch.stream, config.stream('shorts'))
  t.same({ loadId: batch.loadId, batch: batch.batch, mode: batch.mode }, { loadId: 12, batch: 3, mode: 'full' })
  t.ok('rendered' in batch, 'the plain shape the gateway forwards is transcoded')
  if (!('rendered' in batch)) return
  t.same(batch.rendered.columns, ['id', 'label'])
  t.equal(batch.rendered.bytes.toString('utf8', 0, batch.rendered.length), "(1,'a',12),(2,NULL,12)", 'stamped with the load id of the headers')
  t.same([...batch.rendered.rowEnds], [10, 22])
})

t.test('decode batch – a body the transcoder does not vouch for is parsed and checked value by value', async (t) => {
  // columns after rows: valid JSON, not the gateway's plain shape
  const batch = decode(message({}, '{"rows": [[1, "a"], [2, null]], "columns": ["id", "label"]}'))
  t.ok('body' in batch)
  if ('body' in batch) t.same(batch.body, { rows: [[1, 'a'], [2, null]], columns: ['id', 'label'] })
  // an integer spelled with an exponent: the general path accepts it
  const exp = decode(message({ [BatchHeaders.Rows]: '1' }, '{"columns":["id","label"],"rows":[[1e2,"x"]]}'))
  t.ok('body' in exp)
  // a byte-order mark before the JSON: the general path reads it as before
  const bom = decode(message({}, '\ufeff{"columns":["id","label"],"rows":[[1,"a"],[2,null]]}'))
  t.ok('body' in bom)
})

t.test('decode batch – a stream not in this persister\'s config is permanent', async (t) => {
  t.throws(() => decode(message({ [BatchHeaders.Stream]: 'ghost' })), { code: 'SIS_PERSIST_UNKNOWN_STREAM', message: /stream 'ghost'/ })
})

t.test('decode batch – malformed or inconsistent headers are permanent', async (t) => {
  t.throws(() => decode(message({ [BatchHeaders.Load]: undefined })), { code: 'SIS_PERSIST_BAD_HEADERS', message: /Sisporta-Load is missing/ })
  t.throws(() => decode(message({ [BatchHeaders.Load]: '0' })), { code: 'SIS_PERSIST_BAD_HEADERS' })
  t.throws(() => decode(message({ [BatchHeaders.Batch]: '-1' })), { code: 'SIS_PERSIST_BAD_HEADERS' })
  t.throws(() => decode(message({ [BatchHeaders.Mode]: 'partial' })), { code: 'SIS_PERSIST_BAD_HEADERS' })
  t.throws(() => decode(message({ [BatchHeaders.Rows]: '5' })), { code: 'SIS_PERSIST_BAD_HEADERS', message: /says 5 rows, the payload has 2/ })
  t.throws(() => decode(message({}, undefined, names.batchSubject('items'))), { code: 'SIS_PERSIST_BAD_HEADERS', message: /does not match subject/ })
})

t.test('decode batch – a body that fails the gateway\'s batch check is permanent', async (t) => {
  t.throws(() => decode(message({}, '{"columns": ["id"], "rows": [[1]')), { code: 'SIS_PERSIST_BAD_BODY', message: /not UTF-8 JSON/ })
  t.throws(() => decode(message({ [BatchHeaders.Rows]: '1' }, { columns: ['id'], rows: 'x' })), { code: 'SIS_PERSIST_BAD_BODY' })
  t.throws(() => decode(message({ [BatchHeaders.Rows]: '1' }, { columns: ['id', 'label'], rows: [['1', 'a']] })), { code: 'SIS_PERSIST_BAD_BODY', message: /column 'id' \(int\)/ })
  t.throws(() => decode(message({ [BatchHeaders.Rows]: '1' }, { columns: ['label'], rows: [['a']] })), { code: 'SIS_PERSIST_BAD_BODY', message: /key column 'id' is missing/ })
  t.throws(() => decode(message({ [BatchHeaders.Rows]: '1' }, { columns: ['id', 'price'], rows: [[1, '1']] })), { code: 'SIS_PERSIST_BAD_BODY', message: /unknown column 'price'/ })
})
