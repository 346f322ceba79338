import t, { type Test } from 'tap'
import { busNames, type VerifyReportRecord } from '@sisporta/contracts'
import { StreamControls, deprovisionBus, isPermissionDenied, provisionBus, verifyReportKey } from '@sisporta/nats'
import { permissionedNats, randomId } from '@sisporta/testkit'

// Verify requests and reports under the shipped deploy/nats/sisporta-permissions.conf, on a
// private nats-server: the operator asks (control.<stream>); the gateway, with its own rights,
// lists the request and stores the extractor's report (verify.<stream>); the operator reads it.
// The persister and the reconciler may not write a report.

const namespace = `v_${randomId()}`
const names = busNames(namespace)
const { as } = await permissionedNats(t, namespace)

const admin = await as('admin')
await provisionBus(admin, names, { maxDeliver: 5 })
t.teardown(async () => { await deprovisionBus(admin, names).catch(() => {}) })

async function refused (t: Test, what: string, op: () => Promise<unknown>): Promise<void> {
  const error = await op().then(() => undefined, (err: unknown) => err)
  t.ok(error !== undefined && isPermissionDenied(error), `${what}: refused by a permission violation`, { error: String(error) })
}

function report (requestedAt: string): VerifyReportRecord {
  return {
    stream: 'products', sourceRows: 2, targetRows: 2, ranges: 1, missing: 0, extra: 0, different: 0, reordered: 0, approximate: false,
    firstKeys: { missing: [], extra: [], different: [] }, seconds: 0.1, requestedAt, requestedBy: 'alice', reportedAt: new Date().toISOString(), reportedBy: 'extractor'
  }
}

t.test('verify permissions – the operator asks, the gateway lists the request and stores the report, the operator reads it', async (t) => {
  const operator = await StreamControls.bind(admin, names)
  const { control } = await operator.requestVerify('products', { by: 'alice' })
  const gateway = await StreamControls.bind(await as('gateway'), names)
  t.same(await gateway.syncRequestsToServe(['products', 'customers'], { verify: true }), [{ stream: 'products', kind: 'verify', requestedAt: control.verifyRequestedAt, requestedBy: 'alice' }], 'gateway: lists the pending verify request')
  await gateway.storeVerifyReport(report(control.verifyRequestedAt!))
  t.equal(await gateway.pendingVerify('products'), undefined, 'gateway: the stored report ends the request')
  t.match(await operator.verifyReport('products'), { requestedBy: 'alice', missing: 0 }, 'operator: reads the report')
  await refused(t, 'gateway asks for a verify (control.*)', async () => await gateway.requestVerify('customers', { by: 'gateway' }))
})

t.test('verify permissions – the persister and the reconciler may not write a verify report', async (t) => {
  for (const role of ['persister', 'reconciler'] as const) {
    const nc = await as(role)
    const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
    await refused(t, `${role} forges a verify report`, async () => await kv.put(verifyReportKey('customers'), new TextEncoder().encode(JSON.stringify({ ...report('2026-12-02T10:00:00.000Z'), stream: 'customers' }))))
  }
  t.equal(await (await admin.jetstream().views.kv(names.loadsBucket, { bindOnly: true })).get(verifyReportKey('customers')), null, 'nothing was written')
})
