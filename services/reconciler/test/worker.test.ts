import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { createReconcilerWorker } from '@sisporta/reconciler'
import { countRows, countingRegistry, insertRows, recordBatches, sealedLoad, setup } from './setup.js'

t.test('worker – a sealed load waiting for batches is re-checked on the sweep', async (t) => {
  const { registry, sql, deps } = await setup(t)
  const counting = countingRegistry(registry)
  const worker = createReconcilerWorker({ ...deps, registry: counting.registry, sweepIntervalMs: 100 })
  await worker.start()
  t.teardown(() => worker.stop())
  const load = await sealedLoad(registry, 'products', 'full', { batches: 2, rows: 2 })
  await insertRows(sql, 'products', [['a', load.id], ['b', load.id]])
  await recordBatches(sql, 'products', load.id, { 0: 1 })
  // examined on the registry event and again on later sweeps (each examination reads the record)
  const reads = counting.reads('products', load.id)
  await eventually(() => counting.reads('products', load.id) >= reads + 4 ? true : undefined, { what: 'the worker to examine the load on its sweeps', timeoutMs: 120_000 })
  t.equal((await registry.get('products', load.id))?.load.state, 'sealed', 'waits for batch 1')
  // no registry event from here on: only the sweep can notice the last batch
  await recordBatches(sql, 'products', load.id, { 1: 1 })
  const done = await eventually(async () => {
    const entry = await registry.get('products', load.id)
    return entry?.load.state === 'reconciled' ? entry.load : undefined
  }, { what: 'the load to be reconciled' })
  t.match(done, { appliedBatches: 2, appliedRows: 2, deletedRows: 0 })
})

t.test('worker – a load of a stream missing from the config deletes nothing and is reported once', async (t) => {
  const { registry, sql, deps, sink, metrics } = await setup(t)
  const worker = createReconcilerWorker({ ...deps, sweepIntervalMs: 50 })
  await worker.start()
  t.teardown(() => worker.stop())
  const load = await sealedLoad(registry, 'ghost', 'full', { batches: 1, rows: 1 })
  await recordBatches(sql, 'ghost', load.id, { 0: 1 })
  await eventually(async () => (await registry.get('ghost', load.id))?.load.state === 'applied' ? true : undefined, { what: 'applied', timeoutMs: 120_000 })
  // each sweep's examination fails and is counted: wait for several
  await eventually(async () => ((await metrics.errors.get()).values.find((v) => v.labels.stream === 'ghost')?.value ?? 0) >= 4 ? true : undefined, { what: 'four failed examinations', timeoutMs: 120_000 })
  await worker.stop()
  const errors = sink.lines.filter((l) => l.level === 'error')
  t.equal(errors.length, 1, 'one error line, not one per sweep')
  t.match(errors[0], { stream: 'ghost', loadId: load.id, code: 'SIS_RECON_STREAM_UNKNOWN' })
  t.equal((await registry.get('ghost', load.id))?.load.state, 'applied', 'left as it is')
})

t.test('worker – stopping between chunks leaves the load to be resumed', async (t) => {
  const { registry, sql, deps } = await setup(t, { hardRatio: 1, settings: { deleteChunk: 1 } })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 1 })
  await insertRows(sql, 'products', [['this', load.id], ...Array.from({ length: 3000 }, (_, i) => [`old-${i}`, 0] as [string, number])])
  await recordBatches(sql, 'products', load.id, { 0: 1 })
  const first = createReconcilerWorker({ ...deps, sweepIntervalMs: 100 })
  await first.start()
  await eventually(async () => (await countRows(sql, 'products')) < 3001 ? true : undefined, { what: 'deleting to start' })
  await first.stop()
  const left = await countRows(sql, 'products')
  t.ok(left > 1, `stopped mid-way (${left} rows left)`)
  t.equal((await registry.get('products', load.id))?.load.state, 'applied', 'the load stays applied')
  t.equal(await countRows(sql, 'products'), left, 'nothing deleted after stop')

  const second = createReconcilerWorker({ ...deps, settings: { ...deps.settings, deleteChunk: 1000 }, sweepIntervalMs: 100 })
  await second.start()
  t.teardown(() => second.stop())
  await eventually(async () => (await registry.get('products', load.id))?.load.state === 'reconciled' ? true : undefined, { what: 'reconciled' })
  t.equal(await countRows(sql, 'products'), 1)
})
