import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { NO_BUS_SECURITY, connectBus, isPermissionDenied, type BusSecurity } from '@sisporta/nats'
import { natsPermissionsFor, privateNatsServer, randomId, selfSignedCertificate, type NatsRole } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'

// The whole pipeline through a nats-server started with the shipped permission file
// (deploy/nats/sisporta-permissions.conf, rendered for this test's namespace) and TLS: every
// service a process of its own with its own NATS identity, the extractor with none. Then what
// each identity may not do, each as its own assertion.

const cert = selfSignedCertificate()
if (cert === undefined) throw new Error('openssl is needed to make the NATS server\'s TLS certificate')
const namespace = `sec_${randomId()}`
const perms = natsPermissionsFor(namespace)
const passwords = Object.fromEntries(Object.keys(perms.users).map((r) => [r, randomBytes(18).toString('base64url')])) as Record<NatsRole, string>
const server = await privateNatsServer(t, {
  config: `tls { cert_file: "${cert.certFile}", key_file: "${cert.keyFile}" }\ninclude ./permissions.conf\n`,
  files: { 'permissions.conf': perms.config },
  // quoted: nats-server parses a variable's value as a config value
  env: Object.fromEntries(Object.entries(perms.passwordVariables).map(([r, v]) => [v, `"${passwords[r as NatsRole]}"`]))
})
const natsUrl = `nats://localhost:${server.port}`
const security = (role: NatsRole): BusSecurity => ({ ...NO_BUS_SECURITY, user: perms.users[role], password: passwords[role], tlsCa: cert.certFile })
const identityEnv = (role: NatsRole): Record<string, string> => ({ SISPORTA_NATS_USER: perms.users[role], SISPORTA_NATS_PASSWORD: passwords[role] })

async function as (t: Test, role: NatsRole): Promise<NatsConnection> {
  const nc = await connectBus({ url: natsUrl, security: security(role), name: `security-test-${role}`, connectTimeoutMs: 5_000 })
  t.teardown(async () => { await nc.close() })
  return nc
}

/** Refused by the server's permissions, as an error and at once: never a hang until some timeout. */
async function refused (t: Test, what: string, op: () => Promise<unknown>): Promise<void> {
  const started = Date.now()
  const error = await op().then(() => undefined, (err: unknown) => err)
  // a permission violation, not a timeout (a hang would end in a timeout error, which this is not)
  t.ok(error !== undefined && isPermissionDenied(error), `${what}: refused after ${Date.now() - started} ms (${String(error)})`)
}

const encode = (s: string): Uint8Array => new TextEncoder().encode(s)

