import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { LoadRegistry } from '@sisporta/nats'
import { createReconcilerWorker } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, sealedLoad, setup } from './setup.js'

/** Puts a key in the registry bucket directly, as anyone with write access to the bucket could. */
async function forge (env: Awaited<ReturnType<typeof setup>>, key: string, value: object): Promise<void> {
  const kv = await env.nc.jetstream().views.kv(env.names.loadsBucket, { bindOnly: true })
  await kv.put(key, new TextEncoder().encode(JSON.stringify(value)))
}

t.test('reconciler – a forged approved load deletes nothing, and a forged huge load id never supersedes the real ones', async (t) => {
  const env = await setup(t)
  const untrusted: string[] = []
  const registry = await LoadRegistry.bind(env.nc, env.names, { onUntrusted: (key) => untrusted.push(key) })
  await insertRows(env.sql, 'products', rowsOf('kept', 100, 1))
  const now = new Date().toISOString()
  // an `approved` full load with an id far above anything real: reconciling it would delete every row
  await forge(env, 'load.products.999999', { id: 999999, stream: 'products', mode: 'full', state: 'approved', openedAt: now, updatedAt: now, approvedBy: 'mallory' })
  // the same with a matching forged open record: still above the sequence
  await forge(env, 'open.products.888888', { id: 888888, stream: 'products', mode: 'full', openedAt: now })
  await forge(env, 'load.products.888888', { id: 888888, stream: 'products', mode: 'full', state: 'reconciled', openedAt: now, updatedAt: now })
  const worker = createReconcilerWorker({ ...env.deps, registry, sweepIntervalMs: 100 })
  await worker.start()
  t.teardown(() => worker.stop())

  // a real full load of all 100 rows goes through the whole lifecycle, superseded by nothing
  const real = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 100 })
  await env.sql.query('UPDATE products SET _sisporta_load = ?', [real.id])
  await recordBatches(env.sql, 'products', real.id, { 0: 100 })
  const done = await eventually(async () => {
    const entry = await env.registry.get('products', real.id)
    return entry?.load.state === 'reconciled' || entry?.load.state === 'superseded' ? entry.load : undefined
  }, { what: 'the real load to end' })
  t.equal(done.state, 'reconciled', 'the forged reconciled load 888888 did not supersede it')
  t.equal(await countRows(env.sql, 'products'), 100, 'no row deleted by the forged approved load')
  await eventually(() => untrusted.includes('load.products.999999') && untrusted.includes('load.products.888888') ? true : undefined, { what: 'both forgeries reported' })
  await t.rejects(env.registry.transition('products', 999999, (l) => ({ ...l, state: 'reconciled' })), { code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'an operator command cannot act on it either')
  t.same((await env.registry.list({ stream: 'products' })).map((l) => l.id), [real.id], 'listings show the real load only')
})

t.test('reconciler – a real load\'s record replaced by a forged one (other opening) is ignored, not reconciled', async (t) => {
  const env = await setup(t)
  await insertRows(env.sql, 'products', [...rowsOf('old', 50, null), ...rowsOf('new', 50, null)])
  const real = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 1 })
  const record = (await env.registry.get('products', real.id))!.load
  // approve it behind the delete guard's back, with a record whose opening does not match the gateway's
  await forge(env, `load.products.${real.id}`, { ...record, state: 'approved', approvedBy: 'mallory', openedAt: '2020-01-01T00:00:00.000Z' })
  const untrusted: string[] = []
  const registry = await LoadRegistry.bind(env.nc, env.names, { onUntrusted: (key) => untrusted.push(key) })
  const worker = createReconcilerWorker({ ...env.deps, registry, sweepIntervalMs: 100 })
  await worker.start()
  t.teardown(() => worker.stop())
  // the worker saw the forged record and refused it …
  await eventually(() => untrusted.includes(`load.products.${real.id}`) ? true : undefined, { what: 'the worker to refuse the forged record', timeoutMs: 120_000 })
  // … and went on: a real load opened after it is reconciled by the same worker
  const later = await sealedLoad(env.registry, 'notes', 'full', { batches: 0, rows: 0 })
  await eventually(async () => (await env.registry.get('notes', later.id))?.load.state === 'reconciled' ? true : undefined, { what: 'a later real load to be reconciled', timeoutMs: 120_000 })
  await worker.stop()
  t.equal(await countRows(env.sql, 'products'), 100, 'nothing deleted')
  t.equal((await env.registry.check('products', real.id)).status, 'untrusted', 'the forged record is still there, refused')
})
