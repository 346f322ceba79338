import t, { type Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import type { LoadRecord } from '@sisporta/contracts'
import { buildGatewayApp } from '@sisporta/gateway'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { createSourceDialect } from '@sisporta/source'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import { GatewayClient, createScheduler } from '../src/index.js'

const SECRET = 'extractor-test-secret-long-enough-for-hs256'
const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'test', streams: ['*'] })

// tracks refer to albums: listed first, due at the same time, it must still come second
const config = parseConfig(`
streams:
  - name: tracks
    dependsOn: [albums]
    schedule: { full: 1s }
    source: { table: Track }
    target: { table: Track, key: [TrackId] }
    columns:
      - { name: TrackId, from: TrackId, type: int }
      - { name: AlbumId, from: AlbumId, type: int }
  - name: albums
    schedule: { full: 1s }
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
`, 'app.yaml', {})

interface Daemon {
  registry: LoadRegistry
  sink: ReturnType<typeof logSink>
  loadsOf: (stream: string) => Promise<LoadRecord[]>
}

/** A source with albums and tracks, a gateway in this process, and the scheduler daemon (nothing applies batches: the test moves loads). */
async function startDaemon (t: Test): Promise<Daemon> {
  const { url: sourceUrl, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY)')
  await sql.query('CREATE TABLE `Track` (`TrackId` INT PRIMARY KEY, `AlbumId` INT NOT NULL)')
  await sql.query('INSERT INTO `Album` VALUES (1), (2)')
  await sql.query('INSERT INTO `Track` VALUES (10, 1), (20, 2)')
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const registry = await LoadRegistry.bind(nc, names)
  const sink = logSink()
  const scheduler = createScheduler({
    config,
    source: createSourceDialect(sourceUrl),
    gateway: new GatewayClient({ url, token }),
    log: createLogger({ service: 'extractor', level: 'debug', destination: sink.stream }),
    metrics: createMetricsRegistry('extractor'),
    batchSize: 100,
    inFlight: 2,
    maxBatchBytes: 960_000,
    pollMs: 100
  })
  await scheduler.start()
  t.teardown(async () => { await scheduler.stop() })
  return { registry, sink, loadsOf: async (stream) => await registry.list({ stream }) }
}

/** The first log line about `stream` whose message matches. */
function logged (sink: ReturnType<typeof logSink>, stream: string, msg: RegExp): Record<string, unknown> | undefined {
  return sink.lines.find((l) => l.stream === stream && typeof l.msg === 'string' && msg.test(l.msg))
}

t.test('scheduler – a stream that depends on another is loaded only once the parent\'s load is applied', async (t) => {
  const { registry, sink, loadsOf } = await startDaemon(t)
  const album = await eventually(async () => (await loadsOf('albums')).find((l) => l.state === 'sealed'), { what: 'the albums load sealed', timeoutMs: 60_000 })
  // a whole tick later the tracks load is still waiting, not opened: its next tick finds it running
  await eventually(() => logged(sink, 'tracks', /previous load still running/), { what: 'a tick of tracks skipped while waiting', timeoutMs: 60_000 })
  t.same(await loadsOf('tracks'), [], 'no tracks load while the albums load is only sealed')
  t.ok(logged(sink, 'albums', /waiting for the load to be applied/), 'the albums load is followed until applied')

  // the reconciler's part: every batch in, the albums load is applied
  const { load: applied } = await registry.transition('albums', album.id, (l) => ({ ...l, state: 'applied', appliedAt: new Date().toISOString(), appliedBatches: l.batches, appliedRows: l.rows }))
  const track = await eventually(async () => (await loadsOf('tracks'))[0], { what: 'the tracks load opened', timeoutMs: 60_000 })
  t.ok(track.id > album.id, `tracks load ${track.id} after albums load ${album.id}`)
  t.ok(Date.parse(track.openedAt) >= Date.parse(applied.updatedAt), 'opened after the albums load was applied')
})

t.test('scheduler – a parent load that is not applied makes its children skip the tick', async (t) => {
  const { registry, sink, loadsOf } = await startDaemon(t)
  const album = await eventually(async () => (await loadsOf('albums')).find((l) => l.state === 'sealed'), { what: 'the albums load sealed', timeoutMs: 60_000 })
  await registry.transition('albums', album.id, (l) => ({ ...l, state: 'failed', reason: 'test: batches never arrived' }))
  const skipped = await eventually(() => logged(sink, 'tracks', /skipping this tick: the load of stream 'albums' it depends on was not applied/), { what: 'tracks skipped', timeoutMs: 60_000 })
  t.equal(skipped.parentOutcome, 'not-applied')
  t.same(await loadsOf('tracks'), [], 'no tracks load at all: no albums load was ever applied')
})
