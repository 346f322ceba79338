import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { durationMs, type LoadMode, type SisportaConfig, type StreamConfig } from '@sisporta/contracts'
import type { Worker } from '@sisporta/observability'
import type { SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { runLoad } from './run-load.js'

export interface SchedulerDeps {
  config: SisportaConfig
  source: SourceDialect
  gateway: GatewayClient
  log: Logger
  metrics: Registry
  batchSize: number
  inFlight: number
  maxBatchBytes: number
}

/**
 * The extractor daemon (`sisporta extractor`): runs each stream's scheduled loads
 * (`schedule: { full: 6h }`), one at a time per stream; a load still running when the next is
 * due makes the next one wait for the following tick instead of piling up.
 */
export function createScheduler (deps: SchedulerDeps): Worker & { runningLoads(): number } {
  const timers: NodeJS.Timeout[] = []
  const running = new Map<string, Promise<void>>()
  const controller = new AbortController()
  const loads = new Counter({ name: 'sisporta_extractor_loads_total', help: 'Loads run by the extractor daemon', labelNames: ['stream', 'mode', 'outcome'], registers: [deps.metrics] })
  const rows = new Counter({ name: 'sisporta_extractor_rows_total', help: 'Rows read from the source and accepted by the gateway', labelNames: ['stream'], registers: [deps.metrics] })

  function trigger (stream: StreamConfig, mode: LoadMode): void {
    if (running.has(stream.name)) {
      deps.log.warn({ stream: stream.name, mode }, 'previous load still running; skipping this tick')
      return
    }
    const run = runLoad({ source: deps.source, gateway: deps.gateway, log: deps.log }, stream, {
      mode,
      batchSize: stream.batchSize ?? deps.batchSize,
      inFlight: deps.inFlight,
      maxBatchBytes: deps.maxBatchBytes,
      signal: controller.signal
    }).then((load) => {
      loads.inc({ stream: stream.name, mode, outcome: 'sealed' })
      rows.inc({ stream: stream.name }, load.rows ?? 0)
    }, (err: unknown) => {
      loads.inc({ stream: stream.name, mode, outcome: 'failed' })
      deps.log.error({ err, stream: stream.name, mode }, 'scheduled load failed')
    }).finally(() => running.delete(stream.name))
    running.set(stream.name, run)
  }

  return {
    name: 'extractor-scheduler',
    runningLoads: () => running.size,
    async start () {
      for (const stream of deps.config.streams) {
        for (const mode of ['full', 'incremental'] as const) {
          const every = stream.schedule?.[mode]
          if (every === undefined) continue
          timers.push(setInterval(() => trigger(stream, mode), durationMs(every)))
          deps.log.info({ stream: stream.name, mode, every }, 'scheduled')
        }
      }
      if (timers.length === 0) deps.log.warn('no stream has a schedule; the daemon idles (use `sisporta extract` for one load)')
    },
    async stop () {
      for (const timer of timers) clearInterval(timer)
      // An interrupted load is never sealed, so it deletes nothing; it is abandoned later.
      controller.abort()
      await Promise.allSettled(running.values())
      await deps.source.close()
    }
  }
}
