import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { createConnection } from 'mysql2/promise'
import { parseConfig, readSettings } from '@sisporta/config'
import { busNames } from '@sisporta/contracts'
import { connectBus, deprovisionBus } from '@sisporta/nats'
import type { Command } from '../commands/command.js'
import { issueToken } from '../commands/token.js'
import { UsageError, WorkFailed } from '../usage-error.js'
import { changeDemoErp, createDemoErp, demoConfigYaml } from './demo-erp.js'
import { CLI_ENTRY, cliNodeArgs, launchService, type RunningService } from './launch-services.js'
import { namespaceObjects } from '../commands/teardown.js'
import type { OptionValues } from '../commands/command.js'
import { compareStream } from './compare-streams.js'

const DEFAULT_DB_PREFIX = 'sisporta_demo'
const DEFAULT_NAMESPACE = 'demo'
const DB_PREFIX = /^[a-z][a-z0-9_]{0,50}$/

function out (line = ''): void {
  process.stdout.write(`${line}\n`)
}

/** Runs `sisporta <args>` as a child process with `env`, echoing its output indented; resolves with its exit code. */
async function runCli (args: string[], env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [...cliNodeArgs(), CLI_ENTRY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const indent = (chunk: Buffer): void => { process.stdout.write(chunk.toString('utf8').replace(/^(?=.)/gm, '    ')) }
  child.stdout.on('data', indent)
  let errors = ''
  child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString('utf8') })
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)))
  // stderr is JSON logs: show only what went wrong.
  for (const line of errors.split('\n')) {
    if (line.startsWith('sisporta:') || /"level":"(error|fatal)"/.test(line)) process.stdout.write(`    ${line}\n`)
  }
  return code
}

/**
 * `demo --serve`: starts the console beside the four services (port 9104, or a free one when that
 * is taken), prints its address and an admin token to sign in with, and keeps everything running
 * until Ctrl-C / SIGTERM; then stops the services and leaves the data in place.
 */
async function serveConsole (env: Record<string, string>, dir: string, services: RunningService[], demo: { secret: string, namespace: string, targetDb: string, sourceDb: string, configFile: string }): Promise<void> {
  out('\n8. The operator console')
  let consoleService: RunningService
  try {
    consoleService = await launchService('console', { ...env, SISPORTA_HTTP_PORT: '9104' }, join(dir, 'console.log'))
  } catch {
    consoleService = await launchService('console', env, join(dir, 'console-free-port.log'))
  }
  services.push(consoleService)
  const admin = issueToken({ jwtSecret: demo.secret }, { streams: [], admin: true, subject: 'demo-operator', ttl: '12h' })
  out(`   console    pid ${String(consoleService.process.pid).padEnd(7)} ${consoleService.url}`)
  out(`\n   Open ${consoleService.url} in a browser and sign in with this admin token (valid 12 h):\n\n${admin}\n`)
  out(`   Or from another terminal: SISPORTA_NAMESPACE=${demo.namespace} SISPORTA_CONFIG=${demo.configFile} pnpm sisporta status`)
  out('   Everything keeps running (the extractor daemon serves "sync now"); Ctrl-C stops the services and keeps the data.')
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  out('\n9. Stopping the services')
  // Ctrl-C in a terminal reaches the services too (one process group): give them a moment to
  // stop on it, so that they do not take our SIGTERM for a second, impatient signal
  const stopped = services.splice(0).reverse()
  await Promise.race([Promise.all(stopped.map(async (s) => await s.exited)), sleep(3000)])
  for (const service of stopped) {
    const code = await service.stop()
    out(`   ${service.name.padEnd(10)} exited ${code}`)
  }
  out(`\nLeft in place: mysql ${demo.targetDb} · ${demo.sourceDb} · namespace ${demo.namespace}; remove with: sisporta teardown --namespace ${demo.namespace} · DROP DATABASE ${demo.targetDb}; DROP DATABASE ${demo.sourceDb}`)
}

/**
 * The demo ERP's size: `--rows N` products (customers 0.6 N), or `--products` / `--customers`
 * one by one; each at least 10, at most 10 million.
 *
 * @example
 * demoSize({ rows: '1000' }) // { products: 1000, customers: 600 }
 */
export function demoSize (values: OptionValues): { products: number, customers: number } {
  const count = (raw: unknown, what: string, fallback: number): number => {
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw) || n < 10 || n > 10_000_000) throw new UsageError(`demo: ${what} '${String(raw)}' must be a whole number from 10 to 10000000`)
    return n
  }
  const rows = count(values.rows, '--rows', 5000)
  return {
    products: count(values.products, '--products', rows),
    customers: count(values.customers, '--customers', Math.max(10, Math.round(rows * 0.6)))
  }
}

/**
 * `sisporta demo`: the whole pipeline on this machine. Creates a demo ERP database (products,
 * customers, a price list with a composite key; accents, emoji, large decimals, NULLs, long text,
 * datetimes with micro- and milliseconds), starts gateway, persister, reconciler and extractor as
 * separate processes, runs a full load of every stream, changes the ERP (updates, inserts,
 * deletes), runs a second full load, and checks the target against the source value for value.
 */
