import t from 'tap'
import { requestLogBindings } from '../src/index.js'
import { startGateway } from './fixture.js'

const COLUMNS = ['sku', 'name', 'price', 'qty', 'updated_at']

t.test('request logs – every line of a request names its stream, load and batch', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  // the batch route logs at warn (the hot path): its lines are refusals, and they name the batch
  const from = gw.logs.length
  const res = await gw.postBatch(load, 7, { columns: COLUMNS, rows: [['A-1']] })
  t.equal(res.statusCode, 400, res.body)
  const lines = gw.logs.slice(from).filter((l) => l.reqId !== undefined)
  t.ok(lines.some((l) => l.msg === 'request refused'), 'the refusal was logged')
  for (const line of lines) t.match(line, { stream: 'products', loadId: load.id, batch: 7 }, `"${String(line.msg)}" names stream, load and batch`)

  const seal = await gw.app.inject({ method: 'POST', url: `/v1/streams/products/loads/${load.id}/seal`, headers: gw.auth(), payload: { batches: 8, rows: 1 } })
  const sealId = gw.logs.find((l) => (l.req as { url?: string } | undefined)?.url?.endsWith('/seal'))?.reqId
  t.ok(seal.statusCode < 500)
  for (const line of gw.logs.filter((l) => l.reqId === sealId)) {
    t.match(line, { stream: 'products', loadId: load.id }, `"${String(line.msg)}" names stream and load`)
    t.notOk('batch' in line, 'no batch on a seal request')
  }
})

t.test('request logs – a refused token is a warning', async (t) => {
  const gw = await startGateway(t)
  for (const [headers, status] of [[{ authorization: 'Bearer not.a.token' }, 401], [gw.auth(['customers']), 403], [{}, 401]] as const) {
    const from = gw.logs.length
    const res = await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers, payload: { mode: 'full' } })
    t.equal(res.statusCode, status)
    const line = gw.logs.slice(from).find((l) => l.msg === 'request refused')
    t.match(line, { level: 'warn', statusCode: status, stream: 'products' }, `${status} logged at warn`)
  }
  const missing = await gw.app.inject({ method: 'GET', url: '/v1/streams/products/loads/999999', headers: gw.auth() })
  t.equal(missing.statusCode, 404)
  t.match(gw.logs.find((l) => l.msg === 'request refused' && l.statusCode === 404), { level: 'info', loadId: 999999 }, 'other refusals of a non-batch route stay info')
})

t.test('request logs – route parameters become numbers, anything odd a short string', async (t) => {
  t.same(requestLogBindings({ stream: 'products', loadId: '42', batch: '0' }), { stream: 'products', loadId: 42, batch: 0 })
  t.same(requestLogBindings({ stream: 'p', loadId: '0042', batch: 'x'.repeat(100) }), { stream: 'p', loadId: '0042', batch: 'x'.repeat(32) })
  t.same(requestLogBindings(undefined), {})
})
