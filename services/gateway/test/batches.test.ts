import t from 'tap'
import { BatchHeaders } from '@sisporta/contracts'
import { errorOf, startGateway } from './fixture.js'

const ROW = ['A-1', 'Café ☕ "quoted"', '12.50', 3, '2024-02-29T13:45:00.123456']
const COLUMNS = ['sku', 'name', 'price', 'qty', 'updated_at']

t.test('batch – 202 only once JetStream holds the exact body bytes and the headers', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad('products', 'incremental')
  // Odd spacing, escapes and number spellings: anything re-serialised would differ.
  const body = `{ "columns" : ${JSON.stringify(COLUMNS)},\n  "rows": [${JSON.stringify(ROW)}, ["B\\u00e9", null, "-0.5", 1e2, null]] }`
  const res = await gw.postBatch(load, 0, body)
  t.equal(res.statusCode, 202, res.body)
  t.same(res.json(), { stream: 'products', loadId: load.id, batch: 0, rows: 2, duplicate: false })
  // No waiting: the 202 came after the PubAck, so the message is already stored.
  t.equal(await gw.messageCount(), 1)
  const msg = await gw.jsm.streams.getMessage(gw.names.batchStream, { last_by_subj: gw.names.batchSubject('products') })
  t.equal(Buffer.from(msg.data).toString('utf8'), body, 'payload is the request body byte for byte')
  t.ok(Buffer.from(msg.data).equals(Buffer.from(body, 'utf8')))
  t.equal(msg.header.get(BatchHeaders.MsgId), `products.${load.id}.0`)
  t.equal(msg.header.get(BatchHeaders.Stream), 'products')
  t.equal(msg.header.get(BatchHeaders.Load), String(load.id))
  t.equal(msg.header.get(BatchHeaders.Batch), '0')
  t.equal(msg.header.get(BatchHeaders.Mode), 'incremental')
  t.equal(msg.header.get(BatchHeaders.Rows), '2')
})

t.test('batch – the same batch twice is one message, the retry answered duplicate:true', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const body = { columns: COLUMNS, rows: [ROW] }
  const first = await gw.postBatch(load, 3, body)
  const second = await gw.postBatch(load, 3, body)
  t.equal(first.statusCode, 202)
  t.equal(second.statusCode, 202)
  t.equal(first.json().duplicate, false)
  t.equal(second.json().duplicate, true)
  t.equal(await gw.messageCount(), 1, 'only one message in the stream')
  const other = await gw.postBatch(load, 4, body)
  t.equal(other.json().duplicate, false, 'another batch number is another message')
  t.equal(await gw.messageCount(), 2)
  const metrics = (await gw.app.inject({ url: '/metrics' })).body
  t.match(metrics, /sisporta_gateway_batches_accepted_total\{[^}]*stream="products"[^}]*\} 3/)
  t.match(metrics, /sisporta_gateway_batch_duplicates_total\{[^}]*stream="products"[^}]*\} 1/)
  t.match(metrics, /sisporta_gateway_rows_accepted_total\{[^}]*stream="products"[^}]*\} 2/)
  t.match(metrics, /sisporta_gateway_publish_seconds_count\{[^}]*stream="products"[^}]*\} 3/)
})

t.test('batch – a body that does not fit the stream is a 400 naming row and column, and nothing is published', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const cases = [
    { what: 'unknown column', body: { columns: ['sku', 'colour'], rows: [['A', 'red']] }, column: 'colour' },
    { what: 'decimal sent as a number', body: { columns: ['sku', 'price'], rows: [['A', '1.00'], ['B', 12.5]] }, row: 1, column: 'price' },
    { what: 'key column missing', body: { columns: ['name', 'price'], rows: [['x', '1.00']] }, column: 'sku' },
    { what: 'null key', body: { columns: ['sku', 'name'], rows: [['A', 'a'], ['B', 'b'], [null, 'c']] }, row: 2, column: 'sku' },
    { what: 'null in a not-nullable column', body: { columns: ['sku', 'qty'], rows: [['A', null]] }, row: 0, column: 'qty' },
    { what: 'int out of range', body: { columns: ['sku', 'qty'], rows: [['A', 2 ** 31]] }, row: 0, column: 'qty' },
    { what: 'datetime with a zone', body: { columns: ['sku', 'updated_at'], rows: [['A', '2024-01-01T00:00:00Z']] }, row: 0, column: 'updated_at' },
    { what: 'too many digits after the point', body: { columns: ['sku', 'price'], rows: [['A', '1.234']] }, row: 0, column: 'price' },
    { what: 'row of the wrong width', body: { columns: ['sku', 'price'], rows: [['A']] }, row: 0 }
  ]
  for (const c of cases) {
    const res = await gw.postBatch(load, 0, c.body)
    const err = errorOf(t, res, 400, 'SIS_GW_BATCH_INVALID')
    if (c.row !== undefined) t.match(err.message, `row ${c.row}`, `${c.what}: names the row`)
    if (c.column !== undefined) t.match(err.message, `'${c.column}'`, `${c.what}: names the column`)
  }
  t.equal(await gw.messageCount(), 0, 'nothing was published')
  const metrics = (await gw.app.inject({ url: '/metrics' })).body
  t.match(metrics, new RegExp(`sisporta_gateway_batches_rejected_total\\{[^}]*code="SIS_GW_BATCH_INVALID"[^}]*\\} ${cases.length}`))
  t.ok(gw.logs.some((l) => l.code === 'SIS_GW_BATCH_INVALID' && l.level === 'warn'), 'refusals are logged as data')
})

