import t from 'tap'
import { headers } from 'nats'
import { BatchHeaders, busNames } from '@sisporta/contracts'
import { createDb } from '@sisporta/db'
import { LoadRegistry, openKey, provisionBus } from '@sisporta/nats'
import { createLogger } from '@sisporta/observability'
import { logSink, permissionedNats, randomId, testDatabase } from '@sisporta/testkit'
import { createRetentionWorker, sweepRetention } from '@sisporta/reconciler'

// The shipped per-service NATS permissions: the reconciler may remove load records, not the
// gateway's open records (their removal is refused at once, counted, and the pass goes on).

const namespace = `p_${randomId()}`
const names = busNames(namespace)
const { as } = await permissionedNats(t, namespace)

t.test('retention – with the shipped NATS permissions, load records go and open records are left, without failing the pass', async (t) => {
  const reconcilerNc = await as('reconciler')
  await provisionBus(reconcilerNc, names, { maxDeliver: 5 })
  const gatewayRegistry = await LoadRegistry.bind(await as('gateway'), names)
  const registry = await LoadRegistry.bind(reconcilerNc, names)
  const ids: number[] = []
  for (let i = 0; i < 3; i++) {
    const load = await gatewayRegistry.openLoad({ stream: 'products', mode: 'full' })
    await registry.transition('products', load.id, (l) => ({ ...l, state: 'abandoned' }))
    ids.push(load.id)
  }
  // a dead letter (the persister's identity publishes them) of the second load pins it
  const h = headers()
  h.set(BatchHeaders.Stream, 'products')
  h.set(BatchHeaders.Load, String(ids[1]))
  h.set(BatchHeaders.Batch, '0')
  await (await as('persister')).jetstream().publish(names.dlqSubject('products'), new Uint8Array(0), { headers: h })
  const { url } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(async () => { await db.destroy() })
  await db.schema.createTable('sisporta_batches').addColumn('stream', 'varchar(63)').addColumn('load_id', 'bigint').addColumn('batch_no', 'integer').addColumn('row_count', 'integer').addColumn('applied_at', 'datetime(6)').execute()
  const sink = logSink()
  const worker = createRetentionWorker({ nc: reconcilerNc, names, registry, db, policy: { maxAgeSec: 3600, keep: 1 }, log: createLogger({ service: 'reconciler', destination: sink.stream }), now: () => Date.now() + 2 * 3600_000, intervalMs: 3600_000 })
  const report = await worker.sweep()
  t.same(report, { loads: { products: [ids[0]] }, ledgerRows: 0, openRecordsKept: 1, orphanOpenRecords: 0 }, 'the reconciler may read the dead letters: the load with one stays')
  t.same((await registry.list({ stream: 'products' })).map((l) => l.id), [ids[1], ids[2]])
  t.equal((await registry.check('products', ids[0]!)).status, 'unknown', 'the removed load is unknown, not untrusted')
  t.match(sink.lines.find((l) => l.code === 'SIS_RECON_RETENTION'), { level: 'warn', openRecordsKept: 1, msg: /may not remove open records/ })
})

t.test('retention – the operator\'s identity (`sisporta loads prune`) removes the open records the reconciler had to leave', async (t) => {
  const reconcilerNc = await as('reconciler')
  const adminNc = await as('admin')
  const gatewayRegistry = await LoadRegistry.bind(await as('gateway'), names)
  const registry = await LoadRegistry.bind(reconcilerNc, names)
  const load = await gatewayRegistry.openLoad({ stream: 'orders', mode: 'full' })
  await registry.transition('orders', load.id, (l) => ({ ...l, state: 'abandoned' }))
  const later = Date.now() + 2 * 86_400_000
  const { url } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(async () => { await db.destroy() })
  await db.schema.createTable('sisporta_batches').addColumn('stream', 'varchar(63)').addColumn('load_id', 'bigint').addColumn('batch_no', 'integer').addColumn('row_count', 'integer').addColumn('applied_at', 'datetime(6)').execute()
  const log = createLogger({ service: 'reconciler', destination: logSink().stream })
  const policy = { maxAgeSec: 3600, keep: 1 }
  // keep 1: the newest load of the stream stays; a second, newer one lets the first go
  const newer = await gatewayRegistry.openLoad({ stream: 'orders', mode: 'full' })
  await registry.transition('orders', newer.id, (l) => ({ ...l, state: 'abandoned' }))
  const byReconciler = await sweepRetention({ nc: reconcilerNc, names, registry, db, policy, log, now: () => later })
  t.match(byReconciler, { loads: { orders: [load.id] }, openRecordsKept: 1, orphanOpenRecords: 0 }, 'the reconciler removes the load record and must leave its open record')
  const adminRegistry = await LoadRegistry.bind(adminNc, names)
  const byOperator = await sweepRetention({ nc: adminNc, names, registry: adminRegistry, db, policy, log, now: () => later })
  // two: this test's, and the one the first test's reconciler pass had to leave (same namespace)
  t.match(byOperator, { loads: {}, openRecordsKept: 0, orphanOpenRecords: 2 }, 'the operator removes the leftover open records')
  const kv = await adminNc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
  t.equal(await kv.get(openKey('orders', load.id)).then((e) => e?.operation ?? 'none'), 'DEL', 'gone')
  t.equal((await adminRegistry.check('orders', newer.id)).status, 'trusted', 'the load still there keeps its open record and its trust')
})
