import t from 'tap'
import { freeLoopbackPort } from '@sisporta/testkit'
import { startGateway } from './fixture.js'

t.test('metrics port – with SISPORTA_METRICS_PORT, /metrics leaves the public port and is served on its own', async (t) => {
  const port = await freeLoopbackPort()
  const gw = await startGateway(t, { metricsListen: { host: '127.0.0.1', port } })
  t.equal((await gw.app.inject({ url: '/metrics' })).statusCode, 404, 'not on the ingestion port')
  t.equal((await gw.app.inject({ url: '/healthz' })).statusCode, 200, 'health stays where probes look for it')
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /sisporta_gateway_batches_in_progress/)
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/streams/products/loads`, { method: 'POST' })).status, 404, 'the metrics port serves nothing else')
})

t.test('metrics port – without it, /metrics is on the service port as before', async (t) => {
  const gw = await startGateway(t)
  t.equal((await gw.app.inject({ url: '/metrics' })).statusCode, 200)
})
