/**
 * Errors of the persister. A `PersistError` is permanent unless marked `transient`: the batch it
 * is about fails the same way on every delivery, so `settle` dead-letters it at once instead of
 * retrying it. A transient one (a load the registry does not show yet) is handed back for
 * redelivery until the batch's deliveries run out, then dead-lettered.
 */
export class PersistError extends Error {
  readonly code: string
  readonly transient: boolean
  constructor (code: PersistErrorCode, message: string, options?: { cause?: unknown, transient?: boolean }) {
    super(message, options)
    this.name = 'PersistError'
    this.code = code
    this.transient = options?.transient === true
  }
}

/** The persister's error codes (kept in step with docs/errors.md). */
export const PersistErrorCodes = Object.freeze({
  /** The message lacks a batch header, or one is malformed or contradicts the subject. */
  BadHeaders: 'SIS_PERSIST_BAD_HEADERS',
  /** The batch names a stream this persister's config does not have. */
  UnknownStream: 'SIS_PERSIST_UNKNOWN_STREAM',
  /** The payload is not JSON, not a batch body, or fails the stream's batch check. */
  BadBody: 'SIS_PERSIST_BAD_BODY',
  /** A value does not have the JavaScript type its column's wire type needs. */
  BadValue: 'SIS_PERSIST_BAD_VALUE',
  /** The batch's load is not in the registry (retried a few times: a replica may lag), or its id is above the load id sequence. */
  LoadUnknown: 'SIS_PERSIST_LOAD_UNKNOWN',
  /** The registry's record of the batch's load is not trusted (no open record from a gateway, malformed…). */
  LoadUntrusted: 'SIS_PERSIST_LOAD_UNTRUSTED',
  /** The batch's load is not open or sealed (abandoned, failed, reconciled…), or its mode differs from the batch's. */
  LoadState: 'SIS_PERSIST_LOAD_STATE',
  /** MySQL refused the batch for a reason retrying will not fix (a value too long, a missing table…). */
  Rejected: 'SIS_PERSIST_REJECTED',
  /** The target table cannot hold every value the stream declares (or lacks a column): nothing of the batch is written. */
  TargetType: 'SIS_PERSIST_TARGET_TYPE',
  /** An upsert made MySQL store a value other than the one sent (a warning or note: rounded, truncated, converted): the batch is rolled back. */
  ValueChanged: 'SIS_PERSIST_VALUE_CHANGED',
  /** A foreign key of the target refused a row (its parent row is missing): the message names the constraint. */
  ForeignKey: 'SIS_PERSIST_FOREIGN_KEY',
  /** Bisection applied the batch's good rows; the rows MySQL refused (keys, column, error) are dead-lettered alone. */
  RowsRefused: 'SIS_PERSIST_ROWS_REFUSED',
  /** A replayed dead letter (`Sisporta-Replay`) for a load that may not take it (discarded, superseded, applied…), or with a malformed replay header. */
  ReplayRefused: 'SIS_PERSIST_REPLAY_REFUSED',
  /** A range comparison (diffed reload, verify) that cannot be made: malformed request, unknown stream, a load that is not an open diffed load. */
  CompareInvalid: 'SIS_PERSIST_COMPARE_INVALID'
} as const)

export type PersistErrorCode = typeof PersistErrorCodes[keyof typeof PersistErrorCodes]
