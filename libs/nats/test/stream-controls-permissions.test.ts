import t, { type Test } from 'tap'
import { busNames } from '@sisporta/contracts'
import { LoadRegistry, StreamControls, controlKey, deprovisionBus, isPermissionDenied, provisionBus } from '@sisporta/nats'
import { permissionedNats, randomId } from '@sisporta/testkit'

// Stream controls under the shipped deploy/nats/sisporta-permissions.conf, on a private
// nats-server: the operator pauses, resumes, asks for a sync and lists; the gateway reads a
// stream's controls and its pending sync requests with its own rights; nobody but the operator
// may write control.<stream>.

const namespace = `c_${randomId()}`
const names = busNames(namespace)
const { as } = await permissionedNats(t, namespace)

const admin = await as('admin')
await provisionBus(admin, names, { maxDeliver: 5 })
t.teardown(async () => { await deprovisionBus(admin, names).catch(() => {}) })
const encode = (s: string): Uint8Array => new TextEncoder().encode(s)

async function refused (t: Test, what: string, op: () => Promise<unknown>): Promise<void> {
  const error = await op().then(() => undefined, (err: unknown) => err)
  t.ok(error !== undefined && isPermissionDenied(error), `${what}: refused by a permission violation`, { error: String(error) })
}

t.test('stream controls permissions – the operator writes and lists; the gateway reads controls and sync requests', async (t) => {
  const operator = await StreamControls.bind(admin, names)
  await operator.pause('products', { by: 'alice', reason: 'test' })
  await operator.requestSync('customers', { by: 'alice' })
  t.same((await operator.list()).map((c) => c.stream), ['customers', 'products'], 'operator: lists the control records')
  const gateway = await as('gateway')
  const gwControls = await StreamControls.bind(gateway, names)
  t.match(await gwControls.get('products'), { paused: true, pausedBy: 'alice' }, 'gateway: reads a stream\'s controls')
  t.same((await gwControls.syncRequestsToServe(['products', 'customers'])).map((r) => r.stream), ['customers'], 'gateway: reads the pending sync requests')
  const registry = await LoadRegistry.bind(gateway, names)
  const load = await registry.openLoad({ stream: 'customers', mode: 'full' })
  await registry.claimNewest('customers', load.id)
  t.same(await gwControls.syncRequestsToServe(['products', 'customers']), [], 'gateway: a load opened serves the request, nothing written to control.*')
  await operator.resume('products', { by: 'alice' })
  t.equal((await gwControls.get('products')).paused, false, 'operator: resumed')
})

t.test('stream controls permissions – the gateway, the persister and the reconciler may not write control.*', async (t) => {
  await (await StreamControls.bind(admin, names)).pause('products', { by: 'alice' })
  for (const role of ['gateway', 'persister', 'reconciler'] as const) {
    const nc = await as(role)
    const controls = await StreamControls.bind(nc, names)
    await refused(t, `${role} pauses a stream`, async () => await controls.pause('orders', { by: role }))
    await refused(t, `${role} resumes a stream`, async () => await controls.resume('products', { by: role }))
    const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
    await refused(t, `${role} forges a control record`, async () => await kv.put(controlKey('products'), encode('{"stream":"products","paused":false}')))
    await refused(t, `${role} deletes a control record`, async () => await kv.delete(controlKey('products')))
  }
  const operator = await StreamControls.bind(admin, names)
  t.match(await operator.get('products'), { paused: true, pausedBy: 'alice' }, 'products is still paused by the operator')
  t.equal(await (await admin.jetstream().views.kv(names.loadsBucket, { bindOnly: true })).get(controlKey('orders')), null, 'no record was written for orders')
})
