import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The persister's Prometheus metrics (all `sisporta_persister_…`, by stream where it applies). */
export interface PersisterMetrics {
  readonly applied: Counter<'stream'>
  readonly duplicates: Counter<'stream'>
  readonly naks: Counter<'stream'>
  readonly deadLettered: Counter<'stream'>
  /** Batches refused before touching MySQL because of their load (unknown, untrusted, not open or sealed), by code. */
  readonly refused: Counter<'stream' | 'code'>
  readonly rows: Counter<'stream'>
  readonly applySeconds: Histogram<'stream'>
  readonly inFlight: Gauge
}

/**
 * Registers the persister's metrics on a service registry.
 *
 * @example
 * const metrics = createPersisterMetrics(createMetricsRegistry('persister'))
 */
export function createPersisterMetrics (registry: Registry): PersisterMetrics {
  const registers = [registry]
  return Object.freeze({
    applied: new Counter({ name: 'sisporta_persister_batches_applied_total', help: 'Batches committed to MySQL', labelNames: ['stream'] as const, registers }),
    duplicates: new Counter({ name: 'sisporta_persister_batches_duplicate_total', help: 'Redelivered batches found already applied (nothing written)', labelNames: ['stream'] as const, registers }),
    naks: new Counter({ name: 'sisporta_persister_batches_nak_total', help: 'Batches handed back for redelivery after a transient failure', labelNames: ['stream'] as const, registers }),
    deadLettered: new Counter({ name: 'sisporta_persister_batches_dead_lettered_total', help: 'Batches moved to the dead-letter stream', labelNames: ['stream'] as const, registers }),
    refused: new Counter({ name: 'sisporta_persister_batches_refused_total', help: 'Batches refused before touching MySQL because the registry does not vouch for their load (unknown, untrusted, not open or sealed), by error code', labelNames: ['stream', 'code'] as const, registers }),
    rows: new Counter({ name: 'sisporta_persister_rows_upserted_total', help: 'Rows upserted into target tables', labelNames: ['stream'] as const, registers }),
    applySeconds: new Histogram({
      name: 'sisporta_persister_apply_duration_seconds',
      help: 'Time to apply one batch (transaction, commit included)',
      labelNames: ['stream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    inFlight: new Gauge({ name: 'sisporta_persister_batches_in_flight', help: 'Batches being applied right now', registers })
  })
}
