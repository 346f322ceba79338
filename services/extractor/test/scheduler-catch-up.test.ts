import t, { type Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import type { LoadRecord } from '@sisporta/contracts'
import { buildGatewayApp } from '@sisporta/gateway'
import { LoadRegistry, StreamControls } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { createSourceDialect } from '@sisporta/source'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import type { Registry } from 'prom-client'
import { GatewayClient, createScheduler } from '../src/index.js'

const SECRET = 'extractor-test-secret-long-enough-for-hs256'
const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'test', streams: ['*'] })
const DAY = 86_400_000

/** albums on `schedule`; with `tracks`, the tracks stream (which depends on albums) on the same schedule. */
function albumsConfig (schedule: string, tracks = false): ReturnType<typeof parseConfig> {
  return parseConfig(`
streams:
  - name: albums
    schedule: ${schedule}
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
${tracks
    ? `  - name: tracks
    dependsOn: [albums]
    schedule: ${schedule}
    source: { table: Track }
    target: { table: Track, key: [TrackId] }
    columns:
      - { name: TrackId, from: TrackId, type: int }
      - { name: AlbumId, from: AlbumId, type: int }
`
    : ''}`, 'app.yaml', {})
}

interface Setup {
  registry: LoadRegistry
  controls: StreamControls
  gateway: GatewayClient
  /** One load of albums as an earlier daemon left it: opened (now, by the real clock), then abandoned. */
  earlierLoad: () => Promise<LoadRecord>
  /** Starts the daemon with this schedule and clock; resolves once it planned its first runs. */
  daemon: (schedule: string, options?: { now?: () => number, random?: () => number, tracks?: boolean }) => Promise<Daemon>
}

interface Daemon {
  sink: ReturnType<typeof logSink>
  /** The daemon's "next run at" log line of a stream. */
  plannedOf: (stream: string) => Record<string, unknown> | undefined
  metrics: Registry
  scheduler: ReturnType<typeof createScheduler>
  /** The daemon's "next run at" log line of albums. */
  planned: Record<string, unknown>
}

/** A source with albums, a gateway in this process; the daemon is started by each test (nothing applies batches). */
async function setup (t: Test): Promise<Setup> {
  const { url: sourceUrl, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY)')
  await sql.query('INSERT INTO `Album` VALUES (1), (2)')
  await sql.query('CREATE TABLE `Track` (`TrackId` INT PRIMARY KEY, `AlbumId` INT NOT NULL)')
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config: albumsConfig('{ full: 1d }', true), nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const registry = await LoadRegistry.bind(nc, names)
  const controls = await StreamControls.bind(nc, names)
  const gateway = new GatewayClient({ url, token })
  const earlierLoad = async (): Promise<LoadRecord> => {
    const load = await gateway.openLoad('albums', 'full')
    return await gateway.abandonLoad('albums', load.id, 'test: the earlier daemon was stopped')
  }
  const daemon = async (schedule: string, { tracks = false, ...options }: { now?: () => number, random?: () => number, tracks?: boolean } = {}): Promise<Daemon> => {
    const sink = logSink()
    const metrics = createMetricsRegistry('extractor')
    const scheduler = createScheduler({
      config: albumsConfig(schedule, tracks),
      source: createSourceDialect(sourceUrl),
      gateway,
      log: createLogger({ service: 'extractor', level: 'debug', destination: sink.stream }),
      metrics,
      batchSize: 100,
      inFlight: 2,
      maxBatchBytes: 960_000,
      pollMs: 100,
      ...options
    })
    await scheduler.start()
    t.teardown(async () => { await scheduler.stop() })
    await scheduler.planned()
    const planned = sink.lines.find((l) => l.stream === 'albums' && typeof l.msg === 'string' && l.msg.startsWith('next run at'))
    if (planned === undefined) throw new Error(`no "next run at" line: ${JSON.stringify(sink.lines)}`)
    const plannedOf = (stream: string): Record<string, unknown> | undefined => sink.lines.find((l) => l.stream === stream && typeof l.msg === 'string' && l.msg.startsWith('next run at'))
    return { sink, metrics, scheduler, planned, plannedOf }
  }
  return { registry, controls, gateway, earlierLoad, daemon }
}

async function metricValue (metrics: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === name)
  return metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value
}

