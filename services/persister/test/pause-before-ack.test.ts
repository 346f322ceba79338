import t from 'tap'
import { readSettings } from '@sisporta/config'
import { createDb, migrate } from '@sisporta/db'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import { createPersisterMetrics, createPersisterWorker } from '../src/index.js'
import { config, publishBatch } from './helpers.js'

// The fault tests' hook (SISPORTA_TEST_PAUSE_BEFORE_ACK): off unless set; when set, the first
// batch with that number is committed and then held unacknowledged until the worker stops, and
// only that one.

t.test('test hook – SISPORTA_TEST_PAUSE_BEFORE_ACK is off by default and read as a batch number', async (t) => {
  t.equal(readSettings({}).testPauseBeforeAck, undefined, 'unset: off')
  t.equal(readSettings({ SISPORTA_TEST_PAUSE_BEFORE_ACK: '' }).testPauseBeforeAck, undefined, 'empty: off')
  t.equal(readSettings({ SISPORTA_TEST_PAUSE_BEFORE_ACK: '7' }).testPauseBeforeAck, 7, 'a batch number: that batch')
  t.throws(() => readSettings({ SISPORTA_TEST_PAUSE_BEFORE_ACK: 'soon' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_TEST_PAUSE_BEFORE_ACK='soon'/ }, 'anything else: a start-up error')
})

t.test('test hook – the armed batch is committed, then held unacknowledged until the worker stops; once only', async (t) => {
  const bus = await testBus(t)
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const sink = logSink()
  const loads = await LoadRegistry.bind(bus.nc, bus.names)
  const worker = createPersisterWorker({
    nc: bus.nc,
    names: bus.names,
    config,
    registry: loads,
    mysqlUrl: url,
    concurrency: 2,
    maxDeliver: 5,
    log: createLogger({ service: 'persister', level: 'info', destination: sink.stream }),
    metrics: createPersisterMetrics(createMetricsRegistry('persister')),
    fetchExpiresMs: 1000,
    testPauseBeforeAck: 1
  })
  t.teardown(() => worker.stop())
  await worker.start()
  const jsm = await bus.nc.jetstreamManager()
  const onBus = async (): Promise<number> => (await jsm.streams.info(bus.names.batchStream)).state.messages
  const booked = async (loadId: number): Promise<number[]> =>
    ((await sql.query('SELECT batch_no FROM sisporta_batches WHERE stream = ? AND load_id = ? ORDER BY batch_no', ['shorts', loadId]))[0] as { batch_no: number }[]).map((r) => Number(r.batch_no))
  const held = (): Record<string, unknown>[] => sink.lines.filter((l) => l.testHook !== undefined && l.loadId !== undefined)
  t.ok(sink.lines.some((l) => l.testHook === 'SISPORTA_TEST_PAUSE_BEFORE_ACK' && l.batch === 1 && /armed/.test(String(l.msg))), 'the worker says at start that the hook is armed')

  const first = (await loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  for (const batch of [0, 1, 2]) await publishBatch(bus.nc, bus.names, { stream: 'shorts', loadId: first, batch, body: { columns: ['id', 'label'], rows: [[batch, `b${batch}`]] } })
  await eventually(async () => held().length === 1 && (await booked(first)).length === 3 && await onBus() === 1 ? true : undefined, { what: 'batch 1 held, the others acked' })
  t.same(held().map((l) => [l.loadId, l.batch]), [[first, 1]], `batch 1 of load ${first} is held`)
  t.same(await booked(first), [0, 1, 2], 'all three batches are committed')
  t.equal(await onBus(), 1, 'only the held batch is still on the work queue: committed, not acknowledged')

  // the hook fires once: batch 1 of another load goes through
  const second = (await loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  await publishBatch(bus.nc, bus.names, { stream: 'shorts', loadId: second, batch: 1, body: { columns: ['id', 'label'], rows: [[10, 'again']] } })
  await eventually(async () => (await booked(second)).length === 1 && await onBus() === 1 ? true : undefined, { what: `batch 1 of load ${second} applied and acked` })
  t.equal(held().length, 1, 'a second batch with the armed number is not held')

  await worker.stop()
  t.equal(await onBus(), 0, 'stopping releases the held batch: it is acknowledged')
})
