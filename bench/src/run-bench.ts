import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readSettings } from '@sisporta/config'
import { cliNodeArgs } from '@sisporta/cli'
import { BASELINE_TABLE, CHANGE_SQL, SOURCE_DDL, SOURCE_TABLE, TARGET_TABLE, loadBaselineSql, loadSourceSql, writeSourceTsv } from './bench-table.js'
import { createBenchEnv, type BenchEnv } from './bench-env.js'
import { profilesByPid, summariseProfile, type ProfileSummary } from './cpu-profile.js'
import { counterDelta, dirtyPages, loadAverage, machineInfo, serverCounters, type MachineInfo } from './machine-info.js'
import { measureFullLoad, round, type LoadMeasurement } from './measure-load.js'
import type { BenchOptions } from './options.js'
import { CLK_TCK, ProcessSampler, findPids, readMachineCpu, readProc } from './proc-sampler.js'
import { ServiceSet } from './service-set.js'

/** The bars of design §7 this benchmark checks. */
export const BARS = Object.freeze({ minRatioToLoadData: 0.5, maxRssMb: 200 })

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
  readonly options: { readonly skipReplicas: boolean, readonly replicas: readonly number[], readonly cpuProf: boolean, readonly namespace: string, readonly dbPrefix: string }
  /** Tuning variables set in the bench's environment (passed to every process). */
  readonly tuning: Record<string, string>
  /** What the services ran with, defaults included. */
  readonly settings: { readonly batchSize: number, readonly inFlight: number, readonly persisterConcurrency: number, readonly maxBatchBytes: number, readonly gatewayMaxInFlight: number, readonly deleteChunk: number }
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
  readonly reload: LoadMeasurement & { readonly updated: number, readonly expectedDeleted: number, readonly speedupVsFull: number }
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

    // 3. the ERP changes 1 % and deletes 0.5 %; a second full load reconciles
    await env.admin.query(`USE ${env.sourceDb}`)
    const [updated] = await env.admin.query(CHANGE_SQL.update) as unknown as [{ affectedRows: number }]
    const [deleted] = await env.admin.query(CHANGE_SQL.delete) as unknown as [{ affectedRows: number }]
    await settle(env)
    const reload = await measureFullLoad(env, services, sampler, 'reload')
    if (reload.deleted !== deleted.affectedRows) throw new Error(`the second load deleted ${reload.deleted} rows, the source lost ${deleted.affectedRows}`)
    if (reload.targetRows !== options.rows - deleted.affectedRows) throw new Error(`after the second load the target has ${reload.targetRows} rows, expected ${options.rows - deleted.affectedRows}`)
    say(`  3. second full load (${updated.affectedRows} updated, ${deleted.affectedRows} deleted): ${reload.seconds} s, ${reload.deleted} rows deleted`)

    // 4. full loads into an emptied target with 1, 2, 4 persister replicas sharing the consumer
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
      say(`  4. ${n} persister replica${n === 1 ? '' : 's'}: ${m.seconds} s, ${m.rowsPerSec.toLocaleString('en')} rows/s (${pct(m.rowsPerSec / loadData.rowsPerSec)} of LOAD DATA)`)
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
      const phases = [full, reload, ...replicaRuns.map((r) => r.measurement)]
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
      options: { skipReplicas: options.skipReplicas, replicas: options.replicas, cpuProf: options.cpuProf, namespace: options.namespace, dbPrefix: options.dbPrefix },
      tuning: env.tuning,
      settings: {
        batchSize: settings.batchSize,
        inFlight: settings.inFlight,
        persisterConcurrency: settings.persisterConcurrency,
        maxBatchBytes: settings.maxBatchBytes,
        gatewayMaxInFlight: settings.gatewayMaxInFlight,
        deleteChunk: settings.deleteChunk
      },
      machine,
      code: gitState(),
      runtime: cliNodeArgs().length > 0 ? 'tsx' : 'dist',
      source: { tsvBytes, generateSeconds: round(generateSeconds, 2), loadSeconds: round(sourceLoadSeconds, 2) },
      loadData,
      full: { ...full, ratioToLoadData: round(ratio, 3) },
      reload: { ...reload, updated: updated.affectedRows, expectedDeleted: deleted.affectedRows, speedupVsFull: round(full.seconds / reload.seconds, 2) },
      replicaRuns,
      peakRssMb,
      cpuSecondsTotal,
      rssCurves,
      bars: {
        throughput: { required: BARS.minRatioToLoadData, ratio: round(ratio, 3), met: ratio >= BARS.minRatioToLoadData },
        memory: { limitMb: BARS.maxRssMb, peakMb, met: peakMb < BARS.maxRssMb }
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
