import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { dependencyOrder } from '@sisporta/config'
import { durationMs, type LoadMode, type SisportaConfig, type StreamConfig } from '@sisporta/contracts'
import type { Worker } from '@sisporta/observability'
import type { SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { runLoad } from './run-load.js'
import { awaitApplied, isApplied } from './await-applied.js'
import { ExtractError } from './errors.js'

export interface SchedulerDeps {
  config: SisportaConfig
  source: SourceDialect
  gateway: GatewayClient
  log: Logger
  metrics: Registry
  batchSize: number
  inFlight: number
  maxBatchBytes: number
  /** Attempts at one source page (SISPORTA_SOURCE_READ_ATTEMPTS). */
  readAttempts?: number
  /** How often a parent stream's load is asked whether it is applied yet (ms). Default 1000. */
  pollMs?: number
}

/** How a scheduled load ended, for the streams that depend on it. */
type Outcome = 'applied' | 'sealed' | 'not-applied' | 'skipped' | 'failed'

/**
 * The extractor daemon (`sisporta extractor`): runs each stream's scheduled loads
 * (`schedule: { full: 6h }`), one at a time per stream; a load still running when the next is
 * due makes the next one wait for the following tick instead of piling up.
 *
 * Foreign keys between streams (`dependsOn`): streams due at the same time (the same mode and
 * interval share one timer) start in dependency order, parents first, and a stream whose
 * parent's load is in progress waits until that load is applied — every parent row in the target
 * before any child row refers to it — before it opens its own. A parent's load counts as in
 * progress until applied (not until reconciled: its deletes may wait for the children's, see the
 * reconciler). A parent load that ends without being applied (failed, abandoned, an error) makes
 * its children skip that tick: their rows could refer to parent rows the target lacks.
 */
export function createScheduler (deps: SchedulerDeps): Worker & { runningLoads(): number } {
  const timers: NodeJS.Timeout[] = []
  const running = new Map<string, Promise<Outcome>>()
  const controller = new AbortController()
  const loads = new Counter({ name: 'sisporta_extractor_loads_total', help: 'Loads run by the extractor daemon', labelNames: ['stream', 'mode', 'outcome'], registers: [deps.metrics] })
  const rows = new Counter({ name: 'sisporta_extractor_rows_total', help: 'Rows read from the source and accepted by the gateway', labelNames: ['stream'], registers: [deps.metrics] })

  /** Streams some other stream depends on: their loads are followed until applied. */
  const parents = new Set(deps.config.streams.flatMap((s) => s.dependsOn ?? []))

  function trigger (stream: StreamConfig, mode: LoadMode): void {
    if (running.has(stream.name)) {
      deps.log.warn({ stream: stream.name, mode }, 'previous load still running; skipping this tick')
      return
    }
    // the parents' loads in progress now (started in this tick or earlier): this load waits for them
    const before = (stream.dependsOn ?? []).flatMap((p) => { const r = running.get(p); return r === undefined ? [] : [[p, r] as const] })
    const run = (async (): Promise<Outcome> => {
      for (const [parent, outcome] of before) {
        const ended = await outcome
        if (ended !== 'applied') {
          loads.inc({ stream: stream.name, mode, outcome: 'skipped' })
          deps.log.warn({ stream: stream.name, mode, parent, parentOutcome: ended }, `skipping this tick: the load of stream '${parent}' it depends on was not applied (${ended})`)
          return 'skipped'
        }
      }
      const load = await runLoad({ source: deps.source, gateway: deps.gateway, log: deps.log }, stream, {
        mode,
        batchSize: stream.batchSize ?? deps.batchSize,
        inFlight: deps.inFlight,
        maxBatchBytes: deps.maxBatchBytes,
        ...(deps.readAttempts === undefined ? {} : { readAttempts: deps.readAttempts }),
        signal: controller.signal
      })
      loads.inc({ stream: stream.name, mode, outcome: 'sealed' })
      rows.inc({ stream: stream.name }, load.rows ?? 0)
      if (!parents.has(stream.name)) return 'sealed'
      deps.log.info({ stream: stream.name, loadId: load.id }, 'waiting for the load to be applied before the streams that depend on it')
      const applied = await awaitApplied(deps.gateway, load, { pollMs: deps.pollMs, signal: controller.signal })
      return isApplied(applied) ? 'applied' : 'not-applied'
    })().catch((err: unknown) => {
      loads.inc({ stream: stream.name, mode, outcome: 'failed' })
      deps.log.error({ err, stream: stream.name, mode }, 'scheduled load failed')
      return 'failed' as const
    }).finally(() => running.delete(stream.name))
    running.set(stream.name, run)
  }

  return {
    name: 'extractor-scheduler',
    runningLoads: () => running.size,
    async start () {
      // one timer per mode and interval, its streams parents first
      const due = new Map<string, { mode: LoadMode, every: string, streams: StreamConfig[] }>()
      for (const stream of dependencyOrder(deps.config.streams)) {
        for (const mode of ['full', 'incremental'] as const) {
          const every = stream.schedule?.[mode]
          if (every === undefined) continue
          const key = `${mode} ${durationMs(every)}`
          const group = due.get(key) ?? { mode, every, streams: [] }
          group.streams.push(stream)
          due.set(key, group)
          deps.log.info({ stream: stream.name, mode, every }, 'scheduled')
        }
      }
      for (const { mode, every, streams } of due.values()) {
        timers.push(setInterval(() => { for (const stream of streams) trigger(stream, mode) }, durationMs(every)))
      }
      if (timers.length === 0) deps.log.warn('no stream has a schedule; the daemon idles (use `sisporta extract` for one load)')
    },
    async stop () {
      for (const timer of timers) clearInterval(timer)
      // An interrupted load is never sealed, so it deletes nothing; runLoad abandons it at once.
      controller.abort(new ExtractError('SIS_EXTRACT_INTERRUPTED', 'the extractor daemon is stopping (SIGTERM)'))
      await Promise.allSettled(running.values())
      await deps.source.close()
    }
  }
}
