import { cpus } from 'node:os'
import { LoadRegistry } from '@sisporta/nats'
import { runCliChild } from './cli-child.js'
import { BENCH_STREAM, TARGET_TABLE } from './bench-table.js'
import type { BenchEnv } from './bench-env.js'
import { CLK_TCK, findPids, readMachineCpu, type ProcessSampler } from './proc-sampler.js'
import { histogramDelta, mergeScrapes, sumOf, type HistogramSummary, type PromSample } from './prom-text.js'
import { counterDelta, loadAverage, serverCounters } from './machine-info.js'
import type { ServiceSet } from './service-set.js'

/** Server processes followed beside sisporta's own (their CPU is part of the pipeline's cost). */
export const SERVER_PROCESSES = ['mariadbd', 'nats-server'] as const

export interface LoadMeasurement {
  readonly label: string
  readonly loadId: number
  readonly state: string
  /** Rows the load carried (as sealed). */
  readonly rows: number
  readonly batches: number
  /** From the extractor's start to the load's `reconciledAt`. */
  readonly seconds: number
  readonly rowsPerSec: number
  /**
   * Rows per second from the load's opening to `reconciled`: the pipeline's rate without the
   * extractor's start-up (process start, module loading, describing the source).
   */
  readonly streamingRowsPerSec: number
  /** From the extractor's start to its exit (`--wait` polls every 500 ms). */
  readonly extractorExitSeconds: number
  /** Seconds from the extractor's start to each step of the load. */
  readonly stages: { readonly opened: number, readonly sealed: number, readonly applied: number, readonly reconciled: number }
  readonly deleted: number
  readonly targetRows: number
  /** `diff` when the gateway opened the load diffed (the load record's `reload`), else `rows`. */
  readonly reload: 'rows' | 'diff'
  /**
   * Request body bytes the gateway received during the load, summed over its routes (opening,
   * batches, range comparisons, seal): `sisporta_gateway_request_bytes_total` diffed around it.
   */
  readonly bytesSent: number
  /** A diffed load, from its record: source rows compared, key ranges compared and found equal. */
  readonly compared?: { readonly rows: number, readonly ranges: number, readonly equalRanges: number }
  /** CPU seconds each process used during the load (services, extractor, MariaDB, NATS). */
  readonly cpuSeconds: Record<string, number>
  /** The whole machine during the load: busy CPU seconds, of `capacity` (cores × seconds). */
  readonly machineCpu: { readonly busySeconds: number, readonly capacitySeconds: number, readonly outsidePipelineSeconds: number }
  /** Each service's memory at the end of the load, from its /metrics: where the RSS is (MiB). */
  readonly memoryAtEnd: Record<string, { readonly rssMb: number, readonly heapTotalMb: number, readonly heapUsedMb: number, readonly externalMb: number }>
  /** Largest VmRSS sampled during the load, MiB, per process. */
  readonly rssMaxMb: Record<string, number>
  /** The persisters' consumer during the load: most batches waiting and in flight. */
  readonly backlog: { readonly maxPending: number, readonly maxAckPending: number, readonly curve: Array<[number, number, number]> }
  readonly latency: {
    readonly gatewayPublish?: HistogramSummary
    readonly gatewayBatchRequest?: HistogramSummary
    readonly persisterApply?: HistogramSummary
  }
  /** Change of MariaDB's counters over the load. */
  readonly server: Record<string, number>
  readonly loadAverageAtEnd: readonly number[]
}

/**
 * Runs one full load the way an operator would — `sisporta extract --stream bench --mode full
 * --wait` as a child process — against the running services, and measures it: wall time to
 * `reconciled`, stage times from the load record, CPU and RSS per process, the consumer's
 * backlog, latency histograms from the services' /metrics, MariaDB's counters.
 */
