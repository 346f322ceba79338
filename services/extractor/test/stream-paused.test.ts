import t, { type Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import { buildGatewayApp } from '@sisporta/gateway'
import { StreamControls } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink, testBus } from '@sisporta/testkit'
import { GatewayClient } from '../src/gateway-client.js'
import { isStreamPaused } from '../src/errors.js'

const SECRET = 'stream-paused-test-secret-long-enough-for-hs256'
const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })
const config = parseConfig(`
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    columns:
      - { name: id, from: id, type: int }
  - name: parts
    source: { table: parts }
    target: { table: parts, key: [id] }
    columns:
      - { name: id, from: id, type: int }
`, 'test.yaml', {})

/** The real gateway on a fresh namespace, listening; the operator's controls of that namespace. */
async function start (t: Test): Promise<{ url: string, controls: StreamControls }> {
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  return { url: await app.listen({ host: '127.0.0.1', port: 0 }), controls: await StreamControls.bind(nc, names) }
}

t.test('gateway client – opening a load of a paused stream is SIS_EXTRACT_STREAM_PAUSED (exit 1) with the gateway\'s reason, not retried', async (t) => {
  const { url, controls } = await start(t)
  const retries: string[] = []
  const gw = new GatewayClient({ url, token: sign({ sub: 'x', streams: ['*'] }), onRetry: (r) => retries.push(r.reason) })
  await controls.pause('items', { by: 'alice', reason: 'month-end close' })
  const err = await gw.openLoad('items', 'full').catch((e: unknown) => e)
  t.match(err, { code: 'SIS_EXTRACT_STREAM_PAUSED', exitCode: 1, statusCode: 409, gatewayCode: 'SIS_GW_STREAM_PAUSED', message: /^stream 'items' is paused \(by alice at .*: month-end close\): no new load opens until `sisporta streams resume items`$/ })
  t.ok(isStreamPaused(err), 'isStreamPaused says so')
  t.same(retries, [], 'a definite answer: not retried')
  await controls.resume('items', { by: 'alice' })
  t.match(await gw.openLoad('items', 'full'), { stream: 'items', state: 'open' }, 'resumed: it opens')
  const other = await gw.getLoad('items', 999).catch((e: unknown) => e)
  t.match(other, { code: 'SIS_EXTRACT_REJECTED' }, 'other refusals keep their code')
  t.notOk(isStreamPaused(other))
})

t.test('gateway client – syncRequests lists the pending requests of the token\'s streams', async (t) => {
  const { url, controls } = await start(t)
  const all = new GatewayClient({ url, token: sign({ sub: 'x', streams: ['*'] }) })
  const partsOnly = new GatewayClient({ url, token: sign({ sub: 'x', streams: ['parts'] }) })
  t.same(await all.syncRequests(), [])
  const { control } = await controls.requestSync('items', { by: 'alice' })
  t.same(await all.syncRequests(), [{ stream: 'items', requestedAt: control.syncRequestedAt, requestedBy: 'alice' }])
  t.same(await partsOnly.syncRequests(), [], 'not a stream of this token')
  await all.openLoad('items', 'full')
  t.same(await all.syncRequests(), [], 'served once a load of the stream opened')
})
