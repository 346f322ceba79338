import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { CLI_ENTRY, cliNodeArgs } from '@sisporta/cli'
import { busNames } from '@sisporta/contracts'
import { deprovisionBus } from '@sisporta/nats'
import { TEST_MYSQL_SERVER, TEST_NATS_URL, eventually, freeLoopbackPort, privateNatsServer, randomId, testDatabase } from '@sisporta/testkit'

// Processes that cannot do their job say so: every service binds its port before it reaches
// anything (a taken port stops it at once, exit 1, naming the port and its setting), answers
// /healthz while it connects, says on /readyz what it waits for, reports NATS lost while it
// reconnects, and stops with a coded message — never the password — when a login is refused.
// Every service here is a separate process started the way operators start it: `sisporta <name>`.

/** In URLs and settings below; no output of any process may hold it. */
const PASSWORD = 'startup-secret-' + randomBytes(9).toString('hex')
/** Generous: a loaded 2-core machine takes many seconds just to load a service's modules. */
const CEILING_MS = 120_000

const dir = mkdtempSync(join(tmpdir(), 'sisporta-startup-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const configFile = join(dir, 'sisporta.yaml')
writeFileSync(configFile, `
streams:
  - name: products
    source: { table: products }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: sku, type: string, length: 20 }
    schedule: { full: 6h }
`)

interface Service {
  readonly name: string
  readonly url: string
  /** stdout and stderr so far. */
  output (): string
  /** Exit code (or signal name) once the process ended. */
  readonly exited: Promise<number | string>
  /** SIGTERM; resolves with the exit code. */
  stop (): Promise<number | string>
}

/** `sisporta <name>` as a process of its own on `port`, killed at teardown if still running. */
function startService (t: Test, name: string, port: number, env: Record<string, string>): Service {
  const child = spawn(process.execPath, [...cliNodeArgs(), CLI_ENTRY, name], {
    env: { ...process.env, SISPORTA_CONFIG: configFile, SISPORTA_HTTP_HOST: '127.0.0.1', SISPORTA_HTTP_PORT: String(port), SISPORTA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString('utf8') })
  child.stderr.on('data', (c: Buffer) => { output += c.toString('utf8') })
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return await exited
    }
  }
}

/** Runs `sisporta <name>` until it exits, within {@link CEILING_MS} (else it is killed and the test fails). */
async function runToExit (t: Test, name: string, port: number, env: Record<string, string>): Promise<{ code: number | string, output: string, ms: number }> {
  const started = Date.now()
  const service = startService(t, name, port, env)
  const timer = setTimeout(() => { void service.stop() }, CEILING_MS)
  const code = await service.exited
  clearTimeout(timer)
  return { code, output: service.output(), ms: Date.now() - started }
}

/** A port some other process holds (here: a plain TCP server of the test). */
async function holdPort (t: Test): Promise<number> {
  const port = await freeLoopbackPort()
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  return port
}

async function get (url: string): Promise<{ status: number, body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  } catch {
    return undefined
  }
}

/** The settings each service needs to get past its configuration checks (exit 2) to its port. */
async function settingsOf (name: string): Promise<Record<string, string>> {
  const nowhere = await freeLoopbackPort()
  const common = {
    SISPORTA_NAMESPACE: `startup_${randomId()}`,
    // nothing listens here: a service that went for NATS before its port would fail otherwise, a minute later
    SISPORTA_NATS_URL: `nats://sisporta:${PASSWORD}@127.0.0.1:${nowhere}`
  }
  switch (name) {
    case 'gateway': return { ...common, SISPORTA_JWT_SECRET: randomBytes(32).toString('hex') }
    case 'extractor': return { ...common, SISPORTA_SOURCE_URL: `mysql://reader:${PASSWORD}@127.0.0.1:${nowhere}/erp`, SISPORTA_TOKEN: 'a.token.for-the-gateway' }
    default: return { ...common, SISPORTA_MYSQL_URL: `mysql://sisporta:${PASSWORD}@127.0.0.1:${nowhere}/app` }
  }
}

const SERVICES = ['gateway', 'persister', 'reconciler', 'extractor'] as const

