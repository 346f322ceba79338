import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createSigner } from 'fast-jwt'
import { readSettings } from '@sisporta/config'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { testBus } from '@sisporta/testkit'
import { authFromSettings, buildGatewayApp, runGateway } from '../src/index.js'
import { CONFIG, SECRET, errorOf, startGateway } from './fixture.js'

const OPEN = { method: 'POST' as const, url: '/v1/streams/products/loads', payload: { mode: 'full' } }

t.test('auth – a missing, malformed, forged or expired token is 401 with the reason', async (t) => {
  const gw = await startGateway(t)
  t.match(errorOf(t, await gw.app.inject(OPEN), 401, 'SIS_GW_TOKEN_MISSING').message, /Bearer/)
  errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401, 'SIS_GW_TOKEN_MISSING')
  errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: 'Bearer' } }), 401, 'SIS_GW_TOKEN_MISSING')
  errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: 'Bearer not.a.jwt' } }), 401, 'SIS_GW_TOKEN_INVALID')
  const forged = createSigner({ key: 'another-secret-another-secret-another', algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'x', streams: ['*'] })
  t.match(errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${forged}` } }), 401, 'SIS_GW_TOKEN_INVALID').message, /signature/)
  const unsigned = createSigner({ algorithm: 'none', expiresIn: 60_000 })({ sub: 'x', streams: ['*'] })
  errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${unsigned}` } }), 401, 'SIS_GW_TOKEN_INVALID')
  const expired = gw.auth(['*'], { exp: Math.floor(Date.now() / 1000) - 3600 })
  t.match(errorOf(t, await gw.app.inject({ ...OPEN, headers: expired }), 401, 'SIS_GW_TOKEN_EXPIRED').message, /expired/)
  const notYet = gw.auth(['*'], { nbf: Math.floor(Date.now() / 1000) + 3600 })
  errorOf(t, await gw.app.inject({ ...OPEN, headers: notYet }), 401, 'SIS_GW_TOKEN_NOT_YET_VALID')
  const noStreams = `Bearer ${createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'x' })}`
  t.match(errorOf(t, await gw.app.inject({ ...OPEN, headers: { authorization: noStreams } }), 401, 'SIS_GW_TOKEN_CLAIMS').message, /streams/)
  const emptyStreams = gw.auth([])
  errorOf(t, await gw.app.inject({ ...OPEN, headers: emptyStreams }), 401, 'SIS_GW_TOKEN_CLAIMS')
  const res = await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads/1/batches/0', headers: { 'content-type': 'application/json' }, payload: '{"columns":["sku"],"rows":[["A"]]}' })
  errorOf(t, res, 401, 'SIS_GW_TOKEN_MISSING')
  t.equal(await gw.messageCount(), 0)
  t.notOk(gw.logs.some((l) => JSON.stringify(l).includes(SECRET)), 'the secret is never logged')
})

t.test('auth – a token for other streams is 403; `*` covers every stream; an unknown stream is 404', async (t) => {
  const gw = await startGateway(t)
  const forbidden = errorOf(t, await gw.app.inject({ ...OPEN, headers: gw.auth(['customers']) }), 403, 'SIS_GW_STREAM_FORBIDDEN')
  t.match(forbidden.message, /'products'/)
  const load = await gw.openLoad('products')
  const batch = await gw.postBatch(load, 0, { columns: ['sku'], rows: [['A']] }, gw.auth(['customers']))
  errorOf(t, batch, 403, 'SIS_GW_STREAM_FORBIDDEN')
  errorOf(t, await gw.app.inject({ url: `/v1/streams/products/loads/${load.id}`, headers: gw.auth(['customers']) }), 403, 'SIS_GW_STREAM_FORBIDDEN')
  t.equal((await gw.app.inject({ ...OPEN, headers: gw.auth(['customers', 'products']) })).statusCode, 201)
  t.equal((await gw.app.inject({ ...OPEN, headers: gw.auth(['*']) })).statusCode, 201)
  errorOf(t, await gw.app.inject({ ...OPEN, url: '/v1/streams/suppliers/loads', headers: gw.auth(['*']) }), 404, 'SIS_GW_STREAM_UNKNOWN')
  errorOf(t, await gw.app.inject({ ...OPEN, url: '/v1/streams/Bad-Name/loads', headers: gw.auth(['*']) }), 404, 'SIS_GW_STREAM_UNKNOWN')
  t.equal(await gw.messageCount(), 0)
})