export async function measureFullLoad (env: BenchEnv, services: ServiceSet, sampler: ProcessSampler, label: string, options: { reload?: 'rows' | 'diff' } = {}): Promise<LoadMeasurement> {
  for (const comm of SERVER_PROCESSES) {
    if (sampler.get(comm)?.alive !== true) {
      const pid = findPids(comm)[0]
      if (pid !== undefined) sampler.track(comm, pid)
    }
  }
  const registry = await LoadRegistry.bind(env.nc, env.names)
  const jsm = await env.nc.jetstreamManager()
  const metricsBefore = await services.scrapeAll()
  const countersBefore = await serverCounters(env.admin)
  const cpuBefore = sampler.cpuSnapshot()
  const machineBefore = readMachineCpu()
  const windowStart = sampler.now()

  // the persisters' backlog, once a second
  const curve: Array<[number, number, number]> = []
  let polling = false
  const backlogTimer = setInterval(() => {
    if (polling) return
    polling = true
    jsm.consumers.info(env.names.batchStream, env.names.persisterConsumer)
      .then((info) => { curve.push([sampler.now() - windowStart, info.num_pending, info.num_ack_pending]) }, () => {})
      .finally(() => { polling = false })
  }, 1000)

  // under the heap cap from the start (as the launchers start the services): `sisporta extract`
  // would otherwise start itself again, and the pid sampled would be the idle parent
  const args = ['extract', '--stream', BENCH_STREAM, '--mode', 'full', '--wait', '--timeout', '6h', ...(options.reload !== undefined ? ['--reload', options.reload] : [])]
  const run = await runCliChild(env, services, sampler, `extractor(${label})`, args, { heapCap: true })
  const { code, startedAtMs: started, seconds: exitSeconds, tail: output } = run
  clearInterval(backlogTimer)

  const cpuAfter = sampler.cpuSnapshot()
  const machineAfter = readMachineCpu()
  const windowEnd = sampler.now()
  const countersAfter = await serverCounters(env.admin)
  const metricsAfter = await services.scrapeAll()
  if (code !== 0) throw new Error(`sisporta extract (${label}) exited ${code}:\n${output}`)

  const load = (await registry.list({ stream: BENCH_STREAM })).at(-1)
  if (load?.reconciledAt === undefined) throw new Error(`load of ${label} is not reconciled: ${JSON.stringify(load)}`)
  const at = (iso: string | undefined): number => iso === undefined ? NaN : round((Date.parse(iso) - started) / 1000, 3)
  const seconds = (Date.parse(load.reconciledAt) - started) / 1000
  const rows = load.rows ?? 0

  const [countRows] = await env.admin.query(`SELECT COUNT(*) AS n FROM ${env.targetDb}.${TARGET_TABLE}`) as unknown as [Array<{ n: number | string }>]

  const cpuSeconds = cpuDelta(cpuBefore, cpuAfter)
  const busySeconds = (machineAfter.busy - machineBefore.busy) / CLK_TCK
  const pipelineSeconds = Object.values(cpuSeconds).reduce((a, b) => a + b, 0)
  const rssMaxMb = rssMaxInWindow(sampler, windowStart, windowEnd)
  const persistersBefore = mergeScrapes(services.labels('persister').map((l) => metricsBefore.get(l) ?? []))
  const persistersAfter = mergeScrapes(services.labels('persister').map((l) => metricsAfter.get(l) ?? []))
  const gwBefore: PromSample[] = metricsBefore.get('gateway') ?? []
  const gwAfter: PromSample[] = metricsAfter.get('gateway') ?? []
  const gatewayPublish = histogramDelta(gwBefore, gwAfter, 'sisporta_gateway_publish_seconds')
  const batchRoute = gwAfter.find((s) => s.name === 'sisporta_gateway_http_request_seconds_count' && s.labels.route?.includes('/batches/') === true)?.labels.route
  const gatewayBatchRequest = batchRoute === undefined ? undefined : histogramDelta(gwBefore, gwAfter, 'sisporta_gateway_http_request_seconds', { route: batchRoute, status_code: '202' })
  const persisterApply = histogramDelta(persistersBefore, persistersAfter, 'sisporta_persister_apply_duration_seconds')

  const memoryAtEnd: LoadMeasurement['memoryAtEnd'] = {}
  const mb = (samples: readonly PromSample[], name: string): number => Math.round(sumOf(samples, `sisporta_${name}`) / 104857.6) / 10
  for (const [service, samples] of metricsAfter) {
    if (samples.length === 0) continue
    memoryAtEnd[service] = {
      rssMb: mb(samples, 'process_resident_memory_bytes'),
      heapTotalMb: mb(samples, 'nodejs_heap_size_total_bytes'),
      heapUsedMb: mb(samples, 'nodejs_heap_size_used_bytes'),
      externalMb: mb(samples, 'nodejs_external_memory_bytes')
    }
  }

  return {
    label,
    loadId: load.id,
    state: load.state,
    rows,
    batches: load.batches ?? 0,
    seconds: round(seconds, 3),
    rowsPerSec: Math.round(rows / seconds),
    streamingRowsPerSec: Math.round(rows / (seconds - at(load.openedAt))),
    extractorExitSeconds: round(exitSeconds, 3),
    stages: { opened: at(load.openedAt), sealed: at(load.sealedAt), applied: at(load.appliedAt), reconciled: at(load.reconciledAt) },
    deleted: load.deletedRows ?? 0,
    targetRows: Number(countRows[0]!.n),
    reload: load.reload === 'diff' ? 'diff' : 'rows',
    bytesSent: gatewayBytes(gwBefore, gwAfter),
    ...(load.reload === 'diff' ? { compared: { rows: load.comparedRows ?? 0, ranges: load.comparedRanges ?? 0, equalRanges: load.equalRanges ?? 0 } } : {}),
    cpuSeconds,
    machineCpu: { busySeconds: round(busySeconds, 1), capacitySeconds: round(exitSeconds * cpus().length, 1), outsidePipelineSeconds: round(Math.max(0, busySeconds - pipelineSeconds), 1) },
    memoryAtEnd,
    rssMaxMb,
    backlog: {
      maxPending: Math.max(0, ...curve.map(([, p]) => p)),
      maxAckPending: Math.max(0, ...curve.map(([, , a]) => a)),
      curve
    },
    latency: {
      ...(gatewayPublish !== undefined ? { gatewayPublish } : {}),
      ...(gatewayBatchRequest !== undefined ? { gatewayBatchRequest } : {}),
      ...(persisterApply !== undefined ? { persisterApply } : {})
    },
    server: counterDelta(countersBefore, countersAfter),
    loadAverageAtEnd: loadAverage()
  }
}

