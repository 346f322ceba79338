import t, { type Test } from 'tap'
import { eventually } from '@sisporta/testkit'
import { createReconcilerWorker, heldReason, reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, sealedLoad, setup } from './setup.js'

/** 1000 rows in `products`: 188 written by the load, 812 by an older one. */
async function heldLoadSetup (t: Test) {
  const env = await setup(t)
  const load = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 188 })
  await insertRows(env.sql, 'products', [...rowsOf('kept', 188, load.id), ...rowsOf('gone', 812, 0)])
  await recordBatches(env.sql, 'products', load.id, { 0: 188 })
  const worker = createReconcilerWorker({ ...env.deps, sweepIntervalMs: 100 })
  await worker.start()
  t.teardown(() => worker.stop())
  const held = await eventually(async () => {
    const entry = await env.registry.get('products', load.id)
    return entry?.load.state === 'held' ? entry.load : undefined
  }, { what: 'the load to be held' })
  return { ...env, load, held, worker }
}

t.test('delete guard – a load that would delete more than maxDeleteRatio is held, with the counts and what to do', async (t) => {
  const { held, load, sql, metrics } = await heldLoadSetup(t)
  t.match(held, { state: 'held', tableRows: 1000, absentRows: 812 })
  t.equal(held.reason, `would delete 812 of 1000 rows (81.2%), above maxDeleteRatio 0.2; approve with \`sisporta loads approve ${load.id}\` or discard with \`sisporta loads discard ${load.id}\``)
  t.equal(held.reason, heldReason(load.id, 1000, 812, 0.2))
  t.equal(await countRows(sql, 'products'), 1000, 'nothing deleted')
  await eventually(async () => (await metrics.held.get()).values.find((v) => v.labels.stream === 'products')?.value === 1 ? true : undefined, { what: 'the held gauge' })
})

t.test('delete guard – approving a held load deletes the absent rows', async (t) => {
  const { registry, load, sql, metrics } = await heldLoadSetup(t)
  // what `sisporta loads approve` does
  await registry.transition('products', load.id, (l) => l.state === 'held' ? { ...l, state: 'approved', approvedBy: 'ops' } : undefined)
  const done = await eventually(async () => {
    const entry = await registry.get('products', load.id)
    return entry?.load.state === 'reconciled' ? entry.load : undefined
  }, { what: 'the approved load to be reconciled' })
  t.match(done, { state: 'reconciled', deletedRows: 812, approvedBy: 'ops', tableRows: 1000, absentRows: 812 })
  t.equal(await countRows(sql, 'products'), 188)
  t.equal(await countRows(sql, 'products', "sku LIKE 'kept-%'"), 188, 'every row of the load kept')
  await eventually(async () => (await metrics.held.get()).values.find((v) => v.labels.stream === 'products')?.value === 0 ? true : undefined, { what: 'the held gauge back to 0' })
})

t.test('delete guard – discarding a held load deletes nothing', async (t) => {
  const { registry, load, sql, deps, worker, metrics } = await heldLoadSetup(t)
  await registry.transition('products', load.id, (l) => l.state === 'held' ? { ...l, state: 'discarded', discardedBy: 'ops' } : undefined)
  // the worker has seen the discard when its held gauge drops; stopping then waits for anything it started on it
  await eventually(async () => (await metrics.held.get()).values.find((v) => v.labels.stream === 'products')?.value === 0 ? true : undefined, { what: 'the worker to see the discard', timeoutMs: 120_000 })
  await worker.stop()
  t.equal((await reconcileLoad(deps, load))?.state, 'discarded')
  t.equal(await countRows(sql, 'products'), 1000, 'nothing deleted')
})

t.test('delete guard – an approved load never deletes rows of newer loads', async (t) => {
  const { registry, load, sql, worker, deps } = await heldLoadSetup(t)
  await worker.stop()
  await insertRows(sql, 'products', rowsOf('newer', 5, load.id + 1))
  await registry.transition('products', load.id, (l) => ({ ...l, state: 'approved', approvedBy: 'ops' }))
  t.match(await reconcileLoad(deps, load), { state: 'reconciled', deletedRows: 812 })
  t.equal(await countRows(sql, 'products'), 193)
})

t.test('delete guard – a newer applied load supersedes a held one', async (t) => {
  const { registry, load, sql, deps, worker } = await heldLoadSetup(t)
  await worker.stop()
  const newer = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 0 })
  await recordBatches(sql, 'products', newer.id, { 0: 0 })
  t.equal((await reconcileLoad(deps, { stream: 'products', id: load.id }))?.state, 'held', 'a sealed newer load does not supersede')
  await registry.transition('products', newer.id, (l) => ({ ...l, state: 'applied', appliedBatches: 1, appliedRows: 0 }))
  t.match(await reconcileLoad(deps, load), { state: 'superseded', reason: `load ${newer.id}, a newer full load of this stream, is already applied; nothing deleted` })
  t.equal(await countRows(sql, 'products'), 1000, 'nothing deleted')
})
