import { BENCH_STREAM } from './bench-table.js'
import type { BenchEnv } from './bench-env.js'
import { runCliChild } from './cli-child.js'
import { cpuDelta, gatewayBytes, round, rssMaxInWindow } from './measure-load.js'
import { findPids, type ProcessSampler } from './proc-sampler.js'
import type { ServiceSet } from './service-set.js'

export interface VerifyMeasurement {
  /** `sisporta verify`'s exit code: 0 when the target is identical to the source. */
  readonly exitCode: number | string
  /** Source rows at the time (the table verify read and compared). */
  readonly sourceRows: number
  /** Wall seconds from the command's start to its exit, measured by the bench (process start-up included). */
  readonly seconds: number
  /** `sourceRows / seconds`. */
  readonly rowsPerSec: number
  readonly ratioToLoadData: number
  /** What verify reported (`--json`): its own seconds exclude process start-up and module loading. */
  readonly report: { readonly sourceRows: number, readonly targetRows: number, readonly ranges: number, readonly missing: number, readonly extra: number, readonly different: number, readonly seconds: number }
  /** Request body bytes the gateway received (the range comparisons' hashes). */
  readonly bytesSent: number
  /** CPU seconds per process during the run (the command's own under `verify`). */
  readonly cpuSeconds: Record<string, number>
  /** CPU µs per source row, per process. */
  readonly cpuMicrosPerSourceRow: Record<string, number>
  /** Largest VmRSS sampled during the run, MiB, per process. */
  readonly rssMaxMb: Record<string, number>
}

/**
 * `sisporta verify --stream bench --json` on a table the reloads left identical to its source,
 * run as an operator runs it (a child process under the heap cap, SISPORTA_HEAP_MB, like
 * `extract`) and timed from outside: rows/s is the source's rows over the wall seconds from
 * its start to its exit. Throws unless it exits 0 and reports nothing missing, extra or different.
 */
export async function measureVerify (env: BenchEnv, services: ServiceSet, sampler: ProcessSampler, sourceRows: number, loadDataRowsPerSec: number): Promise<VerifyMeasurement> {
  for (const comm of ['mariadbd', 'nats-server']) {
    if (sampler.get(comm)?.alive !== true) {
      const pid = findPids(comm)[0]
      if (pid !== undefined) sampler.track(comm, pid)
    }
  }
  const gwBefore = await services.scrapeAll()
  const cpuBefore = sampler.cpuSnapshot()
  const windowStart = sampler.now()
  // under the heap cap's flag, as `sisporta verify` runs itself: started without it, it would
  // start itself again, and the bench would sample the idle parent
  const run = await runCliChild(env, services, sampler, 'verify', ['verify', '--stream', BENCH_STREAM, '--json'], { heapCap: true })
  const cpuAfter = sampler.cpuSnapshot()
  const windowEnd = sampler.now()
  const gwAfter = await services.scrapeAll()
  if (run.code !== 0) throw new Error(`sisporta verify --stream ${BENCH_STREAM} exited ${run.code} on a table the reloads should have left identical to its source:\n${run.tail}`)

  let parsed: { before?: { sourceRows: number, targetRows: number, ranges: number, missing: number, extra: number, different: number, seconds: number } }
  try {
    parsed = JSON.parse(run.stdout) as typeof parsed
  } catch (err) {
    throw new Error(`sisporta verify --json printed no JSON (${(err as Error).message}):\n${run.tail}`)
  }
  const r = parsed.before
  if (r === undefined) throw new Error(`sisporta verify --json printed no 'before' report:\n${run.stdout.slice(0, 2000)}`)
  if (r.sourceRows !== sourceRows) throw new Error(`sisporta verify read ${r.sourceRows} source rows, the source has ${sourceRows}`)

  const cpuSeconds = cpuDelta(cpuBefore, cpuAfter)
  const rowsPerSec = Math.round(sourceRows / run.seconds)
  return {
    exitCode: run.code,
    sourceRows,
    seconds: round(run.seconds, 3),
    rowsPerSec,
    ratioToLoadData: round(rowsPerSec / loadDataRowsPerSec, 3),
    report: { sourceRows: r.sourceRows, targetRows: r.targetRows, ranges: r.ranges, missing: r.missing, extra: r.extra, different: r.different, seconds: round(r.seconds, 3) },
    bytesSent: gatewayBytes(gwBefore.get('gateway') ?? [], gwAfter.get('gateway') ?? []),
    cpuSeconds,
    cpuMicrosPerSourceRow: Object.fromEntries(Object.entries(cpuSeconds).map(([k, v]) => [k, round(v / sourceRows * 1e6, 1)])),
    rssMaxMb: rssMaxInWindow(sampler, windowStart, windowEnd)
  }
}
