import type { Logger } from 'pino'
import type { StreamConfig, SyncRequest, VerifyReportRecord } from '@sisporta/contracts'
import type { SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { ExtractError } from './errors.js'
import { isIdentical, verifyStream, type VerifyOptions } from './verify-stream.js'

/**
 * Serves an operator's verify request (`sisporta streams verify NAME`, the console's "Verify"):
 * the comparison of `sisporta verify` (nothing is written to the target), then its report posted
 * to the gateway for the request (`requestedAt`), which stores it and so ends the request.
 * Resolves with the stored record, or `undefined` when the gateway no longer takes a report for
 * this request (409 `SIS_GW_VERIFY_NOT_PENDING`: a newer request replaced it, or another
 * extractor answered first) — then the next poll lists the newer request.
 *
 * @example
 * await serveVerifyRequest({ source, gateway, log }, config.stream('products')!, request, { pageSize: 5000, inFlight: 4 })
 */
export async function serveVerifyRequest (deps: { source: SourceDialect, gateway: GatewayClient, log: Logger }, stream: StreamConfig, request: SyncRequest, options: VerifyOptions): Promise<VerifyReportRecord | undefined> {
  deps.log.info({ stream: stream.name, requestedAt: request.requestedAt, requestedBy: request.requestedBy }, 'verify requested: comparing the source with the target')
  const report = await verifyStream(deps, stream, options)
  try {
    const firstKeys = { missing: report.firstKeys.missing.map((k) => [...k]), extra: report.firstKeys.extra.map((k) => [...k]), different: report.firstKeys.different.map((k) => [...k]) }
    const stored = await deps.gateway.postVerifyReport({ ...report, firstKeys, requestedAt: request.requestedAt, requestedBy: request.requestedBy }, options.signal === undefined ? {} : { signal: options.signal })
    deps.log.info({ stream: stream.name, identical: isIdentical(report), missing: report.missing, extra: report.extra, different: report.different, seconds: report.seconds }, 'verify report posted')
    return stored
  } catch (err) {
    if (err instanceof ExtractError && err.gatewayCode === 'SIS_GW_VERIFY_NOT_PENDING') {
      deps.log.info({ stream: stream.name, reason: err.message }, 'verify report not stored: the request is no longer pending')
      return undefined
    }
    throw err
  }
}
