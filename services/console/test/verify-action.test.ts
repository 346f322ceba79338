import t from 'tap'
import type { VerifyReportRecord } from '@sisporta/contracts'
import { consoleEnv } from './setup.js'

// The console's "Verify" (docs/streams-control.md): a same-origin POST records the operator's
// verify request, the overview says it is pending, and once a report for it is stored (as the
// gateway does for the extractor: services/gateway/test/verify-requests.test.ts) the overview
// shows the result, first keys escaped.

const HOST = 'console.test:9104'
const SAME = { host: HOST, origin: `http://${HOST}` }

function report (requestedAt: string, over: Partial<VerifyReportRecord> = {}): VerifyReportRecord {
  return {
    stream: 'products', sourceRows: 5, targetRows: 6, ranges: 1, missing: 1, extra: 0, different: 2, reordered: 0, approximate: false,
    firstKeys: { missing: [['<script>alert(1)</script>']], extra: [], different: [['A3'], ['A4']] }, seconds: 0.5,
    requestedAt, requestedBy: 'alice', reportedAt: new Date().toISOString(), reportedBy: 'extractor-1', ...over
  }
}

t.test('console verify – the button asks the extractor daemon; the overview shows the request, then the report', async (t) => {
  const { app, controls, sign } = await consoleEnv(t)
  const cookie = `sisporta_console=${sign()}`
  const bearer = { host: HOST, authorization: `Bearer ${sign()}` }
  const overview = async (): Promise<string> => {
    const res = await app.inject({ url: '/fragments/overview', headers: bearer })
    t.equal(res.statusCode, 200)
    return res.body
  }
  t.match(await overview(), /data-url="\/api\/streams\/products\/verify"|\/api\/streams\/products\/verify/, 'a Verify button per stream')

  const cross = await app.inject({ method: 'POST', url: '/api/streams/products/verify', headers: { host: HOST, cookie } })
  t.equal(cross.statusCode, 403, 'a cookie POST without a same origin is refused (CSRF)')
  t.equal((await controls.get('products')).verifyRequestedAt, undefined, 'nothing was requested')
  t.equal((await app.inject({ method: 'POST', url: '/api/streams/nope/verify', headers: bearer })).statusCode, 404, 'a stream not in the config')

  const res = await app.inject({ method: 'POST', url: '/api/streams/products/verify', headers: { ...SAME, cookie } })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json().message, /verify of 'products' requested/)
  const control = await controls.get('products')
  t.equal(control.verifyRequestedBy, 'alice', 'the operator is the token\'s subject')
  t.same(await controls.syncRequestsToServe(['products', 'customers'], { verify: true }), [{ stream: 'products', kind: 'verify', requestedAt: control.verifyRequestedAt, requestedBy: 'alice' }], 'what the gateway hands the extractor')
  t.match(await overview(), /verify requested by alice/, 'pending on the overview')

  await controls.storeVerifyReport(report(control.verifyRequestedAt!))
  const different = await overview()
  t.notMatch(different, /verify requested/, 'answered: no longer pending')
  t.match(different, /DIFFERENT<\/span> 1 missing, 0 extra, 2 different/)
  t.match(different, /first different: <code>\[&quot;A3&quot;\] \[&quot;A4&quot;\]<\/code>/)
  t.notOk(different.includes('<script>alert'), 'a key from the source is escaped')
  t.ok(different.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'and shown')
  const state = await app.inject({ url: '/api/state', headers: bearer })
  t.match(state.json().streams.find((s: { name: string }) => s.name === 'products').control, { verifyPending: false, lastVerify: { missing: 1, different: 2 } }, '/api/state has it too')

  const again = await app.inject({ method: 'POST', url: '/api/streams/products/verify', headers: { ...SAME, cookie } })
  t.equal(again.statusCode, 200)
  const second = await controls.get('products')
  t.match(await overview(), /verify requested by alice[\s\S]*DIFFERENT/, 'a new request is pending beside the last report')
  await controls.storeVerifyReport(report(second.verifyRequestedAt!, { missing: 0, different: 0, targetRows: 5, firstKeys: { missing: [], extra: [], different: [] } }))
  const identical = await overview()
  t.match(identical, /identical<\/span> <span class="muted">verified \d+ s ago/, 'identical, with its age')
  t.notMatch(identical, /verify requested|DIFFERENT/)
})
