import t, { type Test } from 'tap'
import { headers as natsHeaders } from 'nats'
import { busNames, BatchHeaders, LOAD_STATES, type LoadRecord } from '@sisporta/contracts'
import { readSettings } from '@sisporta/config'
import { createMetricsRegistry } from '@sisporta/observability'
import { eventually } from '@sisporta/testkit'
import { createOperatorMetrics } from '@sisporta/reconciler'
import { sealedLoad, setup, type TestEnv } from './setup.js'

// The operator metrics against a real NATS namespace (no persister running: the test plays the
// persister where it needs one) and a real load registry.

type Values = Map<string, number>

/** Every sample of one metric family, keyed by its labels (service label left out): `stream=products,state=held`. */
async function samples (env: TestEnv, name: string): Promise<Values> {
  const family = (await env.metricsRegistry.getMetricsAsJSON()).find((m) => m.name === name)
  if (family === undefined) throw new Error(`metric ${name} is not registered`)
  const values: Values = new Map()
  for (const v of family.values as Array<{ labels: Record<string, string | number>, value: number }>) {
    const key = Object.entries(v.labels).filter(([k]) => k !== 'service').map(([k, l]) => `${k}=${l}`).sort().join(',')
    values.set(key, v.value)
  }
  return values
}

function operatorMetrics (t: Test, env: TestEnv, names = env.names): ReturnType<typeof createOperatorMetrics> {
  const operator = createOperatorMetrics({ nc: env.nc, names, registry: env.registry, config: env.config, metricsRegistry: env.metricsRegistry, log: env.log })
  t.teardown(async () => { await operator.stop() })
  return operator
}

async function publishBatches (env: TestEnv, stream: string, count: number): Promise<void> {
  const js = env.nc.jetstream()
  for (let batch = 0; batch < count; batch++) {
    const h = natsHeaders()
    h.set(BatchHeaders.Stream, stream)
    h.set(BatchHeaders.Batch, String(batch))
    await js.publish(env.names.batchSubject(stream), new TextEncoder().encode('{}'), { headers: h, msgID: `${stream}.1.${batch}` })
  }
}

t.test('operator metrics – consumer backlog and per-stream queue are what JetStream says', async (t) => {
  const env = await setup(t)
  const operator = operatorMetrics(t, env)
  await publishBatches(env, 'products', 3)
  await publishBatches(env, 'customers', 2)
  await operator.refresh()
  t.same(await samples(env, 'sisporta_consumer_pending_batches'), new Map([['', 5]]), 'five batches wait for a persister')
  t.same(await samples(env, 'sisporta_consumer_ack_pending_batches'), new Map([['', 0]]))
  t.same(await samples(env, 'sisporta_consumer_redelivered_total'), new Map([['', 0]]))
  t.same(await samples(env, 'sisporta_stream_queued_batches'), new Map([['stream=products', 3], ['stream=customers', 2], ['stream=notes', 0]]), 'per stream, zero for a configured stream with none')

  // a persister takes one and hands it back (nak); it comes back redelivered, maybe after others
  const consumer = await env.nc.jetstream().consumers.get(env.names.batchStream, env.names.persisterConsumer)
  const first = await consumer.next({ expires: 5_000 })
  t.ok(first !== null, 'a persister got a batch')
  first!.nak()
  await env.nc.flush()
  const held = []
  let again
  while (again === undefined) {
    const m = await consumer.next({ expires: 5_000 })
    if (m === null) throw new Error('the nak\'d batch never came back')
    if (m.info.redeliveryCount > 1) again = m
    else held.push(m)
  }
  await operator.refresh()
  const info = await (await env.nc.jetstreamManager()).consumers.info(env.names.batchStream, env.names.persisterConsumer)
  t.same([info.num_pending, info.num_ack_pending, info.num_redelivered], [4 - held.length, 1 + held.length, 1], 'JetStream: the rest pending, the taken ones in flight, one of them redelivered')
  t.same(await samples(env, 'sisporta_consumer_pending_batches'), new Map([['', info.num_pending]]))
  t.same(await samples(env, 'sisporta_consumer_ack_pending_batches'), new Map([['', info.num_ack_pending]]))
  t.same(await samples(env, 'sisporta_consumer_redelivered_total'), new Map([['', info.num_redelivered]]))
  t.same(await samples(env, 'sisporta_stream_queued_batches'), new Map([['stream=products', 3], ['stream=customers', 2], ['stream=notes', 0]]), 'a batch in flight is still on the work queue')

  // acked batches leave the work queue
  for (const m of [again, ...held]) await m.ackAck()
  await operator.refresh()
  const queued = await samples(env, 'sisporta_stream_queued_batches')
  t.equal(queued.get('stream=products')! + queued.get('stream=customers')!, 4 - held.length, 'acked batches are gone from the queue')
  t.same(await samples(env, 'sisporta_consumer_ack_pending_batches'), new Map([['', 0]]))
  t.same(await samples(env, 'sisporta_consumer_redelivered_total'), new Map([['', 0]]), 'a current count: back to 0 once acked')
})

