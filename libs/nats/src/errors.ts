/**
 * Errors of the bus layer (connection, provisioning, load registry). Configuration and start-up
 * problems (bad NATS settings, refused credentials, a bus nobody provisioned) carry exit code 2;
 * everything else 1.
 */
export class BusError extends Error {
  readonly code: string
  readonly exitCode: 1 | 2
  constructor (code: `SIS_BUS_${string}`, message: string, options?: { cause?: unknown, exitCode?: 1 | 2 }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BusError'
    this.code = code
    this.exitCode = options?.exitCode ?? 1
  }
}

/** JetStream API error codes sisporta reacts to (nats-server `err_code`s). */
export const JsErrCode = Object.freeze({
  /** "wrong last sequence": a compare-and-set on a KV key lost the race. */
  WrongLastSequence: 10071,
  /** KV create on a key that exists. */
  KeyExists: 10071,
  StreamNotFound: 10059,
  ConsumerNotFound: 10014
} as const)

/** True for the error a KV `create`/`update` throws when another writer got there first. */
export function isRevisionConflict (err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }, message?: string } | undefined
  return e?.api_error?.err_code === JsErrCode.WrongLastSequence || /wrong last sequence/i.test(e?.message ?? '')
}

/**
 * True when the NATS server refused an operation because this connection's identity lacks the
 * permission (`-ERR 'Permissions Violation for Publish to "…"'`). nats.js fails the pending
 * request with it at once, so a missing right is an error, never a timeout.
 */
export function isPermissionDenied (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown } | undefined
  return e?.code === 'PERMISSIONS_VIOLATION' || /permissions violation/i.test(typeof e?.message === 'string' ? e.message : '')
}
