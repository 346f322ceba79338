import { createHmac, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { createSigner } from 'fast-jwt'
import { parseConfig, readSettings } from '@sisporta/config'
import type { ErrorReply } from '@sisporta/contracts'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { eventually, testBus } from '@sisporta/testkit'
import { authFromSettings, buildGatewayApp, runGateway, type GatewayAuthOptions } from '../src/index.js'
import { CONFIG, SECRET, errorOf, startGateway, type Gateway } from './fixture.js'

const ISS = 'sisporta-test-issuer'
const AUD = 'sisporta-test-gateway'
const MAX_TTL = 86400
const OPEN = { method: 'POST' as const, url: '/v1/streams/products/loads', payload: { mode: 'full' } }

/** Key pairs and secrets of the test, with their JWKs. */
function keyPair (type: 'rsa' | 'ec' | 'ed25519'): { privatePem: string, publicPem: string, jwk: Record<string, unknown> } {
  const pair = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: (pair.publicKey as KeyObject).export({ format: 'jwk' }) as Record<string, unknown>
  }
}

const RSA = keyPair('rsa')
const RSA_NEW = keyPair('rsa')
const EC = keyPair('ec')
const ED = keyPair('ed25519')
const OCT = randomBytes(32)
const OCT_K = OCT.toString('base64url')

const JWKS = {
  keys: [
    { ...RSA.jwk, kid: 'rsa-1', use: 'sig' },
    { ...RSA.jwk, kid: 'rsa-rs256', alg: 'RS256' },
    { ...EC.jwk, kid: 'ec-1', alg: 'ES256' },
    { ...ED.jwk, kid: 'ed-1' },
    { kty: 'oct', kid: 'hs-1', k: OCT_K, alg: 'HS256' }
  ]
}

/** Everything no reply and no log line may ever contain. */
const SECRETS = [SECRET, OCT_K, OCT.toString('base64'), ...[RSA, RSA_NEW, EC, ED].map((k) => pemBody(k.privatePem))]

function pemBody (pem: string): string {
  return pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('').slice(0, 60)
}

function writeJwks (file: string, jwks: { keys: unknown[] }): void {
  // As Kubernetes does: a new file moved into place, never a half-written one.
  writeFileSync(`${file}.tmp`, JSON.stringify(jwks))
  renameSync(`${file}.tmp`, file)
}

function jwksFile (jwks: { keys: unknown[] }): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sisporta-jwks-')), 'jwks.json')
  writeJwks(file, jwks)
  return file
}

const now = (): number => Math.floor(Date.now() / 1000)

/** Claims a sisporta token carries; a test removes or changes one at a time. */
function claims (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: 'erp-1', streams: ['*'], iss: ISS, aud: AUD, iat: now(), exp: now() + 600, ...extra }
}

interface Signing { key?: string | Buffer, alg: string, kid?: string }

/** A token exactly as given (fast-jwt adds `iat` unless `iat` is `undefined`, then none). */
function jwt (signing: Signing, payload: Record<string, unknown>): string {
  const noIat = 'iat' in payload && payload.iat === undefined
  return createSigner({
    ...(signing.key !== undefined ? { key: signing.key } : {}),
    algorithm: signing.alg as 'HS256',
    ...(signing.kid !== undefined ? { kid: signing.kid } : {}),
    ...(noIat ? { noTimestamp: true } : {})
  })(payload)
}

const HS: Signing = { key: SECRET, alg: 'HS256' }

/** An HS256 token with claims fast-jwt's signer would refuse to write (a string `exp`…). */
function rawHs256 (payload: Record<string, unknown>): string {
  const input = [{ alg: 'HS256', typ: 'JWT' }, payload].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.')
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
}

interface Seen { tokens: string[], replies: string[] }
interface Probe { method: 'GET' | 'POST', url: string, payload?: object }

/**
 * Sends the token to open a load, records reply and token for the leak check, and returns the
 * reply. `expect` is the success status, or [status, code, reason].
 */