t.test('secured pipeline', async (t) => {
  const admin = await connectBus({ url: natsUrl, security: security('admin'), name: 'security-test-pipeline', connectTimeoutMs: 5_000 })
  /** Every CLI run's output, checked for passwords at the end. */
  const outputs: string[] = []
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: async (sql) => { await createDemoErp(sql, { products: 300, customers: 150 }) },
    namespace,
    natsUrl,
    nc: admin,
    // the CLI (migrate, loads list) is the operator: the admin identity
    env: { SISPORTA_NATS_TLS_CA: cert.certFile, ...identityEnv('admin') },
    serviceEnv: {
      // the gateway's credentials in a tls:// URL, the others in their own variables
      gateway: { SISPORTA_NATS_URL: `tls://${perms.users.gateway}:${encodeURIComponent(passwords.gateway)}@localhost:${server.port}`, SISPORTA_NATS_USER: '', SISPORTA_NATS_PASSWORD: '' },
      persister: identityEnv('persister'),
      reconciler: identityEnv('reconciler')
    },
    // the reconciler's identity provisions the bus; the others only find it
    services: ['reconciler', 'gateway', 'persister']
  })

  await t.test('nats security – a full load through TLS and per-service identities ends reconciled, target equals source', async (t) => {
    // the extractor gets no NATS setting at all: it only talks to the gateway
    const noNats = { SISPORTA_NATS_URL: 'nats://127.0.0.1:1', SISPORTA_NATS_USER: '', SISPORTA_NATS_PASSWORD: '', SISPORTA_NATS_TLS_CA: '' }
    for (const stream of p.config.streams) {
      const result = await p.cli(['extract', '--stream', stream.name, '--mode', 'full', '--wait', '--timeout', '120s'], noNats)
      outputs.push(result.stdout, result.stderr)
      t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
      t.match(result.stdout, /reconciled/, `${stream.name}: the load was reconciled`)
      t.equal((await p.loads(stream.name)).at(-1)?.state, 'reconciled', `${stream.name}: the registry says reconciled`)
    }
    await p.expectMirror(t)
  })

  await t.test('nats security – the persister identity cannot publish a batch', async (t) => {
    const persister = await as(t, 'persister')
    const jsm = await admin.jetstreamManager()
    const before = (await jsm.streams.info(p.names.batchStream)).state.last_seq
    await refused(t, 'a JetStream publish of a batch', async () => await persister.jetstream().publish(p.names.batchSubject('products'), encode('{"columns":[],"rows":[]}'), { msgID: 'forged.1.0' }))
    // a plain publish gets no answer at all: the stream must simply not have received it
    persister.publish(p.names.batchSubject('products'), encode('{"columns":[],"rows":[]}'))
    await persister.flush()
    t.equal((await jsm.streams.info(p.names.batchStream)).state.last_seq, before, 'the batch stream received nothing')
  })

  await t.test('nats security – the persister identity cannot write load.*, open.* or seq in the registry', async (t) => {
    const persister = await as(t, 'persister')
    const kv = await persister.jetstream().views.kv(p.names.loadsBucket, { bindOnly: true })
    const adminKv = await admin.jetstream().views.kv(p.names.loadsBucket, { bindOnly: true })
    const last = (await p.loads('products')).at(-1)!
    const before = await Promise.all(['seq', `load.products.${last.id}`, `open.products.${last.id}`].map(async (k) => (await adminKv.get(k))?.revision))
    t.ok(before.every((r) => r !== undefined), 'seq, the load record and the open record exist')
    const forged = JSON.stringify({ ...last, id: 999999999, state: 'approved' })
    await refused(t, 'write load.*', async () => await kv.put(`load.products.${last.id}`, encode(JSON.stringify({ ...last, state: 'approved' }))))
    await refused(t, 'create a forged load.*', async () => await kv.create('load.products.999999999', encode(forged)))
    await refused(t, 'write open.*', async () => await kv.put('open.products.999999999', encode(forged)))
    await refused(t, 'write seq', async () => await kv.put('seq', encode('999999999')))
    await refused(t, 'delete load.*', async () => await kv.delete(`load.products.${last.id}`))
    const after = await Promise.all(['seq', `load.products.${last.id}`, `open.products.${last.id}`].map(async (k) => (await adminKv.get(k))?.revision))
    t.same(after, before, 'the registry is unchanged')
    t.equal(await adminKv.get('load.products.999999999'), null, 'no forged load exists')
  })

  await t.test('nats security – an anonymous connection (the extractor has no NATS identity) is refused', async (t) => {
    await t.rejects(connect({ servers: `localhost:${server.port}`, tls: { ca: readFileSync(cert.certFile, 'utf8') }, reconnect: false }), { code: 'AUTHORIZATION_VIOLATION' }, 'refused by the server')
    await t.rejects(connectBus({ url: natsUrl, security: { ...NO_BUS_SECURITY, tlsCa: cert.certFile }, name: 'anonymous', connectTimeoutMs: 5_000 }), { code: 'SIS_BUS_AUTH', exitCode: 2 }, 'connectBus: SIS_BUS_AUTH, exit 2')
  })

  await t.test('nats security – the gateway identity cannot purge or delete a stream, the consumer or the bucket', async (t) => {
    const jsm = await (await as(t, 'gateway')).jetstreamManager()
    await refused(t, 'purge the batch stream', async () => await jsm.streams.purge(p.names.batchStream))
    await refused(t, 'delete the dead-letter stream', async () => await jsm.streams.delete(p.names.dlqStream))
    await refused(t, 'delete the registry bucket', async () => await jsm.streams.delete(`KV_${p.names.loadsBucket}`))
    await refused(t, 'purge the registry bucket', async () => await jsm.streams.purge(`KV_${p.names.loadsBucket}`))
    await refused(t, 'delete the persister consumer', async () => await jsm.consumers.delete(p.names.batchStream, p.names.persisterConsumer))
    const adminJsm = await admin.jetstreamManager()
    for (const stream of [p.names.batchStream, p.names.dlqStream, `KV_${p.names.loadsBucket}`]) {
      t.ok(await adminJsm.streams.info(stream), `${stream} is still there`)
    }
    t.ok((await adminJsm.streams.info(`KV_${p.names.loadsBucket}`)).state.messages > 0, 'the registry still holds its records')
  })

  await t.test('nats security – a permission violation surfaces as an error, not a hang', async (t) => {
    // a command run with an identity that lacks a right it needs: it fails at once and says why
    // (a hang would never end: the file's own timeout would fail it)
    const status = await p.cli(['status'], identityEnv('persister'))
    outputs.push(status.stdout, status.stderr)
    t.not(status.code, 0, 'sisporta status with the persister identity fails')
    t.match(status.stderr, /Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.CREATE\.KV_/, 'and names the refused subject')
    const ok = await p.cli(['status', '--json'])
    outputs.push(ok.stdout, ok.stderr)
    t.equal(ok.code, 0, 'the admin identity may', { stderr: ok.stderr.slice(-1000) })
  })

  await t.test('nats security – no log and no command output holds a NATS password', async (t) => {
    const logs = readdirSync(p.dir).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(p.dir, f), 'utf8'))
    t.ok(logs.length >= 3, `${logs.length} service logs`)
    const texts = [...logs, ...outputs]
    t.ok(texts.some((text) => /"msg":"connected to NATS"/.test(text) && text.includes(`"user":"${perms.users.gateway}"`)), 'the gateway logged its connection and user name')
    for (const [role, password] of Object.entries(passwords)) {
      t.notOk(texts.some((text) => text.includes(password) || text.includes(encodeURIComponent(password))), `no log or output holds the ${role} password`)
    }
  })
})
