import { setTimeout as sleep } from 'node:timers/promises'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { JetStreamManager, NatsConnection } from 'nats'
import { LOAD_STATES, type BusNames, type LoadRecord, type SisportaConfig } from '@sisporta/contracts'
import type { LoadRegistry } from '@sisporta/nats'
import type { Logger } from '@sisporta/observability'
import { ReconcilerErrorCode } from './errors.js'

/** How often the operator metrics are read from JetStream and the registry by default. */
export const DEFAULT_OPERATOR_METRICS_INTERVAL_MS = 15_000
/** Longest `stop()` waits for a refresh under way. */
const STOP_WAIT_MS = 5_000

/** The parts one refresh reads; each is read on its own, so one failing leaves the others fresh. */
export const OPERATOR_METRICS_PARTS = ['consumer', 'batches', 'dead_letters', 'loads'] as const
export type OperatorMetricsPart = typeof OPERATOR_METRICS_PARTS[number]

export interface OperatorMetricsDeps {
  readonly nc: NatsConnection
  readonly names: BusNames
  /** Only `list()` is used: every trusted load. */
  readonly registry: Pick<LoadRegistry, 'list'>
  /** Configured streams get every series (zeros included), so alerts always have one to look at. */
  readonly config: Pick<SisportaConfig, 'streams'>
  readonly metricsRegistry: Registry
  readonly log: Logger
  /** Between two refreshes (default {@link DEFAULT_OPERATOR_METRICS_INTERVAL_MS}). */
  readonly intervalMs?: number
}

export interface OperatorMetrics {
  /** Reads everything once and sets the gauges; never throws (a failing part is logged and counted). */
  refresh(): Promise<void>
  /** Refreshes now, then every interval, until {@link stop}. */
  start(): void
  /** Stops the interval and waits (a few seconds at most) for a refresh in progress. */
  stop(): Promise<void>
}

/**
 * Metrics an operator alerts on, exported once for the whole deployment by the reconciler (the
 * persisters have replicas; each would export the same consumer's numbers):
 *
 * - `sisporta_consumer_pending_batches`, `…_ack_pending_batches`, `…_redelivered_total`: the
 *   persisters' durable consumer as JetStream reports it (`nats consumer info`). A consumer has
 *   no per-subject counts, so these carry no `stream` label;
 * - `sisporta_stream_queued_batches{stream}`: the batch stream is a work queue (an acked batch is
 *   removed), so its per-subject message counts are each stream's batches not yet acked by a
 *   persister, waiting or being applied: the per-stream view of the backlog;
 * - `sisporta_dead_letters{stream}`: dead letters kept per stream;
 * - `sisporta_loads{stream,state}`: loads in the registry by state;
 * - `sisporta_stream_last_reconciled_timestamp_seconds{stream}` and `sisporta_stream_rows{stream}`:
 *   from the newest reconciled load (absent until a stream has one).
 *
 * They are read on an interval, not on every scrape: a scrape never waits on NATS, and many
 * Prometheus replicas cost no more than one.
 *
 * @example
 * const operator = createOperatorMetrics({ nc, names, registry, config, metricsRegistry, log })
 * operator.start()
 * // … at shutdown
 * await operator.stop()
 */
