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
  Watch: 'SIS_RECON_WATCH'
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
