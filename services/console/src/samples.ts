import type { Logger, Worker } from '@sisporta/observability'
import type { ConsoleReads } from './operations.js'

/** One look at the system, for the charts. */
export interface Sample {
  /** Unix seconds. */
  readonly t: number
  readonly pending: number | null
  readonly ackPending: number | null
  /** Batches queued per stream. */
  readonly queued: Readonly<Record<string, number>>
  /** Rows applied per second per stream since the previous sample (needs MySQL). */
  readonly rowsPerSec: Readonly<Record<string, number>>
}

export interface SamplerOptions {
  readonly reads: ConsoleReads
  readonly log: Pick<Logger, 'warn'>
  /** Between two samples (ms, default 5000). */
  readonly intervalMs?: number
  /** Samples kept (default 360: half an hour at 5 s). */
  readonly size?: number
}

export interface Sampler extends Worker {
  /** Takes one sample now (what the interval does). */
  sampleNow(): Promise<void>
  /** The samples kept, oldest first. */
  samples(): readonly Sample[]
}

/**
 * A small in-memory ring of samples taken every few seconds: the consumer's backlog, batches
 * queued per stream and rows applied per second (from the persisters' ledger). It lives as long
 * as the process; Prometheus and the Grafana dashboard keep the long history.
 *
 * @example
 * const sampler = createSampler({ reads, log, intervalMs: 5000 })
 * await sampler.start()
 * sampler.samples() // [{ t, pending, ackPending, queued: { products: 3 }, rowsPerSec: { products: 1200 } }, …]
 */
export function createSampler (options: SamplerOptions): Sampler {
  const size = options.size ?? 360
  const ring: Sample[] = []
  let previous: { t: number, applied: Map<string, number> } | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  async function take (): Promise<void> {
    const t = Date.now() / 1000
    const [consumer, queued, applied] = await Promise.all([
      options.reads.consumer().catch(() => undefined),
      options.reads.queuedBatches().catch(() => new Map<string, number>()),
      options.reads.appliedRows?.().catch((err: unknown) => {
        options.log.warn({ err, code: 'SIS_CONSOLE_BUS' }, 'reading the applied rows for the throughput chart failed')
        return undefined
      })
    ])
    const rowsPerSec: Record<string, number> = {}
    if (applied !== undefined) {
      if (previous !== undefined && t > previous.t) {
        for (const [stream, n] of applied) {
          // a ledger pruned by retention can only shrink the sum: never a negative rate
          rowsPerSec[stream] = Math.max(0, (n - (previous.applied.get(stream) ?? 0)) / (t - previous.t))
        }
      }
      previous = { t, applied }
    }
    ring.push({ t, pending: consumer?.pending ?? null, ackPending: consumer?.ackPending ?? null, queued: Object.fromEntries(queued), rowsPerSec })
    if (ring.length > size) ring.splice(0, ring.length - size)
  }

  const sampleNow = async (): Promise<void> => {
    running ??= take().finally(() => { running = undefined })
    await running
  }

  return {
    name: 'sampler',
    sampleNow,
    samples: () => ring,
    async start () {
      await sampleNow()
      timer = setInterval(() => { void sampleNow() }, options.intervalMs ?? 5000)
      timer.unref()
    },
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      await running
    }
  }
}
