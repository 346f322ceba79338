import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NatsConnection } from 'nats'
import { NO_BUS_SECURITY, connectBus, type BusSecurity } from '@sisporta/nats'
import { privateNatsServer, selfSignedCertificate } from '@sisporta/testkit'
import { operatorChain, userNkey } from './support/nats-identities.js'

// Each way to authenticate really authenticates: a private nats-server that requires it, reached
// through connectBus with sisporta's settings, and refused (SIS_BUS_AUTH / SIS_BUS_TLS, exit 2,
// at once) with the wrong ones.

const dir = mkdtempSync(join(tmpdir(), 'sisporta-bus-auth-'))
function file (name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
const sec = (s: Partial<BusSecurity>): BusSecurity => ({ ...NO_BUS_SECURITY, ...s })

/** Connects, proves the connection carries messages, closes. */
async function works (t: Test, what: string, url: string, security: BusSecurity): Promise<void> {
  let nc: NatsConnection | undefined
  try {
    nc = await connectBus({ url, security, name: `auth-test-${what}`, connectTimeoutMs: 5_000 })
    const sub = nc.subscribe('auth.check', { max: 1 })
    nc.publish('auth.check', 'hello')
    for await (const m of sub) t.equal(m.string(), 'hello', `${what}: authenticated and carrying messages`)
  } catch (err) {
    t.fail(`${what}: ${String(err)}`)
  } finally {
    await nc?.close()
  }
}

async function refused (t: Test, what: string, url: string, security: BusSecurity, code: string): Promise<void> {
  const started = Date.now()
  // a connect timeout far beyond any slowness of a loaded machine: refused well before it means at once
  await t.rejects(connectBus({ url, security, name: 'auth-test-refused', connectTimeoutMs: 600_000 }), { code, exitCode: 2 }, what)
  t.ok(Date.now() - started < 120_000, `${what}: at once (${Date.now() - started} ms), not after retrying until the 10-minute connect timeout`)
}

t.test('connect bus – user and password, from the URL (percent-encoded) and from their variables', async (t) => {
  const password = 'p@ss:w/rd %1'
  // nats-server parses a variable's value as a config value: quoted, it is taken as it is
  const server = await privateNatsServer(t, { config: 'authorization { users = [ { user: "sisporta-gateway", password: $PW } ] }\n', env: { PW: `"${password}"` }, jetstream: false })
  await works(t, 'URL credentials', `nats://sisporta-gateway:${encodeURIComponent(password)}@${server.hostPort}`, NO_BUS_SECURITY)
  await works(t, 'SISPORTA_NATS_USER / _PASSWORD', `nats://${server.hostPort}`, sec({ user: 'sisporta-gateway', password }))
  await refused(t, 'a wrong password', `nats://${server.hostPort}`, sec({ user: 'sisporta-gateway', password: 'wrong' }), 'SIS_BUS_AUTH')
  await refused(t, 'no credentials', `nats://${server.hostPort}`, NO_BUS_SECURITY, 'SIS_BUS_AUTH')
})

t.test('connect bus – a token, from the URL and from SISPORTA_NATS_TOKEN', async (t) => {
  const token = 'tok-' + 'x'.repeat(30)
  const server = await privateNatsServer(t, { config: 'authorization { token: $TOKEN }\n', env: { TOKEN: `"${token}"` }, jetstream: false })
  await works(t, 'URL token', `nats://${token}@${server.hostPort}`, NO_BUS_SECURITY)
  await works(t, 'SISPORTA_NATS_TOKEN', `nats://${server.hostPort}`, sec({ token }))
  await refused(t, 'a wrong token', `nats://${server.hostPort}`, sec({ token: 'nope' }), 'SIS_BUS_AUTH')
})

t.test('connect bus – an nkey seed file', async (t) => {
  const user = userNkey()
  const server = await privateNatsServer(t, { config: `authorization { users = [ { nkey: ${user.publicKey} } ] }\n`, jetstream: false })
  await works(t, 'SISPORTA_NATS_NKEY', `nats://${server.hostPort}`, sec({ nkeySeedFile: file('user.nk', `${user.seed}\n`) }))
  await refused(t, 'another nkey', `nats://${server.hostPort}`, sec({ nkeySeedFile: file('other.nk', userNkey().seed) }), 'SIS_BUS_AUTH')
})

t.test('connect bus – a creds file (operator, account and user JWTs, as nsc makes them)', async (t) => {
  const chain = operatorChain()
  const server = await privateNatsServer(t, { config: chain.serverConfig, jetstream: false })
  await works(t, 'SISPORTA_NATS_CREDS', `nats://${server.hostPort}`, sec({ credsFile: file('user.creds', chain.creds) }))
  await refused(t, 'creds of an account this server does not know', `nats://${server.hostPort}`, sec({ credsFile: file('stranger.creds', operatorChain().creds) }), 'SIS_BUS_AUTH')
})

t.test('connect bus – TLS: the CA verifies the server; mutual TLS with a client certificate', async (t) => {
  const cert = selfSignedCertificate()
  if (cert === undefined) throw new Error('openssl is needed to make the test certificate')
  const server = await privateNatsServer(t, { config: `tls { cert_file: "${cert.certFile}", key_file: "${cert.keyFile}" }\n`, jetstream: false })
  await works(t, 'SISPORTA_NATS_TLS_CA', `nats://${server.hostPort}`, sec({ tlsCa: cert.certFile }))
  await works(t, 'a tls:// URL with the CA', `tls://localhost:${server.port}`, sec({ tlsCa: cert.certFile }))
  await refused(t, 'TLS without the CA of the server\'s certificate', `tls://${server.hostPort}`, NO_BUS_SECURITY, 'SIS_BUS_TLS')

  // the self-signed certificate is its own CA: the server requires client certificates it signed
  const mutual = await privateNatsServer(t, { config: `tls { cert_file: "${cert.certFile}", key_file: "${cert.keyFile}", ca_file: "${cert.certFile}", verify: true }\n`, jetstream: false })
  await works(t, 'SISPORTA_NATS_TLS_CERT / _KEY', `nats://${mutual.hostPort}`, sec({ tlsCa: cert.certFile, tlsCert: cert.certFile, tlsKey: cert.keyFile }))
  const other = selfSignedCertificate()!
  await t.rejects(connectBus({ url: `nats://${mutual.hostPort}`, security: sec({ tlsCa: cert.certFile, tlsCert: other.certFile, tlsKey: other.keyFile }), name: 'x', connectTimeoutMs: 3_000 }), 'a client certificate the server did not sign is refused')

  const plain = await privateNatsServer(t, { config: 'authorization { token: $T }\n', env: { T: 'tk' }, jetstream: false })
  await refused(t, 'tls:// to a server without TLS', `tls://tk@${plain.hostPort}`, NO_BUS_SECURITY, 'SIS_BUS_TLS')
})

t.test('connect bus – logs name the servers, never the credentials', async (t) => {
  const password = 'never-in-a-log-' + 'y'.repeat(12)
  const server = await privateNatsServer(t, { config: 'authorization { users = [ { user: "u", password: $PW } ] }\n', env: { PW: `"${password}"` }, jetstream: false })
  const lines: string[] = []
  const log = { info: (o: object, m?: string) => { lines.push(JSON.stringify({ ...o, msg: m })) }, warn: (o: object, m?: string) => { lines.push(JSON.stringify({ ...o, msg: m })) } }
  const nc = await connectBus({ url: `nats://u:${password}@${server.hostPort}`, security: NO_BUS_SECURITY, name: 'log-test', log, connectTimeoutMs: 5_000 })
  await nc.close()
  // a server that is not there yet: the retry warnings name it too
  await connectBus({ url: `nats://u:${password}@127.0.0.1:1`, security: NO_BUS_SECURITY, name: 'log-test', log, connectTimeoutMs: 600 }).catch(() => {})
  t.ok(lines.some((l) => l.includes('connected to NATS') && l.includes(`"servers":"nats://${server.hostPort}"`) && l.includes('"user":"u"')), 'the connection is logged with the servers and the user name')
  t.ok(lines.some((l) => l.includes('NATS not reachable')), 'the retries are logged')
  t.notOk(lines.some((l) => l.includes(password)), 'no log line holds the password')
})
