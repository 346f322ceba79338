import { readFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { connect } from 'nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { TEST_NATS_URL, logSink, selfSignedCertificate, testBus } from '@sisporta/testkit'
import { buildGatewayApp } from '../src/index.js'
import { CONFIG, SECRET, errorOf, startGateway } from './fixture.js'

t.test('gateway app – over real HTTP a chunked batch arrives byte for byte; an oversized one is refused up front', async (t) => {
  const gw = await startGateway(t, { bodyLimit: 64 * 1024 })
  const address = await gw.app.listen({ host: '127.0.0.1', port: 0 })
  const load = await gw.openLoad()
  const body = `{"columns":["sku","name"],"rows":[${Array.from({ length: 200 }, (_, i) => `["k${i}","ação ${i} 😀"]`).join(',')}]}`
  const bytes = Buffer.from(body, 'utf8')
  // Split inside a multi-byte character: the gateway must join chunks before decoding.
  const split = bytes.indexOf(Buffer.from('😀')) + 2
  const res = await fetch(`${address}/v1/streams/products/loads/${load.id}/batches/0`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...gw.auth() },
    body: new ReadableStream({ start (c) { c.enqueue(bytes.subarray(0, split)); c.enqueue(bytes.subarray(split)); c.close() } }),
    duplex: 'half'
  } as RequestInit)
  t.equal(res.status, 202, await res.clone().text())
  t.same(await res.json(), { stream: 'products', loadId: load.id, batch: 0, rows: 200, duplicate: false })
  const msg = await gw.jsm.streams.getMessage(gw.names.batchStream, { last_by_subj: gw.names.batchSubject('products') })
  t.ok(Buffer.from(msg.data).equals(bytes), 'stored bytes equal the sent bytes')

  const big = Buffer.alloc(65 * 1024, 0x20)
  const tooBig = await fetch(`${address}/v1/streams/products/loads/${load.id}/batches/1`, { method: 'POST', headers: { 'content-type': 'application/json', ...gw.auth() }, body: big })
  t.equal(tooBig.status, 413)
  t.match(await tooBig.json(), { code: 'SIS_GW_BODY_TOO_LARGE', statusCode: 413 })
  t.equal(await gw.messageCount(), 1)
})

t.test('gateway app – /readyz turns 503 when the NATS connection is gone', async (t) => {
  const { names } = await testBus(t)
  const nc = await connect({ servers: TEST_NATS_URL })
  const app = await buildGatewayApp({ config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  await nc.close()
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { failing: { nats: /closed/ } })
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'still alive')
})

const tls = selfSignedCertificate()
const tlsDir = tls?.dir ?? ''
const haveCert = tls !== undefined

t.test('gateway app – serves HTTPS when given a certificate', { skip: haveCert ? false : 'openssl is not installed' }, async (t) => {
  const dir = tlsDir
  const cert = readFileSync(join(dir, 'cert.pem'))
  const gw = await startGateway(t, { https: { cert, key: readFileSync(join(dir, 'key.pem')) } })
  await gw.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = gw.app.server.address() as AddressInfo
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: cert }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
  t.equal(status, 200)
})

t.test('gateway app – an unexpected error is a 500 that reveals nothing; unknown routes are coded 404s', async (t) => {
  const { nc, names } = await testBus(t)
  const sink = logSink()
  const app = await buildGatewayApp({ config: CONFIG, nc, names, log: createLogger({ service: 'gateway', destination: sink.stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  app.get('/boom', async () => { throw new Error('connect ECONNREFUSED mysql://admin:hunter2@db') })
  const res = await app.inject({ url: '/boom' })
  const body = errorOf(t, res, 500, 'SIS_GW_INTERNAL')
  t.notMatch(body.message, /hunter2|ECONNREFUSED/, 'no internals in the reply')
  t.ok(sink.lines.some((l) => l.level === 'error' && JSON.stringify(l).includes('ECONNREFUSED')), 'the log has the details')
  errorOf(t, await app.inject({ url: '/v2/streams/products/loads' }), 404, 'SIS_GW_ROUTE_UNKNOWN')
  errorOf(t, await app.inject({ method: 'DELETE', url: '/v1/streams/products/loads/1' }), 404, 'SIS_GW_ROUTE_UNKNOWN')
})
