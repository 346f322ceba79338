import { STATUS_CODES } from 'node:http'
import type { ErrorReply } from '@sisporta/contracts'

/**
 * Every error the gateway reports, by code. `status` is the HTTP status of the reply; errors
 * without one stop the gateway at start-up (bad configuration: exit code 2). `retryAfterSec`
 * marks the errors a client should retry: nothing was acknowledged, so nothing can be lost.
 */
export const GATEWAY_ERRORS = Object.freeze({
  SIS_GW_TOKEN_MISSING: { status: 401, doc: 'No `Authorization: Bearer <jwt>` header.' },
  SIS_GW_TOKEN_INVALID: { status: 401, doc: 'The token is malformed, unsigned (`alg: none`), signed with another key, or with an algorithm its key does not verify.' },
  SIS_GW_TOKEN_EXPIRED: { status: 401, doc: 'The token has expired (the message gives `exp` and the server time): issue a new one (`sisporta token issue`).' },
  SIS_GW_TOKEN_NOT_YET_VALID: { status: 401, doc: 'The token\'s `nbf` is still ahead, or its `iat` is in the future beyond the clock tolerance (check the issuer\'s clock).' },
  SIS_GW_TOKEN_CLAIMS: { status: 401, doc: 'The token is signed correctly but lacks a claim every token needs (`exp`, `iat`, `sub`, a non-empty `streams`) or has one of the wrong type; the message names it.' },
  SIS_GW_TOKEN_ISSUER: { status: 401, doc: 'The token\'s `iss` is not `SISPORTA_JWT_ISSUER`.' },
  SIS_GW_TOKEN_AUDIENCE: { status: 401, doc: 'The token\'s `aud` does not include `SISPORTA_JWT_AUDIENCE`.' },
  SIS_GW_TOKEN_LIFETIME: { status: 401, doc: 'The token\'s lifetime (`exp − iat`) exceeds `SISPORTA_JWT_MAX_TTL`: issue a shorter-lived token.' },
  SIS_GW_TOKEN_KEY_UNKNOWN: { status: 401, doc: 'The token\'s `kid` is not in the JWKS file (a retired or not yet added key), or the token has no `kid` and the gateway only has a JWKS.' },
  SIS_GW_STREAM_FORBIDDEN: { status: 403, doc: 'The token\'s `streams` claim does not include this stream.' },
  SIS_GW_STREAM_UNKNOWN: { status: 404, doc: 'No stream of this name in the gateway\'s config file.' },
  SIS_GW_LOAD_UNKNOWN: { status: 404, doc: 'No load of this id for this stream.' },
  SIS_GW_ROUTE_UNKNOWN: { status: 404, doc: 'No such route.' },
  SIS_GW_LOAD_NOT_OPEN: { status: 409, doc: 'Batches are only accepted, and a load is only sealed or abandoned, while the load is open.' },
  SIS_GW_LOAD_SUPERSEDED: { status: 409, doc: 'Two loads of one stream were opened at the same moment: one open load per stream, so the older one was abandoned at once and its opener told so; the message names the newer load.' },
  SIS_GW_STREAM_PAUSED: { status: 409, doc: 'An operator paused the stream (`sisporta streams pause NAME`): no new load opens until it is resumed (`sisporta streams resume NAME`); the message says who paused it, when and why. A load already open when the stream was paused finishes. A malformed control record counts as paused.' },
  SIS_GW_SEAL_MISMATCH: { status: 409, doc: 'The load was already sealed with other batch or row counts.' },
  SIS_GW_SEAL_INVALID: { status: 409, doc: 'The seal\'s counts contradict the batches this gateway accepted for the load (a batch number at or above the sealed count, more rows accepted than sealed, fewer rows than batches).' },
  SIS_GW_LOAD_UNTRUSTED: { status: 409, doc: 'The registry holds a record for this load that sisporta does not trust (no open record from a gateway, an id above the sequence, malformed): nothing is done with it.' },
  SIS_GW_INVALID_REQUEST: { status: 400, doc: 'A path parameter or body does not match the API schema; the message gives the JSON path.' },
  SIS_GW_BATCH_INVALID: { status: 400, doc: 'A batch does not fit its stream\'s declared columns; the message names the row and column.' },
  SIS_GW_MALFORMED_JSON: { status: 400, doc: 'The body is not valid JSON.' },
  SIS_GW_BAD_REQUEST: { status: 400, doc: 'The HTTP request itself is malformed (e.g. a wrong Content-Length).' },
  SIS_GW_BODY_TOO_LARGE: { status: 413, doc: 'The body is over the gateway\'s body limit or the bus\'s maximum message size: send smaller batches.' },
  SIS_GW_UNSUPPORTED_MEDIA_TYPE: { status: 415, doc: 'Bodies must be `application/json`.' },
  SIS_GW_BUSY: { status: 503, retryAfterSec: 1, doc: 'Too many batches in flight: retry after the `Retry-After` delay.' },
  SIS_GW_TOKEN_BUSY: { status: 429, retryAfterSec: 1, doc: 'This token\'s subject has as many batch requests in progress as it may (SISPORTA_GATEWAY_MAX_IN_FLIGHT_PER_TOKEN): retry after the `Retry-After` delay; other tokens are not held up.' },
  SIS_GW_BODY_TIMEOUT: { status: 408, retryAfterSec: 1, doc: 'The request body did not arrive within SISPORTA_GATEWAY_BODY_TIMEOUT: its slot was freed; retry.' },
  SIS_GW_BUS_UNAVAILABLE: { status: 503, retryAfterSec: 1, doc: 'JetStream did not acknowledge (unreachable, timed out, or full): nothing was accepted, retry.' },
  SIS_GW_COMPARE_INVALID: { status: 400, doc: 'A range comparison (diffed reload, `sisporta verify`) whose bounds do not fit the stream\'s key columns, or whose hashes are not whole 8-byte row hashes; the message says which.' },
  SIS_GW_COMPARE_REFUSED: { status: 409, doc: 'A range comparison for a load that is not an open diffed load (a load opened as `rows` sends every row), or one the persister refused; the message says why.' },
  SIS_GW_COMPARER_UNAVAILABLE: { status: 503, retryAfterSec: 1, doc: 'No persister answered the range comparison in time (none running, or all busy): nothing was changed, retry.' },
  SIS_GW_VERIFY_NOT_PENDING: { status: 409, doc: 'A verify report (`POST /v1/streams/:stream/verify-reports`) that answers no pending verify request of the stream: no request, a newer one (`requestedAt` differs), or one already answered. Nothing is stored.' },
  SIS_GW_INTERNAL: { status: 500, doc: 'An unexpected error; details are in the gateway\'s log, never in the reply.' },
  SIS_GW_AUTH_NOT_CONFIGURED: { doc: 'None of SISPORTA_JWT_SECRET, SISPORTA_JWT_PUBLIC_KEY, SISPORTA_JWT_JWKS is set (or the JWKS holds no key): the gateway refuses to start unauthenticated.' },
  SIS_GW_JWT_KEY: { doc: 'SISPORTA_JWT_PUBLIC_KEY is neither a PEM public key nor a readable file holding one, or a key JWT cannot use (RSA under 2048 bits, an unsupported curve).' },
  SIS_GW_JWT_SECRET_WEAK: { doc: 'SISPORTA_JWT_SECRET is shorter than 32 bytes: use 32+ random bytes (`openssl rand -base64 48`).' },
  SIS_GW_JWKS: { doc: 'The SISPORTA_JWT_JWKS file cannot be read or is malformed; the message names the file and the key\'s index. At run time the previous keys stay in use and the problem is logged.' },
  SIS_GW_TLS: { doc: 'The TLS certificate or key is neither PEM content nor a readable PEM file.' }
} satisfies Record<`SIS_GW_${string}`, { status?: number, retryAfterSec?: number, doc: string }>)

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS

