import { STATUS_CODES } from 'node:http'

/**
 * Every error the console answers with, by code, and its HTTP status. Token problems keep the
 * gateway's codes (`SIS_GW_TOKEN_*`): the console verifies tokens with the gateway's verifier.
 */
export const CONSOLE_ERRORS = Object.freeze({
  /** No session cookie and no `Authorization: Bearer` header. */
  SIS_CONSOLE_UNAUTHENTICATED: { status: 401 },
  /** A valid token without the `sisporta:admin` scope (an extractor's stream token, say). */
  SIS_CONSOLE_NOT_ADMIN: { status: 403 },
  /** A state-changing request signed in by cookie whose Origin (or Referer) is not the console. */
  SIS_CONSOLE_CROSS_ORIGIN: { status: 403 },
  /** No such stream, load or dead letter. */
  SIS_CONSOLE_NOT_FOUND: { status: 404 },
  /** The action does not apply to what it names now (approving a load that is not held…). */
  SIS_CONSOLE_CONFLICT: { status: 409 },
  /** A malformed request (a bad id, a body that is not a form). */
  SIS_CONSOLE_BAD_REQUEST: { status: 400 },
  /** Reading or changing the bus failed; nothing was changed unless the message says so. */
  SIS_CONSOLE_BUS: { status: 502 }
} as const)

export type ConsoleErrorCode = keyof typeof CONSOLE_ERRORS

export class ConsoleError extends Error {
  readonly code: ConsoleErrorCode
  readonly statusCode: number
  constructor (code: ConsoleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConsoleError'
    this.code = code
    this.statusCode = CONSOLE_ERRORS[code].status
  }
}

/** The JSON body of an error reply, as the gateway answers. */
export function errorBody (statusCode: number, code: string, message: string): { statusCode: number, code: string, error: string, message: string } {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}