t.test('operator metrics – dead letters per stream, zero for configured streams without any', async (t) => {
  const env = await setup(t)
  const operator = operatorMetrics(t, env)
  await operator.refresh()
  t.same(await samples(env, 'sisporta_dead_letters'), new Map([['stream=products', 0], ['stream=customers', 0], ['stream=notes', 0]]))
  const h = natsHeaders()
  h.set(BatchHeaders.Stream, 'customers')
  h.set(BatchHeaders.Reason, 'SIS_PERSIST_REJECTED: test')
  await env.nc.jetstream().publish(env.names.dlqSubject('customers'), new TextEncoder().encode('{}'), { headers: h })
  await env.nc.jetstream().publish(env.names.dlqSubject('retired'), new TextEncoder().encode('{}'))
  await operator.refresh()
  t.same(await samples(env, 'sisporta_dead_letters'), new Map([['stream=products', 0], ['stream=customers', 1], ['stream=notes', 0], ['stream=retired', 1]]), 'a letter of a stream no longer configured counts too')
})

/** A full load taken to `reconciled` with the reconciler's counts. */
async function reconciledLoad (env: TestEnv, stream: string, change: Partial<LoadRecord>): Promise<LoadRecord> {
  const load = await sealedLoad(env.registry, stream, 'full', { batches: 1, rows: 10 })
  await env.registry.transition(stream, load.id, (l) => ({ ...l, state: 'applied', appliedBatches: 1, appliedRows: 10, appliedAt: new Date().toISOString() }))
  const { load: done } = await env.registry.transition(stream, load.id, (l) => ({ ...l, state: 'reconciled', ...change }))
  return done
}

t.test('operator metrics – loads by stream and state, last reconciled and rows from the registry', async (t) => {
  const env = await setup(t)
  const operator = operatorMetrics(t, env)
  await operator.refresh()
  const empty = await samples(env, 'sisporta_loads')
  t.equal(empty.size, 3 * LOAD_STATES.length, 'every configured stream × every state, before any load')
  t.ok([...empty.values()].every((v) => v === 0))
  t.same(await samples(env, 'sisporta_stream_last_reconciled_timestamp_seconds'), new Map(), 'absent until a stream has a reconciled load')
  t.same(await samples(env, 'sisporta_stream_rows'), new Map())

  await reconciledLoad(env, 'products', { tableRows: 500, absentRows: 0, deletedRows: 0, reconciledAt: '2026-01-01T02:00:00.000Z' })
  // the newest: 1000 rows counted, 40 of them deleted
  await reconciledLoad(env, 'products', { tableRows: 1000, absentRows: 40, deletedRows: 40, reconciledAt: '2026-01-02T02:00:05.500Z' })
  const held = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 10 })
  await env.registry.transition('products', held.id, (l) => ({ ...l, state: 'applied' }))
  await env.registry.transition('products', held.id, (l) => ({ ...l, state: 'held', tableRows: 1000, absentRows: 900, reason: 'would delete 900 of 1000 rows' }))
  const abandoned = await env.registry.openLoad({ stream: 'customers', mode: 'full', openedBy: 'test' })
  await env.registry.transition('customers', abandoned.id, (l) => ({ ...l, state: 'abandoned' }))
  const failed = await sealedLoad(env.registry, 'customers', 'full', { batches: 2, rows: 20 })
  await env.registry.transition('customers', failed.id, (l) => ({ ...l, state: 'failed' }))
  await env.registry.openLoad({ stream: 'customers', mode: 'full', openedBy: 'test' })
  // deletes: none is never counted: reconciled, but no table rows
  await reconciledLoad(env, 'notes', { deletedRows: 0, reconciledAt: '2026-01-03T00:00:00.000Z' })

  await operator.refresh()
  const loads = await samples(env, 'sisporta_loads')
  t.equal(loads.size, 3 * LOAD_STATES.length)
  const nonZero = new Map([...loads].filter(([, v]) => v > 0))
  t.same(nonZero, new Map([
    ['state=reconciled,stream=products', 2],
    ['state=held,stream=products', 1],
    ['state=abandoned,stream=customers', 1],
    ['state=failed,stream=customers', 1],
    ['state=open,stream=customers', 1],
    ['state=reconciled,stream=notes', 1]
  ]))
  t.same(await samples(env, 'sisporta_stream_last_reconciled_timestamp_seconds'), new Map([
    ['stream=products', Date.parse('2026-01-02T02:00:05.500Z') / 1000],
    ['stream=notes', Date.parse('2026-01-03T00:00:00.000Z') / 1000]
  ]))
  t.same(await samples(env, 'sisporta_stream_rows'), new Map([['stream=products', 960]]), 'the table rows the newest reconcile counted, minus what it deleted; none for deletes: none')

  // a load changing state moves it between series
  await env.registry.transition('products', held.id, (l) => ({ ...l, state: 'discarded' }))
  await operator.refresh()
  const after = await samples(env, 'sisporta_loads')
  t.equal(after.get('state=held,stream=products'), 0, 'no longer held: the series stays, at 0')
  t.equal(after.get('state=discarded,stream=products'), 1)
})