/**
 * An error of the gateway, with its catalogue code. Request errors carry the HTTP status of
 * their reply; start-up errors carry exit code 2 (bad configuration).
 *
 * @example
 * throw new GatewayError('SIS_GW_LOAD_UNKNOWN', `load 42 of stream 'products' does not exist`)
 */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode
  /** HTTP status of the reply (500 for start-up errors, which never reach a client). */
  readonly statusCode: number
  /** Seconds a client should wait before retrying (503s). */
  readonly retryAfterSec: number | undefined
  /** Process exit code when this error stops the gateway at start-up. */
  readonly exitCode: number | undefined

  constructor (code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatewayError'
    this.code = code
    const entry = GATEWAY_ERRORS[code] as { status?: number, retryAfterSec?: number }
    this.statusCode = entry.status ?? 500
    this.retryAfterSec = entry.retryAfterSec
    this.exitCode = entry.status === undefined ? 2 : undefined
  }

  /** The reply body of this error. */
  toReply (): ErrorReply {
    return errorReply(this.statusCode, this.code, this.message)
  }
}

/** An {@link ErrorReply} with the standard reason phrase of its status. */
export function errorReply (statusCode: number, code: string, message: string): ErrorReply {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

export function isGatewayError (err: unknown): err is GatewayError {
  return err instanceof GatewayError
}