export function createOperatorMetrics (deps: OperatorMetricsDeps): OperatorMetrics {
  const registers = [deps.metricsRegistry]
  const gauges = {
    pending: new Gauge({ name: 'sisporta_consumer_pending_batches', help: 'Batches not yet delivered to any persister (JetStream num_pending of the persisters\' durable consumer)', registers }),
    ackPending: new Gauge({ name: 'sisporta_consumer_ack_pending_batches', help: 'Batches delivered to a persister and not yet acked: being applied, or waiting for redelivery (JetStream num_ack_pending)', registers }),
    // JetStream's num_redelivered is a current count, not a counter: the name follows the
    // issue's wording, the type is honest (a gauge that may go down).
    redelivered: new Gauge({ name: 'sisporta_consumer_redelivered_total', help: 'Batches delivered more than once and not yet acked, now (JetStream num_redelivered: a current count, not a running total)', registers }),
    queued: new Gauge({ name: 'sisporta_stream_queued_batches', help: 'Batches of a stream on the work-queue batch stream, not yet acked by a persister (waiting or being applied)', labelNames: ['stream'] as const, registers }),
    deadLetters: new Gauge({ name: 'sisporta_dead_letters', help: 'Dead letters of a stream kept in the dead-letter stream (see `sisporta dlq list`)', labelNames: ['stream'] as const, registers }),
    loads: new Gauge({ name: 'sisporta_loads', help: 'Loads in the load registry by stream and state', labelNames: ['stream', 'state'] as const, registers }),
    lastReconciled: new Gauge({ name: 'sisporta_stream_last_reconciled_timestamp_seconds', help: 'When the newest reconciled load of a stream was reconciled (unix seconds); absent until one is', labelNames: ['stream'] as const, registers }),
    rows: new Gauge({ name: 'sisporta_stream_rows', help: 'Live target rows after the newest reconciled load (its table rows minus the rows it deleted); absent for deletes: none streams', labelNames: ['stream'] as const, registers }),
    refreshed: new Gauge({ name: 'sisporta_operator_metrics_refreshed_timestamp_seconds', help: 'When each part of the operator metrics was last read successfully (unix seconds)', labelNames: ['part'] as const, registers })
  }
  const errors = new Counter({ name: 'sisporta_operator_metrics_errors_total', help: 'Failed reads of the operator metrics (the previous values stay), by part', labelNames: ['part'] as const, registers })
  for (const part of OPERATOR_METRICS_PARTS) errors.inc({ part }, 0)
  const configured = deps.config.streams.map((s) => s.name)
  let jsm: JetStreamManager | undefined

  const parts: Record<OperatorMetricsPart, () => Promise<void>> = {
    consumer: async () => {
      jsm ??= await deps.nc.jetstreamManager()
      const info = await jsm.consumers.info(deps.names.batchStream, deps.names.persisterConsumer)
      gauges.pending.set(info.num_pending)
      gauges.ackPending.set(info.num_ack_pending)
      gauges.redelivered.set(info.num_redelivered)
    },
    batches: async () => {
      jsm ??= await deps.nc.jetstreamManager()
      const info = await jsm.streams.info(deps.names.batchStream, { subjects_filter: deps.names.batchSubjects })
      setPerStream(gauges.queued, bySubjectPrefix(info.state.subjects, `${deps.names.namespace}.batch.`))
    },
    dead_letters: async () => {
      jsm ??= await deps.nc.jetstreamManager()
      const info = await jsm.streams.info(deps.names.dlqStream, { subjects_filter: deps.names.dlqSubjects })
      setPerStream(gauges.deadLetters, bySubjectPrefix(info.state.subjects, `${deps.names.namespace}.dlq.`))
    },
    loads: async () => {
      const loads = await deps.registry.list()
      const counts = loadCounts(loads, configured)
      const newest = newestReconciled(loads)
      // set at once after the awaits: a scrape never sees a half-filled family
      gauges.loads.reset()
      for (const [stream, byState] of counts) {
        for (const [state, n] of byState) gauges.loads.set({ stream, state }, n)
      }
      gauges.lastReconciled.reset()
      gauges.rows.reset()
      for (const [stream, load] of newest) {
        gauges.lastReconciled.set({ stream }, reconciledSeconds(load))
        const rows = rowsAfter(load)
        if (rows !== undefined) gauges.rows.set({ stream }, rows)
      }
    }
  }

  function setPerStream (gauge: Gauge<'stream'>, counts: Map<string, number>): void {
    gauge.reset()
    for (const stream of configured) gauge.set({ stream }, counts.get(stream) ?? 0)
    // streams no longer configured still count: their batches and letters are real
    for (const [stream, n] of counts) if (!configured.includes(stream)) gauge.set({ stream }, n)
  }

  let inProgress: Promise<void> | undefined
  const refresh = async (): Promise<void> => {
    inProgress ??= (async () => {
      try {
        await Promise.all(OPERATOR_METRICS_PARTS.map(async (part) => {
          try {
            await parts[part]()
            gauges.refreshed.set({ part }, Date.now() / 1000)
          } catch (err) {
            errors.inc({ part })
            deps.log.warn({ err, part, code: ReconcilerErrorCode.OperatorMetrics }, `reading the operator metrics (${part}) failed; the previous values stay until the next refresh`)
          }
        }))
      } finally {
        inProgress = undefined
      }
    })()
    await inProgress
  }

  let timer: NodeJS.Timeout | undefined
  return Object.freeze({
    refresh,
    start () {
      if (timer !== undefined) return
      void refresh()
      timer = setInterval(() => { void refresh() }, deps.intervalMs ?? DEFAULT_OPERATOR_METRICS_INTERVAL_MS)
      timer.unref()
    },
    async stop () {
      clearInterval(timer)
      timer = undefined
      // it only reads: wait a little for a read under way, never hold shutdown up on a lost NATS
      if (inProgress !== undefined) await Promise.race([inProgress, sleep(STOP_WAIT_MS, undefined, { ref: false })])
    }
  })
}

