import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createConnection } from 'mysql2/promise'
import { connect } from 'nats'
import { busNames } from '@sisporta/contracts'
import { TEST_MYSQL_SERVER, TEST_NATS_URL, randomId } from '@sisporta/testkit'
import type { BenchResult } from '../src/run-bench.js'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))
const ROWS = 20_000

// The whole benchmark, small: 20,000 rows, no replica runs, in its own namespace and databases.
// Only shape and sanity are checked — never timings, which depend on the machine's other work.
t.test('bench – a small run exits 0 and writes a result with every required field', async (t) => {
  const id = randomId()
  const namespace = `t${id}`
  const dbPrefix = `sisporta_t_${id}`
  const out = mkdtempSync(join(tmpdir(), 'sisporta-bench-test-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })

  const child = spawn(process.execPath, ['--conditions=sisporta-src', '--import=tsx', MAIN, '--rows', String(ROWS), '--skip-replicas', '--cpu-prof', '--out', out, '--namespace', namespace, '--db-prefix', dbPrefix], {
    env: { ...process.env, SISPORTA_NATS_URL: TEST_NATS_URL, SISPORTA_BENCH_MYSQL_SERVER: TEST_MYSQL_SERVER, SISPORTA_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8') })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8') })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, 'pnpm bench exits 0', { stdout: stdout.slice(-3000), stderr: stderr.slice(-3000) })
  t.match(stdout, /LOAD DATA \(baseline\)/, 'prints the table')

  const files = readdirSync(out).filter((f) => f.endsWith('.json'))
  t.equal(files.length, 1, 'writes one results file')
  const r = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as BenchResult

  t.equal(r.rows, ROWS, 'rows')
  t.ok(r.loadData.rowsPerSec > 0, 'loadData.rowsPerSec > 0')
  t.equal(r.loadData.rows, ROWS, 'LOAD DATA loaded every row')
  t.ok(r.full.rowsPerSec > 0, 'full.rowsPerSec > 0')
  t.equal(r.full.rows, ROWS, 'the full load carried every row')
  t.equal(r.full.targetRows, ROWS, 'the target holds every row after the full load')
  t.equal(r.full.state, 'reconciled')
  t.ok(r.full.ratioToLoadData > 0, 'full.ratioToLoadData > 0')
  t.equal(r.full.ratioToLoadData, Math.round(r.full.rowsPerSec / r.loadData.rowsPerSec * 1000) / 1000, 'the ratio is full over LOAD DATA')
  t.ok(r.full.stages.opened <= r.full.stages.sealed && r.full.stages.sealed <= r.full.stages.applied && r.full.stages.applied <= r.full.stages.reconciled, 'stages in order')

  t.ok(r.full.bytesSent > 0, 'full.bytesSent from the gateway\'s /metrics')
  t.equal(r.reload, undefined, 'no second full load sending every row without --reload-rows')
  // scattered: ids ≡ 50 mod 100 updated, ≡ 3 mod 200 deleted
  const scattered = r.reloadScattered!
  t.equal(scattered.reload, 'diff', 'the scattered reload is diffed')
  t.equal(scattered.state, 'reconciled')
  t.equal(scattered.updated, ROWS * 0.01, 'scattered: 1 % of the rows changed')
  t.equal(scattered.rowsWritten, scattered.updated, 'scattered: only the changed rows were sent')
  t.equal(scattered.deleted, ROWS * 0.005, 'scattered: 0.5 % of the rows deleted')
  t.equal(scattered.targetRows, ROWS - ROWS * 0.005, 'scattered: the target lost exactly the deleted rows')
  t.ok(scattered.seconds > 0 && scattered.bytesSent > 0, 'scattered: seconds and bytes')
  t.ok(scattered.bytesSent < r.full.bytesSent, 'scattered: fewer bytes than the full load')
  t.equal(scattered.compared?.rows, ROWS - ROWS * 0.005, 'scattered: every source row compared')
  // clustered: the newest 1 % of ids updated (less the ones the scattered step deleted), every other id of the 1 % below deleted
  const clustered = r.reloadClustered!
  t.equal(clustered.reload, 'diff', 'the clustered reload is diffed')
  t.equal(clustered.state, 'reconciled')
  t.equal(clustered.updated, ROWS * 0.01 - ROWS * 0.01 / 200, 'clustered: the newest 1 % of the ids still there changed')
  t.equal(clustered.rowsWritten, clustered.updated, 'clustered: only the changed rows were sent')
  t.equal(clustered.deleted, ROWS * 0.005, 'clustered: 0.5 % of the rows deleted')
  t.equal(clustered.targetRows, ROWS - ROWS * 0.01, 'clustered: the target lost exactly the deleted rows')
  t.ok(clustered.compared !== undefined && clustered.compared.equalRanges > 0, 'clustered: some ranges equal')
  t.ok((clustered.cpuMicrosPerSourceRow.extractor ?? 0) > 0, 'clustered: extractor CPU per source row')
  // verify of the unchanged table
  const verify = r.verify!
  t.equal(verify.exitCode, 0, 'verify exits 0 on the unchanged table')
  t.equal(verify.sourceRows, ROWS - ROWS * 0.01, 'verify read every source row')
  t.same([verify.report.missing, verify.report.extra, verify.report.different], [0, 0, 0], 'verify found nothing missing, extra or different')
  // seconds are recorded to the millisecond, rows/s from the unrounded time: equal within a row
  t.ok(Math.abs(verify.rowsPerSec - verify.sourceRows / verify.seconds) <= 1, 'verify rows/s is source rows over its seconds', { rowsPerSec: verify.rowsPerSec, sourceRows: verify.sourceRows, seconds: verify.seconds })
  t.ok((verify.cpuSeconds.verify ?? 0) > 0, 'verify: its own CPU')
  t.equal(r.settings.compareRows, 5000, 'compareRows recorded')

  for (const service of ['gateway', 'persister', 'reconciler', 'extractor']) {
    t.ok((r.peakRssMb[service] ?? 0) > 0, `peakRssMb.${service} > 0`)
    t.ok((r.full.cpuSeconds[service] ?? 0) >= 0, `cpu seconds of ${service}`)
    t.ok(Object.keys(r.rssCurves).some((name) => name.startsWith(service)), `an RSS curve of ${service}`)
  }
  t.ok(r.full.cpuSeconds.extractor! > 0, 'the extractor used some CPU')
  t.same(r.replicaRuns, [], 'no replica runs with --skip-replicas')
  t.ok(r.machine.cores >= 1 && r.machine.memoryMb > 0, 'machine: cores and memory')
  t.match(r.machine.node, /^v\d+/, 'machine: node version')
  t.match(r.machine.mariadb, /\d+\.\d+/, 'machine: MariaDB version')
  t.equal(r.machine.loadAverageAtStart.length, 3, 'machine: load average')
  t.ok('innodb_flush_log_at_trx_commit' in r.machine.serverSettings, 'server settings recorded')
  t.ok(r.settings.batchSize > 0 && r.settings.persisterConcurrency > 0, 'effective settings recorded')
  t.type(r.tuning, 'object')
  t.type(r.bars.throughput.met, 'boolean')
  t.type(r.bars.memory.met, 'boolean')
  t.type(r.bars.reloadSeconds?.met, 'boolean')
  t.type(r.bars.reloadBytes?.met, 'boolean')
  t.type(r.bars.verifyThroughput?.met, 'boolean')
  t.match(stdout, /bar: each diffed reload ≤ 1\/3/, 'prints the reload seconds bar')
  t.match(stdout, /bar: verify ≥ 50 %/, 'prints the verify bar')
  for (const [label, exit] of Object.entries(r.serviceExits)) t.equal(exit, 0, `${label} stopped cleanly`)
  // --cpu-prof: every process wrote a profile as it exited, and the result summarises it
  for (const label of ['gateway', 'persister#1', 'reconciler', 'extractor(full)', 'extractor(reload-scattered)', 'extractor(reload-clustered)', 'verify']) {
    const profile = r.profiles?.[label]
    t.ok(profile !== undefined && profile.busySeconds > 0 && profile.topFunctions.length > 0, `a CPU profile of ${label}`)
  }

  // the run cleans up after itself
  const sql = await createConnection({ uri: TEST_MYSQL_SERVER })
  const [dbs] = await sql.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${dbPrefix}%`]) as unknown as [unknown[]]
  await sql.end()
  t.equal(dbs.length, 0, 'the bench databases are dropped')
  const nc = await connect({ servers: TEST_NATS_URL })
  const jsm = await nc.jetstreamManager()
  const streams = await jsm.streams.names().next()
  await nc.close()
  t.notOk(streams.includes(busNames(namespace).batchStream), 'the bench namespace is deprovisioned')
})