t.test('auth – health, readiness and metrics need no token', async (t) => {
  const gw = await startGateway(t)
  const health = await gw.app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await gw.app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
  const metrics = await gw.app.inject({ url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, /sisporta_gateway_publishes_in_flight/)
})

t.test('auth – RS256 and ES256 tokens verify against a public key (PEM content or file); the key is never an HMAC secret', async (t) => {
  const { nc, names } = await testBus(t)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const dir = mkdtempSync(join(tmpdir(), 'sisporta-gw-'))
  const pubFile = join(dir, 'jwt.pub')
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  writeFileSync(pubFile, publicPem)
  const auth = authFromSettings({ jwtSecret: undefined, jwtPublicKey: pubFile })
  t.equal(auth.publicKey, publicPem, 'read from the file')
  const app = await buildGatewayApp({ config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway'), auth })
  t.teardown(async () => { await app.close() })
  const rs = createSigner({ key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', expiresIn: 60_000 })({ sub: 'erp', streams: ['products'] })
  t.equal((await app.inject({ ...OPEN, headers: { authorization: `Bearer ${rs}` } })).statusCode, 201)
  // Algorithm confusion: an HS256 token "signed" with the public key as secret.
  const confused = createSigner({ key: publicPem, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'erp', streams: ['*'] })
  errorOf(t, await app.inject({ ...OPEN, headers: { authorization: `Bearer ${confused}` } }), 401, 'SIS_GW_TOKEN_INVALID')

  // Both a secret and an EC public key (given as one-line PEM content with literal \n).
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const both = await buildGatewayApp({
    config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway'),
    auth: authFromSettings({ jwtSecret: SECRET, jwtPublicKey: ecPem.trim().replaceAll('\n', '\\n') })
  })
  t.teardown(async () => { await both.close() })
  const es = createSigner({ key: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', expiresIn: 60_000 })({ sub: 'erp', streams: ['*'] })
  const hs = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'erp', streams: ['*'] })
  t.equal((await both.inject({ ...OPEN, headers: { authorization: `Bearer ${es}` } })).statusCode, 201, 'ES256 with the public key')
  t.equal((await both.inject({ ...OPEN, headers: { authorization: `Bearer ${hs}` } })).statusCode, 201, 'HS256 with the secret')
  const ecConfused = createSigner({ key: ecPem, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'erp', streams: ['*'] })
  errorOf(t, await both.inject({ ...OPEN, headers: { authorization: `Bearer ${ecConfused}` } }), 401, 'SIS_GW_TOKEN_INVALID')
})

t.test('auth – the gateway refuses to start without a key, or with an unusable one', async (t) => {
  const { nc, names } = await testBus(t)
  const base = { config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway') }
  await t.rejects(buildGatewayApp({ ...base, auth: {} }), { code: 'SIS_GW_AUTH_NOT_CONFIGURED', exitCode: 2 })
  await t.rejects(buildGatewayApp({ ...base, auth: { secret: '  ' } }), { code: 'SIS_GW_AUTH_NOT_CONFIGURED' })
  await t.rejects(buildGatewayApp({ ...base, auth: { publicKey: '-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n' } }), { code: 'SIS_GW_JWT_KEY' })
  t.throws(() => authFromSettings({ jwtSecret: undefined, jwtPublicKey: '/nonexistent/jwt.pub' }), { code: 'SIS_GW_JWT_KEY' })
  // runGateway checks before connecting anywhere: an unreachable NATS is never tried.
  const settings = readSettings({ SISPORTA_NATS_URL: 'nats://127.0.0.1:1' })
  await t.rejects(runGateway(settings, CONFIG, createLogger({ service: 'gateway', level: 'silent' })), { code: 'SIS_GW_AUTH_NOT_CONFIGURED', message: /SISPORTA_JWT_SECRET/ })
  await t.rejects(runGateway(readSettings({ SISPORTA_NATS_URL: 'nats://127.0.0.1:1', SISPORTA_JWT_SECRET: SECRET }), CONFIG, createLogger({ service: 'gateway', level: 'silent' }), { tls: { cert: '/nonexistent.pem', key: '/nonexistent.key' } }), { code: 'SIS_GW_TLS' })
})
