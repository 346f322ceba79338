import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDecoder } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { buildGatewayApp } from '@sisporta/gateway'
import { logSink, testBus } from '@sisporta/testkit'
import { demoConfigYaml, issueToken, runSisporta } from '@sisporta/cli'

const SECRET = 'token-test-secret-token-test-secret-0123'
const decode = createDecoder({ complete: true }) as (token: string) => { header: Record<string, unknown>, payload: Record<string, unknown> }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function tempFile (name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sis-token-')), name)
  writeFileSync(file, content)
  return file
}

t.test('cli – token issue writes iss, aud, iat, exp, a random jti and the --kid header', async (t) => {
  const first = await runSisporta(['token', 'issue', '--stream', 'products', '--ttl', '12h', '--subject', 'erp-7', '--kid', 'k-2025'], { SISPORTA_JWT_SECRET: SECRET })
  t.equal(first.code, 0, first.stderr)
  const { header, payload } = decode(first.stdout.trim())
  t.match(header, { alg: 'HS256', kid: 'k-2025' })
  t.match(payload, { sub: 'erp-7', streams: ['products'], iss: 'sisporta', aud: 'sisporta-gateway', jti: UUID })
  t.equal(typeof payload.iat, 'number')
  t.ok(Math.abs((payload.iat as number) - Date.now() / 1000) < 60, 'iat is now')
  t.equal((payload.exp as number) - (payload.iat as number), 12 * 3600, 'exp − iat is the ttl')

  const second = await runSisporta(['token', 'issue', '--stream', '*'], { SISPORTA_JWT_SECRET: SECRET, SISPORTA_JWT_ISSUER: 'acme-ops', SISPORTA_JWT_AUDIENCE: 'acme-gateway' })
  t.equal(second.code, 0, second.stderr)
  const other = decode(second.stdout.trim())
  t.notOk('kid' in other.header, 'no kid unless asked')
  t.match(other.payload, { iss: 'acme-ops', aud: 'acme-gateway', jti: UUID, streams: ['*'], sub: 'extractor' })
  t.not(other.payload.jti, payload.jti, 'every token has its own jti')
  t.equal((other.payload.exp as number) - (other.payload.iat as number), 3600, 'default ttl 1h')
})

t.test('cli – token issue refuses a ttl over SISPORTA_JWT_MAX_TTL, a short secret and a bad kid (exit 2, nothing printed)', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--ttl', '36500d'], {}, /--ttl 36500d \(3153600000 s\) exceeds SISPORTA_JWT_MAX_TTL \(2592000 s = 30d\)/],
    [['--ttl', '3h'], { SISPORTA_JWT_MAX_TTL: '2h' }, /--ttl 3h \(10800 s\) exceeds SISPORTA_JWT_MAX_TTL \(7200 s = 2h\)/],
    [['--ttl', '1h'], { SISPORTA_JWT_SECRET: 'x'.repeat(31) }, /SISPORTA_JWT_SECRET is 31 bytes long; it must have at least 32/],
    [['--kid', 'has space'], {}, /--kid must be 1 to 128 visible ASCII characters/]
  ]
  for (const [args, env, message] of cases) {
    const res = await runSisporta(['token', 'issue', '--stream', 'products', ...args], { SISPORTA_JWT_SECRET: SECRET, ...env })
    t.equal(res.code, 2, `${args.join(' ')}: exit 2`)
    t.match(res.stderr, message)
    t.match(res.stderr, /\[SIS_CLI_USAGE\]/)
    t.equal(res.stdout, '', 'no token printed')
    t.notOk(res.stderr.includes(env.SISPORTA_JWT_SECRET ?? SECRET), 'the secret is not echoed')
  }
  const atLimit = await runSisporta(['token', 'issue', '--stream', 'products', '--ttl', '2h'], { SISPORTA_JWT_SECRET: SECRET, SISPORTA_JWT_MAX_TTL: '2h' })
  t.equal(atLimit.code, 0, 'exactly the maximum is allowed')
  t.throws(() => issueToken({ jwtSecret: SECRET }, { streams: ['*'], subject: 'x', ttl: '31d' }), { code: 'SIS_CLI_USAGE', exitCode: 2 }, 'issueToken: 30 days unless told otherwise')
})

