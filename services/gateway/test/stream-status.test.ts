import t from 'tap'
import type { StreamStatusReply } from '@sisporta/contracts'
import { errorOf, startGateway } from './fixture.js'

t.test('stream status – the newest load of each mode, whatever its state, and the newest successful one', async (t) => {
  const gw = await startGateway(t)
  const empty = await gw.app.inject({ url: '/v1/streams/products', headers: gw.auth(['products']) })
  t.equal(empty.statusCode, 200)
  t.same(empty.json(), { stream: 'products', lastLoad: {}, lastSuccess: {} }, 'a stream never loaded')

  // load 1 goes all the way; load 2 fails after it; load 3 (incremental) is open; customers has one too
  const first = await gw.openLoad('products')
  const sealed = await gw.app.inject({ method: 'POST', url: `/v1/streams/products/loads/${first.id}/seal`, headers: gw.auth(), payload: { batches: 0, rows: 0 } })
  t.equal(sealed.statusCode, 200, sealed.body)
  await gw.loads.transition('products', first.id, (l) => ({ ...l, state: 'applied', appliedAt: new Date().toISOString(), appliedBatches: 0, appliedRows: 0 }))
  const { load: reconciled } = await gw.loads.transition('products', first.id, (l) => ({ ...l, state: 'reconciled', reconciledAt: new Date().toISOString() }))
  const second = await gw.openLoad('products')
  await gw.app.inject({ method: 'POST', url: `/v1/streams/products/loads/${second.id}/abandon`, headers: gw.auth(), payload: { reason: 'test: the source went away' } })
  const { load: abandoned } = (await gw.loads.get('products', second.id))!
  const incremental = await gw.openLoad('products', 'incremental')
  await gw.openLoad('customers')

  const res = await gw.app.inject({ url: '/v1/streams/products', headers: gw.auth(['products']) })
  t.equal(res.statusCode, 200)
  const summary = (l: typeof first): object => ({ id: l.id, mode: l.mode, state: l.state, openedAt: l.openedAt, updatedAt: l.updatedAt })
  t.same(res.json() as StreamStatusReply, {
    stream: 'products',
    lastLoad: { full: summary(abandoned), incremental: summary(incremental) },
    lastSuccess: { full: summary(reconciled) }
  }, 'an abandoned full load is still the last full load; the reconciled one the last success')
})

t.test('stream status – the token must name the stream, which must be configured', async (t) => {
  const gw = await startGateway(t)
  errorOf(t, await gw.app.inject({ url: '/v1/streams/products' }), 401, 'SIS_GW_TOKEN_MISSING')
  errorOf(t, await gw.app.inject({ url: '/v1/streams/products', headers: gw.auth(['customers']) }), 403, 'SIS_GW_STREAM_FORBIDDEN')
  errorOf(t, await gw.app.inject({ url: '/v1/streams/orders', headers: gw.auth() }), 404, 'SIS_GW_STREAM_UNKNOWN')
})