function prober (t: Test, gw: Gateway, seen: Seen) {
  return async (token: string, expect: number | [number, string, RegExp], request: Probe = OPEN): Promise<LightMyRequestResponse> => {
    seen.tokens.push(token)
    const res = await gw.app.inject({ ...request, headers: { authorization: `Bearer ${token}` } })
    seen.replies.push(res.body)
    if (typeof expect === 'number') {
      t.equal(res.statusCode, expect, `accepted (${res.body.slice(0, 200)})`)
    } else {
      const body = errorOf(t, res, expect[0], expect[1])
      t.match(body.message, expect[2], `${expect[1]}: the reason is given (${body.message})`)
    }
    return res
  }
}

/** No reply and no log line holds a token (or its signature) or any secret. */
function assertNothingLeaks (t: Test, gw: Gateway, seen: Seen): void {
  const logs = gw.logs.map((l) => JSON.stringify(l))
  const outputs = [...seen.replies, ...logs]
  const leaks = [
    ...seen.tokens.flatMap((tok) => [tok, tok.slice(tok.lastIndexOf('.') + 1)].filter((s) => s.length > 8)),
    ...SECRETS
  ].filter((s) => outputs.some((o) => o.includes(s)))
  t.same(leaks, [], `no token, signature or secret in ${seen.replies.length} replies and ${logs.length} log lines`)
}

async function matrixGateway (t: Test, extra: Partial<GatewayAuthOptions> = {}, config = CONFIG): Promise<{ gw: Gateway, file: string }> {
  const file = jwksFile(JWKS)
  const gw = await startGateway(t, {
    config,
    auth: { secret: SECRET, jwksFile: file, issuer: ISS, audience: AUD, maxTtlSec: MAX_TTL, jwksCheckIntervalMs: 50, ...extra }
  })
  return { gw, file }
}

t.test('jwt – every key type of the JWKS (by kid) and the secret (without kid) verify a well-formed token', async (t) => {
  const { gw } = await matrixGateway(t)
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  await probe(jwt(HS, claims()), 201)
  await probe(jwt({ key: RSA.privatePem, alg: 'RS256', kid: 'rsa-1' }, claims()), 201)
  await probe(jwt({ key: RSA.privatePem, alg: 'PS384', kid: 'rsa-1' }, claims()), 201)
  await probe(jwt({ key: RSA.privatePem, alg: 'RS256', kid: 'rsa-rs256' }, claims()), 201)
  await probe(jwt({ key: EC.privatePem, alg: 'ES256', kid: 'ec-1' }, claims()), 201)
  await probe(jwt({ key: ED.privatePem, alg: 'EdDSA', kid: 'ed-1' }, claims()), 201)
  await probe(jwt({ key: OCT, alg: 'HS256', kid: 'hs-1' }, claims()), 201)
  await probe(jwt(HS, claims({ aud: ['someone-else', AUD] })), 201)
  // Exactly the longest lifetime, and an iat a few seconds ahead (within the clock tolerance).
  await probe(jwt(HS, claims({ iat: now(), exp: now() + MAX_TTL })), 201)
  await probe(jwt(HS, claims({ iat: now() + 10, exp: now() + 600 })), 201)
  assertNothingLeaks(t, gw, seen)
})

