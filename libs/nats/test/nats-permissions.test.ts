import t, { type Test } from 'tap'
import { connect, headers } from 'nats'
import { busNames } from '@sisporta/contracts'
import { BusError, LoadRegistry, NO_BUS_SECURITY, connectBus, deprovisionBus, isPermissionDenied, provisionBus } from '@sisporta/nats'
import { eventually, permissionedNats, randomId } from '@sisporta/testkit'

// The shipped deploy/nats/sisporta-permissions.conf, rendered for a fresh namespace, on a private
// nats-server: each identity can do its own work through sisporta's own code, and is refused
// (at once, as an error) everything else the rules reserve for others.

const namespace = `p_${randomId()}`
const names = busNames(namespace)
const { as, server, url, users } = await permissionedNats(t, namespace)

const admin = await as('admin')
const gateway = await as('gateway')
const persister = await as('persister')
const reconciler = await as('reconciler')
t.teardown(async () => { await deprovisionBus(admin, names).catch(() => {}) })
const encode = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A BusLogger that keeps what it was told. */
function recorder (): { log: { info(o: object, m?: string): void, warn(o: object, m?: string): void }, lines: Array<{ level: string, msg: string }> } {
  const lines: Array<{ level: string, msg: string }> = []
  return { lines, log: { info: (_o, msg = '') => { lines.push({ level: 'info', msg }) }, warn: (_o, msg = '') => { lines.push({ level: 'warn', msg }) } } }
}

/** The operation must be refused by a permission violation, quickly (an error, not a hang until a timeout). */
async function refused (t: Test, what: string, op: () => Promise<unknown>): Promise<void> {
  const started = Date.now()
  let error: unknown
  try {
    await op()
  } catch (err) {
    error = err
  }
  // a permission violation, not a timeout (a hang would end in a timeout error, which this is not)
  t.ok(error !== undefined && isPermissionDenied(error), `${what}: refused by a permission violation (after ${Date.now() - started} ms)`, { error: String(error) })
}

t.test('nats permissions – the gateway and the persister may not provision: a clear error names who must', async (t) => {
  const err = await provisionBus(gateway, names, { maxDeliver: 5, waitMs: 300 }).catch((e: unknown) => e)
  t.ok(err instanceof BusError, 'a coded error')
  t.match(err, { code: 'SIS_BUS_NOT_PROVISIONED', exitCode: 2, message: /stream .*_BATCHES.*reconciler/ })
})

t.test('nats permissions – a persister waits for the reconciler to provision, then goes on', async (t) => {
  const sink = recorder()
  const waiting = provisionBus(persister, names, { maxDeliver: 5, waitMs: 600_000, log: sink.log })
  // the reconciler provisions once the persister has said what it waits for
  await eventually(() => sink.lines.some((l) => l.level === 'warn' && /waiting for NATS/.test(l.msg)) ? true : undefined, { what: 'the persister to say what it waits for', timeoutMs: 120_000 })
  await provisionBus(reconciler, names, { maxDeliver: 5 })
  await t.resolves(waiting, 'the persister finds everything once the reconciler made it')
  const kv = await (await admin.jetstreamManager()).streams.info(`KV_${names.loadsBucket}`)
  t.equal(kv.config.allow_rollup_hdrs, false, 'the registry bucket refuses rollup headers')
})

t.test('nats permissions – an identity that may not change a setting uses the bus as it is', async (t) => {
  const sink = recorder()
  await t.resolves(provisionBus(persister, names, { maxDeliver: 9, log: sink.log }), 'a different max_deliver: not the persister\'s to change')
  t.ok(sink.lines.some((l) => l.level === 'info' && /consumer .* may not change it/.test(l.msg)), 'logged at info')
  const jsm = await admin.jetstreamManager()
  t.equal((await jsm.consumers.info(names.batchStream, names.persisterConsumer)).config.max_deliver, 6, 'unchanged')
  await provisionBus(reconciler, names, { maxDeliver: 7 })
  t.equal((await jsm.consumers.info(names.batchStream, names.persisterConsumer)).config.max_deliver, 8, 'the reconciler may change it')
  await provisionBus(reconciler, names, { maxDeliver: 5 })
  await t.resolves(provisionBus(gateway, names, { maxDeliver: 5 }), 'the gateway finds everything in place')
})