export const demoCommand: Command = {
  options: {
    rows: { type: 'string' },
    products: { type: 'string' },
    customers: { type: 'string' },
    keep: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    'db-prefix': { type: 'string' }
  },
  async run (values) {
    const size = demoSize(values)
    const { products, customers } = size
    const base = readSettings()
    // SISPORTA_NAMESPACE when given (readSettings checked it), else the demo's own
    const NAMESPACE = process.env.SISPORTA_NAMESPACE === undefined || process.env.SISPORTA_NAMESPACE === '' ? DEFAULT_NAMESPACE : base.namespace
    const prefix = typeof values['db-prefix'] === 'string' ? values['db-prefix'] : DEFAULT_DB_PREFIX
    if (!DB_PREFIX.test(prefix)) throw new UsageError(`demo: --db-prefix '${prefix}' must match ${DB_PREFIX} (it names the databases PREFIX and PREFIX_erp)`)
    const TARGET_DB = prefix
    const SOURCE_DB = `${prefix}_erp`
    const serve = values.serve === true
    // serving leaves everything in place: the console shows what the demo made
    const keep = values.keep === true || serve
    // the demo alone falls back to the local server's root login (a developer machine)
    const server = new URL(base.mysqlUrl ?? 'mysql://root@127.0.0.1:3306')
    server.pathname = ''
    const serverUrl = server.toString().replace(/\/$/, '')
    const dir = mkdtempSync(join(tmpdir(), 'sisporta-demo-'))
    const configFile = join(dir, 'sisporta.yaml')
    writeFileSync(configFile, demoConfigYaml())
    const config = parseConfig(demoConfigYaml(), configFile, {})
    const secret = randomBytes(32).toString('hex')
    const env: Record<string, string> = {
      SISPORTA_CONFIG: configFile,
      SISPORTA_NAMESPACE: NAMESPACE,
      SISPORTA_NATS_URL: base.natsUrl,
      SISPORTA_MYSQL_URL: `${serverUrl}/${TARGET_DB}`,
      SISPORTA_SOURCE_URL: `${serverUrl}/${SOURCE_DB}`,
      SISPORTA_JWT_SECRET: secret,
      SISPORTA_LOG_LEVEL: 'info',
      SISPORTA_OPEN_TIMEOUT: '600',
      SISPORTA_APPLY_TIMEOUT: '600'
    }

    out('sisporta demo')
    out(`  work dir ${dir} (config, service logs)`)
    out(`\n1. Demo ERP: database ${SOURCE_DB} with ${products} products, ${customers} customers and a price list`)
    const admin = await createConnection({ uri: serverUrl, multipleStatements: true })
    const nc = await connectBus({ url: base.natsUrl, security: base.nats, name: 'sisporta-demo', connectTimeoutMs: 10_000 })
    try {
      // the demo starts from scratch: only its own default names are ever cleared without asking
      if (NAMESPACE !== DEFAULT_NAMESPACE && (await namespaceObjects(await nc.jetstreamManager(), busNames(NAMESPACE))).length > 0) {
        throw new UsageError(`demo: namespace '${NAMESPACE}' (SISPORTA_NAMESPACE) already exists on this NATS and the demo starts from scratch: pick another namespace, or remove it first with \`sisporta teardown --namespace ${NAMESPACE}\``)
      }
      if (prefix !== DEFAULT_DB_PREFIX) {
        const [existing] = await admin.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)', [SOURCE_DB, TARGET_DB]) as unknown as [Array<{ name: string }>]
        if (existing.length > 0) throw new UsageError(`demo: database ${existing.map((r) => r.name).join(' and ')} already exists and the demo starts from scratch: pick another --db-prefix, or drop it first`)
      }
      await deprovisionBus(nc, busNames(NAMESPACE))
    } catch (err) {
      await admin.end()
      await nc.close()
      throw err
    }
    await nc.close()
    await admin.query(`DROP DATABASE IF EXISTS \`${SOURCE_DB}\`; DROP DATABASE IF EXISTS \`${TARGET_DB}\`; CREATE DATABASE \`${SOURCE_DB}\` CHARACTER SET utf8mb4`)
    await admin.end()
    const erp = await createConnection({ uri: `${serverUrl}/${SOURCE_DB}`, charset: 'utf8mb4_unicode_ci' })
    const services: RunningService[] = []
    try {
      await createDemoErp(erp, size)

      out(`\n2. sisporta migrate → target database ${TARGET_DB}`)
      if (await runCli(['migrate'], env) !== 0) throw new WorkFailed('SIS_CLI_DEMO', 'migrate failed')

      out('\n3. Starting the four services as separate processes')
      for (const name of ['gateway', 'persister', 'reconciler', 'extractor'] as const) {
        // served, the daemon lives on (it runs the console's "sync now"): its token lasts as long as the console's
        const extra: Record<string, string> = name === 'extractor'
          ? { SISPORTA_TOKEN: issueToken({ jwtSecret: secret }, { streams: ['*'], subject: 'demo-extractor', ttl: serve ? '12h' : '1h' }), SISPORTA_GATEWAY_URL: services[0]!.url }
          : {}
        const service = await launchService(name, { ...env, ...extra }, join(dir, `${name}.log`))
        services.push(service)
        out(`   ${name.padEnd(10)} pid ${String(service.process.pid).padEnd(7)} ${service.url}  (/healthz /readyz /metrics)`)
      }
      const gateway = services[0]!
      const token = issueToken({ jwtSecret: secret }, { streams: ['*'], subject: 'demo', ttl: '1h' })
      const loadEnv = { ...env, SISPORTA_GATEWAY_URL: gateway.url, SISPORTA_TOKEN: token }

      const loadAll = async (title: string): Promise<void> => {
        out(`\n${title}`)
        for (const stream of config.streams) {
          out(`  $ sisporta extract --stream ${stream.name} --mode full --wait`)
          if (await runCli(['extract', '--stream', stream.name, '--mode', 'full', '--wait', '--timeout', '10m'], loadEnv) !== 0) {
            throw new WorkFailed('SIS_CLI_DEMO', `the load of ${stream.name} failed; see the logs in ${dir}`)
          }
        }
      }
      await loadAll('4. First full load of every stream')

      out('\n5. The ERP changes: updates, inserts, deletes')
      const changes = await changeDemoErp(erp, size)
      for (const [stream, c] of Object.entries(changes)) out(`   ${stream.padEnd(11)} ${c.updated} updated, ${c.inserted} inserted, ${c.deleted} deleted`)

      await loadAll('6. Second full load: diffed — row hashes compared range by range, only changed rows sent; reconciliation deletes what the ERP deleted')

      out('\n7. Source vs target, value for value')
      let allEqual = true
      for (const stream of config.streams) {
        const cmp = await compareStream(stream, env.SISPORTA_SOURCE_URL!, env.SISPORTA_MYSQL_URL!)
        allEqual &&= cmp.equal
        out(`   ${stream.name.padEnd(11)} source ${String(cmp.sourceRows).padStart(6)} rows, target ${String(cmp.targetRows).padStart(6)} rows: ${cmp.equal ? 'identical ✓' : `${cmp.missing} missing, ${cmp.extra} extra, ${cmp.different} different ✗`}`)
        for (const example of cmp.examples) out(`      ${example}`)
      }

      out('\n   The same check through sisporta itself (row hashes, source vs target, through the gateway):')
      for (const stream of config.streams) {
        out(`  $ sisporta verify --stream ${stream.name}`)
        if (await runCli(['verify', '--stream', stream.name], loadEnv) !== 0) allEqual = false
      }

      if (serve && allEqual) {
        await serveConsole(env, dir, services, { secret, namespace: NAMESPACE, targetDb: TARGET_DB, sourceDb: SOURCE_DB, configFile })
        out('demo: target equals source ✓')
        return 0
      }

      out('\n8. Stopping the services (SIGTERM)')
      for (const service of services.splice(0).reverse()) {
        const code = await service.stop()
        out(`   ${service.name.padEnd(10)} exited ${code}`)
      }
      if (!allEqual) {
        out(`\nLook around: mysql ${TARGET_DB} · SISPORTA_NAMESPACE=${NAMESPACE} SISPORTA_CONFIG=${configFile} pnpm sisporta loads list`)
        throw new WorkFailed('SIS_CLI_DEMO', 'the target differs from the source')
      }
      if (keep) {
        out(`\nLook around: mysql ${TARGET_DB} · SISPORTA_NAMESPACE=${NAMESPACE} SISPORTA_CONFIG=${configFile} pnpm sisporta loads list`)
        out(`  remove it all with: sisporta teardown --namespace ${NAMESPACE} · DROP DATABASE ${TARGET_DB}; DROP DATABASE ${SOURCE_DB}`)
      } else {
        out(`\n9. Removing namespace ${NAMESPACE} and databases ${TARGET_DB}, ${SOURCE_DB} (--keep leaves them to look around)`)
        const bus = await connectBus({ url: base.natsUrl, security: base.nats, name: 'sisporta-demo', connectTimeoutMs: 10_000 })
        await deprovisionBus(bus, busNames(NAMESPACE)).finally(async () => { await bus.close() })
        const cleanup = await createConnection({ uri: serverUrl, multipleStatements: true })
        await cleanup.query(`DROP DATABASE IF EXISTS \`${SOURCE_DB}\`; DROP DATABASE IF EXISTS \`${TARGET_DB}\``).finally(async () => { await cleanup.end() })
      }
      out('demo: target equals source ✓')
      return 0
    } finally {
      for (const service of services) await service.stop(5_000)
      await erp.end()
    }
  }
}
