import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { buildReconcilerApp, createReconcilerWorker, examineLoad, reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, sealedLoad, setup, skus } from './setup.js'

t.test('reconciler – a sealed full load with every batch applied becomes applied, then reconciled', async (t) => {
  const { nc, registry, db, sql, config, deps, sink, metricsRegistry, metrics, log } = await setup(t)
  // two loads of another stream first, so that load ids 1 and 2 are "older loads"
  await registry.openLoad({ stream: 'notes', mode: 'full' })
  await registry.openLoad({ stream: 'notes', mode: 'full' })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 2, rows: 10 })
  t.equal(load.id, 3)
  await insertRows(sql, 'products', [
    ...Array.from({ length: 10 }, (_, i) => [`this-${i}`, load.id] as [string, number]),
    ['older', 1], ['never-stamped', null], ['newer', load.id + 1]
  ])
  await recordBatches(sql, 'products', load.id, { 0: 6, 1: 4 })

  const worker = createReconcilerWorker({ ...deps, sweepIntervalMs: 100 })
  const app = await buildReconcilerApp({ log, registry: metricsRegistry, worker, nc, db })
  t.teardown(() => app.close())
  await app.ready()

  const done = await eventually(async () => {
    const entry = await registry.get('products', load.id)
    return entry?.load.state === 'reconciled' ? entry.load : undefined
  }, { what: 'the load to be reconciled' })
  t.match(done, { state: 'reconciled', appliedBatches: 2, appliedRows: 10, tableRows: 13, absentRows: 2, deletedRows: 2 })
  t.ok(done.appliedAt !== undefined && done.reconciledAt !== undefined, 'applied and reconciled times recorded')
  t.same(await skus(sql, 'products', "sku NOT LIKE 'this-%'"), ['newer'], 'older and unstamped rows deleted, the newer load\'s row kept')
  t.equal(await countRows(sql, 'products', "sku LIKE 'this-%'"), 10, 'the load\'s own rows kept')

  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.equal((await metrics.deletedRows.get()).values.find((v) => v.labels.stream === 'products')?.value, 2)
  const scraped = (await app.inject({ url: '/metrics' })).body
  t.match(scraped, /sisporta_reconciler_transitions_total\{stream="products",from="sealed",to="applied"[^}]*\} 1/)
  t.match(scraped, /sisporta_reconciler_transitions_total\{stream="products",from="applied",to="reconciled"[^}]*\} 1/)
  t.match(scraped, /sisporta_reconciler_reconcile_duration_seconds_count\{[^}]*stream="products",outcome="reconciled"[^}]*\} 1/)

  const transitions = sink.lines.filter((l) => l.msg === 'load applied' || l.msg === 'load reconciled')
  t.same(transitions.map((l) => [l.msg, l.stream, l.loadId]), [['load applied', 'products', load.id], ['load reconciled', 'products', load.id]])
  t.ok(sink.lines.filter((l) => l.loadId !== undefined).every((l) => l.stream !== undefined), 'every line of a load names its stream')
  t.equal(config.stream('products')?.deletes, 'hard')
})

t.test('reconciler – a load never sealed deletes nothing and is abandoned after the open timeout', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { openTimeoutSec: 0.3 } })
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  await insertRows(sql, 'products', [['a', null], ['b', 0]])
  t.equal((await reconcileLoad(deps, load))?.state, 'open', 'still open before the timeout')
  // the timeout is a floor: wait for the load to move, however long the machine takes
  const abandoned = await eventually(async () => {
    const l = await reconcileLoad(deps, load)
    return l?.state === 'open' ? undefined : l
  }, { what: 'the open timeout to pass', timeoutMs: 120_000 })
  t.match(abandoned, { state: 'abandoned', reason: /not sealed within 0.3 s/ })
  t.equal(abandoned?.deletedRows, undefined)
  t.same(await skus(sql, 'products'), ['a', 'b'], 'nothing deleted')
})

