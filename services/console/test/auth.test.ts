import t from 'tap'
import { createTokenVerifier, resolveAuth } from '@sisporta/gateway'
import { createLogger } from '@sisporta/observability'
import { eventually } from '@sisporta/testkit'
import { consoleEnv } from './setup.js'

const HOST = 'console.test:9104'
const SAME = { host: HOST, origin: `http://${HOST}` }

t.test('console auth – no token: the API answers 401, a page sends the browser to the login page', async (t) => {
  const { app } = await consoleEnv(t)
  const api = await app.inject({ url: '/api/state', headers: { host: HOST } })
  t.equal(api.statusCode, 401)
  t.equal(api.json().code, 'SIS_CONSOLE_UNAUTHENTICATED')
  const page = await app.inject({ url: '/', headers: { host: HOST } })
  t.equal(page.statusCode, 303)
  t.equal(page.headers.location, '/login?why=required')
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200, 'health stays open')
})

t.test('console auth – an admin token opens the API; an extractor\'s stream token is refused', async (t) => {
  const { app, sign } = await consoleEnv(t)
  const ok = await app.inject({ url: '/api/state', headers: { host: HOST, authorization: `Bearer ${sign()}` } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json().streams.map((s: { name: string }) => s.name), ['products', 'customers'])
  const stream = await app.inject({ url: '/api/state', headers: { host: HOST, authorization: `Bearer ${sign({ sub: 'extractor', streams: ['*'] })}` } })
  t.equal(stream.statusCode, 403)
  t.equal(stream.json().code, 'SIS_CONSOLE_NOT_ADMIN')
  t.match(stream.json().message, /not an admin token.*token issue --admin/)
  const otherScope = await app.inject({ url: '/api/state', headers: { host: HOST, authorization: `Bearer ${sign({ sub: 'x', scope: 'sisporta:adminx read' })}` } })
  t.equal(otherScope.statusCode, 403, 'a scope is matched whole, not by prefix')
  const forged = await app.inject({ url: '/api/state', headers: { host: HOST, authorization: `Bearer ${sign().slice(0, -4)}AAAA` } })
  t.equal(forged.statusCode, 401)
  t.equal(forged.json().code, 'SIS_GW_TOKEN_INVALID')
})

t.test('console auth – the login form sets an HttpOnly, SameSite=Strict cookie that opens the pages', async (t) => {
  const { app, sign } = await consoleEnv(t)
  const login = await app.inject({ method: 'POST', url: '/login', headers: { ...SAME, 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(sign())}` })
  t.equal(login.statusCode, 303)
  t.equal(login.headers.location, '/')
  const cookie = String(login.headers['set-cookie'])
  t.match(cookie, /^sisporta_console=ey[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3[56]\d\d$/)
  t.notMatch(cookie, /Secure/, 'not Secure over plain http (port-forward)')
  const page = await app.inject({ url: '/', headers: { host: HOST, cookie: cookie.split(';')[0]! } })
  t.equal(page.statusCode, 200)
  t.match(page.body, /signed in as <b>alice<\/b>/)
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.equal(page.headers['x-frame-options'], 'DENY')
})

t.test('console auth – a stream token or an expired token at the login form says why', async (t) => {
  const { app, sign, lines } = await consoleEnv(t)
  const form = { ...SAME, 'content-type': 'application/x-www-form-urlencoded' }
  const stream = await app.inject({ method: 'POST', url: '/login', headers: form, payload: `token=${sign({ sub: 'extractor', streams: ['products'] })}` })
  t.equal(stream.statusCode, 403)
  t.equal(stream.headers['set-cookie'], undefined, 'no cookie')
  t.match(stream.body, /not an admin token/)
  const old = sign(undefined, { ttlMs: 60_000, issuedMsAgo: 3_600_000 })
  const expired = await app.inject({ method: 'POST', url: '/login', headers: form, payload: `token=${old}` })
  t.equal(expired.statusCode, 401)
  t.match(expired.body, /Your token has expired/)
  await eventually(() => lines.find((l) => l.code === 'SIS_GW_TOKEN_EXPIRED' && l.level === 'warn'), { what: 'the refusal logged at warn' })
  t.notOk(JSON.stringify(lines).includes(old.split('.')[2]!), 'no token in the logs')
})

t.test('console auth – an expired session cookie sends the browser back to the login page with a message', async (t) => {
  const { app, sign } = await consoleEnv(t)
  const old = sign(undefined, { ttlMs: 60_000, issuedMsAgo: 3_600_000 })
  const page = await app.inject({ url: '/loads', headers: { host: HOST, cookie: `sisporta_console=${old}` } })
  t.equal(page.statusCode, 303)
  t.equal(page.headers.location, '/login?why=expired')
  t.match(String(page.headers['set-cookie']), /Max-Age=0/, 'the stale cookie is removed')
  const login = await app.inject({ url: '/login?why=expired', headers: { host: HOST } })
  t.match(login.body, /Your token has expired/)
  const api = await app.inject({ url: '/fragments/overview', headers: { host: HOST, cookie: `sisporta_console=${old}` } })
  t.equal(api.statusCode, 401, 'the live updates get a 401 (the page script goes to the login page)')
  t.equal(api.json().code, 'SIS_GW_TOKEN_EXPIRED')
  const odd = await app.inject({ url: '/login?why=%3Cscript%3E', headers: { host: HOST } })
  t.notMatch(odd.body, /<script>/, 'the reason is never echoed from the URL')
})

t.test('console auth – CSRF: a cookie-signed POST must come from the console\'s own origin', async (t) => {
  const { app, sign, controls } = await consoleEnv(t)
  const cookie = `sisporta_console=${sign()}`
  const none = await app.inject({ method: 'POST', url: '/api/streams/products/pause', headers: { host: HOST, cookie } })
  t.equal(none.statusCode, 403)
  t.equal(none.json().code, 'SIS_CONSOLE_CROSS_ORIGIN')
  const evil = await app.inject({ method: 'POST', url: '/api/streams/products/pause', headers: { host: HOST, cookie, origin: 'https://evil.example' } })
  t.equal(evil.statusCode, 403)
  const evilReferer = await app.inject({ method: 'POST', url: '/api/streams/products/pause', headers: { host: HOST, cookie, referer: 'http://console.test.evil.example:9104/' } })
  t.equal(evilReferer.statusCode, 403)
  t.equal((await controls.get('products')).paused, false, 'nothing was paused')
  const same = await app.inject({ method: 'POST', url: '/api/streams/products/pause', headers: { ...SAME, cookie } })
  t.equal(same.statusCode, 200, same.body)
  t.equal((await controls.get('products')).paused, true)
  t.equal((await controls.get('products')).pausedBy, 'alice', 'the operator is the token\'s subject')
  const login = await app.inject({ method: 'POST', url: '/login', headers: { host: HOST, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${sign()}` })
  t.equal(login.statusCode, 403, 'no login CSRF either')
  const bearer = await app.inject({ method: 'POST', url: '/api/streams/products/resume', headers: { host: HOST, authorization: `Bearer ${sign()}` } })
  t.equal(bearer.statusCode, 200, 'a bearer header is never sent by a browser on its own: no Origin needed')
  t.equal((await controls.get('products')).paused, false)
})

t.test('console auth – an admin token without streams is refused by the gateway\'s ingestion check', async (t) => {
  const { sign, secret } = await consoleEnv(t)
  const gateway = createTokenVerifier(resolveAuth({ secret }), createLogger({ service: 'gateway', level: 'silent' }))
  await t.rejects(gateway(sign()), { code: 'SIS_GW_TOKEN_CLAIMS', message: /streams/ })
  const both = await gateway(sign({ sub: 'ops', scope: 'sisporta:admin', streams: ['products'] }))
  t.same(both.streams, ['products'], 'with streams it loads those streams, as any token')
})
