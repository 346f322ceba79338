import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readSettings } from '@sisporta/config'
import { cliNodeArgs } from '@sisporta/cli'
import { BASELINE_TABLE, SOURCE_DDL, SOURCE_TABLE, TARGET_TABLE, loadBaselineSql, loadSourceSql, sourceChanges, writeSourceTsv, type SourceChanges } from './bench-table.js'
import { createBenchEnv, type BenchEnv } from './bench-env.js'
import { profilesByPid, summariseProfile, type ProfileSummary } from './cpu-profile.js'
import { counterDelta, dirtyPages, loadAverage, machineInfo, serverCounters, type MachineInfo } from './machine-info.js'
import { measureFullLoad, round, type LoadMeasurement } from './measure-load.js'
import { measureVerify, type VerifyMeasurement } from './measure-verify.js'
import type { BenchOptions } from './options.js'
import { CLK_TCK, ProcessSampler, findPids, readMachineCpu, readProc } from './proc-sampler.js'
import { ServiceSet } from './service-set.js'

/**
 * The bars this benchmark checks: design §7 (throughput, memory) and issue 13's for diffed
 * reloads (each reload pattern at most a third of the full load's seconds and 15 % of its bytes;
 * verify at least half of LOAD DATA's rows/s).
 */
export const BARS = Object.freeze({ minRatioToLoadData: 0.5, maxRssMb: 200, maxReloadSecondsRatio: 1 / 3, maxReloadBytesRatio: 0.15, minVerifyRatioToLoadData: 0.5 })

/** One reload step (issue 13): the source changed in a pattern, then a full load reconciled it. */
export type ReloadRun = LoadMeasurement & {
  readonly pattern: SourceChanges['pattern']
  /** Source rows when the reload ran (what it read and compared). */
  readonly sourceRows: number
  /** Rows the step's UPDATE changed at the source (what a diffed reload must send). */
  readonly updated: number
  /** Rows the step's DELETE removed at the source (what the reload must delete). */
  readonly expectedDeleted: number
  /** Rows sent, as the load record states them (its `rows`). */
  readonly rowsWritten: number
  /** CPU µs per source row, per process (the reload reads, hashes and compares every row). */
  readonly cpuMicrosPerSourceRow: Record<string, number>
  /** This reload's seconds and bytes over the first full load's. */
  readonly secondsRatioToFull: number
  readonly bytesRatioToFull: number
}

interface Bar { readonly met: boolean }

export interface ReplicaRun {
  readonly replicas: number
  readonly rowsPerSec: number
  readonly seconds: number
  readonly ratioToLoadData: number
  readonly measurement: LoadMeasurement
}

