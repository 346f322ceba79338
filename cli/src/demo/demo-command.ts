import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { createConnection } from 'mysql2/promise'
import { parseConfig, readSettings } from '@sisporta/config'
import { busNames } from '@sisporta/contracts'
import { connectBus, deprovisionBus } from '@sisporta/nats'
import type { Command } from '../commands/command.js'
import { issueToken } from '../commands/token.js'
import { UsageError, WorkFailed } from '../usage-error.js'
import { changeDemoErp, createDemoErp, demoConfigYaml } from './demo-erp.js'
import { CLI_ENTRY, cliNodeArgs, launchService, type RunningService } from './launch-services.js'
import { compareStream } from './compare-streams.js'

const SOURCE_DB = 'sisporta_demo_erp'
const TARGET_DB = 'sisporta_demo'
const NAMESPACE = 'demo'

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
 * `sisporta demo`: the whole pipeline on this machine. Creates a demo ERP database (products,
 * customers, a price list with a composite key; accents, emoji, large decimals, NULLs, long text,
 * datetimes with micro- and milliseconds), starts gateway, persister, reconciler and extractor as
 * separate processes, runs a full load of every stream, changes the ERP (updates, inserts,
 * deletes), runs a second full load, and checks the target against the source value for value.
 */
export const demoCommand: Command = {
  options: {
    products: { type: 'string', default: '5000' },
    customers: { type: 'string', default: '3000' }
  },
  async run (values) {
    const products = Number(values.products)
    const customers = Number(values.customers)
    if (!Number.isInteger(products) || products < 10 || !Number.isInteger(customers) || customers < 10) {
      throw new UsageError('demo: --products and --customers must be integers of at least 10')
    }
    const base = readSettings()
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
    await admin.query(`DROP DATABASE IF EXISTS \`${SOURCE_DB}\`; DROP DATABASE IF EXISTS \`${TARGET_DB}\`; CREATE DATABASE \`${SOURCE_DB}\` CHARACTER SET utf8mb4`)
    await admin.end()
    const erp = await createConnection({ uri: `${serverUrl}/${SOURCE_DB}`, charset: 'utf8mb4_unicode_ci' })
    const nc = await connectBus({ url: base.natsUrl, security: base.nats, name: 'sisporta-demo', connectTimeoutMs: 10_000 })
    await deprovisionBus(nc, busNames(NAMESPACE))
    await nc.close()
    const services: RunningService[] = []
    try {
      await createDemoErp(erp, { products, customers })

      out(`\n2. sisporta migrate → target database ${TARGET_DB}`)
      if (await runCli(['migrate'], env) !== 0) throw new WorkFailed('SIS_CLI_DEMO', 'migrate failed')

      out('\n3. Starting the four services as separate processes')
      for (const name of ['gateway', 'persister', 'reconciler', 'extractor'] as const) {
        const extra: Record<string, string> = name === 'extractor' ? { SISPORTA_TOKEN: issueToken({ jwtSecret: secret }, { streams: ['*'], subject: 'demo-extractor', ttl: '1h' }) } : {}
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
      const changes = await changeDemoErp(erp, { products, customers })
      for (const [stream, c] of Object.entries(changes)) out(`   ${stream.padEnd(11)} ${c.updated} updated, ${c.inserted} inserted, ${c.deleted} deleted`)

      await loadAll('6. Second full load (reconciliation deletes what the ERP deleted)')

      out('\n7. Source vs target, value for value')
      let allEqual = true
      for (const stream of config.streams) {
        const cmp = await compareStream(stream, env.SISPORTA_SOURCE_URL!, env.SISPORTA_MYSQL_URL!)
        allEqual &&= cmp.equal
        out(`   ${stream.name.padEnd(11)} source ${String(cmp.sourceRows).padStart(6)} rows, target ${String(cmp.targetRows).padStart(6)} rows: ${cmp.equal ? 'identical ✓' : `${cmp.missing} missing, ${cmp.extra} extra, ${cmp.different} different ✗`}`)
        for (const example of cmp.examples) out(`      ${example}`)
      }

      out('\n8. Stopping the services (SIGTERM)')
      for (const service of services.splice(0).reverse()) {
        const code = await service.stop()
        out(`   ${service.name.padEnd(10)} exited ${code}`)
      }
      out(`\nLook around: mysql ${TARGET_DB} · SISPORTA_NAMESPACE=${NAMESPACE} SISPORTA_CONFIG=${configFile} pnpm sisporta loads list`)
      if (!allEqual) throw new WorkFailed('SIS_CLI_DEMO', 'the target differs from the source')
      out('demo: target equals source ✓')
      return 0
    } finally {
      for (const service of services) await service.stop(5_000)
      await erp.end()
    }
  }
}
