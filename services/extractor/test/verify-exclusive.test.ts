import t from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import { buildGatewayApp } from '@sisporta/gateway'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { createSourceDialect } from '@sisporta/source'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import { GatewayClient, createScheduler } from '../src/index.js'

// An operator's verify request runs through the scheduler's `runExclusive`: never beside a load
// of the same stream, and no load of the stream starts while it runs (a real gateway and source;
// nothing applies batches).

const SECRET = 'extractor-test-secret-long-enough-for-hs256'
const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'test', streams: ['*'] })
const config = parseConfig(`
streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
  - name: tracks
    source: { table: Album }
    target: { table: Track, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
`, 'app.yaml', {})

t.test('verify exclusive – a verify and a load of one stream never run at once', async (t) => {
  const { url: sourceUrl, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY)')
  await sql.query('INSERT INTO `Album` VALUES (1), (2)')
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const registry = await LoadRegistry.bind(nc, names)
  const sink = logSink()
  const scheduler = createScheduler({
    config, source: createSourceDialect(sourceUrl), gateway: new GatewayClient({ url, token }),
    log: createLogger({ service: 'extractor', level: 'debug', destination: sink.stream }),
    metrics: createMetricsRegistry('extractor'), batchSize: 100, inFlight: 2, maxBatchBytes: 960_000, pollMs: 100
  })
  await scheduler.start()
  t.teardown(async () => { await scheduler.stop() })

  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let ran = 0
  t.equal(scheduler.runExclusive('albums', async () => { ran++; await gate }), true, 'a verify starts on a free stream')
  t.equal(scheduler.runNow('albums'), false, 'no load of the stream while it runs')
  t.ok(sink.lines.some((l) => l.stream === 'albums' && l.msg === 'a verify of the stream is running; skipping this tick'), 'and it says why')
  t.equal(scheduler.runExclusive('albums', async () => { ran++ }), false, 'nor a second verify')
  t.equal(scheduler.runExclusive('tracks', async () => { ran++ }), true, 'another stream is not held up')
  release()
  await eventually(() => scheduler.runExclusive('albums', async () => { ran++ }) ? true : undefined, { what: 'the stream free again' })
  t.equal(ran, 3, 'the refused tasks never ran')
  await eventually(() => scheduler.runNow('albums') ? true : undefined, { what: 'a load of the stream to start' })
  t.equal(scheduler.runExclusive('albums', async () => { ran++ }), false, 'no verify while a load of the stream runs')
  await eventually(async () => (await registry.list({ stream: 'albums' })).find((l) => l.state === 'sealed'), { what: 'the load sealed', timeoutMs: 60_000 })
  await eventually(() => scheduler.runExclusive('albums', async () => { throw new Error('source gone') }) ? true : undefined, { what: 'the stream free after the load' })
  await eventually(() => sink.lines.find((l) => l.stream === 'albums' && l.msg === 'verify of the stream failed'), { what: 'a failed verify logged' })
  t.equal(ran, 3)
})
