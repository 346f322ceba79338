import t, { type Test } from 'tap'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, type LoadRecord } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { createDeadLetterWatcher, createReconcilerWorker } from '@sisporta/reconciler'
import { recordBatches, sealedLoad, setup, type TestEnv } from './setup.js'

// The persisters' dead letters, as settle.ts publishes them, on a real NATS namespace; the
// registry and the bookkeeping on real NATS and MariaDB. Timeouts are an hour: nothing here may
// be the open or apply timeout at work.

/** Publishes a dead letter the way the persister does; returns its sequence in the DLQ stream. */
async function deadLetter (env: TestEnv, letter: { stream: string, loadId: number, batch: number, reason: string } | { raw: Record<string, string> }): Promise<number> {
  const h = natsHeaders()
  const fields = 'raw' in letter
    ? letter.raw
    : { [BatchHeaders.Stream]: letter.stream, [BatchHeaders.Load]: String(letter.loadId), [BatchHeaders.Batch]: String(letter.batch), [BatchHeaders.Mode]: 'full', [BatchHeaders.Rows]: '2', [BatchHeaders.Reason]: letter.reason, [BatchHeaders.Deliveries]: '1' }
  for (const [name, value] of Object.entries(fields)) h.set(name, value)
  const stream = 'raw' in letter ? 'products' : letter.stream
  const ack = await env.nc.jetstream().publish(env.names.dlqSubject(stream), new TextEncoder().encode('{"columns":["sku"],"rows":[["a"],["b"]]}'), { headers: h })
  return ack.seq
}

function startWatcher (t: Test, env: TestEnv): ReturnType<typeof createDeadLetterWatcher> {
  const watcher = createDeadLetterWatcher({ nc: env.nc, names: env.names, registry: env.registry, db: env.db, log: env.log, metrics: env.metrics, retryMs: 100 })
  t.teardown(() => watcher.stop())
  return watcher
}

async function stateBecomes (env: TestEnv, load: LoadRecord, state: string): Promise<LoadRecord> {
  return await eventually(async () => {
    const current = (await env.registry.get(load.stream, load.id))?.load
    return current?.state === state ? current : undefined
  }, { timeoutMs: 60_000, what: `load ${load.id} to become ${state}` })
}

async function transitions (env: TestEnv, from: string): Promise<number> {
  const metric = await env.metrics.transitions.get()
  return metric.values.filter((v) => v.labels.from === from && v.labels.to === 'failed').reduce((n, v) => n + v.value, 0)
}

t.test('dead letters – a dead-lettered batch fails its sealed load at once, the reason naming the letter and `sisporta dlq show N`', async (t) => {
  const env = await setup(t)
  const load = await sealedLoad(env.registry, 'products', 'full', { batches: 3, rows: 6 })
  await recordBatches(env.sql, 'products', load.id, { 0: 2, 2: 2 })
  await startWatcher(t, env).start()
  const seq = await deadLetter(env, { stream: 'products', loadId: load.id, batch: 1, reason: 'SIS_PERSIST_REJECTED: city Kraków refused by a trigger' })
  const failed = await stateBecomes(env, load, 'failed')
  t.equal(failed.reason, `batch 1 was dead-lettered as #${seq}: SIS_PERSIST_REJECTED: city Kraków refused by a trigger. ` +
    `Inspect it with \`sisporta dlq show ${seq}\`; fix the cause, then \`sisporta dlq replay ${seq}\` (applied into this failed load) or run the next load (it carries these rows again). Nothing deleted`)
  t.equal(await transitions(env, 'sealed'), 1, 'counted as a sealed → failed transition')
  t.match(env.sink.lines.find((l) => l.msg === 'load failed: one of its batches was dead-lettered'), { level: 'warn', stream: 'products', loadId: load.id, batch: 1, deadLetter: seq })
})

t.test('dead letters – an open load (its extractor still sending) fails at once too', async (t) => {
  const env = await setup(t)
  const load = await env.registry.openLoad({ stream: 'customers', mode: 'full', openedBy: 'test' })
  await startWatcher(t, env).start()
  const seq = await deadLetter(env, { stream: 'customers', loadId: load.id, batch: 4, reason: 'gave up after 5 deliveries: connect ECONNREFUSED' })
  const failed = await stateBecomes(env, load, 'failed')
  t.match(failed.reason, new RegExp(`^batch 4 was dead-lettered as #${seq}: gave up after 5 deliveries: connect ECONNREFUSED\\. Inspect it with \`sisporta dlq show ${seq}\``))
  t.equal(await transitions(env, 'open'), 1)
})