t.test('nats permissions – each identity does its own work', async (t) => {
  const gwRegistry = await LoadRegistry.bind(gateway, names)
  const load = await gwRegistry.openLoad({ stream: 'products', mode: 'full', openedBy: 'test' })
  const h = headers()
  h.set('Sisporta-Stream', 'products')
  await gateway.jetstream().publish(names.batchSubject('products'), encode('{}'), { headers: h, msgID: `products.${load.id}.0` })
  await gateway.jetstream().publish(names.batchSubject('products'), encode('{}'), { headers: h, msgID: `products.${load.id}.1` })
  const newer = await gwRegistry.openLoad({ stream: 'products', mode: 'full', openedBy: 'test' })
  t.same(await gwRegistry.claimNewest('products', load.id), {}, 'gateway: records the stream\'s newest load')
  t.same(await gwRegistry.claimNewest('products', newer.id), { previous: load.id }, 'gateway: replaces it with a newer one')
  await gwRegistry.transition('products', newer.id, (l) => ({ ...l, state: 'abandoned', reason: 'test' }))
  await gwRegistry.transition('products', load.id, (l) => ({ ...l, state: 'sealed', batches: 2, rows: 2 }))
  t.pass('gateway: opened loads, published two batches, abandoned one load and sealed the other')

  const consumer = await persister.jetstream().consumers.get(names.batchStream, names.persisterConsumer)
  const delivered = []
  for await (const msg of await consumer.fetch({ max_messages: 2, expires: 2_000 })) delivered.push(msg)
  t.equal(delivered.length, 2, 'persister: pulled both batches')
  delivered[0]!.working()
  t.ok(await delivered[0]!.ackAck(), 'persister: acked one')
  delivered[1]!.term()
  const letter = headers()
  letter.set('Sisporta-Stream', 'products')
  letter.set('Sisporta-Load', String(load.id))
  letter.set('Sisporta-Batch', '1')
  const dead = await persister.jetstream().publish(names.dlqSubject('products'), encode('{}'), { headers: letter })
  t.equal((await (await LoadRegistry.bind(persister, names)).get('products', load.id))?.load.state, 'sealed', 'persister: dead-lettered one, reads the registry')

  const rcRegistry = await LoadRegistry.bind(reconciler, names)
  const controller = new AbortController()
  for await (const seen of rcRegistry.watch(controller.signal)) {
    if (seen.id === load.id) break
  }
  await rcRegistry.transition('products', load.id, (l) => ({ ...l, state: 'applied' }))
  t.equal((await rcRegistry.list({ stream: 'products' }))[0]?.state, 'applied', 'reconciler: watched, moved the load on, listed loads')
  // the dead-letter watch, as services/reconciler/src/watch-dead-letters.ts opens it
  const watch = await (await reconciler.jetstream().consumers.get(names.dlqStream, { opt_start_seq: 1, headers_only: true })).consume({ max_messages: 100 })
  let seen: { seq: number, load: string | undefined } | undefined
  // a refused pull is silent (no error, no message): the watch is given a generous minute
  const giveUp = setTimeout(() => { watch.stop() }, 60_000)
  for await (const msg of watch) {
    seen = { seq: msg.info.streamSequence, load: msg.headers?.get('Sisporta-Load') }
    break
  }
  clearTimeout(giveUp)
  watch.stop()
  t.same(seen, { seq: dead.seq, load: String(load.id) }, 'reconciler: reads the dead letters\' headers')

  const adminRegistry = await LoadRegistry.bind(admin, names)
  t.equal((await adminRegistry.find(load.id))?.load.state, 'applied', 'admin: finds a load by id')
  const jsm = await admin.jetstreamManager()
  t.equal((await jsm.streams.info(names.dlqStream)).state.messages, 1, 'admin: sees the dead letter')
  await jsm.streams.purge(names.dlqStream)
  t.equal((await jsm.streams.info(names.dlqStream)).state.messages, 0, 'admin: may purge')
})

t.test('nats permissions – the persister writes nothing but acks and dead letters', async (t) => {
  const kv = await persister.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
  await refused(t, 'persister publishes a batch', async () => await persister.jetstream().publish(names.batchSubject('products'), encode('{}')))
  await refused(t, 'persister writes load.*', async () => await kv.put('load.products.1', encode('{}')))
  await refused(t, 'persister writes open.*', async () => await kv.put('open.products.99', encode('{}')))
  await refused(t, 'persister writes seq', async () => await kv.put('seq', encode('1000000')))
  await refused(t, 'persister writes newest.*', async () => await kv.put('newest.products', encode('1')))
  await refused(t, 'persister purges the batches', async () => await (await persister.jetstreamManager()).streams.purge(names.batchStream))
  await refused(t, 'persister deletes its consumer', async () => await (await persister.jetstreamManager()).consumers.delete(names.batchStream, names.persisterConsumer))
  await refused(t, 'persister creates a consumer on the registry', async () => { for await (const key of await kv.keys()) t.comment(key) })
})