t.test('batch – a body that does not match the API schema is a 400 with the JSON path', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const cases = [
    { body: { columns: ['sku'], rows: ['A'] }, path: 'body/rows/0' },
    { body: { columns: 'sku', rows: [['A']] }, path: 'body/columns' },
    { body: { columns: ['sku'], rows: [] }, path: 'body/rows' },
    { body: { columns: ['sku'] }, path: 'body/rows' },
    { body: { columns: ['sku'], rows: [['A']], extra: 1 }, path: 'body/extra' },
    { body: [1, 2], path: 'body' }
  ]
  for (const c of cases) {
    const err = errorOf(t, await gw.postBatch(load, 0, c.body), 400, 'SIS_GW_INVALID_REQUEST')
    t.match(err.message, c.path)
  }
  errorOf(t, await gw.postBatch(load, -1, { columns: ['sku'], rows: [['A']] }), 400, 'SIS_GW_INVALID_REQUEST')
  t.equal(await gw.messageCount(), 0)
})

t.test('batch – malformed, mistyped and oversized bodies get a 4xx with a reason, never a 5xx', async (t) => {
  const gw = await startGateway(t, { bodyLimit: 2048 })
  const load = await gw.openLoad()
  t.match(errorOf(t, await gw.postBatch(load, 0, '{"columns": ["sku"], "rows": [['), 400, 'SIS_GW_MALFORMED_JSON').message, /not valid JSON/)
  errorOf(t, await gw.postBatch(load, 0, ''), 400, 'SIS_GW_MALFORMED_JSON')
  errorOf(t, await gw.app.inject({
    method: 'POST', url: `/v1/streams/products/loads/${load.id}/batches/0`, headers: { 'content-type': 'application/json', ...gw.auth() }, payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])
  }), 400, 'SIS_GW_MALFORMED_JSON')
  errorOf(t, await gw.postBatch(load, 0, '\ufeff{"columns":["sku"],"rows":[["A"]]}'), 400, 'SIS_GW_MALFORMED_JSON')
  t.match(errorOf(t, await gw.postBatch(load, 0, 'sku=A', { 'content-type': 'text/plain' }), 415, 'SIS_GW_UNSUPPORTED_MEDIA_TYPE').message, /application\/json/)
  errorOf(t, await gw.postBatch(load, 0, '{}', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'SIS_GW_UNSUPPORTED_MEDIA_TYPE')
  const big = { columns: ['sku'], rows: Array.from({ length: 500 }, (_, i) => [`sku-${i}`]) }
  t.match(errorOf(t, await gw.postBatch(load, 0, big), 413, 'SIS_GW_BODY_TOO_LARGE').message, /2048 bytes/)
  t.equal(await gw.messageCount(), 0)
})

t.test('batch – unknown or foreign loads are 404, a sealed load is 409', async (t) => {
  const gw = await startGateway(t)
  const body = { columns: ['sku'], rows: [['A']] }
  t.match(errorOf(t, await gw.postBatch({ id: 999, stream: 'products' }, 0, body), 404, 'SIS_GW_LOAD_UNKNOWN').message, /load 999 of stream 'products'/)
  const customersLoad = await gw.openLoad('customers')
  errorOf(t, await gw.postBatch({ id: customersLoad.id, stream: 'products' }, 0, body), 404, 'SIS_GW_LOAD_UNKNOWN')
  errorOf(t, await gw.postBatch({ id: 1, stream: 'nosuch' }, 0, body), 404, 'SIS_GW_STREAM_UNKNOWN')
  const load = await gw.openLoad()
  t.equal((await gw.postBatch(load, 0, body)).statusCode, 202)
  const seal = await gw.app.inject({ method: 'POST', url: `/v1/streams/products/loads/${load.id}/seal`, headers: gw.auth(), payload: { batches: 1, rows: 1 } })
  t.equal(seal.statusCode, 200)
  const late = errorOf(t, await gw.postBatch(load, 1, body), 409, 'SIS_GW_LOAD_NOT_OPEN')
  t.match(late.message, /is sealed/)
  t.equal(await gw.messageCount(), 1, 'only the batch sent while open')
})

t.test('batch – JetStream unavailable is a 503 with Retry-After, and nothing is acknowledged', async (t) => {
  const gw = await startGateway(t, { publishTimeoutMs: 1000 })
  const load = await gw.openLoad()
  await gw.jsm.streams.delete(gw.names.batchStream)
  const res = await gw.postBatch(load, 0, { columns: ['sku'], rows: [['A']] })
  errorOf(t, res, 503, 'SIS_GW_BUS_UNAVAILABLE')
  t.equal(res.headers['retry-after'], '1')
})

t.test('batch – over the in-flight bound the gateway answers 503 BUSY, and every 202 is a stored message', async (t) => {
  const gw = await startGateway(t, { maxInFlight: 1 })
  const load = await gw.openLoad()
  const results = await Promise.all(Array.from({ length: 30 }, async (_, i) => await gw.postBatch(load, i, { columns: ['sku'], rows: [[`s${i}`]] })))
  const accepted = results.filter((r) => r.statusCode === 202).length
  const busy = results.filter((r) => r.statusCode === 503)
  t.equal(accepted + busy.length, results.length, 'only 202 or 503')
  t.ok(busy.length > 0, `some refused (${busy.length})`)
  for (const r of busy) {
    t.equal(r.json().code, 'SIS_GW_BUSY')
    t.equal(r.headers['retry-after'], '1')
  }
  t.equal(await gw.messageCount(), accepted, 'every acknowledged batch is on the bus, no other')
})
