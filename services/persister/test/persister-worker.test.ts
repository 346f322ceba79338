import t from 'tap'
import { sql as ksql } from 'kysely'
import { BatchHeaders } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import { buildPersisterApp, createPersisterMetrics, createPersisterWorker, type PersisterWorker } from '../src/index.js'
import { ITEM_COLUMNS, config, itemRow, publishBatch } from './helpers.js'

interface Teardown { teardown(fn: () => unknown): void }

async function setup (t: Teardown, options: { concurrency?: number, maxDeliver?: number, ackWaitMs?: number } = {}) {
  const bus = await testBus(t, { maxDeliver: options.maxDeliver ?? 5, ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}) })
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const sink = logSink()
  const log = createLogger({ service: 'persister', level: 'debug', destination: sink.stream })
  const registry = createMetricsRegistry('persister')
  const metrics = createPersisterMetrics(registry)
  const worker = createPersisterWorker({
    nc: bus.nc,
    names: bus.names,
    config,
    mysqlUrl: url,
    concurrency: options.concurrency ?? 4,
    maxDeliver: options.maxDeliver ?? 5,
    log,
    metrics,
    fetchExpiresMs: 1000,
    nakDelaysMs: [200]
  })
  t.teardown(() => worker.stop())
  const jsm = await bus.nc.jetstreamManager()
  const query = async (q: string, values: unknown[] = []): Promise<Record<string, unknown>[]> => (await sql.query(q, values))[0] as Record<string, unknown>[]
  const count = async (q: string): Promise<number> => Number((await query(q))[0]!.n)
  const streamMessages = async (): Promise<number> => (await jsm.streams.info(bus.names.batchStream)).state.messages
  const consumerInfo = async () => await jsm.consumers.info(bus.names.batchStream, bus.names.persisterConsumer)
  const metric = async (name: string, stream: string): Promise<number> => {
    const m = (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.stream === stream)
    return m?.value ?? 0
  }
  return { ...bus, url, sql, db, jsm, log, sink, registry, metrics, worker, query, count, streamMessages, consumerInfo, metric }
}

/** Waits until the worker's upsert into `table` is blocked on a row lock, and returns its connection id. */
async function blockedUpsert (s: Awaited<ReturnType<typeof setup>>, table: string): Promise<number> {
  return await eventually(async () => {
    const rows = await s.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE CONCAT('INSERT INTO `', ?, '`%')", [table])
    return rows.length > 0 ? Number(rows[0]!.ID) : undefined
  }, { what: `an upsert into ${table} waiting on a lock` })
}

t.test('persister – applies every published batch, empties the work queue, and a redelivery changes nothing', async (t) => {
  const s = await setup(t)
  for (let b = 0; b < 20; b++) {
    await publishBatch(s.nc, s.names, { stream: 'items', loadId: 1, batch: b, body: { columns: ITEM_COLUMNS, rows: [1, 2, 3, 4, 5].map((i) => itemRow(b * 5 + i)) } })
  }
  const app = await buildPersisterApp({ log: s.log, registry: s.registry, nc: s.nc, worker: s.worker })
  t.teardown(() => app.close())
  await app.ready() // starts the worker

  await eventually(async () => (await s.count('SELECT COUNT(*) AS n FROM sisporta_batches')) === 20 && (await s.streamMessages()) === 0 ? true : undefined, { what: '20 batches applied' })
  t.same(await s.query("SELECT COUNT(*) AS n, MIN(_sisporta_load) AS lo, MAX(_sisporta_load) AS hi FROM items"), [{ n: 100, lo: '1', hi: '1' }])
  t.same(await s.query('SELECT load_id, COUNT(*) AS n, SUM(row_count) AS rows_ FROM sisporta_batches GROUP BY load_id'), [{ load_id: '1', n: 20, rows_: '100' }])
  t.equal(await s.metric('sisporta_persister_batches_applied_total', 'items'), 20)
  t.equal(await s.metric('sisporta_persister_rows_upserted_total', 'items'), 100)
  t.equal((await s.consumerInfo()).num_ack_pending, 0)

  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200, ready.body)
  const metricsText = (await app.inject({ url: '/metrics' })).body
  t.match(metricsText, /sisporta_persister_batches_applied_total\{[^}]*stream="items"[^}]*\} 20\n/)
  t.match(metricsText, /sisporta_persister_apply_duration_seconds_count\{[^}]*stream="items"[^}]*\} 20\n/)

  // The same batch again under another de-duplication id (as if JetStream had forgotten it):
  // the bookkeeping recognises it, nothing is rewritten.
  await s.sql.query("UPDATE items SET name = 'changed since' WHERE id = 1")
  const ack = await publishBatch(s.nc, s.names, { stream: 'items', loadId: 1, batch: 0, msgId: 'another-id', body: { columns: ITEM_COLUMNS, rows: [1, 2, 3, 4, 5].map((i) => itemRow(i)) } })
  t.equal(ack.duplicate, false, 'JetStream took it as a new message')
  await eventually(async () => (await s.metric('sisporta_persister_batches_duplicate_total', 'items')) === 1 && (await s.streamMessages()) === 0 ? true : undefined, { what: 'the duplicate acked' })
  t.same(await s.query('SELECT name FROM items WHERE id = 1'), [{ name: 'changed since' }])
  t.equal(await s.count('SELECT COUNT(*) AS n FROM sisporta_batches'), 20)
  t.equal(await s.metric('sisporta_persister_batches_applied_total', 'items'), 20)

  const duplicateLine = s.sink.lines.find((l) => l.msg === 'batch already applied (redelivery); acked without writing')
  t.match(duplicateLine, { service: 'persister', stream: 'items', loadId: 1, batch: 0 }, 'log lines carry stream, load and batch')
  t.ok(s.sink.lines.filter((l) => l.msg === 'batch applied').every((l) => l.stream === 'items' && l.loadId === 1 && typeof l.batch === 'number'))
})

