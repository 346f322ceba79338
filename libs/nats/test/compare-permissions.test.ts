import t, { type Test } from 'tap'
import type { NatsConnection } from 'nats'
import { busNames } from '@sisporta/contracts'
import { LoadRegistry, deprovisionBus, isPermissionDenied, provisionBus } from '@sisporta/nats'
import { permissionedNats, randomId } from '@sisporta/testkit'

// Diffed reloads under the shipped deploy/nats/sisporta-permissions.conf, on a private
// nats-server: the gateway lists a stream's loads (whether a full load may be diffed) and asks
// for a range comparison as a core NATS request on <ns>.compare.<stream>; a persister answers it
// from the queue group <ns>_comparers through allow_responses. Nobody else may ask, nobody may
// listen outside the queue group, and answering opens no other subject to the persister.

const namespace = `k_${randomId()}`
const names = busNames(namespace)
const { as } = await permissionedNats(t, namespace)

const admin = await as('admin')
await provisionBus(admin, names, { maxDeliver: 5 })
t.teardown(async () => { await deprovisionBus(admin, names).catch(() => {}) })
const gateway = await as('gateway')
const persister = await as('persister')
const reconciler = await as('reconciler')
const encode = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Refused by a permission violation, as an error and at once (not a timeout). */
async function refused (t: Test, what: string, op: () => Promise<unknown>): Promise<void> {
  const error = await op().then(() => undefined, (err: unknown) => err)
  t.ok(error !== undefined && isPermissionDenied(error), `${what}: refused by a permission violation`, { error: String(error) })
}

/**
 * Subscribes and tells whether the server refused it: the server answers a SUB before the PING
 * of the flush that follows, so once the flush is back, a refusal has reached the callback.
 * The subscription is kept when accepted (the caller unsubscribes).
 */
async function subscribe (nc: NatsConnection, subject: string, queue?: string, onMessage?: (data: Uint8Array, respond: (data: Uint8Array) => boolean) => void): Promise<{ error: unknown, unsubscribe: () => void }> {
  let error: unknown
  const sub = nc.subscribe(subject, {
    ...(queue === undefined ? {} : { queue }),
    callback: (err, msg) => {
      if (err !== null) error = err
      else onMessage?.(msg.data, (data) => msg.respond(data))
    }
  })
  await nc.flush()
  return { error, unsubscribe: () => { sub.unsubscribe() } }
}

t.test('compare permissions – the gateway lists a stream\'s loads (diff eligibility, GET /v1/streams/:stream)', async (t) => {
  const registry = await LoadRegistry.bind(gateway, names)
  const load = await registry.openLoad({ stream: 'products', mode: 'full', openedBy: 'test' })
  await registry.claimNewest('products', load.id)
  t.same((await registry.list({ stream: 'products' })).map((l) => [l.id, l.state]), [[load.id, 'open']], 'gateway: lists the stream\'s loads')
  t.same((await registry.list({ states: ['open'] })).map((l) => l.id), [load.id], 'gateway: lists every stream\'s loads')
})

t.test('compare permissions – the gateway asks, one persister of the queue group answers', async (t) => {
  const asked: string[] = []
  const replica = await subscribe(persister, names.compareSubjects, names.compareQueue, (data, respond) => {
    asked.push(decode(data))
    respond(encode(JSON.stringify({ ok: { send: [0], targetRows: 0, unmatched: 0, unmatchedKeys: [], marked: 0 } })))
  })
  t.teardown(replica.unsubscribe)
  t.equal(replica.error, undefined, 'persister: subscribes to the compare subjects in its queue group')
  // the request ceiling is generous: a refused answer would end here as a timeout, not a hang
  const reply = await gateway.request(names.compareSubject('products'), encode('{"lo":null,"hi":null,"hashes":""}'), { timeout: 30_000 })
  t.same(JSON.parse(decode(reply.data)), { ok: { send: [0], targetRows: 0, unmatched: 0, unmatchedKeys: [], marked: 0 } }, 'gateway: the persister\'s answer came back')
  t.same(asked, ['{"lo":null,"hi":null,"hashes":""}'], 'persister: got the request once')
})

t.test('compare permissions – only the gateway asks for comparisons', async (t) => {
  // a responder, so that a request allowed would be answered rather than fail for want of one
  const replica = await subscribe(persister, names.compareSubjects, names.compareQueue, (_data, respond) => { respond(encode('{}')) })
  t.teardown(replica.unsubscribe)
  for (const [role, nc] of [['reconciler', reconciler], ['persister', persister], ['admin', admin]] as const) {
    await refused(t, `${role} asks for a comparison`, async () => await nc.request(names.compareSubject('products'), encode('{}'), { timeout: 30_000 }))
  }
})

t.test('compare permissions – nobody listens to comparisons outside the persisters\' queue group', async (t) => {
  for (const [role, nc] of [['reconciler', reconciler], ['gateway', gateway], ['admin', admin]] as const) {
    const plain = await subscribe(nc, names.compareSubjects)
    t.ok(isPermissionDenied(plain.error), `${role} subscribes to the compare subjects: refused`, { error: String(plain.error) })
    const queued = await subscribe(nc, names.compareSubjects, names.compareQueue)
    t.ok(isPermissionDenied(queued.error), `${role} joins the comparers' queue group: refused`, { error: String(queued.error) })
  }
  // a plain subscription would see every comparison, whichever replica answers it
  const plain = await subscribe(persister, names.compareSubjects)
  t.ok(isPermissionDenied(plain.error), 'persister subscribes outside the queue group: refused', { error: String(plain.error) })
  const otherQueue = await subscribe(persister, names.compareSubject('products'), 'eavesdroppers')
  t.ok(isPermissionDenied(otherQueue.error), 'persister subscribes in another queue group: refused', { error: String(otherQueue.error) })
})

t.test('compare permissions – answering opens no inbox to the persister: it replies only to what it was asked', async (t) => {
  await refused(t, 'persister publishes on an inbox it was not asked from', async () => await persister.request(`_INBOX.${randomId()}.forged`, encode('{}'), { timeout: 30_000 }))
  await refused(t, 'persister publishes a batch', async () => await persister.request(names.batchSubject('products'), encode('{}'), { timeout: 30_000 }))
})
