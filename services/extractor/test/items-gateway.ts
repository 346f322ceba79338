import type { Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import { buildGatewayApp } from '@sisporta/gateway'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink, testBus } from '@sisporta/testkit'

/** The run-load tests' one stream (`items`: id, note), its gateway secret and an extractor token for it. */
export const SECRET = 'extractor-test-secret-long-enough-for-hs256'
export const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'test', streams: ['*'] })
export const config = parseConfig(`
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    columns:
      - { name: id,   from: id,   type: int }
      - { name: note, from: note, type: string }
`, 'test.yaml', {})
export const stream = config.stream('items')!

/**
 * The real gateway for that config on a fresh namespace, listening on `port` (0: any), closed at
 * teardown; with the registry of its namespace and the batch stream's message count.
 */
export async function startGateway (t: Test, port = 0): Promise<{ url: string, registry: LoadRegistry, messages: () => Promise<number> }> {
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port })
  const jsm = await nc.jetstreamManager()
  return { url, registry: await LoadRegistry.bind(nc, names), messages: async () => (await jsm.streams.info(names.batchStream)).state.messages }
}
