import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nkeys } from 'nats'
import { NO_BUS_SECURITY, busConnectOptions, type BusSecurity } from '@sisporta/nats'
import { operatorChain, userNkey } from './support/nats-identities.js'

// settings → nats.js ConnectionOptions, without a server: each way to authenticate, credentials in
// the URL, TLS, and every refusal (conflicts, missing or wrong files) as a coded error that names
// the variable and never holds a secret.

const dir = mkdtempSync(join(tmpdir(), 'sisporta-bus-options-'))
function file (name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n'
const sec = (s: Partial<BusSecurity>): BusSecurity => ({ ...NO_BUS_SECURITY, ...s })
const authOf = (url: string, s: Partial<BusSecurity> = {}): unknown => busConnectOptions(url, sec(s)).authenticator?.('nonce')

t.test('bus connect options – no credentials: servers as given, no authenticator, no TLS', async (t) => {
  const o = busConnectOptions('nats://127.0.0.1:4222, nats2:4333,nats3', NO_BUS_SECURITY)
  t.same(o.servers, ['127.0.0.1:4222', 'nats2:4333', 'nats3:4222'])
  t.equal(o.authenticator, undefined)
  t.equal(o.tls, undefined)
  t.same(o.description, { servers: 'nats://127.0.0.1:4222,nats://nats2:4333,nats://nats3:4222', auth: 'none', tls: false })
})

t.test('bus connect options – user and password in the URL, percent-decoded, kept out of the servers and the description', async (t) => {
  const o = busConnectOptions('nats://sisporta-gateway:p%40ss%3Aw%2Frd@nats.internal:4222', NO_BUS_SECURITY)
  t.same(o.authenticator?.('nonce'), { user: 'sisporta-gateway', pass: 'p@ss:w/rd' })
  t.same(o.servers, ['nats.internal:4222'])
  t.same(o.description, { servers: 'nats://nats.internal:4222', auth: 'user', user: 'sisporta-gateway', tls: false })
  t.notMatch(JSON.stringify(o.description), /p%40ss|p@ss/, 'no password in what is logged')
})

t.test('bus connect options – a lone name in the URL is a token', async (t) => {
  t.same(authOf('nats://s3cr3t-token@nats:4222'), { auth_token: 's3cr3t-token' })
  t.same(authOf('nats://user:@nats:4222'), { user: 'user', pass: '' }, 'user: with an empty password is a user')
  t.equal(busConnectOptions('nats://tok@nats', NO_BUS_SECURITY).description.auth, 'token')
})

t.test('bus connect options – several servers share one set of URL credentials', async (t) => {
  t.same(authOf('nats://u:p@a:4222,nats://b:4222,nats://u:p@c'), { user: 'u', pass: 'p' })
  t.throws(() => busConnectOptions('nats://u:p@a,nats://u:other@b', NO_BUS_SECURITY), { code: 'SIS_BUS_AUTH_CONFLICT', exitCode: 2 })
})

t.test('bus connect options – user and password, token from their own variables', async (t) => {
  t.same(authOf('nats://nats:4222', { user: 'sisporta-persister', password: 'pw' }), { user: 'sisporta-persister', pass: 'pw' })
  t.same(authOf('nats://nats:4222', { token: 'tk' }), { auth_token: 'tk' })
})

t.test('bus connect options – an nkey seed file signs the server\'s nonce', async (t) => {
  const { seed, publicKey } = userNkey()
  const o = busConnectOptions('nats://nats:4222', sec({ nkeySeedFile: file('user.nk', `${seed}\n`) }))
  const auth = o.authenticator?.('the-nonce') as { nkey: string, sig: string }
  t.equal(auth.nkey, publicKey)
  const verifier = (nkeys as { fromPublic(k: string): { verify(d: Uint8Array, s: Uint8Array): boolean } }).fromPublic(publicKey)
  t.ok(verifier.verify(new TextEncoder().encode('the-nonce'), Buffer.from(auth.sig, 'base64url')), 'a valid signature of the nonce')
  t.equal(o.description.auth, 'nkey')
})

t.test('bus connect options – a creds file gives the user JWT and signs the nonce', async (t) => {
  const { creds } = operatorChain()
  const o = busConnectOptions('nats://nats:4222', sec({ credsFile: file('user.creds', creds) }))
  const auth = o.authenticator?.('n') as { jwt: string, nkey: string, sig: string }
  t.match(auth.jwt, /^eyJ/)
  t.match(auth.nkey, /^U/)
  t.ok(auth.sig.length > 40)
  t.equal(o.description.auth, 'creds')
})

t.test('bus connect options – TLS: a CA alone, a client certificate, tls:// URLs', async (t) => {
  const ca = file('ca.pem', PEM)
  t.same(busConnectOptions('nats://nats:4222', sec({ tlsCa: ca })).tls, { ca: PEM }, 'a CA alone: TLS verifying the server against it')
  t.same(busConnectOptions('nats://nats:4222', sec({ tlsCa: ca, tlsCert: file('c.pem', PEM), tlsKey: file('k.pem', KEY) })).tls, { ca: PEM, cert: PEM, key: KEY }, 'mutual TLS')
  const o = busConnectOptions('tls://nats:4222', NO_BUS_SECURITY)
  t.same(o.tls, {}, 'tls:// alone: TLS with the system CAs')
  t.same(o.servers, ['nats:4222'])
  t.same(o.description, { servers: 'tls://nats:4222', auth: 'none', tls: true })
  t.equal(busConnectOptions('nats://nats:4222', NO_BUS_SECURITY).tls, undefined, 'nats:// without TLS files: no TLS demanded')
})

t.test('bus connect options – two ways to authenticate at once are refused, naming the variables only', async (t) => {
  const { seed } = userNkey()
  const cases: Array<[string, string, Partial<BusSecurity>, RegExp]> = [
    ['token and user', 'nats://nats', { token: 'tok-secret', user: 'u', password: 'pw-secret' }, /SISPORTA_NATS_USER\/SISPORTA_NATS_PASSWORD, SISPORTA_NATS_TOKEN/],
    ['URL credentials and a token', 'nats://u:url-secret@nats', { token: 'tok-secret' }, /credentials in SISPORTA_NATS_URL, SISPORTA_NATS_TOKEN/],
    ['creds and nkey', 'nats://nats', { credsFile: file('x.creds', 'x'), nkeySeedFile: file('x.nk', seed) }, /SISPORTA_NATS_CREDS, SISPORTA_NATS_NKEY/]
  ]
  for (const [what, url, s, names] of cases) {
    const err = catchError(() => busConnectOptions(url, sec(s)))
    t.match(err, { code: 'SIS_BUS_AUTH_CONFLICT', exitCode: 2, message: names }, what)
    t.notMatch(err.message, /secret|SU[A-Z2-7]{20}/, `${what}: no secret in the message`)
  }
})

t.test('bus connect options – half a setting is refused', async (t) => {
  t.throws(() => busConnectOptions('nats://nats', sec({ user: 'u' })), { code: 'SIS_BUS_AUTH_INCOMPLETE', message: /SISPORTA_NATS_USER and SISPORTA_NATS_PASSWORD/ })
  t.throws(() => busConnectOptions('nats://nats', sec({ password: 'pw-secret' })), { code: 'SIS_BUS_AUTH_INCOMPLETE' })
  t.throws(() => busConnectOptions('nats://nats', sec({ tlsCert: file('c2.pem', PEM) })), { code: 'SIS_BUS_AUTH_INCOMPLETE', message: /SISPORTA_NATS_TLS_CERT and SISPORTA_NATS_TLS_KEY/ })
})

t.test('bus connect options – files that are missing or hold something else are refused, naming the variable not the path', async (t) => {
  const missing = join(dir, 'no-such-secret-file')
  const cases: Array<[Partial<BusSecurity>, string]> = [
    [{ credsFile: missing }, 'SISPORTA_NATS_CREDS'],
    [{ nkeySeedFile: missing }, 'SISPORTA_NATS_NKEY'],
    [{ tlsCa: missing }, 'SISPORTA_NATS_TLS_CA'],
    [{ tlsCert: missing, tlsKey: file('k2.pem', KEY) }, 'SISPORTA_NATS_TLS_CERT'],
    [{ tlsCert: file('c3.pem', PEM), tlsKey: missing }, 'SISPORTA_NATS_TLS_KEY'],
    [{ credsFile: file('bad.creds', 'not a creds file') }, 'SISPORTA_NATS_CREDS'],
    [{ nkeySeedFile: file('bad.nk', 'SUNOTASEED') }, 'SISPORTA_NATS_NKEY'],
    [{ nkeySeedFile: file('empty.nk', '') }, 'SISPORTA_NATS_NKEY'],
    [{ tlsCa: file('notpem.pem', 'hello') }, 'SISPORTA_NATS_TLS_CA'],
    [{ tlsCert: file('c4.pem', PEM), tlsKey: file('notkey.pem', PEM) }, 'SISPORTA_NATS_TLS_KEY']
  ]
  for (const [s, variable] of cases) {
    const err = catchError(() => busConnectOptions('nats://nats:4222', sec(s)))
    t.match(err, { code: 'SIS_BUS_FILE', exitCode: 2 }, `${variable}: SIS_BUS_FILE`)
    t.ok(err.message.startsWith(variable), `${variable}: the message names the variable (${err.message})`)
    t.notMatch(err.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `${variable}: not the file's path`)
  }
})

t.test('bus connect options – bad URLs are refused without echoing them', async (t) => {
  for (const url of ['ws://u:pw-secret@nats:443', 'nats://u:pw-secret@nats:4222/path', 'nats://:pw-secret@nats', 'nats://u:%ZZpw-secret@nats', '  ,  ']) {
    const err = catchError(() => busConnectOptions(url, NO_BUS_SECURITY))
    t.match(err, { code: 'SIS_BUS_URL', exitCode: 2, message: /SISPORTA_NATS_URL/ }, `refused: ${url.replace('pw-secret', '…')}`)
    t.notMatch(err.message, /pw-secret/, 'no password in the message')
  }
})

function catchError (fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected an error')
}
