import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createConnection, type Connection } from 'mysql2/promise'
import type { NatsConnection } from 'nats'
import { readSettings } from '@sisporta/config'
import { busNames, type BusNames } from '@sisporta/contracts'
import { connectBus, deprovisionBus } from '@sisporta/nats'
import { issueToken, runSisporta } from '@sisporta/cli'
import { benchConfigYaml } from './bench-table.js'


/**
 * The tuning knobs passed through to the processes, as found in the bench's environment, and
 * recorded in the result: sisporta's own, Node's options (a heap cap) and glibc malloc's.
 */
export const TUNING_VARIABLES = [
  'SISPORTA_BATCH_SIZE', 'SISPORTA_IN_FLIGHT', 'SISPORTA_PERSISTER_CONCURRENCY', 'SISPORTA_MAX_BATCH_BYTES',
  'SISPORTA_GATEWAY_MAX_IN_FLIGHT', 'SISPORTA_DELETE_CHUNK', 'SISPORTA_COMPARE_ROWS', 'SISPORTA_HEAP_MB', 'NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'
] as const

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Everything a bench run owns: servers' URLs, its databases, namespace, config, temp dir. */
export interface BenchEnv {
  readonly dir: string
  readonly tsvFile: string
  readonly configFile: string
  readonly server: string
  readonly sourceUrl: string
  readonly targetUrl: string
  readonly natsUrl: string
  readonly sourceDb: string
  readonly targetDb: string
  readonly names: BusNames
  readonly nc: NatsConnection
  /** Root connection without a default database; LOAD DATA LOCAL reads `tsvFile`. */
  readonly admin: Connection
  /** The environment every sisporta process of the run gets. */
  readonly env: Record<string, string>
  /** The tuning knobs set (and so passed on), by name. */
  readonly tuning: Record<string, string>
  /** Runs `sisporta …` as a child process with the run's environment. */
  cli(args: string[]): Promise<CliRun>
  /**
   * Drops the databases and the namespace unless `keepData`, closes the connections, deletes
   * the generated file, and the temp dir (config, service logs) unless `keepDir`.
   */
  close(options: { keepData: boolean, keepDir: boolean }): Promise<void>
}

/**
 * Prepares a clean bench: the NATS namespace (`bench`) deprovisioned, the databases
 * (`sisporta_bench_src`, `sisporta_bench_tgt`) dropped and created, a temp dir with the config
 * file, a JWT for the extractor. The bench never changes a server setting.
 */
export async function createBenchEnv (options: { namespace: string, dbPrefix: string }): Promise<BenchEnv> {
  const sourceDb = `${options.dbPrefix}_src`
  const targetDb = `${options.dbPrefix}_tgt`
  const server = process.env.SISPORTA_BENCH_MYSQL_SERVER ?? 'mysql://root@127.0.0.1:3306'
  const natsUrl = process.env.SISPORTA_NATS_URL ?? 'nats://127.0.0.1:4222'
  const dir = mkdtempSync(join(tmpdir(), 'sisporta-bench-'))
  const tsvFile = join(dir, 'bench.tsv')
  const names = busNames(options.namespace)
  // the bench's own connection uses the same NATS credentials and TLS settings as the processes it starts
  const nc = await connectBus({ url: natsUrl, security: readSettings().nats, name: 'sisporta-bench', connectTimeoutMs: 10_000 })
  await deprovisionBus(nc, names)
  const admin = await createConnection({
    uri: server,
    multipleStatements: true,
    // every LOAD DATA LOCAL of the bench reads the one generated file, whatever name the SQL gives
    infileStreamFactory: () => createReadStream(tsvFile, { highWaterMark: 1 << 20 })
  })
  await admin.query(`DROP DATABASE IF EXISTS ${sourceDb}; DROP DATABASE IF EXISTS ${targetDb}; CREATE DATABASE ${sourceDb} CHARACTER SET utf8mb4; CREATE DATABASE ${targetDb} CHARACTER SET utf8mb4`)
  const configFile = join(dir, 'sisporta.yaml')
  writeFileSync(configFile, benchConfigYaml())
  const secret = randomBytes(32).toString('hex')
  const token = issueToken({ jwtSecret: secret }, { streams: ['*'], subject: 'bench', ttl: '24h' })
  const tuning: Record<string, string> = {}
  for (const name of TUNING_VARIABLES) {
    const value = process.env[name]
    if (value !== undefined && value !== '') tuning[name] = value
  }
  const sourceUrl = `${server}/${sourceDb}`
  const targetUrl = `${server}/${targetDb}`
  const env: Record<string, string> = {
    ...tuning,
    SISPORTA_CONFIG: configFile,
    SISPORTA_NAMESPACE: options.namespace,
    SISPORTA_NATS_URL: natsUrl,
    SISPORTA_MYSQL_URL: targetUrl,
    SISPORTA_SOURCE_URL: sourceUrl,
    SISPORTA_JWT_SECRET: secret,
    SISPORTA_TOKEN: token,
    SISPORTA_LOG_LEVEL: process.env.SISPORTA_LOG_LEVEL ?? 'info'
  }
  const cli = async (args: string[]): Promise<CliRun> => await runSisporta(args, env)
  return {
    dir,
    tsvFile,
    configFile,
    server,
    sourceUrl,
    targetUrl,
    natsUrl,
    sourceDb,
    targetDb,
    names,
    nc,
    admin,
    env,
    tuning,
    cli,
    close: async ({ keepData, keepDir }) => {
      if (!keepData) {
        await deprovisionBus(nc, names).catch(() => {})
        await admin.query(`DROP DATABASE IF EXISTS ${sourceDb}; DROP DATABASE IF EXISTS ${targetDb}`).catch(() => {})
      }
      await nc.close()
      await admin.end()
      rmSync(tsvFile, { force: true })
      if (!keepDir) rmSync(dir, { recursive: true, force: true })
    }
  }
}
