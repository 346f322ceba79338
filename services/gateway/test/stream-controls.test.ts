import t, { type Test } from 'tap'
import type { LoadRecord, SyncRequestsReply } from '@sisporta/contracts'
import { StreamControls, controlKey } from '@sisporta/nats'
import { errorOf, startGateway, type Gateway } from './fixture.js'

async function openLoad (gw: Gateway, stream = 'products') {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${stream}/loads`, headers: gw.auth([stream]), payload: { mode: 'full' } })
}

async function syncRequests (t: Test, gw: Gateway, streams?: string[]): Promise<SyncRequestsReply> {
  const res = await gw.app.inject({ url: '/v1/sync-requests', headers: gw.auth(streams) })
  t.equal(res.statusCode, 200, `GET /v1/sync-requests: 200 (${res.body})`)
  return res.json() as SyncRequestsReply
}

t.test('pause – a paused stream\'s open is 409 SIS_GW_STREAM_PAUSED naming who, when, why and how to resume; resume lets it open', async (t) => {
  const gw = await startGateway(t)
  const controls = await StreamControls.bind(gw.nc, gw.names)
  const { control } = await controls.pause('products', { by: 'alice', reason: 'ERP upgrade tonight' })
  const refused = errorOf(t, await openLoad(gw), 409, 'SIS_GW_STREAM_PAUSED')
  t.equal(refused.message, `stream 'products' is paused (by alice at ${control.pausedAt!}: ERP upgrade tonight): no new load opens until \`sisporta streams resume products\``)
  t.same(await gw.loads.list({ stream: 'products' }), [], 'no load was opened')
  t.equal(await gw.messageCount(), 0)
  t.ok(gw.logs.some((l) => l.msg === 'request refused' && l.code === 'SIS_GW_STREAM_PAUSED'), 'the refusal is logged with its code')
  t.equal((await openLoad(gw, 'customers')).statusCode, 201, 'another stream is not affected')
  await controls.resume('products', { by: 'alice' })
  const res = await openLoad(gw)
  t.equal(res.statusCode, 201, 'resumed: the load opens')
  t.equal((res.json() as { load: LoadRecord }).load.state, 'open')
})

t.test('pause – a load already open when the stream is paused takes its batches, seals and can be abandoned', async (t) => {
  const gw = await startGateway(t)
  const controls = await StreamControls.bind(gw.nc, gw.names)
  const load = await gw.openLoad('products')
  const other = await gw.openLoad('customers')
  await controls.pause('products', { by: 'alice' })
  await controls.pause('customers', { by: 'alice' })
  const batch = await gw.postBatch(load, 0, { columns: ['sku', 'name', 'price', 'qty', 'updated_at'], rows: [['A1', 'Widget', '1.50', 3, '2024-05-01T10:00:00']] })
  t.equal(batch.statusCode, 202, `a batch of the open load is accepted (${batch.body})`)
  const sealed = await gw.app.inject({ method: 'POST', url: `/v1/streams/products/loads/${load.id}/seal`, headers: gw.auth(), payload: { batches: 1, rows: 1 } })
  t.equal(sealed.statusCode, 200, 'and it seals')
  t.equal((sealed.json() as { load: LoadRecord }).load.state, 'sealed')
  const abandoned = await gw.app.inject({ method: 'POST', url: `/v1/streams/customers/loads/${other.id}/abandon`, headers: gw.auth(), payload: { reason: 'test' } })
  t.equal(abandoned.statusCode, 200, 'an open load of a paused stream may be abandoned')
  const got = await gw.app.inject({ url: `/v1/streams/products/loads/${load.id}`, headers: gw.auth() })
  t.equal(got.statusCode, 200, 'and read')
  errorOf(t, await openLoad(gw), 409, 'SIS_GW_STREAM_PAUSED')
})

t.test('pause – a malformed control record counts as paused, with a warning in the log', async (t) => {
  const gw = await startGateway(t)
  const kv = await gw.nc.jetstream().views.kv(gw.names.loadsBucket, { bindOnly: true })
  await kv.put(controlKey('products'), new TextEncoder().encode('{"stream":"products","paused":"nope"}'))
  const body = errorOf(t, await openLoad(gw), 409, 'SIS_GW_STREAM_PAUSED')
  t.match(body.message, /stream 'products' is treated as paused: its control record \(control\.products in the registry\) is malformed \(\/paused: .*\).*sisporta streams resume products/)
  t.match(gw.logs.find((l) => l.level === 'warn' && l.key === 'control.products'), { problem: /\/paused/, msg: /treated as paused/ })
  t.same(await gw.loads.list(), [], 'no load opened')
})

t.test('sync requests – the pending requests of the token\'s streams, not paused, until a load of the stream opens', async (t) => {
  const gw = await startGateway(t)
  const controls = await StreamControls.bind(gw.nc, gw.names)
  t.same(await syncRequests(t, gw), { requests: [] }, 'none yet')
  const { control } = await controls.requestSync('products', { by: 'alice' })
  await controls.requestSync('customers', { by: 'bob' })
  t.same(await syncRequests(t, gw), {
    requests: [
      { stream: 'products', requestedAt: control.syncRequestedAt, requestedBy: 'alice' },
      { stream: 'customers', requestedAt: (await controls.get('customers')).syncRequestedAt, requestedBy: 'bob' }
    ]
  }, 'both, in config order')
  t.same((await syncRequests(t, gw, ['customers'])).requests.map((r) => r.stream), ['customers'], 'only the streams the token may load')
  t.same((await syncRequests(t, gw, ['orders', 'customers'])).requests.map((r) => r.stream), ['customers'], 'a stream the gateway does not know is ignored')
  await controls.pause('customers', { by: 'bob' })
  t.same((await syncRequests(t, gw)).requests.map((r) => r.stream), ['products'], 'a paused stream\'s request waits')
  await gw.openLoad('products')
  t.same(await syncRequests(t, gw), { requests: [] }, 'served by the load opened after it')
  await controls.resume('customers', { by: 'bob' })
  t.same((await syncRequests(t, gw)).requests.map((r) => r.stream), ['customers'], 'resumed: handed out again')
})

t.test('sync requests – the route needs a valid token', async (t) => {
  const gw = await startGateway(t)
  errorOf(t, await gw.app.inject({ url: '/v1/sync-requests' }), 401, 'SIS_GW_TOKEN_MISSING')
  errorOf(t, await gw.app.inject({ url: '/v1/sync-requests', headers: { authorization: 'Bearer nope' } }), 401, 'SIS_GW_TOKEN_INVALID')
  errorOf(t, await gw.app.inject({ method: 'POST', url: '/v1/sync-requests', headers: gw.auth() }), 404, 'SIS_GW_ROUTE_UNKNOWN')
})