t.test('persister – a permanently bad batch goes to the dead-letter stream, the others still apply', async (t) => {
  const s = await setup(t)
  await s.sql.query('ALTER TABLE shorts MODIFY label VARCHAR(5) NULL')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one'], [2, 'two']] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 1, body: { columns: ['id', 'label'], rows: [[3, 'three'], [4, 'much too long']] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 2, body: { columns: ['id', 'label'], rows: [[5, 'five']] } })
  // Two that fail the consume-side check: a stream this persister does not know, a mistyped value.
  await publishBatch(s.nc, s.names, { stream: 'ghost', loadId: 1, batch: 0, body: { columns: ['id'], rows: [[1]] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 3, body: { columns: ['id', 'label'], rows: [['6', 'six']] } })
  await s.worker.start()

  await eventually(async () => (await s.jsm.streams.info(s.names.dlqStream)).state.messages === 3 && (await s.streamMessages()) === 0 ? true : undefined, { what: 'three dead letters' })
  t.same(await s.query('SELECT id, label FROM shorts ORDER BY id'), [{ id: 1, label: 'one' }, { id: 2, label: 'two' }, { id: 5, label: 'five' }])
  t.same(await s.query('SELECT batch_no FROM sisporta_batches ORDER BY batch_no'), [{ batch_no: 0 }, { batch_no: 2 }], 'the bad batch is not booked')

  const tooLong = await s.jsm.streams.getMessage(s.names.dlqStream, { last_by_subj: s.names.dlqSubject('shorts') })
  const letters = [await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 }), await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 2 }), await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 3 })]
  const byBatch = new Map(letters.map((m) => [`${m.header.get(BatchHeaders.Stream)}/${m.header.get(BatchHeaders.Batch)}`, m]))
  t.match(byBatch.get('shorts/1')?.header.get(BatchHeaders.Reason), /SIS_PERSIST_REJECTED: batch 1 of load 1 \(stream 'shorts'\): Data too long for column 'label'/)
  t.equal(byBatch.get('shorts/1')?.header.get(BatchHeaders.Deliveries), '1', 'a permanent failure is not retried')
  t.same(byBatch.get('shorts/1')?.json(), { columns: ['id', 'label'], rows: [[3, 'three'], [4, 'much too long']] })
  t.match(byBatch.get('shorts/3')?.header.get(BatchHeaders.Reason), /^SIS_PERSIST_BAD_BODY: row 0, column 'id' \(int\)/)
  t.equal(byBatch.get('ghost/0')?.subject, s.names.dlqSubject('ghost'))
  t.match(byBatch.get('ghost/0')?.header.get(BatchHeaders.Reason), /^SIS_PERSIST_UNKNOWN_STREAM/)
  t.ok(tooLong)

  t.equal(await s.metric('sisporta_persister_batches_dead_lettered_total', 'shorts'), 2)
  t.equal(await s.metric('sisporta_persister_batches_dead_lettered_total', 'unknown'), 1, 'an unknown stream is not a metric label')
  t.equal(await s.metric('sisporta_persister_batches_applied_total', 'shorts'), 2)
  t.equal((await s.consumerInfo()).num_ack_pending, 0)
  t.match(s.sink.lines.find((l) => l.msg === 'batch dead-lettered' && l.batch === 1), { level: 'error', stream: 'shorts', loadId: 1, deliveries: 1 })
})