t.test('service start – a taken port stops every service at once: exit 1, naming the port and the setting, before anything is reached', async (t) => {
  for (const [setting, portVariable] of [['SISPORTA_HTTP_PORT', 'SISPORTA_HTTP_PORT'], ['SISPORTA_METRICS_PORT', 'SISPORTA_METRICS_PORT']] as const) {
    await Promise.all(SERVICES.map(async (name) => {
      const taken = await holdPort(t)
      const port = portVariable === 'SISPORTA_HTTP_PORT' ? taken : await freeLoopbackPort()
      const env = { ...await settingsOf(name), ...(portVariable === 'SISPORTA_METRICS_PORT' ? { SISPORTA_METRICS_PORT: String(taken) } : {}) }
      const run = await runToExit(t, name, port, env)
      t.equal(run.code, 1, `${name}, ${setting} taken: exit 1 (${run.ms} ms)`)
      t.match(run.output, new RegExp(`sisporta: port ${taken} on 127\\.0\\.0\\.1 is already in use \\(${setting}\\): another process listens there; stop it, or give this service another port with ${setting} \\[SIS_SVC_PORT_IN_USE\\]`), `${name}, ${setting} taken: the message names the port and ${setting}`)
      t.notMatch(run.output, /SIS_BUS_UNREACHABLE|SIS_SRC_CONNECT|SIS_DB_/, `${name}: nothing was reached before the port was bound`)
      t.notOk(run.output.includes(PASSWORD), `${name}: no password in any output`)
    }))
  }
})

t.test('service start – /healthz answers while NATS is unreachable, /readyz says what the service waits for; NATS lost later: not ready until it is back', async (t) => {
  const nats = await privateNatsServer(t, { config: '# JetStream, no authorization\n' })
  await nats.kill() // started below, once the services wait for it
  const { url: mysqlUrl } = await testDatabase(t)
  const namespace = `startup_${randomId()}`
  t.teardown(async () => {
    const nc = await connect({ servers: TEST_NATS_URL })
    await deprovisionBus(nc, busNames(namespace)).catch(() => {})
    await nc.close()
  })
  const env = {
    SISPORTA_NAMESPACE: namespace,
    SISPORTA_NATS_URL: `nats://${nats.hostPort}`,
    SISPORTA_MYSQL_URL: mysqlUrl,
    SISPORTA_JWT_SECRET: randomBytes(32).toString('hex')
  }
  const services = await Promise.all(['gateway', 'persister', 'reconciler'].map(async (name) => startService(t, name, await freeLoopbackPort(), env)))

  for (const s of services) {
    const waiting = await eventually(async () => {
      const [health, ready] = [await get(`${s.url}/healthz`), await get(`${s.url}/readyz`)]
      const reason = (ready?.body.failing as Record<string, string> | undefined)?.starting
      return health?.status === 200 && ready?.status === 503 && reason?.includes('connection refused') === true ? reason : undefined
    }, { what: `${s.name} to answer /healthz and say why it is not ready`, timeoutMs: CEILING_MS })
    t.match(waiting, new RegExp(`^starting: waiting for NATS at nats://127\\.0\\.0\\.1:${nats.port} \\(SISPORTA_NATS_URL\\); last attempt: cannot connect to NATS at nats://127\\.0\\.0\\.1:${nats.port} \\(SISPORTA_NATS_URL\\): connection refused: nothing listens there .*\\[SIS_BUS_UNREACHABLE\\]$`), `${s.name}: alive, and /readyz names NATS, the setting and the reason`)
  }
  // the gateway's own routes are not served yet: 503 + Retry-After, which the extractor retries
  // (a 404 would make it give up the batch for good, as a gateway restart mid-load showed)
  const gateway = services.find((s) => s.name === 'gateway')!
  const early = await fetch(`${gateway.url}/v1/streams/items/loads/1/batches/0`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"columns":[],"rows":[]}' })
  t.equal(early.status, 503, 'a batch posted to a gateway still starting: 503, not 404')
  t.equal(early.headers.get('retry-after'), '1')
  t.match(await early.json(), { code: 'SIS_SVC_STARTING', message: /^starting: waiting for NATS at .*: try again shortly$/ })

  await nats.restart()
  for (const s of services) {
    await eventually(async () => (await get(`${s.url}/readyz`))?.status === 200 ? true : undefined, { what: `${s.name} to be ready once NATS is up`, timeoutMs: CEILING_MS })
    t.pass(`${s.name}: ready once NATS is up`)
  }

  await nats.kill()
  for (const s of services) {
    const lost = await eventually(async () => {
      const ready = await get(`${s.url}/readyz`)
      const reason = (ready?.body.failing as Record<string, string> | undefined)?.nats
      return ready?.status === 503 ? reason : undefined
    }, { what: `${s.name} to report NATS lost`, timeoutMs: CEILING_MS })
    t.match(lost, /^NATS disconnected since \d{4}-\d\d-\d\dT[\d:.]+Z, reconnecting$/, `${s.name}: not ready while NATS is down (the client is reconnecting, not closed)`)
    t.equal((await get(`${s.url}/healthz`))?.status, 200, `${s.name}: still alive`)
  }

  await nats.restart()
  for (const s of services) {
    await eventually(async () => (await get(`${s.url}/readyz`))?.status === 200 ? true : undefined, { what: `${s.name} to be ready again`, timeoutMs: CEILING_MS })
    t.pass(`${s.name}: ready again once NATS is back`)
  }
  for (const s of services) t.equal(await s.stop(), 0, `${s.name}: stops cleanly on SIGTERM`)
})