t.test('jwt – the RFC 8725 matrix: each bad token is a 401 with its own code and reason, and nothing is opened', async (t) => {
  const { gw } = await matrixGateway(t)
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  const iso = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/.source

  await probe(jwt(HS, claims({ exp: undefined })), [401, 'SIS_GW_TOKEN_CLAIMS', /no exp claim/])
  await probe(jwt(HS, claims({ iat: undefined })), [401, 'SIS_GW_TOKEN_CLAIMS', /no iat claim/])
  await probe(rawHs256(claims({ exp: 'tomorrow' })), [401, 'SIS_GW_TOKEN_CLAIMS', /exp claim must be a number/])
  await probe(rawHs256(claims({ iat: '2024' })), [401, 'SIS_GW_TOKEN_CLAIMS', /iat claim must be a number/])
  await probe(jwt(HS, claims({ iat: now() - 7200, exp: now() - 3600 })), [401, 'SIS_GW_TOKEN_EXPIRED', new RegExp(`expired at ${iso} \\(server time ${iso}\\)`)])
  await probe(jwt(HS, claims({ nbf: now() + 3600 })), [401, 'SIS_GW_TOKEN_NOT_YET_VALID', new RegExp(`not valid before ${iso} \\(server time ${iso}\\)`)])
  await probe(jwt(HS, claims({ iat: now() + 3600, exp: now() + 7200 })), [401, 'SIS_GW_TOKEN_NOT_YET_VALID', new RegExp(`issued in the future: iat ${iso}`)])
  await probe(jwt(HS, claims({ iss: 'someone-else' })), [401, 'SIS_GW_TOKEN_ISSUER', new RegExp(`wrong issuer: expected '${ISS}', the token has 'someone-else'`)])
  await probe(jwt(HS, claims({ iss: undefined })), [401, 'SIS_GW_TOKEN_ISSUER', /wrong issuer: .* the token has none/])
  await probe(jwt(HS, claims({ aud: 'someone-else' })), [401, 'SIS_GW_TOKEN_AUDIENCE', new RegExp(`wrong audience: expected '${AUD}', the token has 'someone-else'`)])
  await probe(jwt(HS, claims({ aud: ['a', 'b'] })), [401, 'SIS_GW_TOKEN_AUDIENCE', /wrong audience/])
  await probe(jwt(HS, claims({ aud: undefined })), [401, 'SIS_GW_TOKEN_AUDIENCE', /wrong audience: .* the token has none/])
  await probe(jwt(HS, claims({ iat: now(), exp: now() + MAX_TTL + 60 })), [401, 'SIS_GW_TOKEN_LIFETIME', new RegExp(`lifetime ${MAX_TTL + 60} s .* exceeds SISPORTA_JWT_MAX_TTL \\(${MAX_TTL} s\\)`)])
  await probe(jwt({ alg: 'none' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /algorithm 'none' not allowed/])
  await probe(jwt({ alg: 'none', kid: 'hs-1' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /algorithm 'none' not allowed/])
  await probe(jwt({ key: 'another-secret-another-secret-another', alg: 'HS256' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /signature does not verify with SISPORTA_JWT_SECRET/])
  await probe(jwt({ key: randomBytes(32), alg: 'HS256', kid: 'hs-1' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /signature does not verify with key 'hs-1'/])
  await probe(jwt({ key: RSA_NEW.privatePem, alg: 'RS256', kid: 'rsa-1' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /signature does not verify with key 'rsa-1'/])
  await probe(jwt({ key: RSA.privatePem, alg: 'RS256', kid: 'nope' }, claims()), [401, 'SIS_GW_TOKEN_KEY_UNKNOWN', /unknown key id 'nope'/])
  // A key pinned to ES256 by its alg verifies nothing else; an RS key no HS token.
  await probe(jwt({ key: OCT, alg: 'HS512', kid: 'hs-1' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /algorithm HS512 not allowed for key 'hs-1' \(it verifies HS256\)/])
  await probe(jwt({ key: RSA.privatePem, alg: 'PS256', kid: 'rsa-rs256' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /algorithm PS256 not allowed for key 'rsa-rs256' \(it verifies RS256\)/])
  // A token without kid is for SISPORTA_JWT_SECRET only: an RS256 one has no key here.
  await probe(jwt({ key: RSA.privatePem, alg: 'RS256' }, claims()), [401, 'SIS_GW_TOKEN_INVALID', /algorithm RS256 not allowed for SISPORTA_JWT_SECRET/])
  await probe(jwt(HS, claims({ sub: undefined })), [401, 'SIS_GW_TOKEN_CLAIMS', /sub/])
  await probe(jwt(HS, claims({ streams: [] })), [401, 'SIS_GW_TOKEN_CLAIMS', /streams/])
  await probe('eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln', [401, 'SIS_GW_TOKEN_INVALID', /payload is not a valid base64url serialized JSON/])

  t.equal((await gw.loads.list()).length, 0, 'no load was opened')
  t.equal(await gw.messageCount(), 0)
  assertNothingLeaks(t, gw, seen)
})

t.test('jwt – HS/RS confusion: an HS256 token signed with a public key as its secret is accepted by no configuration', async (t) => {
  const publicPems = [RSA.publicPem, EC.publicPem]
  const gateways: Array<{ what: string, auth: GatewayAuthOptions }> = [
    { what: 'JWKS + secret', auth: { secret: SECRET, jwksFile: jwksFile(JWKS) } },
    { what: 'JWKS only', auth: { jwksFile: jwksFile(JWKS) } },
    { what: 'public key only', auth: { publicKey: RSA.publicPem } },
    { what: 'EC public key + secret', auth: { publicKey: EC.publicPem, secret: SECRET } }
  ]
  for (const { what, auth } of gateways) {
    const gw = await startGateway(t, { auth })
    const seen: Seen = { tokens: [], replies: [] }
    const probe = prober(t, gw, seen)
    for (const pem of publicPems) {
      for (const kid of [undefined, 'rsa-1', 'ec-1', 'ed-1', 'hs-1']) {
        const token = jwt({ key: pem, alg: 'HS256', ...(kid !== undefined ? { kid } : {}) }, claims({ iss: undefined, aud: undefined }))
        seen.tokens.push(token)
        const res = await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${token}` } })
        seen.replies.push(res.body)
        t.equal(res.statusCode, 401, `${what}, kid ${kid ?? 'none'}: refused (${(res.json() as ErrorReply).message})`)
        t.match((res.json() as ErrorReply).code, /^SIS_GW_TOKEN_(INVALID|KEY_UNKNOWN)$/)
      }
    }
    // The same gateway does accept a genuine token, so the refusals above are about the key.
    const genuine = auth.jwksFile !== undefined
      ? jwt({ key: RSA.privatePem, alg: 'RS256', kid: 'rsa-1' }, claims())
      : auth.publicKey === RSA.publicPem ? jwt({ key: RSA.privatePem, alg: 'RS256' }, claims()) : jwt({ key: EC.privatePem, alg: 'ES256' }, claims())
    await probe(genuine, 201)
    assertNothingLeaks(t, gw, seen)
  }
})

t.test('jwt – key rotation: both keys work side by side; a key removed from the JWKS file is refused without a restart', async (t) => {
  const file = jwksFile({ keys: [{ ...RSA.jwk, kid: 'k-old' }] })
  const gw = await startGateway(t, { auth: { jwksFile: file, jwksCheckIntervalMs: 50 } })
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  const oldToken = jwt({ key: RSA.privatePem, alg: 'RS256', kid: 'k-old' }, claims())
  const newToken = jwt({ key: RSA_NEW.privatePem, alg: 'RS256', kid: 'k-new' }, claims())
  await probe(oldToken, 201)
  await probe(newToken, [401, 'SIS_GW_TOKEN_KEY_UNKNOWN', /unknown key id 'k-new'/])

  // 1. The new key is added: both are accepted (the extractors move over one by one).
  writeJwks(file, { keys: [{ ...RSA.jwk, kid: 'k-old' }, { ...RSA_NEW.jwk, kid: 'k-new' }] })
  await eventually(async () => (await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${newToken}` } })).statusCode === 201 ? true : undefined, { what: 'the added key to be used' })
  await probe(oldToken, 201)
  await probe(newToken, 201)
  t.match(gw.logs.find((l) => l.msg === 'JWKS keys changed'), { jwks: file, added: ['k-new'], removed: [], kids: ['k-old', 'k-new'] })

  // 2. The old key is removed: its tokens are refused, even those verified (and cached) before.
  writeJwks(file, { keys: [{ ...RSA_NEW.jwk, kid: 'k-new' }] })
  await eventually(async () => (await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${oldToken}` } })).statusCode === 401 ? true : undefined, { what: 'the removed key to be refused' })
  await probe(oldToken, [401, 'SIS_GW_TOKEN_KEY_UNKNOWN', /unknown key id 'k-old': not in .*jwks\.json/])
  await probe(newToken, 201)
  t.match(gw.logs.filter((l) => l.msg === 'JWKS keys changed').at(-1), { removed: ['k-old'], added: [], kids: ['k-new'] })

  // 3. The same kid with other material (a botched rotation): the cached token no longer passes.
  writeJwks(file, { keys: [{ ...RSA.jwk, kid: 'k-new' }] })
  await eventually(async () => (await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${newToken}` } })).statusCode === 401 ? true : undefined, { what: 'the replaced key to be used' })
  await probe(newToken, [401, 'SIS_GW_TOKEN_INVALID', /signature does not verify with key 'k-new'/])
  t.match(gw.logs.filter((l) => l.msg === 'JWKS keys changed').at(-1), { replaced: ['k-new'] })
  assertNothingLeaks(t, gw, seen)
})

t.test('jwt – a JWKS file broken at run time is logged once and the previous keys stay in use', async (t) => {
  const file = jwksFile({ keys: [{ kty: 'oct', kid: 'hs-1', k: OCT_K }] })
  const gw = await startGateway(t, { auth: { jwksFile: file, jwksCheckIntervalMs: 50 } })
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  const token = jwt({ key: OCT, alg: 'HS256', kid: 'hs-1' }, claims())
  await probe(token, 201)
  writeFileSync(file, `{"keys":[{"kty":"oct","kid":"hs-1","k":"${OCT_K}"`)
  const logged = await eventually(async () => {
    await probe(token, 201)
    return gw.logs.find((l) => l.msg === 'JWKS file unusable: the previous keys stay in use')
  }, { what: 'the broken file to be noticed' })
  t.match(logged, { code: 'SIS_GW_JWKS', jwks: file, reason: /not valid JSON/ })
  await probe(token, 201)
  t.equal(gw.logs.filter((l) => l.msg === 'JWKS file unusable: the previous keys stay in use').length, 1, 'logged once, not on every look')
  writeJwks(file, { keys: [{ ...EC.jwk, kid: 'ec-1' }] })
  await eventually(async () => (await gw.app.inject({ ...OPEN, headers: { authorization: `Bearer ${token}` } })).statusCode === 401 ? true : undefined, { what: 'the repaired file to be used' })
  await probe(jwt({ key: EC.privatePem, alg: 'ES256', kid: 'ec-1' }, claims()), 201)
  assertNothingLeaks(t, gw, seen)
})

t.test('jwt – stream scope is by exact name: no token for `prod`, `products`, `roduct` or `products_eu` touches another of them (open, batch, seal, read)', async (t) => {
  const config = parseConfig(`
streams:
  - name: prod
    source: { table: dbo.Prod }
    target: { table: prod, key: [sku] }
    columns:
      - { name: sku, from: Sku, type: string }
  - name: products
    source: { table: dbo.Produtos }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: Sku, type: string }
  - name: roduct
    source: { table: dbo.Roduct }
    target: { table: roduct, key: [sku] }
    columns:
      - { name: sku, from: Sku, type: string }
  - name: products_eu
    source: { table: dbo.ProdutosEu }
    target: { table: products_eu, key: [sku] }
    columns:
      - { name: sku, from: Sku, type: string }
`, 'prefix.yaml', {})
  // prefixes (prod < products < products_eu) and a substring in the middle (roduct)
  const STREAMS = ['prod', 'products', 'roduct', 'products_eu'] as const
  const gw = await startGateway(t, { config })
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  const tokenFor = (stream: string): string => jwt(HS, claims({ streams: [stream] }))
  const open = async (stream: string): Promise<number> => {
    const res = await probe(tokenFor(stream), 201, { ...OPEN, url: `/v1/streams/${stream}/loads` })
    return (res.json() as { load: { id: number } }).load.id
  }
  const loads: Record<string, number> = {}
  for (const stream of STREAMS) loads[stream] = await open(stream)
  for (const [mine, other] of STREAMS.flatMap((a) => STREAMS.filter((b) => b !== a).map((b) => [a, b] as const))) {
    const token = tokenFor(mine)
    const forbidden: [number, string, RegExp] = [403, 'SIS_GW_STREAM_FORBIDDEN', new RegExp(`not allowed to load stream '${other}'`)]
    const id = loads[other]!
    await probe(token, forbidden, { ...OPEN, url: `/v1/streams/${other}/loads` })
    await probe(token, forbidden, { method: 'POST', url: `/v1/streams/${other}/loads/${id}/batches/0`, payload: { columns: ['sku'], rows: [['A']] } })
    await probe(token, forbidden, { method: 'POST', url: `/v1/streams/${other}/loads/${id}/seal`, payload: { batches: 1, rows: 1 } })
    await probe(token, forbidden, { method: 'GET', url: `/v1/streams/${other}/loads/${id}` })
  }
  t.equal(await gw.messageCount(), 0, 'no batch was published')
  for (const stream of STREAMS) {
    const res = await probe(tokenFor(stream), 200, { method: 'GET', url: `/v1/streams/${stream}/loads/${loads[stream]}` })
    t.equal((res.json() as { load: { state: string } }).load.state, 'open', `${stream}'s load is still open, not sealed`)
  }
  assertNothingLeaks(t, gw, seen)
})

t.test('jwt – start-up refuses a short secret, a malformed JWKS (naming file and key), and keys JWT must not use', async (t) => {
  const { nc, names } = await testBus(t)
  const base = { config: CONFIG, nc, names, log: createLogger({ service: 'gateway', level: 'silent' }), metrics: createMetricsRegistry('gateway') }
  const short = 'x'.repeat(31)
  const weak = await t.rejects(buildGatewayApp({ ...base, auth: { secret: short } }), { code: 'SIS_GW_JWT_SECRET_WEAK', exitCode: 2, message: /31 bytes long; .* at least 32/ })
  t.notMatch(String((weak as unknown as Error | undefined)?.message ?? ''), short)
  await t.rejects(buildGatewayApp({ ...base, auth: { secret: 'é'.repeat(15) + 'x' } }), { code: 'SIS_GW_JWT_SECRET_WEAK' }, 'bytes, not characters: 31 bytes')
  await t.resolves(buildGatewayApp({ ...base, auth: { secret: 'x'.repeat(32) } }).then(async (app) => { await app.close() }), '32 bytes are enough')
  // runGateway checks before connecting anywhere: the unreachable NATS is never tried.
  await t.rejects(runGateway(readSettings({ SISPORTA_NATS_URL: 'nats://127.0.0.1:1', SISPORTA_JWT_SECRET: short }), CONFIG, base.log), { code: 'SIS_GW_JWT_SECRET_WEAK', exitCode: 2 })
  const smallRsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
  await t.rejects(buildGatewayApp({ ...base, auth: { publicKey: smallRsa.publicKey.export({ type: 'spki', format: 'pem' }).toString() } }), { code: 'SIS_GW_JWT_KEY', message: /1024-bit RSA key; at least 2048/ })

  const bad: Array<[string, RegExp]> = [
    ['{"keys": [', /is not valid JSON/],
    ['{"kees": []}', /is not a JWKS: expected \{ "keys"/],
    [JSON.stringify({ keys: [] }), /holds no key/],
    [JSON.stringify({ keys: [{ ...RSA.jwk, kid: 'a' }, { ...EC.jwk }] }), /: key 1: needs a "kid"/],
    [JSON.stringify({ keys: [{ ...RSA.jwk, kid: 'a' }, { ...EC.jwk, kid: 'a' }] }), /: key 1: kid 'a' is used twice/],
    [JSON.stringify({ keys: [{ ...RSA.jwk, kid: 'a', use: 'enc' }] }), /: key 0 \('a'\): "use" is "enc"/],
    [JSON.stringify({ keys: [{ ...EC.jwk, kid: 'a', alg: 'RS256' }] }), /: key 0 \('a'\): "alg" "RS256" does not fit this key \(it can verify ES256\)/],
    [JSON.stringify({ keys: [{ kty: 'oct', kid: 'a', k: randomBytes(31).toString('base64url') }] }), /: key 0 \('a'\) is 31 bytes long; .* at least 32/],
    [JSON.stringify({ keys: [{ kty: 'oct', kid: 'a', k: OCT_K, alg: 'HS512' }] }), /: key 0 \('a'\): "alg" "HS512" does not fit this key \(it can verify HS256\)/],
    [JSON.stringify({ keys: [{ ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })), kid: 'a' }] }), /: key 0 \('a'\): holds a private key/],
    [JSON.stringify({ keys: [{ ...RSA.jwk, n: 'AQAB', kid: 'a' }] }), /: key 0 \('a'\)(: not a usable RSA public key| is a \d+-bit RSA key; at least 2048)/],
    [JSON.stringify({ keys: [{ kty: 'OKP', crv: 'X25519', x: generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x, kid: 'a' }] }), /: key 0 \('a'\) is a x25519 key/],
    [JSON.stringify({ keys: [{ kty: 'RSA ', kid: 'a' }] }), /: key 0 \('a'\): "kty" is "RSA "/]
  ]
  for (const [text, message] of bad) {
    const file = join(mkdtempSync(join(tmpdir(), 'sisporta-jwks-')), 'jwks.json')
    writeFileSync(file, text)
    const code = message.source.includes('holds no key') ? 'SIS_GW_AUTH_NOT_CONFIGURED' : 'SIS_GW_JWKS'
    await t.rejects(buildGatewayApp({ ...base, auth: { jwksFile: file } }), { code, exitCode: 2, message }, `${text.slice(0, 60)} → ${message.source}`)
    await t.rejects(buildGatewayApp({ ...base, auth: { jwksFile: file } }), { message: new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) }, 'the message names the file')
  }
  await t.rejects(buildGatewayApp({ ...base, auth: { jwksFile: '/nonexistent/jwks.json' } }), { code: 'SIS_GW_JWKS', message: /cannot read \/nonexistent\/jwks\.json \(ENOENT\)/ })
  // V8 quotes the text before a stray comma: here, the end of the secret.
  const file = join(mkdtempSync(join(tmpdir(), 'sisporta-jwks-')), 'jwks.json')
  writeFileSync(file, `{"keys":[{"kty":"oct","kid":"a","k":"${OCT_K}"},]}`)
  const err = await buildGatewayApp({ ...base, auth: { jwksFile: file } }).then(() => undefined, (e: Error) => e)
  t.match(err, { code: 'SIS_GW_JWKS', message: /is not valid JSON/ })
  t.notOk(err?.message.includes(OCT_K.slice(-6)), `a JSON error does not quote the key material around it (${err?.message})`)
})

