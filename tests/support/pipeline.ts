import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createConnection, type Connection } from 'mysql2/promise'
import { connect, type NatsConnection } from 'nats'
import { parseConfig } from '@sisporta/config'
import { busNames, type BusNames, type LoadRecord, type SisportaConfig } from '@sisporta/contracts'
import { LoadRegistry, deprovisionBus } from '@sisporta/nats'
import type { Test } from 'tap'
import { issueToken, launchService, runSisporta, type CliResult, type RunningService } from '@sisporta/cli'
import { TEST_MYSQL_SERVER, TEST_NATS_URL, randomId } from '@sisporta/testkit'
import { expectMirror as expectMirrorOf } from './mirror-check.js'

/** Everything one end-to-end test run owns: databases, namespace, config, the four service processes. */
export interface Pipeline {
  readonly dir: string
  readonly env: Record<string, string>
  readonly config: SisportaConfig
  readonly names: BusNames
  readonly nc: NatsConnection
  readonly source: Connection
  readonly target: Connection
  readonly sourceUrl: string
  readonly targetUrl: string
  readonly services: Map<string, RunningService>
  readonly token: string
  /** Runs `sisporta …` as a separate process with the pipeline's environment. */
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>
  /**
   * Starts (or restarts) one service as a separate process, known in `services` (and its log
   * file) as `as`: `start('persister', {}, 'persister-2')` adds a second persister replica.
   */
  start(name: string, extraEnv?: Record<string, string>, as?: string): Promise<RunningService>
  /** `sisporta extract --stream NAME --mode full --wait` as a separate process. */
  extract(stream: string, extra?: string[]): Promise<CliResult>
  /** Every (trusted) load of a stream, oldest first, read from the registry in this process. */
  loads(stream: string): Promise<LoadRecord[]>
  /** The same from `sisporta loads list --stream NAME --json`, as an operator sees it. */
  loadsViaCli(stream: string): Promise<LoadRecord[]>
  /**
   * Compares every stream (or one) source vs target with the independent mirror check
   * (tests/support/mirror-check.ts: the databases' own comparison, never sisporta's readers),
   * every row and mapped column, one assertion per stream.
   */
  expectMirror(t: Test, only?: string): Promise<void>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/** Rows in a table now. */
export async function countRows (sql: Connection, table: string): Promise<number> {
  const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM \`${table}\``) as unknown as [{ n: string }[]]
  return Number(rows[0]!.n)
}

/**
 * Builds an isolated pipeline: a source database filled by `fillSource`, an empty target
 * database, a fresh NATS namespace, a config file, `sisporta migrate`, and the four services
 * started as separate processes. Everything is removed at teardown.
 */
