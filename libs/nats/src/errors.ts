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

/** nats.js codes of a request nobody answered in time or could not answer: no reply (yet), no responders, the connection lost. */
const UNAVAILABLE_CODES = new Set(['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_CLOSED', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT'])

/**
 * True when a NATS or JetStream request failed because the bus could not answer for a moment
 * (a timeout, no responders, a lost connection): in a cluster, while a stream or the registry
 * elects a new leader after a node died; on one server, while it restarts. Worth retrying,
 * never a verdict on the message.
 *
 * @example
 * if (isBusUnavailable(err)) msg.nak(1000) // not a dead letter: the registry had no leader for a moment
 */
export function isBusUnavailable (err: unknown): boolean {
  const e = err as { code?: unknown, name?: unknown } | undefined
  return e?.name === 'NatsError' && typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)
}