t.test('reconciler – a sealed load missing a batch deletes nothing and fails after the apply timeout', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { applyTimeoutSec: 0.3 } })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 4, rows: 40 })
  await insertRows(sql, 'products', [['old', null], ...Array.from({ length: 20 }, (_, i) => [`n${i}`, load.id] as [string, number])])
  await recordBatches(sql, 'products', load.id, { 0: 10, 2: 10 })
  t.equal((await reconcileLoad(deps, load))?.state, 'sealed', 'waits for the missing batches')
  const failed = await eventually(async () => {
    const l = await reconcileLoad(deps, load)
    return l?.state === 'sealed' ? undefined : l
  }, { what: 'the apply timeout to pass', timeoutMs: 120_000 })
  t.match(failed, { state: 'failed', appliedBatches: 2, appliedRows: 20, reason: /^batches 1, 3 \(2 of 4\) not applied within 0.3 s of sealing/ })
  t.equal(await countRows(sql, 'products'), 21, 'nothing deleted')
})

t.test('reconciler – a sealed load whose batches hold other row counts fails at once', async (t) => {
  const { registry, sql, deps } = await setup(t)
  const load = await sealedLoad(registry, 'products', 'full', { batches: 2, rows: 20 })
  await recordBatches(sql, 'products', load.id, { 0: 10, 1: 9 })
  const failed = await reconcileLoad(deps, load)
  t.match(failed, { state: 'failed', reason: 'the 2 batches hold 19 rows but the load was sealed with 20 rows' })

  const extra = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 10 })
  await recordBatches(sql, 'products', extra.id, { 0: 5, 1: 5 })
  t.match(await reconcileLoad(deps, extra), { state: 'failed', reason: /^batch 1 applied, but the load was sealed with 1 batches/ })
})

t.test('reconciler – an incremental load ends at applied and deletes nothing', async (t) => {
  const { registry, sql, deps } = await setup(t)
  const load = await sealedLoad(registry, 'products', 'incremental', { batches: 1, rows: 2 })
  await insertRows(sql, 'products', [['old-1', null], ['old-2', 0], ['new-1', load.id], ['new-2', load.id]])
  await recordBatches(sql, 'products', load.id, { 0: 2 })
  const applied = await reconcileLoad(deps, load)
  t.match(applied, { state: 'applied', appliedBatches: 1, appliedRows: 2 })
  t.equal(await examineLoad(deps, applied!), undefined, 'nothing more to do')
  t.equal(await countRows(sql, 'products'), 4, 'nothing deleted')
})

t.test('reconciler – an empty sealed full load is applied with no batches', async (t) => {
  const { registry, deps } = await setup(t)
  const load = await sealedLoad(registry, 'notes', 'full', { batches: 0, rows: 0 })
  t.match(await reconcileLoad(deps, load), { state: 'reconciled', appliedBatches: 0, appliedRows: 0, deletedRows: 0 })
})

t.test('reconciler – a seal stating 2^31−1 batches is examined without listing them, and fails naming the missing ranges', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { applyTimeoutSec: 0.3 } })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 2147483647, rows: 2147483647 })
  await recordBatches(sql, 'products', load.id, { 0: 1, 5: 1, 7: 1 })
  const heapBefore = process.memoryUsage().heapUsed
  t.equal((await reconcileLoad(deps, load))?.state, 'sealed', 'waits for the missing batches')
  const failed = await eventually(async () => {
    const l = await reconcileLoad(deps, load)
    return l?.state === 'sealed' ? undefined : l
  }, { what: 'the apply timeout to pass', timeoutMs: 120_000 })
  t.match(failed, { state: 'failed', appliedBatches: 3, reason: /^batches 1–4, 6, 8–2147483646 \(2147483644 of 2147483647\) not applied within 0.3 s of sealing/ })
  t.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'no per-batch list was built')
})
