import t from 'tap'
import { sql as ksql } from 'kysely'
import { BatchHeaders } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { LoadRegistry } from '@sisporta/nats'
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
  const loads = await LoadRegistry.bind(bus.nc, bus.names)
  const worker = createPersisterWorker({
    nc: bus.nc,
    names: bus.names,
    config,
    registry: loads,
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
  /** Opens a load as the gateway does (the persister applies batches of registered loads only). */
  const openLoad = async (stream: string, mode: 'full' | 'incremental' = 'full'): Promise<number> => (await loads.openLoad({ stream, mode, openedBy: 'test' })).id
  return { ...bus, url, sql, db, jsm, log, sink, registry, metrics, worker, loads, openLoad, query, count, streamMessages, consumerInfo, metric }
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
  t.equal(await s.openLoad('items'), 1, 'the load the batches below belong to')
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
  // text the column cannot hold (a narrower column would be refused for every batch, before writing)
  await s.sql.query('ALTER TABLE shorts MODIFY label LONGTEXT CHARACTER SET latin1 NULL')
  t.equal(await s.openLoad('shorts'), 1, 'the load the batches below belong to')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one'], [2, 'two']] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 1, body: { columns: ['id', 'label'], rows: [[3, 'three'], [4, 'not latin1 ☕']] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 2, body: { columns: ['id', 'label'], rows: [[5, 'five']] } })
  // Two that fail the consume-side check: a stream this persister does not know, a mistyped value.
  await publishBatch(s.nc, s.names, { stream: 'ghost', loadId: 1, batch: 0, body: { columns: ['id'], rows: [[1]] } })
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 3, body: { columns: ['id', 'label'], rows: [['6', 'six']] } })
  await s.worker.start()

  await eventually(async () => (await s.jsm.streams.info(s.names.dlqStream)).state.messages === 3 && (await s.streamMessages()) === 0 ? true : undefined, { what: 'three dead letters' })
  // batch 1 is bisected: its good row 3 is applied, only row 4 is dead-lettered (bisect-batch.test.ts)
  t.same(await s.query('SELECT id, label FROM shorts ORDER BY id'), [{ id: 1, label: 'one' }, { id: 2, label: 'two' }, { id: 3, label: 'three' }, { id: 5, label: 'five' }])
  t.same(await s.query('SELECT batch_no FROM sisporta_batches ORDER BY batch_no'), [{ batch_no: 0 }, { batch_no: 2 }], 'the bad batch is not booked')

  const tooLong = await s.jsm.streams.getMessage(s.names.dlqStream, { last_by_subj: s.names.dlqSubject('shorts') })
  const letters = [await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 }), await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 2 }), await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 3 })]
  const byBatch = new Map(letters.map((m) => [`${m.header.get(BatchHeaders.Stream)}/${m.header.get(BatchHeaders.Batch)}`, m]))
  t.match(byBatch.get('shorts/1')?.header.get(BatchHeaders.Reason), /SIS_PERSIST_ROWS_REFUSED: batch 1 of load 1 \(stream 'shorts'\): 1 of 2 rows refused, 1 applied .*row 1 \(id=4\), column 'label': Incorrect string value: '\\xE2\\x98\\x95' for column/)
  t.equal(byBatch.get('shorts/1')?.header.get(BatchHeaders.Deliveries), '1', 'a permanent failure is not retried')
  t.same(byBatch.get('shorts/1')?.json(), { columns: ['id', 'label'], rows: [[4, 'not latin1 ☕']] }, 'the letter holds the refused row only')
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
  t.equal(await s.openLoad('shorts'), 1, 'the load the batches below belong to')
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
  t.equal(await s.openLoad('shorts'), 1, 'the load the batches below belong to')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  for (let b = 1; b < 6; b++) await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: b, body: { columns: ['id', 'label'], rows: [[b + 10, `b${b}`]] } })
  await s.worker.start()
  await blockedUpsert(s, 'shorts')
  t.equal(await s.worker.ready(), true, 'ready while a batch waits on a lock')

  let stopReturned = false
  const stopped = s.worker.stop().then(() => { stopReturned = true })
  // the worker has stopped pulling once the server holds no pull request of it
  await eventually(async () => (await s.consumerInfo()).num_waiting === 0 ? true : undefined, { what: 'the worker to stop pulling', timeoutMs: 120_000 })
  t.notOk(stopReturned, 'stop() has not returned: it waits for the blocked batch')
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
  // ack_wait long enough that a loaded machine keeps up with working() (sent every third of it)
  const ackWaitMs = 6000
  const s = await setup(t, { ackWaitMs })
  await s.sql.query('BEGIN')
  await s.sql.query("INSERT INTO shorts (id, label) VALUES (1, 'held')")
  t.equal(await s.openLoad('shorts'), 1, 'the load the batches below belong to')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 1, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await s.worker.start()
  await blockedUpsert(s, 'shorts')
  // nothing to wait for but time: two and a half ack_waits with the batch blocked (a floor, never a budget)
  await new Promise((resolve) => setTimeout(resolve, ackWaitMs * 2.5))
  t.equal((await s.consumerInfo()).num_redelivered, 0, 'working() kept the delivery alive')
  await s.sql.query('COMMIT')
  await eventually(async () => (await s.streamMessages()) === 0 ? true : undefined, { what: 'the batch acked' })
  t.same(await s.query('SELECT label FROM shorts WHERE id = 1'), [{ label: 'one' }])
  t.equal(await s.metric('sisporta_persister_batches_duplicate_total', 'shorts'), 0)
  t.equal(await s.metric('sisporta_persister_batches_applied_total', 'shorts'), 1)
})

