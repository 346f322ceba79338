/** Errors of the bus layer (connection, provisioning, load registry). */
export class BusError extends Error {
  readonly code: string
  constructor (code: `SIS_BUS_${string}`, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BusError'
    this.code = code
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