t.test('dead letters – loads that are not waiting for batches, stale letters and malformed ones are left alone', async (t) => {
  const env = await setup(t)
  const applied = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 2 })
  await env.registry.transition('products', applied.id, (l) => ({ ...l, state: 'applied' }))
  const abandoned = await env.registry.openLoad({ stream: 'products', mode: 'full', openedBy: 'test' })
  await env.registry.transition('products', abandoned.id, (l) => ({ ...l, state: 'abandoned', reason: 'abandoned by its extractor' }))
  const stale = await sealedLoad(env.registry, 'notes', 'full', { batches: 2, rows: 4 })
  // its batch 0 was applied after all (a redelivery made it before the letter was looked at)
  await recordBatches(env.sql, 'notes', stale.id, { 0: 2 })
  const sentinel = await sealedLoad(env.registry, 'customers', 'full', { batches: 1, rows: 2 })
  await deadLetter(env, { stream: 'products', loadId: applied.id, batch: 0, reason: 'SIS_PERSIST_LOAD_STATE: a late copy' })
  await deadLetter(env, { stream: 'products', loadId: abandoned.id, batch: 0, reason: 'SIS_PERSIST_LOAD_STATE: the load is abandoned' })
  await deadLetter(env, { stream: 'notes', loadId: stale.id, batch: 0, reason: 'SIS_PERSIST_REJECTED: once' })
  await deadLetter(env, { stream: 'products', loadId: 1_000_000_000, batch: 0, reason: 'SIS_PERSIST_LOAD_UNKNOWN: forged' })
  const malformed = await deadLetter(env, { raw: { [BatchHeaders.Stream]: 'products', [BatchHeaders.Reason]: 'no load, no batch' } })
  // handled in order: once this one's load fails, every letter before it was looked at
  await deadLetter(env, { stream: 'customers', loadId: sentinel.id, batch: 0, reason: 'the sentinel' })
  await startWatcher(t, env).start()
  await stateBecomes(env, sentinel, 'failed')
  t.equal((await env.registry.get('products', applied.id))?.load.state, 'applied', 'an applied load is not failed by a late letter')
  t.match((await env.registry.get('products', abandoned.id))?.load, { state: 'abandoned', reason: 'abandoned by its extractor' }, 'an abandoned load keeps its own reason')
  t.equal((await env.registry.get('notes', stale.id))?.load.state, 'sealed', 'a letter whose batch the bookkeeping shows applied fails nothing')
  t.equal(await transitions(env, 'sealed'), 1, 'one load failed: the sentinel\'s')
  t.match(env.sink.lines.find((l) => l.code === 'SIS_RECON_DLQ_WATCH'), { level: 'warn', seq: malformed, msg: /without stream, load and batch headers/ })
})

t.test('dead letters – letters stored before the watch starts count; watching again changes nothing', async (t) => {
  const env = await setup(t)
  const load = await sealedLoad(env.registry, 'products', 'full', { batches: 2, rows: 4 })
  const seq = await deadLetter(env, { stream: 'products', loadId: load.id, batch: 0, reason: 'refused' })
  const first = startWatcher(t, env)
  await first.start()
  const failed = await stateBecomes(env, load, 'failed')
  await first.stop()
  const again = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 2 })
  await deadLetter(env, { stream: 'products', loadId: again.id, batch: 0, reason: 'the sentinel' })
  await startWatcher(t, env).start()
  await stateBecomes(env, again, 'failed')
  t.same((await env.registry.get('products', load.id))?.load, failed, `the load failed by #${seq} is exactly as the first watch left it`)
  t.equal(await transitions(env, 'sealed'), 2, 'one transition per load, none repeated')
})

t.test('dead letters – the reconciler worker starts and stops the watch with itself', async (t) => {
  const env = await setup(t)
  const deadLetters = createDeadLetterWatcher({ nc: env.nc, names: env.names, registry: env.registry, db: env.db, log: env.log, metrics: env.metrics, retryMs: 100 })
  const worker = createReconcilerWorker({ ...env.deps, sweepIntervalMs: 200, deadLetters })
  await worker.start()
  t.teardown(() => worker.stop())
  const load = await sealedLoad(env.registry, 'products', 'full', { batches: 2, rows: 4 })
  await recordBatches(env.sql, 'products', load.id, { 0: 2 })
  const seq = await deadLetter(env, { stream: 'products', loadId: load.id, batch: 1, reason: 'refused' })
  const failed = await stateBecomes(env, load, 'failed')
  t.match(failed.reason, `#${seq}`, 'no watch started by hand: the worker runs it')
})