t.test('cli – a token issued with --kid is verified by a gateway that finds its key by kid in the JWKS', async (t) => {
  const { nc, names } = await testBus(t)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const ed = generateKeyPairSync('ed25519')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwks = tempFile('jwks.json', JSON.stringify({
    keys: [
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-2025' },
      { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed-2025' },
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-2025', alg: 'RS256' }
    ]
  }))
  const config = parseConfig(demoConfigYaml(), 'demo.yaml', {})
  const sink = logSink()
  const app = await buildGatewayApp({
    config, nc, names, log: createLogger({ service: 'gateway', destination: sink.stream }), metrics: createMetricsRegistry('gateway'),
    auth: { jwksFile: jwks, issuer: 'sisporta', audience: 'sisporta-gateway' }
  })
  t.teardown(async () => { await app.close() })
  const stream = config.streams[0]!.name
  for (const [kid, key, alg] of [['ec-2025', ec, 'ES384'], ['ed-2025', ed, 'EdDSA'], ['rsa-2025', rsa, 'RS256']] as const) {
    const pem = tempFile('signing.pem', key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
    const res = await runSisporta(['token', 'issue', '--stream', stream, '--kid', kid, '--ttl', '30d'], { SISPORTA_JWT_PRIVATE_KEY: pem, SISPORTA_JWT_SECRET: '' })
    t.equal(res.code, 0, res.stderr)
    const token = res.stdout.trim()
    t.match(decode(token).header, { alg, kid })
    const open = await app.inject({ method: 'POST', url: `/v1/streams/${stream}/loads`, headers: { authorization: `Bearer ${token}` }, payload: { mode: 'full' } })
    t.equal(open.statusCode, 201, `${kid}: accepted (${open.body.slice(0, 200)})`)
    const wrongKid = issueToken({ jwtPrivateKey: pem }, { streams: [stream], subject: 'x', ttl: '1h', kid: 'gone-2024' })
    const refused = await app.inject({ method: 'POST', url: `/v1/streams/${stream}/loads`, headers: { authorization: `Bearer ${wrongKid}` }, payload: { mode: 'full' } })
    t.match(refused.json(), { statusCode: 401, code: 'SIS_GW_TOKEN_KEY_UNKNOWN', message: /unknown key id 'gone-2024'/ })
  }
})

t.test('cli – the gateway refuses to start with a short secret or a malformed JWKS (exit 2, coded, secret not shown)', async (t) => {
  const env = { SISPORTA_CONFIG: tempFile('sisporta.yaml', demoConfigYaml()), SISPORTA_NATS_URL: 'nats://127.0.0.1:1', SISPORTA_LOG_LEVEL: 'silent' }
  const short = 'short-secret-but-31-bytes-long!'
  const weak = await runSisporta(['gateway'], { ...env, SISPORTA_JWT_SECRET: short })
  t.equal(weak.code, 2)
  t.match(weak.stderr, /SISPORTA_JWT_SECRET is 31 bytes long.*\[SIS_GW_JWT_SECRET_WEAK\]/)
  t.notOk(weak.stderr.includes(short) || weak.stdout.includes(short), 'the secret is not shown')
  const jwks = tempFile('jwks.json', JSON.stringify({ keys: [{ kty: 'oct', kid: 'a', k: Buffer.alloc(32, 7).toString('base64url') }, { kty: 'EC', kid: 'b' }] }))
  const malformed = await runSisporta(['gateway'], { ...env, SISPORTA_JWT_SECRET: '', SISPORTA_JWT_JWKS: jwks })
  t.equal(malformed.code, 2)
  t.match(malformed.stderr, `${jwks}: key 1 ('b'): not a usable EC public key`)
  t.match(malformed.stderr, /\[SIS_GW_JWKS\]/)
})

t.test('cli – token issue --admin writes the admin scope and no streams; without --admin a stream is required', async (t) => {
  const admin = await runSisporta(['token', 'issue', '--admin', '--ttl', '8h'], { SISPORTA_JWT_SECRET: SECRET })
  t.equal(admin.code, 0, admin.stderr)
  const { payload } = decode(admin.stdout.trim())
  t.match(payload, { sub: 'admin', scope: 'sisporta:admin' })
  t.notOk('streams' in payload, 'no streams: the gateway refuses it for ingestion')
  const both = decode(issueToken({ jwtSecret: SECRET }, { streams: ['products'], admin: true, subject: 'ops', ttl: '1h' })).payload
  t.match(both, { sub: 'ops', scope: 'sisporta:admin', streams: ['products'] })
  t.notOk('scope' in decode(issueToken({ jwtSecret: SECRET }, { streams: ['products'], subject: 'erp', ttl: '1h' })).payload, 'a stream token has no scope')
  const none = await runSisporta(['token', 'issue'], { SISPORTA_JWT_SECRET: SECRET })
  t.equal(none.code, 2)
  t.match(none.stderr, /--stream NAME.*or --admin/)
})
