import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createConnection, type Connection } from 'mysql2/promise'
import { connect, type NatsConnection } from 'nats'
import { parseConfig } from '@sisporta/config'
import { busNames, type BusNames, type LoadRecord, type SisportaConfig } from '@sisporta/contracts'
import { deprovisionBus } from '@sisporta/nats'
import type { Test } from 'tap'
import { compareStream, issueToken, launchService, runSisporta, type CliResult, type RunningService } from '@sisporta/cli'
import { TEST_MYSQL_SERVER, TEST_NATS_URL, randomId } from '@sisporta/testkit'

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
  /** Starts (or restarts) one service as a separate process. */
  start(name: string, extraEnv?: Record<string, string>): Promise<RunningService>
  /** `sisporta extract --stream NAME --mode full --wait` as a separate process. */
  extract(stream: string, extra?: string[]): Promise<CliResult>
  /** Every load of a stream, from `sisporta loads list --json`. */
  loads(stream: string): Promise<LoadRecord[]>
  /** Compares every stream (or one) source vs target, value for value, with one assertion each. */
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
}): Promise<Pipeline> {
  const id = randomId()
  const namespace = options.namespace ?? `e2e_${id}`
  const names = busNames(namespace)
  const sourceDb = `sisporta_e2e_src_${id}`
  const targetDb = `sisporta_e2e_tgt_${id}`
  const admin = await createConnection({ uri: TEST_MYSQL_SERVER, multipleStatements: true })
  await admin.query(`CREATE DATABASE \`${sourceDb}\` CHARACTER SET utf8mb4; CREATE DATABASE \`${targetDb}\` CHARACTER SET utf8mb4`)
  const exact = { supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false, dateStrings: true, charset: 'utf8mb4_unicode_ci' } as const
  const sourceUrl = options.sourceUrl ?? `${TEST_MYSQL_SERVER}/${sourceDb}`
  const targetUrl = `${TEST_MYSQL_SERVER}/${targetDb}`
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
    await target.end()
    await admin.query(`DROP DATABASE IF EXISTS \`${sourceDb}\`; DROP DATABASE IF EXISTS \`${targetDb}\``)
    await admin.end()
  })
  await options.fillSource?.(source)

  const cli = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => await runSisporta(args, { ...env, ...extraEnv })
  const start = async (name: string, extraEnv: Record<string, string> = {}): Promise<RunningService> => {
    const service = await launchService(name, { ...env, ...options.serviceEnv?.[name], ...extraEnv }, join(dir, `${name}.log`))
    services.set(name, service)
    if (name === 'gateway') env.SISPORTA_GATEWAY_URL = service.url
    return service
  }
  const migrated = await cli(['migrate'])
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`)
  for (const name of options.services ?? ['gateway', 'persister', 'reconciler']) await start(name)
  const extract = async (stream: string, extra: string[] = []): Promise<CliResult> =>
    await cli(['extract', '--stream', stream, '--mode', 'full', '--wait', '--timeout', '120s', ...extra])
  const loads = async (stream: string): Promise<LoadRecord[]> => JSON.parse((await cli(['loads', 'list', '--stream', stream, '--json'])).stdout) as LoadRecord[]
  const expectMirror = async (t: Test, only?: string): Promise<void> => {
    for (const stream of config.streams.filter((s) => only === undefined || s.name === only)) {
      const cmp = await compareStream(stream, sourceUrl, targetUrl)
      t.ok(cmp.equal, `${stream.name}: target equals source value for value (${cmp.sourceRows} rows, ${cmp.targetRows} in target)`, { examples: cmp.examples })
    }
  }
  return { dir, env, config, names, nc, source, target, sourceUrl, targetUrl, services, token, cli, start, extract, loads, expectMirror }
}
