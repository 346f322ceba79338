/**
 * Errors of the reconciler. A failed step never changes a load: the worker logs the error and
 * examines the load again on the next sweep.
 */
export const ReconcilerErrorCode = Object.freeze({
  /** The load's stream is not in this reconciler's config: it cannot know the target table. */
  StreamUnknown: 'SIS_RECON_STREAM_UNKNOWN',
  /** Examining a load failed (MySQL or the registry); retried on the next sweep. */
  Examine: 'SIS_RECON_EXAMINE',
  /** Watching the load registry failed; the watch is restarted. */
  Watch: 'SIS_RECON_WATCH',
  /** Watching the dead letters (or acting on one) failed; retried. */
  DeadLetterWatch: 'SIS_RECON_DLQ_WATCH',
  /**
   * A full load's rows are not all in the target (merged by a loosely compared key, or lost): the
   * load fails and deletes nothing. Logged with the counts; the load's `reason` explains it.
   */
  RowsLost: 'SIS_RECON_ROWS_LOST',
  /** A retention pass (old loads out of the registry and the batch ledger) failed, or could not remove everything; retried at the next interval. */
  Retention: 'SIS_RECON_RETENTION',
  /** Reading JetStream or the registry for the operator metrics failed; the previous values stay. */
  OperatorMetrics: 'SIS_RECON_OPERATOR_METRICS'
} as const)

export type ReconcilerErrorCodeValue = typeof ReconcilerErrorCode[keyof typeof ReconcilerErrorCode]

export class ReconcilerError extends Error {
  readonly code: ReconcilerErrorCodeValue
  constructor (code: ReconcilerErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ReconcilerError'
    this.code = code
  }
}
