import type { Logger } from 'pino'
import type { WireRow } from '@sisporta/source'
import type { LoadMode, LoadRecord, StreamConfig } from '@sisporta/contracts'
import { keyOf, streamPages, type SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { ExtractError } from './errors.js'
import { encodeBatches } from './encode-batches.js'

/** Under NATS's default max_payload of 1 MiB, with room for headers. */
export const DEFAULT_MAX_BATCH_BYTES = 960_000

export interface LoadProgress {
  readonly loadId: number
  readonly batches: number
  readonly rows: number
  /** Rows the source is estimated to hold (undefined for queries). */
  readonly estimatedRows: number | undefined
}

export interface RunLoadOptions {
  mode: LoadMode
  /** Rows per batch. */
  batchSize: number
  /** Batches posted concurrently. */
  inFlight: number
  /** Largest batch body in bytes; larger pages are split (default 960,000: under NATS's 1 MiB). */
  maxBatchBytes?: number
  onProgress?: (progress: LoadProgress) => void
  signal?: AbortSignal
}

/**
 * One load of one stream: checks the source, opens the load at the gateway, reads the source
 * page by page (keyset pagination, one short read per page), posts each page as a batch with a
 * few in flight, and seals the load with the batch and row counts. A failure leaves the load
 * open — it is never sealed, so it can never delete anything — and throws.
 *
 * @returns the load as sealed.
 */
export async function runLoad (deps: { source: SourceDialect, gateway: GatewayClient, log: Logger }, stream: StreamConfig, options: RunLoadOptions): Promise<LoadRecord> {
  if (options.mode !== 'full') {
    throw new ExtractError('SIS_EXTRACT_MODE', `stream '${stream.name}': incremental loads are not available yet; use --mode full`, { exitCode: 2 })
  }
  await deps.source.describe(stream)
  const estimatedRows = await deps.source.estimateRows(stream).catch(() => undefined)
  const load = await deps.gateway.openLoad(stream.name, options.mode)
  const log = deps.log.child({ stream: stream.name, loadId: load.id })
  log.info({ mode: options.mode, estimatedRows }, 'load opened')
  const columns = stream.columns.map((c) => c.name)
  const pending = new Set<Promise<void>>()
  let failure: unknown
  let batches = 0
  let rows = 0
  let posted = 0
  let postedRows = 0
  const describeRow = (row: WireRow): string => JSON.stringify(keyOf(stream, row))
  for await (const page of streamPages(deps.source, stream, options.batchSize)) {
    if (failure !== undefined) break
    options.signal?.throwIfAborted()
    rows += page.length
    // Encoded once here; the gateway forwards these exact bytes to the bus.
    for (const body of encodeBatches(columns, page, options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, describeRow)) {
      const batch = batches++
      const post = deps.gateway.postBatch(stream.name, load.id, batch, body).then((reply) => {
        posted++
        postedRows += reply.rows
        options.onProgress?.({ loadId: load.id, batches: posted, rows: postedRows, estimatedRows })
      }, (err: unknown) => { failure ??= err })
      const tracked = post.finally(() => pending.delete(tracked))
      pending.add(tracked)
      if (pending.size >= options.inFlight) await Promise.race(pending)
    }
  }
  await Promise.all(pending)
  if (failure !== undefined) {
    log.error({ err: failure, batches: posted }, 'load failed before sealing; it stays open and will be abandoned')
    throw failure
  }
  const sealed = await deps.gateway.seal(stream.name, load.id, { batches, rows })
  log.info({ batches, rows }, 'load sealed')
  return sealed
}