export interface BenchResult {
  readonly version: 1
  readonly startedAt: string
  readonly finishedAt: string
  readonly rows: number
  readonly options: { readonly skipReplicas: boolean, readonly replicas: readonly number[], readonly cpuProf: boolean, readonly reloadRows?: boolean, readonly namespace: string, readonly dbPrefix: string }
  /** Tuning variables set in the bench's environment (passed to every process). */
  readonly tuning: Record<string, string>
  /** What the services ran with, defaults included. */
  readonly settings: { readonly batchSize: number, readonly inFlight: number, readonly persisterConcurrency: number, readonly maxBatchBytes: number, readonly gatewayMaxInFlight: number, readonly deleteChunk: number, readonly compareRows?: number }
  readonly machine: MachineInfo
  /** The code measured: git commit of the work tree, and whether it had uncommitted changes. */
  readonly code: { readonly commit: string, readonly dirty: boolean }
  /** How the services ran: `tsx` (TypeScript sources, as `pnpm bench` runs them) or `dist` (compiled, as in the images). */
  readonly runtime: 'tsx' | 'dist'
  readonly source: { readonly tsvBytes: number, readonly generateSeconds: number, readonly loadSeconds: number }
  readonly loadData: {
    readonly rows: number
    readonly seconds: number
    readonly rowsPerSec: number
    readonly mariadbCpuSeconds: number
    /** The machine during LOAD DATA: busy CPU seconds of `capacity`, and how many went to processes other than MariaDB. */
    readonly machineCpu: { readonly busySeconds: number, readonly capacitySeconds: number, readonly outsideMariadbSeconds: number }
    readonly server: Record<string, number>
  }
  readonly full: LoadMeasurement & { readonly ratioToLoadData: number }
  /** Results before issue 13 (a second full load sending every row); `--report` still prints them. */
  readonly reload?: LoadMeasurement & { readonly updated: number, readonly expectedDeleted: number, readonly speedupVsFull: number }
  /** Diffed reload after scattered changes (1 % updated, 0.5 % deleted all over the table). */
  readonly reloadScattered?: ReloadRun
  /** Diffed reload after clustered changes (the newest 1 % updated, 0.5 % deleted among the newest 2 %). */
  readonly reloadClustered?: ReloadRun
  /** `--reload-rows`: a reload sending every row (the behaviour before issue 13), after scattered changes. */
  readonly reloadRows?: ReloadRun
  /** `sisporta verify` of the unchanged table after the reloads. */
  readonly verify?: VerifyMeasurement
  readonly replicaRuns: ReplicaRun[]
  /** Peak RSS (VmHWM) over the whole run, per service; persister = the largest replica, extractor = the largest run. */
  readonly peakRssMb: Record<string, number>
  /** CPU seconds over the whole run per process. */
  readonly cpuSecondsTotal: Record<string, number>
  /** VmRSS every 200 ms, per process: [ms since start, MiB]. */
  readonly rssCurves: Record<string, Array<[number, number]>>
  readonly bars: {
    readonly throughput: { readonly required: number, readonly ratio: number, readonly met: boolean }
    readonly memory: { readonly limitMb: number, readonly peakMb: number, readonly met: boolean }
    /** Each diffed reload's seconds over the full load's, at most `max` (issue 13). */
    readonly reloadSeconds?: Bar & { readonly max: number, readonly scattered: number, readonly clustered: number }
    /** Each diffed reload's bytes sent over the full load's, at most `max`. */
    readonly reloadBytes?: Bar & { readonly max: number, readonly scattered: number, readonly clustered: number }
    /** verify's rows/s over LOAD DATA's, at least `required`. */
    readonly verifyThroughput?: Bar & { readonly required: number, readonly ratio: number }
  }
  readonly profiles?: Record<string, ProfileSummary>
  readonly serviceExits: Record<string, number | string>
  readonly loadAverageAtEnd: readonly number[]
}

type Say = (line: string) => void

/**
 * One benchmark run: generates the source table, measures MariaDB's own LOAD DATA of the same
 * rows into an empty copy of the target table, then full loads through the four services as
 * separate processes (first load, second load after changes, then with 1, 2, 4 persister
 * replicas), sampling every process's memory and CPU.
 */
