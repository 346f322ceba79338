import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The reconciler's Prometheus metrics (`sisporta_reconciler_…`). */
export interface ReconcilerMetrics {
  /** State changes this reconciler made, by stream and from/to state. */
  readonly transitions: Counter<'stream' | 'from' | 'to'>
  /** Target rows removed (hard) or marked deleted (soft). */
  readonly deletedRows: Counter<'stream' | 'deletes'>
  /** Loads currently held by the delete guard, waiting for an operator. */
  readonly held: Gauge<'stream'>
  /** Time from deciding to reconcile an applied or approved full load to its outcome. */
  readonly duration: Histogram<'stream' | 'outcome'>
  /** Steps that failed and are retried on the next sweep. */
  readonly errors: Counter<'stream'>
  /** Registry records refused as untrusted (forged or corrupt): never acted on. */
  readonly untrusted: Counter
}

/**
 * Registers the reconciler's metrics on a registry.
 *
 * @example
 * const metrics = createReconcilerMetrics(createMetricsRegistry('reconciler'))
 */
export function createReconcilerMetrics (registry: Registry): ReconcilerMetrics {
  return Object.freeze({
    transitions: new Counter({ name: 'sisporta_reconciler_transitions_total', help: 'Load state changes made by the reconciler', labelNames: ['stream', 'from', 'to'] as const, registers: [registry] }),
    deletedRows: new Counter({ name: 'sisporta_reconciler_deleted_rows_total', help: 'Target rows deleted (hard) or marked deleted (soft) by reconciliation', labelNames: ['stream', 'deletes'] as const, registers: [registry] }),
    held: new Gauge({ name: 'sisporta_reconciler_loads_held', help: 'Full loads held by the delete guard, waiting for an operator', labelNames: ['stream'] as const, registers: [registry] }),
    duration: new Histogram({ name: 'sisporta_reconciler_reconcile_duration_seconds', help: 'Time to reconcile an applied or approved full load', labelNames: ['stream', 'outcome'] as const, buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800], registers: [registry] }),
    errors: new Counter({ name: 'sisporta_reconciler_errors_total', help: 'Reconciler steps that failed and will be retried', labelNames: ['stream'] as const, registers: [registry] }),
    untrusted: new Counter({ name: 'sisporta_reconciler_untrusted_records_total', help: 'Load registry records refused as untrusted (no open record from a gateway, an id above the sequence, malformed): never acted on', registers: [registry] })
  })
}