t.test('operator metrics – a failing read is logged and counted, never thrown, and the other parts still refresh', async (t) => {
  const env = await setup(t)
  // a namespace whose streams and consumer do not exist: JetStream answers "not found"
  const operator = operatorMetrics(t, env, busNames(`${env.names.namespace}_gone`))
  await env.registry.openLoad({ stream: 'products', mode: 'full', openedBy: 'test' })
  await operator.refresh()
  t.same(await samples(env, 'sisporta_operator_metrics_errors_total'), new Map([['part=consumer', 1], ['part=batches', 1], ['part=dead_letters', 1], ['part=loads', 0]]))
  t.equal((await samples(env, 'sisporta_loads')).get('state=open,stream=products'), 1, 'the registry part was read')
  t.same([...(await samples(env, 'sisporta_operator_metrics_refreshed_timestamp_seconds')).keys()], ['part=loads'], 'only the part that was read has a refresh time')
  const warnings = env.sink.lines.filter((l) => l.code === 'SIS_RECON_OPERATOR_METRICS')
  t.same(warnings.map((l) => [l.level, l.part]).sort(), [['warn', 'batches'], ['warn', 'consumer'], ['warn', 'dead_letters']])
})

t.test('operator metrics – start refreshes at once and on the interval; stop ends it', async (t) => {
  const env = await setup(t)
  const registry = createMetricsRegistry('reconciler')
  const operator = createOperatorMetrics({ nc: env.nc, names: env.names, registry: env.registry, config: env.config, metricsRegistry: registry, log: env.log, intervalMs: 100 })
  t.teardown(async () => { await operator.stop() })
  const pending = async (): Promise<number | undefined> => (await registry.getSingleMetric('sisporta_consumer_pending_batches')?.get())?.values[0]?.value
  operator.start()
  await eventually(async () => await pending() === 0 ? true : undefined, { what: 'the first refresh' })
  await publishBatches(env, 'notes', 2)
  await eventually(async () => await pending() === 2 ? true : undefined, { what: 'a refresh on the interval' })
  await operator.stop()
  await publishBatches(env, 'products', 1)
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(await pending(), 2, 'no refresh after stop')
})

t.test('operator metrics – SISPORTA_OPERATOR_METRICS_INTERVAL: 15 s by default, a duration, bounded', async (t) => {
  t.equal(readSettings({}).operatorMetricsIntervalSec, 15)
  t.equal(readSettings({ SISPORTA_OPERATOR_METRICS_INTERVAL: '1m' }).operatorMetricsIntervalSec, 60)
  t.equal(readSettings({ SISPORTA_OPERATOR_METRICS_INTERVAL: '5' }).operatorMetricsIntervalSec, 5)
  t.throws(() => readSettings({ SISPORTA_OPERATOR_METRICS_INTERVAL: '2h' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_OPERATOR_METRICS_INTERVAL='2h' must be a duration/ })
  t.throws(() => readSettings({ SISPORTA_OPERATOR_METRICS_INTERVAL: '0' }), { code: 'SIS_CFG_ENV' })
})