t.test('catch-up – a cron run missed since the last load runs once at start, and the next is the following tick', async (t) => {
  const { registry, earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  // the daemon starts two days and a bit later: two 02:00 ticks were missed
  const skew = 2 * DAY + 3_600_000
  const now = (): number => Date.now() + skew
  const { sink, metrics, scheduler, planned } = await daemon('{ full: "0 2 * * *" }', { now })
  t.match(planned, { mode: 'full', schedule: '0 2 * * *', timezone: 'UTC', lastLoadId: earlier.id, lastLoadAt: earlier.openedAt, catchUp: true }, 'the last load came from the registry, through the gateway')

  const caughtUp = await eventually(async () => (await registry.list({ stream: 'albums' })).find((l) => l.id > earlier.id && l.state === 'sealed'), { what: 'the catch-up load sealed', timeoutMs: 60_000 })
  await eventually(() => scheduler.runningLoads() === 0 ? true : undefined, { what: 'the catch-up run over', timeoutMs: 60_000 })
  t.same((await registry.list({ stream: 'albums' })).map((l) => l.id), [earlier.id, caughtUp.id], 'one load for the two missed ticks')
  t.equal(await metricValue(metrics, 'sisporta_extractor_catch_up_runs_total', { stream: 'albums', mode: 'full' }), 1, 'counted as a catch-up')
  t.equal(await metricValue(metrics, 'sisporta_extractor_loads_total', { stream: 'albums', outcome: 'sealed' }), 1)
  const next = await metricValue(metrics, 'sisporta_extractor_next_run_timestamp_seconds', { stream: 'albums', mode: 'full' })
  const following = new Date(now())
  following.setUTCHours(2, 0, 0, 0)
  if (following.getTime() <= now()) following.setUTCDate(following.getUTCDate() + 1)
  t.equal(next, following.getTime() / 1000, 'the next run is the following 02:00, not another catch-up')
  t.notOk(sink.lines.some((l) => l.msg === 'previous load still running; skipping this tick'), 'no second run was even tried')
})

t.test('catch-up – nothing missed since the last load: no run at start', async (t) => {
  const { registry, earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  const { planned: cron } = await daemon('{ full: "0 2 * * *", timezone: Europe/Lisbon }')
  t.match(cron, { catchUp: false, timezone: 'Europe/Lisbon', lastLoadId: earlier.id })
  t.ok(Date.parse(cron.nextRunAt as string) > Date.now(), `the next run is the next tick (${String(cron.nextRunAt)})`)
  t.same((await registry.list({ stream: 'albums' })).map((l) => l.id), [earlier.id], 'no load')
})

t.test('catch-up – an interval is due that long after the last load, not after the start', async (t) => {
  const { earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  // started 30 minutes after the last load (by the daemon's clock): due in 30 minutes
  const { planned } = await daemon('{ full: 1h }', { now: () => Date.now() + 30 * 60_000 })
  t.match(planned, { catchUp: false, lastLoadId: earlier.id })
  t.equal(planned.nextRunAt, new Date(Date.parse(earlier.openedAt) + 3_600_000).toISOString(), 'the last load plus 1h')
})

t.test('catch-up – a stream never loaded waits for its first tick', async (t) => {
  const { registry, daemon } = await setup(t)
  const { planned } = await daemon('{ full: "0 2 * * *" }', { now: () => Date.now() + 2 * DAY })
  t.match(planned, { catchUp: false, lastLoadId: null, lastLoadAt: null })
  t.same(await registry.list({ stream: 'albums' }), [], 'no load')
})

t.test('catch-up – the jitter delays the run, and stopping during it opens no load', async (t) => {
  const { registry, earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  const { sink, metrics, scheduler } = await daemon('{ full: "0 2 * * *", jitter: 1h }', { now: () => Date.now() + 2 * DAY, random: () => 0.5 })
  const waiting = await eventually(() => sink.lines.find((l) => l.msg === 'waiting a random delay (schedule.jitter) before the load'), { what: 'the jitter wait' })
  t.equal(waiting.delayMs, 1_800_000, 'half of the hour')
  await scheduler.stop()
  t.same((await registry.list({ stream: 'albums' })).map((l) => l.id), [earlier.id], 'no load was opened')
  t.equal(await metricValue(metrics, 'sisporta_extractor_loads_total', { stream: 'albums', outcome: 'failed' }), undefined, 'a stop is not a failed load')
})

t.test('catch-up – a paused stream is skipped and counted as paused, not failed', async (t) => {
  const { registry, controls, earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  await controls.pause('albums', { by: 'alice', reason: 'ERP maintenance' })
  const { sink, metrics } = await daemon('{ full: "0 2 * * *" }', { now: () => Date.now() + 2 * DAY })
  const skipped = await eventually(() => sink.lines.find((l) => l.msg === 'stream paused; skipping'), { what: 'the paused stream skipped', timeoutMs: 60_000 })
  t.match(skipped, { level: 'info', stream: 'albums', mode: 'full' }, 'at info')
  t.equal(await metricValue(metrics, 'sisporta_extractor_loads_total', { stream: 'albums', outcome: 'paused' }), 1)
  t.equal(await metricValue(metrics, 'sisporta_extractor_loads_total', { stream: 'albums', outcome: 'failed' }), undefined)
  t.same((await registry.list({ stream: 'albums' })).map((l) => l.id), [earlier.id], 'no load')
})

t.test('catch-up – streams on the same interval stay together, parents first, due when the most overdue one is', async (t) => {
  const { earlierLoad, daemon } = await setup(t)
  const earlier = await earlierLoad()
  // albums was loaded 30 minutes ago (by the daemon's clock), tracks never: alone, tracks would wait an hour from now
  const { plannedOf } = await daemon('{ full: 1h }', { tracks: true, now: () => Date.now() + 30 * 60_000 })
  const albums = plannedOf('albums')
  const tracks = plannedOf('tracks')
  t.equal(albums?.nextRunAt, new Date(Date.parse(earlier.openedAt) + 3_600_000).toISOString(), 'albums: its last load plus 1h')
  t.equal(tracks?.nextRunAt, albums?.nextRunAt, 'tracks: with albums, on the same tick')
})

t.test('run now – a load at once, whatever the schedule, and never two of one stream at once', async (t) => {
  const { registry, daemon } = await setup(t)
  const { scheduler, sink } = await daemon('{ full: "0 2 * * *" }')
  t.ok(scheduler.runNow('albums'), 'started')
  t.notOk(scheduler.runNow('albums'), 'not while the first runs')
  t.ok(sink.lines.some((l) => l.msg === 'previous load still running; skipping this tick'), 'said why')
  t.notOk(scheduler.runNow('nosuchstream'), 'an unknown stream')
  const load = await eventually(async () => (await registry.list({ stream: 'albums' })).find((l) => l.state === 'sealed'), { what: 'the load sealed', timeoutMs: 60_000 })
  await eventually(() => scheduler.runningLoads() === 0 ? true : undefined, { what: 'the run over', timeoutMs: 60_000 })
  t.same((await registry.list({ stream: 'albums' })).map((l) => l.id), [load.id], 'one load')
})