t.test('service start – the extractor answers /healthz while its source is unreachable and says so on /readyz, without the password; SIGTERM stops it meanwhile', async (t) => {
  const env = await settingsOf('extractor')
  const extractor = startService(t, 'extractor', await freeLoopbackPort(), env)
  const reason = await eventually(async () => {
    const [health, ready] = [await get(`${extractor.url}/healthz`), await get(`${extractor.url}/readyz`)]
    const why = (ready?.body.failing as Record<string, string> | undefined)?.starting
    return health?.status === 200 && ready?.status === 503 && why?.includes('last attempt') === true ? why : undefined
  }, { what: 'the extractor to say why it is not ready', timeoutMs: CEILING_MS })
  t.match(reason, /^starting: waiting for the source \(SISPORTA_SOURCE_URL\) for stream 'products'; last attempt: cannot connect to the source \(SISPORTA_SOURCE_URL: MySQL\/MariaDB at 127\.0\.0\.1:\d+ as 'reader', database 'erp'\): connection refused: nothing listens there — .*\[SIS_SRC_CONNECT\]$/)
  t.equal(await extractor.stop(), 0, 'SIGTERM while it waits: it stops, exit 0')
  t.notOk(extractor.output().includes(PASSWORD), 'no password in any output')
})

t.test('service start – a login the database refuses stops the service with a coded message naming the setting, exit 2, never the password', async (t) => {
  const namespace = `startup_${randomId()}`
  t.teardown(async () => {
    const nc = await connect({ servers: TEST_NATS_URL })
    await deprovisionBus(nc, busNames(namespace)).catch(() => {})
    await nc.close()
  })
  const server = new URL(TEST_MYSQL_SERVER)
  const hostPort = `${server.hostname}:${server.port === '' ? 3306 : server.port}`.replaceAll('.', '\\.')
  const user = decodeURIComponent(server.username)
  const { database } = await testDatabase(t)
  const cases: Array<{ name: string, env: Record<string, string>, message: RegExp }> = [
    {
      name: 'reconciler',
      env: { SISPORTA_MYSQL_URL: `mysql://${user}:${PASSWORD}@${server.host}/${database}` },
      message: new RegExp(`sisporta: cannot connect to MySQL at ${hostPort} as '${user}', database '${database}' \\(SISPORTA_MYSQL_URL\\): access denied: wrong user or password — .* \\[SIS_DB_LOGIN\\]`)
    },
    {
      name: 'persister',
      env: { SISPORTA_MYSQL_URL: `${TEST_MYSQL_SERVER}/sisporta_no_such_db_${randomId()}` },
      message: new RegExp(`sisporta: cannot connect to MySQL at ${hostPort} as '${user}', database 'sisporta_no_such_db_\\w+' \\(SISPORTA_MYSQL_URL\\): unknown database .* \\[SIS_DB_LOGIN\\]`)
    },
    {
      name: 'extractor',
      env: { SISPORTA_SOURCE_URL: `mysql://${user}:${PASSWORD}@${server.host}/${database}`, SISPORTA_TOKEN: 'a.token.for-the-gateway' },
      message: new RegExp(`sisporta: cannot connect to the source \\(SISPORTA_SOURCE_URL: MySQL/MariaDB at ${hostPort} as '${user}', database '${database}'\\): access denied: wrong user or password — .* \\[SIS_SRC_CONNECT\\]`)
    }
  ]
  await Promise.all(cases.map(async (c) => {
    const run = await runToExit(t, c.name, await freeLoopbackPort(), { SISPORTA_NAMESPACE: namespace, SISPORTA_NATS_URL: TEST_NATS_URL, ...c.env })
    t.equal(run.code, 2, `${c.name}: exit 2 (${run.ms} ms)`)
    t.match(run.output, c.message, `${c.name}: the message names the setting, host:port, user, database and the reason`)
    t.notOk(run.output.includes(PASSWORD), `${c.name}: no password in any output (log lines included)`)
  }))
})
