import t, { type Test } from 'tap'
import type { SyncRequestsReply, VerifyReportBody, VerifyReportRecord } from '@sisporta/contracts'
import { StreamControls, verifyReportKey } from '@sisporta/nats'
import { errorOf, startGateway, type Gateway } from './fixture.js'

// "Verify now" through the gateway (docs/streams-control.md): an operator's verify request is
// listed to an extractor that asks for it (`?include=verify`), the extractor posts its report,
// the gateway stores it under verify.<stream> and the request is no longer pending.

async function requests (t: Test, gw: Gateway, query = '?include=verify', streams?: string[]): Promise<SyncRequestsReply['requests']> {
  const res = await gw.app.inject({ url: `/v1/sync-requests${query}`, headers: gw.auth(streams) })
  t.equal(res.statusCode, 200, `GET /v1/sync-requests${query}: 200 (${res.body})`)
  return (res.json() as SyncRequestsReply).requests
}

function report (requestedAt: string, over: Partial<VerifyReportBody> = {}): VerifyReportBody {
  return {
    stream: 'products', sourceRows: 3, targetRows: 3, ranges: 1, missing: 1, extra: 0, different: 1, reordered: 0, approximate: false,
    firstKeys: { missing: [['A2']], extra: [], different: [['<b>A3</b>']] }, seconds: 0.25, requestedAt, requestedBy: 'alice', ...over
  }
}

async function postReport (gw: Gateway, body: unknown, stream = 'products', streams?: string[]) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${stream}/verify-reports`, headers: gw.auth(streams), payload: body as Record<string, unknown> })
}

t.test('verify requests – listed with kind verify, answered by a report that is stored, then no longer pending', async (t) => {
  const gw = await startGateway(t)
  const controls = await StreamControls.bind(gw.nc, gw.names)
  const { control } = await controls.requestVerify('products', { by: 'alice' })
  const at = control.verifyRequestedAt!
  await controls.requestSync('customers', { by: 'bob' })
  t.same(await requests(t, gw), [
    { stream: 'products', kind: 'verify', requestedAt: at, requestedBy: 'alice' },
    { stream: 'customers', kind: 'load', requestedAt: (await controls.get('customers')).syncRequestedAt, requestedBy: 'bob' }
  ], 'the verify request with kind verify, the sync request with kind load')
  t.same(await requests(t, gw, ''), [{ stream: 'customers', requestedAt: (await controls.get('customers')).syncRequestedAt, requestedBy: 'bob' }],
    'a client that does not ask for verify requests (an older extractor) sees loads only, without kind')
  t.same(await requests(t, gw, '?include=verify', ['customers']), [{ stream: 'customers', kind: 'load', requestedAt: (await controls.get('customers')).syncRequestedAt, requestedBy: 'bob' }], 'only the token\'s streams')
  await controls.pause('products', { by: 'olga' })
  t.same((await requests(t, gw)).map((r) => r.stream), ['customers'], 'a paused stream\'s verify request waits')
  await controls.resume('products', { by: 'olga' })

  const res = await postReport(gw, report(at))
  t.equal(res.statusCode, 201, `the report is taken (${res.body})`)
  const stored = await controls.verifyReport('products')
  t.match(stored, { ...report(at), reportedBy: 'test-extractor', reportedAt: String }, 'stored under verify.products, with the token\'s subject')
  t.same((res.json() as { report: VerifyReportRecord }).report, stored, 'the reply is the stored record')
  t.equal(await controls.pendingVerify('products'), undefined, 'the request is no longer pending')
  t.same((await requests(t, gw)).map((r) => r.stream), ['customers'], 'and no longer listed')
  t.ok(gw.logs.some((l) => l.msg === 'verify report stored' && l.stream === 'products'), 'logged')

  errorOf(t, await postReport(gw, report(at, { missing: 0 })), 409, 'SIS_GW_VERIFY_NOT_PENDING')
  t.equal((await controls.verifyReport('products'))?.missing, 1, 'a second report for an answered request is refused: the first stays')
  const again = await controls.requestVerify('products', { by: 'alice' })
  t.same((await requests(t, gw)).map((r) => `${r.kind} ${r.stream}`), ['verify products', 'load customers'], 'a new request is pending again')
  errorOf(t, await postReport(gw, report(at)), 409, 'SIS_GW_VERIFY_NOT_PENDING')
  t.equal((await postReport(gw, report(again.control.verifyRequestedAt!, { missing: 0, different: 0 }))).statusCode, 201, 'the report of the newer request is taken')
})

t.test('verify reports – refused without a pending request (409), malformed (400), for a stream outside the token (403)', async (t) => {
  const gw = await startGateway(t)
  const controls = await StreamControls.bind(gw.nc, gw.names)
  const none = errorOf(t, await postReport(gw, report('2026-12-02T10:00:00.000Z')), 409, 'SIS_GW_VERIFY_NOT_PENDING')
  t.match(none.message, /stream 'products'.*no pending verify request/)
  const { control } = await controls.requestVerify('products', { by: 'alice' })
  const at = control.verifyRequestedAt!
  const other = errorOf(t, await postReport(gw, report('2026-12-02T10:00:00.000Z')), 409, 'SIS_GW_VERIFY_NOT_PENDING')
  t.match(other.message, `its pending verify request is of ${at}`, 'another requestedAt: refused, naming the pending one')
  errorOf(t, await postReport(gw, { ...report(at), missing: -1 }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await postReport(gw, { ...report(at), surprise: 1 }), 400, 'SIS_GW_INVALID_REQUEST')
  const { seconds: _s, ...noSeconds } = report(at)
  errorOf(t, await postReport(gw, noSeconds), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await postReport(gw, report(at, { stream: 'customers' })), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await postReport(gw, report(at), 'products', ['customers']), 403, 'SIS_GW_STREAM_FORBIDDEN')
  errorOf(t, await gw.app.inject({ method: 'POST', url: '/v1/streams/products/verify-reports', payload: report(at) }), 401, 'SIS_GW_TOKEN_MISSING')
  errorOf(t, await gw.app.inject({ url: '/v1/sync-requests?include=loads', headers: gw.auth() }), 400, 'SIS_GW_INVALID_REQUEST')
  const kv = await gw.nc.jetstream().views.kv(gw.names.loadsBucket, { bindOnly: true })
  t.equal(await kv.get(verifyReportKey('products')), null, 'nothing was stored')
  t.ok(await controls.pendingVerify('products'), 'the request is still pending')
})