t.test('nats permissions – the gateway writes batches and the registry, and may delete nothing', async (t) => {
  const jsm = await gateway.jetstreamManager()
  await refused(t, 'gateway purges the batches', async () => await jsm.streams.purge(names.batchStream))
  await refused(t, 'gateway deletes the registry bucket', async () => await jsm.streams.delete(`KV_${names.loadsBucket}`))
  await refused(t, 'gateway deletes the persister consumer', async () => await jsm.consumers.delete(names.batchStream, names.persisterConsumer))
  await refused(t, 'gateway updates a stream', async () => await jsm.streams.update(names.batchStream, { max_msgs: 1 }))
  // it lists the registry through a consumer of its own, on the registry's stream only
  await refused(t, 'gateway creates a consumer on the batches', async () => await jsm.consumers.add(names.batchStream, { name: 'gw_reader' }))
  await refused(t, 'gateway publishes a dead letter', async () => await gateway.jetstream().publish(names.dlqSubject('products'), encode('{}')))
  await refused(t, 'gateway publishes into another namespace', async () => await gateway.jetstream().publish('other.batch.products', encode('{}')))
  const rollup = headers()
  rollup.set('Nats-Rollup', 'all')
  const err = await gateway.jetstream().publish(`$KV.${names.loadsBucket}.load.products.1`, encode('{}'), { headers: rollup }).catch((e: unknown) => e)
  t.match(err, { message: /rollup not permitted/ }, 'a rollup, which would purge the whole registry, is refused by the bucket')
  const stored = await (await admin.jetstreamManager()).streams.info(`KV_${names.loadsBucket}`)
  t.ok(stored.state.messages >= 3, 'the registry keeps seq, open and load records')
})

t.test('nats permissions – the reconciler moves loads but never opens one nor publishes a batch', async (t) => {
  const kv = await reconciler.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
  await refused(t, 'reconciler writes open.*', async () => await kv.put('open.products.77', encode('{}')))
  await refused(t, 'reconciler writes seq', async () => await kv.put('seq', encode('77')))
  await refused(t, 'reconciler writes newest.*', async () => await kv.put('newest.products', encode('77')))
  await refused(t, 'reconciler publishes a dead letter', async () => await reconciler.jetstream().publish(names.dlqSubject('products'), encode('{}')))
  await refused(t, 'reconciler deletes a dead letter', async () => await (await reconciler.jetstreamManager()).streams.deleteMessage(names.dlqStream, 1))
  await refused(t, 'reconciler purges the dead letters', async () => await (await reconciler.jetstreamManager()).streams.purge(names.dlqStream))
  await refused(t, 'reconciler publishes a batch', async () => await reconciler.jetstream().publish(names.batchSubject('products'), encode('{}')))
  await refused(t, 'reconciler deletes a stream', async () => await (await reconciler.jetstreamManager()).streams.delete(names.dlqStream))
  await refused(t, 'reconciler purges the registry', async () => await (await reconciler.jetstreamManager()).streams.purge(`KV_${names.loadsBucket}`))
})

t.test('nats permissions – an anonymous client (the extractor has no NATS identity) is refused', async (t) => {
  await t.rejects(connect({ servers: server.hostPort, reconnect: false }), { code: 'AUTHORIZATION_VIOLATION' }, 'nats.js connect without credentials')
  await t.rejects(connectBus({ url, security: NO_BUS_SECURITY, name: 'anonymous', connectTimeoutMs: 5_000 }), { code: 'SIS_BUS_AUTH', exitCode: 2 }, 'connectBus says SIS_BUS_AUTH at once')
  await t.rejects(connectBus({ url: `nats://${users.gateway}:wrong@${server.hostPort}`, security: NO_BUS_SECURITY, name: 'wrong', connectTimeoutMs: 5_000 }), { code: 'SIS_BUS_AUTH' }, 'a wrong password too')
})

t.test('nats permissions – an identity used with another namespace may not even read it', async (t) => {
  const other = busNames(`q_${randomId()}`)
  await t.rejects(provisionBus(persister, other, { maxDeliver: 5, waitMs: 0 }), { code: 'SIS_BUS_PERMISSION', exitCode: 2, message: /SISPORTA_NAMESPACE/ })
})
