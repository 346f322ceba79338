/** Errors of the extractor. `exitCode` is what `sisporta extract` exits with. */
export class ExtractError extends Error {
  readonly code: string
  readonly exitCode: 1 | 2
  readonly statusCode: number | undefined
  /** The gateway's error code, when the gateway refused a request (`SIS_GW_LOAD_NOT_OPEN`, …). */
  readonly gatewayCode: string | undefined
  constructor (code: `SIS_EXTRACT_${string}`, message: string, options: { cause?: unknown, exitCode?: 1 | 2, statusCode?: number, gatewayCode?: string | undefined } = {}) {
    super(message, { cause: options.cause })
    this.name = 'ExtractError'
    this.code = code
    this.exitCode = options.exitCode ?? 1
    this.statusCode = options.statusCode
    this.gatewayCode = options.gatewayCode
  }
}

/**
 * True when the gateway refused to open a load because an operator paused the stream
 * (`SIS_EXTRACT_STREAM_PAUSED`): no load was opened, nothing is wrong — the daemon skips the
 * stream until it is resumed.
 *
 * @example
 * try { await runLoad(deps, stream, options) } catch (err) { if (isStreamPaused(err)) log.info({ stream: stream.name }, err.message) }
 */
export function isStreamPaused (err: unknown): err is ExtractError {
  return err instanceof ExtractError && err.code === 'SIS_EXTRACT_STREAM_PAUSED'
}