/**
 * Per-stream counts from JetStream's per-subject counts (`<namespace>.batch.<stream>` →
 * `<stream>`); subjects not under the prefix are ignored.
 *
 * @example
 * bySubjectPrefix({ 'sisporta.dlq.products': 2 }, 'sisporta.dlq.') // Map { 'products' => 2 }
 */
export function bySubjectPrefix (subjects: Record<string, number> | undefined, prefix: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const [subject, n] of Object.entries(subjects ?? {})) {
    if (!subject.startsWith(prefix)) continue
    const stream = subject.slice(prefix.length)
    counts.set(stream, (counts.get(stream) ?? 0) + n)
  }
  return counts
}

/**
 * Loads per stream and state: every configured stream has every state (zeros included), and
 * streams with loads but no longer configured are counted as well.
 *
 * @example
 * loadCounts([{ stream: 'products', state: 'held' }], ['products']).get('products')?.get('held') // 1
 */
export function loadCounts (loads: ReadonlyArray<Pick<LoadRecord, 'stream' | 'state'>>, configured: readonly string[]): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>()
  const of = (stream: string): Map<string, number> => {
    let byState = counts.get(stream)
    if (byState === undefined) {
      byState = new Map(LOAD_STATES.map((s) => [s, 0]))
      counts.set(stream, byState)
    }
    return byState
  }
  for (const stream of configured) of(stream)
  for (const load of loads) {
    const byState = of(load.stream)
    byState.set(load.state, (byState.get(load.state) ?? 0) + 1)
  }
  return counts
}

/** Per stream, the reconciled load reconciled last (by `reconciledAt`, then id). */
export function newestReconciled (loads: readonly LoadRecord[]): Map<string, LoadRecord> {
  const newest = new Map<string, LoadRecord>()
  for (const load of loads) {
    if (load.state !== 'reconciled' || load.reconciledAt === undefined || Number.isNaN(Date.parse(load.reconciledAt))) continue
    const current = newest.get(load.stream)
    if (current === undefined || reconciledSeconds(load) > reconciledSeconds(current) ||
      (reconciledSeconds(load) === reconciledSeconds(current) && load.id > current.id)) newest.set(load.stream, load)
  }
  return newest
}

function reconciledSeconds (load: LoadRecord): number {
  return Date.parse(load.reconciledAt ?? '') / 1000
}

/**
 * Live target rows after a reconciled load: `tableRows` is what the reconciler counted before
 * deleting (live rows only, for soft deletes), so the rows left are that minus `deletedRows`.
 * `undefined` when the load has no count (a `deletes: none` stream is never counted).
 *
 * @example
 * rowsAfter({ tableRows: 1000, deletedRows: 40 }) // 960
 */
export function rowsAfter (load: Pick<LoadRecord, 'tableRows' | 'deletedRows'>): number | undefined {
  if (load.tableRows === undefined) return undefined
  return Math.max(0, load.tableRows - (load.deletedRows ?? 0))
}
