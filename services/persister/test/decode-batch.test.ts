import t from 'tap'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, busNames } from '@sisporta/contracts'
import { createBatchDecoder } from '../src/index.js'
import { RawJson } from '../src/raw-json.js'
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
  t.equal(batch.rendered.bytes.toString('utf8', 0, batch.rendered.length), "(1,_utf8mb4 X'61',12),(2,NULL,12)", 'stamped with the load id of the headers')
  t.same([...batch.rendered.rowEnds], [21, 33])
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

t.test('decode batch – the general path keeps each json value as the text it was sent as, and refuses one the target would', async (t) => {
  // rows before columns: the transcoder leaves it to JSON.parse
  const batch = decode(message({ [BatchHeaders.Stream]: 'items', [BatchHeaders.Rows]: '3' }, '{"rows":[[1,{ "b" : 1e400 , "b" : 2 }],[2,null],[3,12345678901234567890123]],"columns":["id","doc"]}'))
  t.ok('body' in batch)
  if (!('body' in batch)) return
  t.same(batch.body.rows.map((r) => r[1] instanceof RawJson ? r[1].text : r[1]), ['{ "b" : 1e400 , "b" : 2 }', null, '12345678901234567890123'])
  const deep = '['.repeat(32) + '1' + ']'.repeat(32)
  t.throws(() => decode(message({ [BatchHeaders.Stream]: 'items', [BatchHeaders.Rows]: '2' }, `{"rows":[[1,{}],[2,{"a":${deep},"a":1}]],"columns":["id","doc"]}`)),
    { code: 'SIS_PERSIST_BAD_BODY', message: "row 1, column 'doc' (json): JSON nested deeper than 32 levels (at most 31 arrays or objects inside one another)" }, 'hidden behind a duplicate key, as the target would see it')
  t.throws(() => decode(message({ [BatchHeaders.Stream]: 'items', [BatchHeaders.Rows]: '1' }, `{"columns":["id","doc"],"rows":[[1,${deep}]]}`)),
    { code: 'SIS_PERSIST_BAD_BODY', message: "row 0, column 'doc' (json): JSON nested deeper than 32 levels (at most 31 arrays or objects inside one another)" }, 'the batch check, as the gateway\'s')
  t.throws(() => decode(message({ [BatchHeaders.Stream]: 'items', [BatchHeaders.Rows]: '1' }, '{"columns":["id","doc"],"rows":[[1,{"k":"\\ud800"}]]}')),
    { code: 'SIS_PERSIST_BAD_BODY', message: "row 0, column 'doc' (json): JSON text has a lone surrogate (an unpaired \\ud800-\\udfff escape)" })
})
