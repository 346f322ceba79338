/**
 * Errors of the persister. A `PersistError` is always permanent: the batch it is about fails the
 * same way on every delivery, so `settle` dead-letters it at once instead of retrying it.
 */
export class PersistError extends Error {
  readonly code: string
  constructor (code: PersistErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PersistError'
    this.code = code
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
  /** MySQL refused the batch for a reason retrying will not fix (a value too long, a missing table…). */
  Rejected: 'SIS_PERSIST_REJECTED'
} as const)

export type PersistErrorCode = typeof PersistErrorCodes[keyof typeof PersistErrorCodes]