t.test('persister – a batch that lost its MySQL connection is nak\'d and applied on redelivery', async (t) => {
  const s = await setup(t)
  await s.sql.query('BEGIN')
  await s.sql.query("INSERT INTO shorts (id, label) VALUES (1, 'held')") // holds the row lock the batch needs
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one'], [2, 'two']] } })
  await s.worker.start()
  const id = await blockedUpsert(s, 'shorts')
  await ksql`KILL ${ksql.raw(String(id))}`.execute(s.db)
  await s.sql.query('ROLLBACK')

  await eventually(async () => (await s.count('SELECT COUNT(*) AS n FROM sisporta_batches')) === 1 && (await s.streamMessages()) === 0 ? true : undefined, { what: 'the batch applied after the nak' })
  t.same(await s.query('SELECT id, label, _sisporta_load FROM shorts ORDER BY id'), [{ id: 1, label: 'one', _sisporta_load: '1' }, { id: 2, label: 'two', _sisporta_load: '1' }])
  t.equal(await s.metric('sisporta_persister_batches_nak_total', 'shorts'), 1)
  t.equal(await s.metric('sisporta_persister_batches_dead_lettered_total', 'shorts'), 0)
  t.equal((await s.jsm.streams.info(s.names.dlqStream)).state.messages, 0)
  t.match(s.sink.lines.find((l) => l.msg === 'batch failed transiently; handed back for redelivery'), { level: 'warn', stream: 'shorts', loadId: 1, batch: 0, deliveries: 1 })
  t.equal(await s.worker.ready(), true)
})

t.test('persister – graceful stop commits and acks in-flight batches, leaving nothing ack-pending', async (t) => {
  const s = await setup(t, { concurrency: 2 })
  await s.sql.query('BEGIN')
  await s.sql.query("INSERT INTO shorts (id, label) VALUES (1, 'held')")
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  for (let b = 1; b < 6; b++) await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: b, body: { columns: ['id', 'label'], rows: [[b + 10, `b${b}`]] } })
  await s.worker.start()
  await blockedUpsert(s, 'shorts')
  t.equal(await s.worker.ready(), true, 'ready while a batch waits on a lock')

  const stopped = s.worker.stop()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(s.worker.inFlight >= 1, 'the blocked batch is still in flight while stopping')
  await s.sql.query('COMMIT') // the batch can go on now
  await stopped

  t.equal(s.worker.inFlight, 0)
  const info = await s.consumerInfo()
  t.equal(info.num_ack_pending, 0, 'nothing left ack-pending')
  t.equal(info.num_redelivered, 0, 'nothing had to be redelivered')
  const booked = await s.count('SELECT COUNT(*) AS n FROM sisporta_batches')
  t.equal(booked + info.num_pending, 6, 'every batch is either applied or still waiting in the stream')
  t.equal(await s.streamMessages(), info.num_pending, 'applied batches were acked')
  t.same(await s.query('SELECT label, _sisporta_load FROM shorts WHERE id = 1'), [{ label: 'one', _sisporta_load: '1' }], 'the in-flight batch committed')
  t.match(await s.worker.ready(), /stopped/)
})

t.test('persister – a batch applying for longer than ack_wait is kept alive, not redelivered', async (t) => {
  const s = await setup(t, { ackWaitMs: 1500 })
  await s.sql.query('BEGIN')
  await s.sql.query("INSERT INTO shorts (id, label) VALUES (1, 'held')")
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await s.worker.start()
  await blockedUpsert(s, 'shorts')
  await new Promise((resolve) => setTimeout(resolve, 4000)) // well past ack_wait
  t.equal((await s.consumerInfo()).num_redelivered, 0, 'working() kept the delivery alive')
  await s.sql.query('COMMIT')
  await eventually(async () => (await s.streamMessages()) === 0 ? true : undefined, { what: 'the batch acked' })
  t.same(await s.query('SELECT label FROM shorts WHERE id = 1'), [{ label: 'one' }])
  t.equal(await s.metric('sisporta_persister_batches_duplicate_total', 'shorts'), 0)
  t.equal(await s.metric('sisporta_persister_batches_applied_total', 'shorts'), 1)
})