/**
 * CPU seconds each process used between two snapshots of the sampler; a one-off CLI child
 * (`extractor(full)`, `verify`) under its kind's name, so that every step's record has the same keys.
 */
export function cpuDelta (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Record<string, number> {
  const cpuSeconds: Record<string, number> = {}
  for (const [name, ticks] of after) {
    const used = (ticks - (before.get(name) ?? 0)) / CLK_TCK
    if (used > 0) cpuSeconds[name.replace(/\(.*\)$/, '')] = round(used, 2)
  }
  return cpuSeconds
}

/** Largest VmRSS sampled between two sampler times, MiB, per sisporta process (kind name for CLI children). */
export function rssMaxInWindow (sampler: ProcessSampler, windowStart: number, windowEnd: number): Record<string, number> {
  const rssMaxMb: Record<string, number> = {}
  for (const series of sampler.all()) {
    const inWindow = series.rss.filter(([t]) => t >= windowStart && t <= windowEnd).map(([, mb]) => mb)
    if (inWindow.length === 0 || SERVER_PROCESSES.includes(series.name as typeof SERVER_PROCESSES[number])) continue
    const name = series.name.replace(/\(.*\)$/, '')
    rssMaxMb[name] = Math.max(rssMaxMb[name] ?? 0, ...inWindow)
  }
  return rssMaxMb
}

/** Request body bytes the gateway received between two scrapes, over all its routes. */
export function gatewayBytes (before: readonly PromSample[], after: readonly PromSample[]): number {
  const name = 'sisporta_gateway_request_bytes_total'
  return sumOf(after, name) - sumOf(before, name)
}

export function round (n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
