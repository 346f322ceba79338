import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { createSigner } from 'fast-jwt'
import { connect } from 'nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { TEST_NATS_URL, testBus } from '@sisporta/testkit'
import { buildGatewayApp } from '../src/index.js'
import { CONFIG, SECRET, errorOf, startGateway, type Gateway } from './fixture.js'

async function seal (gw: Gateway, load: { id: number, stream: string }, body: unknown) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/seal`, headers: gw.auth(), payload: body as object })
}

t.test('loads – open answers 201 with an open load opened by the token subject, GET reads it', async (t) => {
  const gw = await startGateway(t)
  const res = await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: gw.auth(['products']), payload: { mode: 'full' } })
  t.equal(res.statusCode, 201)
  const { load } = res.json() as { load: LoadRecord }
  t.match(load, { stream: 'products', mode: 'full', state: 'open', openedBy: 'test-extractor' })
  t.same((await gw.loads.get('products', load.id))?.load, load, 'stored in the load registry')
  const got = await gw.app.inject({ url: `/v1/streams/products/loads/${load.id}`, headers: gw.auth(['products']) })
  t.equal(got.statusCode, 200)
  t.same(got.json(), { load })
  const line = gw.logs.find((l) => l.msg === 'load opened')
  t.match(line, { stream: 'products', loadId: load.id, mode: 'full' }, 'the log line carries stream and load id')
})

t.test('loads – bad ids and bodies are 400 with the JSON path, unknown loads 404', async (t) => {
  const gw = await startGateway(t)
  t.match(errorOf(t, await gw.app.inject({ url: '/v1/streams/products/loads/abc', headers: gw.auth() }), 400, 'SIS_GW_INVALID_REQUEST').message, /params\/loadId/)
  t.match(errorOf(t, await gw.app.inject({ url: '/v1/streams/products/loads/0', headers: gw.auth() }), 400, 'SIS_GW_INVALID_REQUEST').message, /params\/loadId/)
  t.match(errorOf(t, await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: gw.auth(), payload: { mode: 'delta' } }), 400, 'SIS_GW_INVALID_REQUEST').message, /body\/mode/)
  errorOf(t, await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: gw.auth() }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await gw.app.inject({ url: '/v1/streams/products/loads/12345', headers: gw.auth() }), 404, 'SIS_GW_LOAD_UNKNOWN')
  const customers = await gw.openLoad('customers')
  errorOf(t, await gw.app.inject({ url: `/v1/streams/products/loads/${customers.id}`, headers: gw.auth() }), 404, 'SIS_GW_LOAD_UNKNOWN')
  errorOf(t, await gw.app.inject({ url: '/v1/nowhere', headers: gw.auth() }), 404, 'SIS_GW_ROUTE_UNKNOWN')
})

t.test('seal – records the counts; the same seal again is a retry (200, unchanged); other counts are 409', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const first = await seal(gw, load, { batches: 3, rows: 2500 })
  t.equal(first.statusCode, 200)
  const sealed = (first.json() as { load: LoadRecord }).load
  t.match(sealed, { id: load.id, state: 'sealed', batches: 3, rows: 2500 })
  t.type(sealed.sealedAt, 'string')
  const again = await seal(gw, load, { batches: 3, rows: 2500 })
  t.equal(again.statusCode, 200)
  t.same(again.json(), { load: sealed }, 'the retry changes nothing')
  t.match(errorOf(t, await seal(gw, load, { batches: 4, rows: 2500 }), 409, 'SIS_GW_SEAL_MISMATCH').message, /3 batches and 2500 rows/)
  errorOf(t, await seal(gw, load, { batches: 3, rows: 2501 }), 409, 'SIS_GW_SEAL_MISMATCH')
  // The reconciler moved on before the extractor's retry arrived: still the same seal.
  await gw.loads.transition('products', load.id, (l) => ({ ...l, state: 'applied' }))
  const late = await seal(gw, load, { batches: 3, rows: 2500 })
  t.equal(late.statusCode, 200)
  t.equal((late.json() as { load: LoadRecord }).load.state, 'applied')
})

t.test('seal – a load that was never sealed and is no longer open is 409; bad bodies 400; unknown 404', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  await gw.loads.transition('products', load.id, (l) => ({ ...l, state: 'abandoned' }))
  t.match(errorOf(t, await seal(gw, load, { batches: 1, rows: 1 }), 409, 'SIS_GW_LOAD_NOT_OPEN').message, /abandoned/)
  const open = await gw.openLoad()
  t.match(errorOf(t, await seal(gw, open, { batches: -1, rows: 1 }), 400, 'SIS_GW_INVALID_REQUEST').message, /body\/batches/)
  errorOf(t, await seal(gw, open, { batches: 1 }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await seal(gw, open, { batches: '1', rows: 1 }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await seal(gw, { id: 777, stream: 'products' }, { batches: 1, rows: 1 }), 404, 'SIS_GW_LOAD_UNKNOWN')
  t.equal((await gw.loads.get('products', open.id))?.load.state, 'open', 'refused seals change nothing')
})

t.test('seal – concurrent seals: one seals, the rest are retries', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const results = await Promise.all(Array.from({ length: 5 }, async () => await seal(gw, load, { batches: 2, rows: 10 })))
  t.same(results.map((r) => r.statusCode), [200, 200, 200, 200, 200])
  t.equal(new Set(results.map((r) => (r.json() as { load: LoadRecord }).load.sealedAt)).size, 1, 'one seal time')
})

t.test('loads – an unreachable load registry is a 503 with Retry-After, not a 500', async (t) => {
  const { names } = await testBus(t)
  const nc = await connect({ servers: TEST_NATS_URL })
  const app = await buildGatewayApp({ config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  await nc.close()
  const token = { authorization: `Bearer ${createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'x', streams: ['*'] })}` }
  for (const res of [
    await app.inject({ url: '/v1/streams/products/loads/1', headers: token }),
    await app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: token, payload: { mode: 'full' } }),
    await app.inject({ method: 'POST', url: '/v1/streams/products/loads/1/seal', headers: token, payload: { batches: 1, rows: 1 } }),
    await app.inject({ method: 'POST', url: '/v1/streams/products/loads/1/batches/0', headers: token, payload: { columns: ['sku'], rows: [['A']] } })
  ]) {
    errorOf(t, res, 503, 'SIS_GW_BUS_UNAVAILABLE')
    t.equal(res.headers['retry-after'], '1')
  }
})