t.test('jwt – authFromSettings passes SISPORTA_JWT_JWKS, _ISSUER, _AUDIENCE and _MAX_TTL through', async (t) => {
  const file = jwksFile(JWKS)
  const settings = readSettings({ SISPORTA_JWT_JWKS: file, SISPORTA_JWT_ISSUER: ISS, SISPORTA_JWT_AUDIENCE: AUD, SISPORTA_JWT_MAX_TTL: '2h' })
  const auth = authFromSettings(settings)
  t.match(auth, { jwksFile: file, issuer: ISS, audience: AUD, maxTtlSec: 7200, secret: undefined })
  t.equal(authFromSettings(readSettings({ SISPORTA_JWT_SECRET: SECRET })).maxTtlSec, 30 * 86400, 'default: 30 days')
  const gw = await startGateway(t, { auth })
  const seen: Seen = { tokens: [], replies: [] }
  const probe = prober(t, gw, seen)
  await probe(jwt({ key: EC.privatePem, alg: 'ES256', kid: 'ec-1' }, claims({ exp: now() + 7200 })), 201)
  await probe(jwt({ key: EC.privatePem, alg: 'ES256', kid: 'ec-1' }, claims({ exp: now() + 7300 })), [401, 'SIS_GW_TOKEN_LIFETIME', /exceeds SISPORTA_JWT_MAX_TTL \(7200 s\)/])
  await probe(jwt({ key: EC.privatePem, alg: 'ES256', kid: 'ec-1' }, claims({ iss: 'x' })), [401, 'SIS_GW_TOKEN_ISSUER', /wrong issuer/])
  await probe(jwt({ key: EC.privatePem, alg: 'ES256' }, claims()), [401, 'SIS_GW_TOKEN_KEY_UNKNOWN', /no kid header.*token issue --kid/])
  assertNothingLeaks(t, gw, seen)
})