t.test('persister – a batch whose load the registry does not vouch for never touches the target', async (t) => {
  const s = await setup(t, { maxDeliver: 3 })
  const shortRows = (from: number) => ({ columns: ['id', 'label'], rows: [[from, 'x'], [from + 1, 'y']] })
  const real = await s.openLoad('shorts') // id 1: the sequence is at 1
  // a forged batch with a huge load id (its rows would out-stamp every later load)
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: 999_999_999, batch: 0, body: shortRows(100) })
  // a forged load record (no open record from a gateway) and a batch for it
  const kv = await s.nc.jetstream().views.kv(s.names.loadsBucket, { bindOnly: true })
  const now = new Date().toISOString()
  const forgedId = await s.openLoad('items') // id 2 exists for items only; shorts.2 is forged below
  await kv.put(`load.shorts.${forgedId}`, new TextEncoder().encode(JSON.stringify({ id: forgedId, stream: 'shorts', mode: 'full', state: 'open', openedAt: now, updatedAt: now })))
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: forgedId, batch: 0, body: shortRows(200) })
  // a batch of the real load claiming another mode
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: real, batch: 7, mode: 'incremental', body: shortRows(300) })
  // a batch of a load that was abandoned
  const abandoned = await s.openLoad('shorts')
  await s.loads.transition('shorts', abandoned, (l) => ({ ...l, state: 'abandoned' }))
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: abandoned, batch: 0, body: shortRows(400) })
  // and a good one
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: real, batch: 0, body: shortRows(1) })
  await s.worker.start()

  const dlq = await s.nc.jetstream().consumers.get(s.names.dlqStream)
  const letters = new Map<string, string>()
  const deadline = Date.now() + 60_000
  while (letters.size < 4 && Date.now() < deadline) {
    const m = await dlq.next({ expires: 5_000 })
    if (m === null) continue
    letters.set(`${m.headers!.get('Sisporta-Load')}`, m.headers!.get('Sisporta-Reason'))
    m.ack()
  }
  t.equal(letters.size, 4, 'four dead letters, one per refused batch')
  t.match(letters.get('999999999'), /^gave up after 3 deliveries: SIS_PERSIST_LOAD_UNKNOWN: batch 0 of load 999999999 \(stream 'shorts'\): load id 999999999 is above the registry's sequence/, 'an invented load id is refused (after the redeliveries a lagging replica would need)')
  t.match(letters.get(String(forgedId)), /^SIS_PERSIST_LOAD_UNTRUSTED: .*no open record: the load did not come through the gateway's open path/)
  t.match(letters.get(String(real)), /^SIS_PERSIST_LOAD_STATE: batch 7 of load 1 .*the batch says incremental, the load is full/)
  t.match(letters.get(String(abandoned)), /^SIS_PERSIST_LOAD_STATE: .*the load is abandoned; only batches of open or sealed loads are applied/)
  await eventually(async () => (await s.count('SELECT COUNT(*) AS n FROM sisporta_batches')) === 1 ? true : undefined, { what: 'the good batch applied' })
  t.same(await s.query('SELECT id, label, _sisporta_load FROM shorts ORDER BY id'), [{ id: 1, label: 'x', _sisporta_load: '1' }, { id: 2, label: 'y', _sisporta_load: '1' }], 'only the real load\'s rows are in the target')
  t.same(await s.query('SELECT stream, load_id, batch_no FROM sisporta_batches'), [{ stream: 'shorts', load_id: '1', batch_no: 0 }])
  const refused = (await s.registry.getSingleMetric('sisporta_persister_batches_refused_total')!.get()).values
  t.same(refused.filter((v) => v.labels.code === 'SIS_PERSIST_LOAD_STATE').reduce((n, v) => n + v.value, 0), 2)
  t.same(refused.filter((v) => v.labels.code === 'SIS_PERSIST_LOAD_UNTRUSTED').reduce((n, v) => n + v.value, 0), 1)
  t.same(refused.filter((v) => v.labels.code === 'SIS_PERSIST_LOAD_UNKNOWN').reduce((n, v) => n + v.value, 0), 3, 'once per delivery of the invented load')
})

t.test('persister – a late redelivery of an applied batch, after its load moved on, is a duplicate, not a dead letter', async (t) => {
  const s = await setup(t)
  const load = await s.openLoad('shorts')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await s.worker.start()
  await eventually(async () => (await s.count('SELECT COUNT(*) AS n FROM sisporta_batches')) === 1 ? true : undefined, { what: 'the batch applied' })
  await s.loads.transition('shorts', load, (l) => ({ ...l, state: 'sealed', batches: 1, rows: 1 }))
  await s.loads.transition('shorts', load, (l) => ({ ...l, state: 'applied' }))
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 0, msgId: 'again', body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await eventually(async () => await s.metric('sisporta_persister_batches_duplicate_total', 'shorts') === 1 ? true : undefined, { what: 'the redelivery recognised' })
  t.equal(await s.metric('sisporta_persister_batches_dead_lettered_total', 'shorts'), 0)
  t.equal((await s.nc.jetstreamManager().then(async (m) => await m.streams.info(s.names.dlqStream))).state.messages, 0, 'no dead letter')
})