export async function runBench (options: BenchOptions, say: Say): Promise<BenchResult> {
  const startedAt = new Date().toISOString()
  const env = await createBenchEnv(options)
  const sampler = new ProcessSampler(200)
  const profileDir = options.cpuProf ? join(options.outDir, `profiles-${startedAt.replace(/[:.]/g, '-')}`) : undefined
  const services = new ServiceSet(env, sampler, profileDir !== undefined ? { profileDir } : {})
  let ok = false
  try {
    const machine = await machineInfo(env.admin, env.nc.info?.version)
    const settings = readSettings({ ...env.env })
    say(`sisporta bench: ${options.rows.toLocaleString('en')} rows · ${machine.cores} cores · ${machine.memoryMb} MB · node ${machine.node} · MariaDB ${machine.mariadb} · load average ${machine.loadAverageAtStart.join(' ')}`)
    say(`  work dir ${env.dir}`)

    // 0. the source
    let t = performance.now()
    const tsvBytes = await writeSourceTsv(env.tsvFile, options.rows)
    const generateSeconds = (performance.now() - t) / 1000
    await env.admin.query(`USE ${env.sourceDb}`)
    await env.admin.query(SOURCE_DDL)
    t = performance.now()
    await env.admin.query(loadSourceSql())
    const sourceLoadSeconds = (performance.now() - t) / 1000
    say(`  source: ${(tsvBytes / 1e6).toFixed(0)} MB of TSV generated in ${generateSeconds.toFixed(1)} s, loaded into ${env.sourceDb}.${SOURCE_TABLE} in ${sourceLoadSeconds.toFixed(1)} s`)

    const migrated = await env.cli(['migrate'])
    if (migrated.code !== 0) throw new Error(`sisporta migrate failed: ${migrated.stderr}`)

    // 1. the baseline: MariaDB's own LOAD DATA into an empty table with the target's exact DDL
    await env.admin.query(`USE ${env.targetDb}`)
    await env.admin.query(`CREATE TABLE ${BASELINE_TABLE} LIKE ${TARGET_TABLE}`)
    await settle(env)
    const mariadb = findPids('mariadbd')[0]
    const cpu0 = mariadb === undefined ? 0 : readProc(mariadb)?.cpuTicks ?? 0
    const before = await serverCounters(env.admin)
    const machine0 = readMachineCpu()
    t = performance.now()
    await env.admin.query(loadBaselineSql())
    const loadDataSeconds = (performance.now() - t) / 1000
    const cpu1 = mariadb === undefined ? 0 : readProc(mariadb)?.cpuTicks ?? 0
    const machine1 = readMachineCpu()
    const loadDataServer = counterDelta(before, await serverCounters(env.admin))
    const [[{ n: baselineRows }]] = await env.admin.query(`SELECT COUNT(*) AS n FROM ${BASELINE_TABLE}`) as unknown as [[{ n: number }]]
    if (Number(baselineRows) !== options.rows) throw new Error(`LOAD DATA loaded ${baselineRows} rows, expected ${options.rows}`)
    await env.admin.query(`DROP TABLE ${BASELINE_TABLE}`)
    const busySeconds = (machine1.busy - machine0.busy) / CLK_TCK
    const loadData = {
      rows: options.rows,
      seconds: round(loadDataSeconds, 3),
      rowsPerSec: Math.round(options.rows / loadDataSeconds),
      mariadbCpuSeconds: round((cpu1 - cpu0) / CLK_TCK, 2),
      // other work on the machine slows the baseline too: the ratio is only fair when both ran alike
      machineCpu: { busySeconds: round(busySeconds, 1), capacitySeconds: round(loadDataSeconds * machine.cores, 1), outsideMariadbSeconds: round(Math.max(0, busySeconds - (cpu1 - cpu0) / CLK_TCK), 1) },
      server: loadDataServer
    }
    say(`  1. LOAD DATA baseline: ${loadData.seconds} s, ${loadData.rowsPerSec.toLocaleString('en')} rows/s`)

    // 2. the first full load through the four services
    await settle(env)
    await services.start('gateway')
    await services.start('persister', 'persister#1')
    await services.start('reconciler')
    const full = await measureFullLoad(env, services, sampler, 'full')
    if (full.targetRows !== options.rows) throw new Error(`after the full load the target has ${full.targetRows} rows, expected ${options.rows}`)
    const ratio = full.rowsPerSec / loadData.rowsPerSec
    say(`  2. full load: ${full.seconds} s, ${full.rowsPerSec.toLocaleString('en')} rows/s (${pct(ratio)} of LOAD DATA)`)

    // 3. the ERP changes its rows in two patterns; a diffed reload after each reconciles
    let sourceRows = options.rows
    const reloadStep = async (pattern: SourceChanges['pattern'], reload: 'rows' | 'diff'): Promise<ReloadRun> => {
      const changes = sourceChanges(pattern, options.rows)
      await env.admin.query(`USE ${env.sourceDb}`)
      const [updated] = await env.admin.query(changes.update) as unknown as [{ affectedRows: number }]
      const [deleted] = await env.admin.query(changes.delete) as unknown as [{ affectedRows: number }]
      sourceRows -= deleted.affectedRows
      await settle(env)
      const m = await measureFullLoad(env, services, sampler, `reload-${pattern}`, { reload })
      const where = `the ${pattern} reload (load ${m.loadId})`
      // every check at once: a reload that sent too much usually also deleted too much
      const problems: string[] = []
      if (m.reload !== reload) problems.push(`it was opened as a ${m.reload} load, not ${reload} (the load record's reload is ${m.reload === 'diff' ? "'diff'" : 'absent'})`)
      const expectedRows = reload === 'diff' ? updated.affectedRows : sourceRows
      if (m.rows !== expectedRows) problems.push(`it sent ${m.rows} rows (load record rows), expected ${expectedRows}${reload === 'diff' ? ', the rows the step updated at the source' : ''}`)
      if (m.deleted !== deleted.affectedRows) problems.push(`it deleted ${m.deleted} rows (load record deletedRows), the source lost ${deleted.affectedRows}`)
      if (m.targetRows !== sourceRows) problems.push(`the target has ${m.targetRows} rows after it, the source ${sourceRows}`)
      if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`)
      const cpuMicrosPerSourceRow = Object.fromEntries(Object.entries(m.cpuSeconds).map(([k, v]) => [k, round(v / sourceRows * 1e6, 1)]))
      return { ...m, pattern, sourceRows, updated: updated.affectedRows, expectedDeleted: deleted.affectedRows, rowsWritten: m.rows, cpuMicrosPerSourceRow, secondsRatioToFull: round(m.seconds / full.seconds, 3), bytesRatioToFull: full.bytesSent > 0 ? round(m.bytesSent / full.bytesSent, 4) : NaN }
    }
    const reloadScattered = await reloadStep('scattered', 'diff')
    say(`  3a. diffed reload, scattered (${reloadScattered.updated} updated, ${reloadScattered.expectedDeleted} deleted): ${reloadScattered.seconds} s (${pct(reloadScattered.secondsRatioToFull)} of the full load), ${mbOf(reloadScattered.bytesSent)} sent (${pct(reloadScattered.bytesRatioToFull)}), ${reloadScattered.rowsWritten} rows written, ${reloadScattered.deleted} deleted`)
    const reloadClustered = await reloadStep('clustered', 'diff')
    say(`  3b. diffed reload, clustered (${reloadClustered.updated} updated, ${reloadClustered.expectedDeleted} deleted): ${reloadClustered.seconds} s (${pct(reloadClustered.secondsRatioToFull)} of the full load), ${mbOf(reloadClustered.bytesSent)} sent (${pct(reloadClustered.bytesRatioToFull)}), ${reloadClustered.rowsWritten} rows written, ${reloadClustered.deleted} deleted`)
    let reloadRows: ReloadRun | undefined
    if (options.reloadRows) {
      reloadRows = await reloadStep('rows', 'rows')
      say(`  3c. reload sending every row (${reloadRows.updated} updated, ${reloadRows.expectedDeleted} deleted): ${reloadRows.seconds} s (${pct(reloadRows.secondsRatioToFull)} of the full load), ${mbOf(reloadRows.bytesSent)} sent, ${reloadRows.deleted} deleted`)
    }

    // 4. verify the unchanged table: target == source now
    await settle(env)
    const verify = await measureVerify(env, services, sampler, sourceRows, loadData.rowsPerSec)
    say(`  4. verify: ${verify.seconds} s, ${verify.rowsPerSec.toLocaleString('en')} rows/s (${pct(verify.ratioToLoadData)} of LOAD DATA), exit ${verify.exitCode}`)

    // 5. full loads into an emptied target with 1, 2, 4 persister replicas sharing the consumer
    const replicaRuns: ReplicaRun[] = []
    for (const n of options.replicas) {
      await services.stopAll('persister')
      await env.admin.query(`USE ${env.targetDb}`)
      await env.admin.query(`TRUNCATE TABLE ${TARGET_TABLE}`)
      await env.admin.query('TRUNCATE TABLE sisporta_batches')
      await settle(env)
      for (let i = 1; i <= n; i++) await services.start('persister', `persister#${i}`)
      const m = await measureFullLoad(env, services, sampler, `replicas-${n}`)
      replicaRuns.push({ replicas: n, rowsPerSec: m.rowsPerSec, seconds: m.seconds, ratioToLoadData: round(m.rowsPerSec / loadData.rowsPerSec, 3), measurement: m })
      say(`  5. ${n} persister replica${n === 1 ? '' : 's'}: ${m.seconds} s, ${m.rowsPerSec.toLocaleString('en')} rows/s (${pct(m.rowsPerSec / loadData.rowsPerSec)} of LOAD DATA)`)
    }

    sampler.sampleNow()
    await services.stopAll()
    sampler.stop()

    const peakRssMb: Record<string, number> = {}
    const cpuSecondsTotal: Record<string, number> = {}
    const rssCurves: Record<string, Array<[number, number]>> = {}
    for (const series of sampler.all()) {
      const kind = kindOf(series.name)
      const isServer = kind === 'mariadbd' || kind === 'nats-server'
      if (!isServer) {
        peakRssMb[kind] = Math.max(peakRssMb[kind] ?? 0, Math.round(series.hwmKb / 102.4) / 10)
        rssCurves[series.name] = thin(series.rss, 2000)
      }
      if (!isServer) cpuSecondsTotal[series.name] = round(series.cpuTicks / CLK_TCK, 2)
    }
    // servers ran before the bench: their totals are the sum of the phases, not their lifetime
    for (const name of ['mariadbd', 'nats-server']) {
      const phases = [full, reloadScattered, reloadClustered, ...(reloadRows !== undefined ? [reloadRows] : []), verify, ...replicaRuns.map((r) => r.measurement)]
      cpuSecondsTotal[name] = round(phases.reduce((sum, m) => sum + (m.cpuSeconds[name] ?? 0), 0), 2)
    }
    const peakMb = Math.max(...['gateway', 'persister', 'reconciler', 'extractor'].map((k) => peakRssMb[k] ?? 0))

    let profiles: Record<string, ProfileSummary> | undefined
    if (profileDir !== undefined) {
      profiles = {}
      const byPid = profilesByPid(profileDir)
      for (const series of sampler.all()) {
        const file = byPid.get(series.pid)
        if (file !== undefined) profiles[series.name] = summariseProfile(file)
      }
    }

    const result: BenchResult = {
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      rows: options.rows,
      options: { skipReplicas: options.skipReplicas, replicas: options.replicas, cpuProf: options.cpuProf, reloadRows: options.reloadRows, namespace: options.namespace, dbPrefix: options.dbPrefix },
      tuning: env.tuning,
      settings: {
        batchSize: settings.batchSize,
        inFlight: settings.inFlight,
        persisterConcurrency: settings.persisterConcurrency,
        maxBatchBytes: settings.maxBatchBytes,
        gatewayMaxInFlight: settings.gatewayMaxInFlight,
        deleteChunk: settings.deleteChunk,
        compareRows: settings.compareRows
      },
      machine,
      code: gitState(),
      runtime: cliNodeArgs().length > 0 ? 'tsx' : 'dist',
      source: { tsvBytes, generateSeconds: round(generateSeconds, 2), loadSeconds: round(sourceLoadSeconds, 2) },
      loadData,
      full: { ...full, ratioToLoadData: round(ratio, 3) },
      reloadScattered,
      reloadClustered,
      ...(reloadRows !== undefined ? { reloadRows } : {}),
      verify,
      replicaRuns,
      peakRssMb,
      cpuSecondsTotal,
      rssCurves,
      bars: {
        throughput: { required: BARS.minRatioToLoadData, ratio: round(ratio, 3), met: ratio >= BARS.minRatioToLoadData },
        memory: { limitMb: BARS.maxRssMb, peakMb, met: peakMb < BARS.maxRssMb },
        reloadSeconds: {
          max: round(BARS.maxReloadSecondsRatio, 3),
          scattered: reloadScattered.secondsRatioToFull,
          clustered: reloadClustered.secondsRatioToFull,
          met: Math.max(reloadScattered.secondsRatioToFull, reloadClustered.secondsRatioToFull) <= BARS.maxReloadSecondsRatio
        },
        reloadBytes: {
          max: BARS.maxReloadBytesRatio,
          scattered: reloadScattered.bytesRatioToFull,
          clustered: reloadClustered.bytesRatioToFull,
          met: Math.max(reloadScattered.bytesRatioToFull, reloadClustered.bytesRatioToFull) <= BARS.maxReloadBytesRatio
        },
        verifyThroughput: { required: BARS.minVerifyRatioToLoadData, ratio: verify.ratioToLoadData, met: verify.ratioToLoadData >= BARS.minVerifyRatioToLoadData }
      },
      ...(profiles !== undefined ? { profiles } : {}),
      serviceExits: services.exits,
      loadAverageAtEnd: loadAverage()
    }
    ok = true
    return result
  } finally {
    sampler.stop()
    await services.stopAll().catch(() => {})
    await env.close({ keepData: options.keep, keepDir: options.keep || !ok })
    if (!ok) say(`  logs of the failed run: ${env.dir}`)
  }
}

function gitState (): { commit: string, dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== ''
    return { commit, dirty }
  } catch {
    return { commit: 'unknown', dirty: false }
  }
}

/** `persister#2` (or an earlier `persister#2~1234`) → `persister`, `extractor(full)` → `extractor`. */
export function kindOf (label: string): string {
  return label.replace(/~\d+$/, '').replace(/#\d+$/, '').replace(/\(.*\)$/, '')
}

/**
 * Waits (up to 30 s) for InnoDB to write back most dirty pages left by the previous step, so
 * that a measured step does not pay for the flushing of the one before.
 */
async function settle (env: BenchEnv): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const { dirty, total } = await dirtyPages(env.admin)
    if (dirty / total < 0.05) return
    await sleep(500)
  }
}

function thin<T> (points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points]
  const step = points.length / max
  return Array.from({ length: max }, (_, i) => points[Math.floor(i * step)]!)
}

function pct (ratio: number): string {
  return `${(ratio * 100).toFixed(0)} %`
}

function mbOf (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}