export async function startPipeline (t: Teardown, options: {
  configYaml: string
  /** Fills the MariaDB source database (unused when `sourceUrl` points elsewhere). */
  fillSource?: (sql: Connection) => Promise<void>
  /** Creates the target's own tables before `sisporta migrate` runs, as the application's migration would. */
  prepareTarget?: (sql: Connection) => Promise<void>
  /** Another source (a PostgreSQL database, say) instead of the MariaDB one. */
  sourceUrl?: string
  env?: Record<string, string>
  services?: string[]
  /** The NATS namespace (default `e2e_<random>`). */
  namespace?: string
  /** SISPORTA_NATS_URL of the processes (default: the local test server). */
  natsUrl?: string
  /** The pipeline's own NATS connection (teardown, tests), instead of one to the local test server. */
  nc?: NatsConnection
  /** Environment of one service only, over `env` (e.g. its own NATS identity). */
  serviceEnv?: Record<string, Record<string, string>>
  /**
   * The MySQL server of the target database (`mysql://root@127.0.0.1:PORT`: a private server a
   * fault test restarts, say); default the local test server, where the source database is.
   */
  targetServer?: string
}): Promise<Pipeline> {
  const id = randomId()
  const namespace = options.namespace ?? `e2e_${id}`
  const names = busNames(namespace)
  const sourceDb = `sisporta_e2e_src_${id}`
  const targetDb = `sisporta_e2e_tgt_${id}`
  const targetServer = options.targetServer ?? TEST_MYSQL_SERVER
  const admin = await createConnection({ uri: TEST_MYSQL_SERVER, multipleStatements: true })
  const targetAdmin = targetServer === TEST_MYSQL_SERVER ? admin : await createConnection({ uri: targetServer })
  await admin.query(`CREATE DATABASE \`${sourceDb}\` CHARACTER SET utf8mb4`)
  await targetAdmin.query(`CREATE DATABASE \`${targetDb}\` CHARACTER SET utf8mb4`)
  const exact = { supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false, dateStrings: true, charset: 'utf8mb4_unicode_ci' } as const
  const sourceUrl = options.sourceUrl ?? `${TEST_MYSQL_SERVER}/${sourceDb}`
  const targetUrl = `${targetServer}/${targetDb}`
  const source = await createConnection({ uri: `${TEST_MYSQL_SERVER}/${sourceDb}`, ...exact })
  const target = await createConnection({ uri: targetUrl, ...exact })
  const nc = options.nc ?? await connect({ servers: TEST_NATS_URL })
  const dir = mkdtempSync(join(tmpdir(), `sisporta-e2e-${id}-`))
  const configFile = join(dir, 'sisporta.yaml')
  writeFileSync(configFile, options.configYaml)
  const config = parseConfig(options.configYaml, configFile, {})
  const secret = randomBytes(32).toString('hex')
  const token = issueToken({ jwtSecret: secret }, { streams: ['*'], subject: 'e2e', ttl: '1h' })
  const services = new Map<string, RunningService>()
  const env: Record<string, string> = {
    SISPORTA_CONFIG: configFile,
    SISPORTA_NAMESPACE: namespace,
    SISPORTA_NATS_URL: options.natsUrl ?? TEST_NATS_URL,
    SISPORTA_MYSQL_URL: targetUrl,
    SISPORTA_SOURCE_URL: sourceUrl,
    SISPORTA_JWT_SECRET: secret,
    SISPORTA_TOKEN: token,
    SISPORTA_LOG_LEVEL: 'info',
    ...options.env
  }
  t.teardown(async () => {
    await Promise.all([...services.values()].map(async (s) => await s.stop(5_000)))
    await deprovisionBus(nc, names).catch(() => {})
    await nc.close()
    await source.end()
    // a target server the test restarted has closed these already
    await target.end().catch(() => {})
    await targetAdmin.query(`DROP DATABASE IF EXISTS \`${targetDb}\``).catch(() => {})
    if (targetAdmin !== admin) await targetAdmin.end().catch(() => {})
    await admin.query(`DROP DATABASE IF EXISTS \`${sourceDb}\``)
    await admin.end()
  })
  await options.fillSource?.(source)
  await options.prepareTarget?.(target)

  const cli = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => await runSisporta(args, { ...env, ...extraEnv })
  const start = async (name: string, extraEnv: Record<string, string> = {}, as = name): Promise<RunningService> => {
    // a generous ceiling: on a loaded machine a service (TypeScript compiled on the fly) may take long to start
    const service = await launchService(name, { ...env, ...options.serviceEnv?.[name], ...extraEnv }, join(dir, `${as}.log`), { readyTimeoutMs: 180_000 })
    services.set(as, service)
    if (name === 'gateway') env.SISPORTA_GATEWAY_URL = service.url
    return service
  }
  const migrated = await cli(['migrate'])
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`)
  // The first service alone (it may be the one whose NATS identity provisions the bus), then the
  // gateway (its URL goes into `env`, for an extractor), then the rest at once.
  const [first, ...rest] = options.services ?? ['gateway', 'persister', 'reconciler']
  if (first !== undefined) await start(first)
  if (rest.includes('gateway')) await start('gateway')
  await Promise.all(rest.filter((name) => name !== 'gateway').map(async (name) => await start(name)))
  const extract = async (stream: string, extra: string[] = []): Promise<CliResult> =>
    await cli(['extract', '--stream', stream, '--mode', 'full', '--wait', '--timeout', '120s', ...extra])
  // in this process, through the pipeline's own connection: tests poll it, and a CLI process per
  // look would cost a second of CPU each (`loadsViaCli` is the operator's view, for a test of it)
  let registry: LoadRegistry | undefined
  const loads = async (stream: string): Promise<LoadRecord[]> => {
    registry ??= await LoadRegistry.bind(nc, names)
    return await registry.list({ stream })
  }
  const loadsViaCli = async (stream: string): Promise<LoadRecord[]> => {
    const listed = await cli(['loads', 'list', '--stream', stream, '--limit', '100000', '--json'])
    if (listed.code !== 0) throw new Error(`sisporta loads list failed (exit ${listed.code}): ${listed.stderr}`)
    // the records, without the timings the command adds (startedAt, endedAt, durationMs)
    return (JSON.parse(listed.stdout) as Array<LoadRecord & { startedAt?: string, endedAt?: string | null, durationMs?: number | null }>)
      .map(({ startedAt, endedAt, durationMs, ...load }) => load)
  }
  const expectMirror = async (t: Test, only?: string): Promise<void> => {
    const streams = config.streams.filter((s) => only === undefined || s.name === only)
    if (streams.length === 0) throw new Error(`expectMirror: no stream named '${only ?? ''}'`)
    await expectMirrorOf(t, streams, { sourceUrl, targetUrl })
  }
  return { dir, env, config, names, nc, source, target, sourceUrl, targetUrl, services, token, cli, start, extract, loads, loadsViaCli, expectMirror }
}
