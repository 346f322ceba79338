import type { Logger } from 'pino'
import type { WireRow } from '@sisporta/source'
import type { LoadMode, LoadRecord, ReloadKind, StreamConfig } from '@sisporta/contracts'
import { keyOf, streamPages, type SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { ExtractError } from './errors.js'
import { encodeBatches } from './encode-batches.js'
import { DEFAULT_COMPARE_ROWS, comparePages } from './compare-pages.js'

/** Under NATS's default max_payload of 1 MiB, with room for headers. */
export const DEFAULT_MAX_BATCH_BYTES = 960_000

/** Attempts at abandoning a failed load: a gateway that is down is not waited for long. */
const ABANDON_ATTEMPTS = 3

export interface LoadProgress {
  readonly loadId: number
  readonly batches: number
  readonly rows: number
  /** Rows the source is estimated to hold (undefined for queries). */
  readonly estimatedRows: number | undefined
}

export interface RunLoadOptions {
  mode: LoadMode
  /**
   * A full load: `diff` (the default) asks the gateway for a diffed reload, which it grants
   * when the stream has a reconciled full load and no other load that may still write; `rows`
   * sends every row (`source.reload: rows`, `--reload rows`).
   */
  reload?: ReloadKind
  /** A diffed load: source rows per compared key range (SISPORTA_COMPARE_ROWS; default 5000). */
  compareRows?: number
  /** Rows per batch. */
  batchSize: number
  /** Batches posted concurrently. */
  inFlight: number
  /** Largest batch body in bytes; larger pages are split (default 960,000: under NATS's 1 MiB). */
  maxBatchBytes?: number
  /** Attempts at one source page when it fails transiently (SISPORTA_SOURCE_READ_ATTEMPTS; default 5). */
  readAttempts?: number
  onProgress?: (progress: LoadProgress) => void
  /** Stops the load (SIGTERM, the daemon stopping): it is abandoned with the signal's reason. */
  signal?: AbortSignal
}

interface RunLoadDeps {
  source: SourceDialect
  gateway: GatewayClient
  log: Logger
}

/**
 * One load of one stream: checks the source, opens the load at the gateway, reads the source
 * page by page (keyset pagination, one short read per page), posts each page as a batch with a
 * few in flight, and seals the load with the batch and row counts (and the datetime values the
 * source cut to the microsecond, `fraction: truncate`, when there were any).
 *
 * A failure once the load is open — a source value that cannot be converted, a key that does
 * not advance, a batch the gateway refuses, a page read that crashes, the signal — abandons the
 * load at once with the reason (it deletes nothing, and no operator waits SISPORTA_OPEN_TIMEOUT
 * to learn why), then throws the failure. A load someone else ended meanwhile (a newer load of
 * the stream opened, a dead-lettered batch failed it) is `SIS_EXTRACT_LOAD_ENDED` with its reason.
 *
 * @returns the load as sealed.
 *
 * @example
 * const sealed = await runLoad({ source, gateway, log }, stream, { mode: 'full', batchSize: 2000, inFlight: 4 })
 */
export async function runLoad (deps: RunLoadDeps, stream: StreamConfig, options: RunLoadOptions): Promise<LoadRecord> {
  if (options.mode !== 'full') {
    throw new ExtractError('SIS_EXTRACT_MODE', `stream '${stream.name}': incremental loads are not available yet; use --mode full`, { exitCode: 2 })
  }
  await deps.source.describe(stream)
  const estimatedRows = await deps.source.estimateRows(stream).catch(() => undefined)
  options.signal?.throwIfAborted()
  // Not abortable: a load opened without its id coming back would stay open (until the next
  // load of the stream abandons it); once the id is here, the signal abandons it.
  const load = await deps.gateway.openLoad(stream.name, options.mode, options.mode === 'full' ? options.reload ?? 'diff' : undefined)
  const log = deps.log.child({ stream: stream.name, loadId: load.id })
  log.info({ mode: options.mode, reload: load.reload ?? 'rows', estimatedRows }, 'load opened')
  try {
    if (load.reload === 'diff') return await diffAndSeal(deps, stream, load, options, estimatedRows, log)
    return await sendAndSeal(deps, stream, load, options, estimatedRows, log)
  } catch (err) {
    throw await giveUp(deps.gateway, load, err, log)
  }
}

async function sendAndSeal (deps: RunLoadDeps, stream: StreamConfig, load: LoadRecord, options: RunLoadOptions, estimatedRows: number | undefined, log: Logger): Promise<LoadRecord> {
  const { signal } = options
  signal?.throwIfAborted()
  const columns = stream.columns.map((c) => c.name)
  const pending = new Set<Promise<void>>()
  let failure: unknown
  let batches = 0
  let rows = 0
  let posted = 0
  let postedRows = 0
  const describeRow = (row: WireRow): string => JSON.stringify(keyOf(stream, row))
  // a page that fails transiently is read again from its key; each retry is a warning of this load
  const retry = { log, ...(options.readAttempts === undefined ? {} : { attempts: options.readAttempts }) }
  const pages = streamPages(deps.source, stream, options.batchSize, signal === undefined ? { retry } : { signal, retry })[Symbol.asyncIterator]()
  try {
    for (;;) {
      if (failure !== undefined) break
      const step = await untilAborted(pages.next(), signal)
      if (step.done === true) break
      const page = step.value
      rows += page.length
      // Encoded once here; the gateway forwards these exact bytes to the bus.
      for (const body of encodeBatches(columns, page, options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, describeRow)) {
        const batch = batches++
        const post = deps.gateway.postBatch(stream.name, load.id, batch, body, { signal }).then((reply) => {
          posted++
          postedRows += reply.rows
          options.onProgress?.({ loadId: load.id, batches: posted, rows: postedRows, estimatedRows })
        }, (err: unknown) => { failure ??= err })
        const tracked = post.finally(() => pending.delete(tracked))
        pending.add(tracked)
        if (pending.size >= options.inFlight) await untilAborted(Promise.race(pending), signal)
      }
    }
    await untilAborted(Promise.all(pending), signal)
  } finally {
    // stops a read started ahead from being followed by another (its outcome no longer matters)
    pages.return(undefined).catch(() => {})
  }
  if (failure !== undefined) throw failure
  signal?.throwIfAborted()
  // values the source changed as the config asks (SQL Server `fraction: truncate`), for the load record
  const truncatedFractions = deps.source.valuesChanged?.(stream).truncatedFractions ?? 0
  const counts = truncatedFractions > 0 ? { batches, rows, truncatedFractions } : { batches, rows }
  const sealed = await deps.gateway.seal(stream.name, load.id, counts, { signal })
  log.info(counts, 'load sealed')
  return sealed
}

/**
 * A diffed load (docs/reloads.md): compares the source with the target range by range
 * (compare-pages.ts) and posts as batches only the rows each comparison asks for; the target
 * rows nothing matched were marked by the comparison, and those the load does not send again
 * are its deletes. Sealed with the rows sent and the rows and ranges compared.
 */
async function diffAndSeal (deps: RunLoadDeps, stream: StreamConfig, load: LoadRecord, options: RunLoadOptions, estimatedRows: number | undefined, log: Logger): Promise<LoadRecord> {
  const { signal } = options
  const columns = stream.columns.map((c) => c.name)
  const describeRow = (row: WireRow): string => JSON.stringify(keyOf(stream, row))
  const maxBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES
  let batches = 0
  let rows = 0
  let comparedRows = 0
  let comparedRanges = 0
  let equalRanges = 0
  await comparePages(deps.source, stream,
    async (body) => await deps.gateway.compare(stream.name, load.id, body, signal === undefined ? {} : { signal }),
    async (range) => {
      comparedRanges++
      comparedRows += range.rows.length
      if (range.reply.send.length === 0 && range.reply.unmatched === 0) equalRanges++
      // a range's batches are posted together; several ranges are in flight at once
      const posts = encodeBatches(columns, range.differing, maxBytes, describeRow).map(async (body) => {
        const reply = await deps.gateway.postBatch(stream.name, load.id, batches++, body, signal === undefined ? {} : { signal })
        rows += reply.rows
      })
      await Promise.all(posts)
      options.onProgress?.({ loadId: load.id, batches, rows: comparedRows, estimatedRows })
    },
    { pageSize: options.batchSize, compareRows: options.compareRows ?? DEFAULT_COMPARE_ROWS, inFlight: options.inFlight, log, ...(options.readAttempts === undefined ? {} : { readAttempts: options.readAttempts }), ...(signal === undefined ? {} : { signal }) })
  const truncatedFractions = deps.source.valuesChanged?.(stream).truncatedFractions ?? 0
  const counts = { batches, rows, ...(truncatedFractions > 0 ? { truncatedFractions } : {}), comparedRows, comparedRanges, equalRanges }
  const sealed = await deps.gateway.seal(stream.name, load.id, counts, signal === undefined ? {} : { signal })
  log.info(counts, 'diffed load sealed')
  return sealed
}

/**
 * After a failure of an open load: abandons it at once with the reason, unless someone else
 * ended it first (then the error says how it ended, and why). Never throws itself: a gateway
 * that cannot be reached leaves the load to SISPORTA_OPEN_TIMEOUT, and the original error stands.
 *
 * @returns the error to throw.
 */
async function giveUp (gateway: GatewayClient, load: LoadRecord, err: unknown, log: Logger): Promise<unknown> {
  if (err instanceof ExtractError && err.gatewayCode === 'SIS_GW_LOAD_NOT_OPEN') {
    const ended = await endedMeanwhile(gateway, load)
    if (ended !== undefined) {
      log.error({ err, state: ended.state, reason: ended.reason }, 'the load was ended by someone else while it was being sent')
      return new ExtractError('SIS_EXTRACT_LOAD_ENDED', `load ${load.id} of stream '${load.stream}' ended ${ended.state} while it was being sent${ended.reason === undefined ? '' : `: ${ended.reason}`}`, { cause: err })
    }
  }
  const reason = describeFailure(err)
  try {
    const abandoned = await gateway.abandonLoad(load.stream, load.id, reason, { maxAttempts: ABANDON_ATTEMPTS })
    log.error({ err, state: abandoned.state }, 'load failed; abandoned it at once (it deletes nothing)')
  } catch (abandonErr) {
    const state = abandonErr instanceof ExtractError && abandonErr.gatewayCode === 'SIS_GW_LOAD_NOT_OPEN' ? (await endedMeanwhile(gateway, load))?.state : undefined
    if (state !== undefined) log.error({ err, state }, `load failed, but it is ${state} already: left as it is`)
    else log.error({ err, abandonErr }, 'load failed, and abandoning it failed too: SISPORTA_OPEN_TIMEOUT will abandon it')
  }
  return err
}

/** The load as it stands, when it is no longer open; undefined while open or unreadable. */
async function endedMeanwhile (gateway: GatewayClient, load: LoadRecord): Promise<LoadRecord | undefined> {
  const current = await gateway.getLoad(load.stream, load.id, { maxAttempts: ABANDON_ATTEMPTS }).catch(() => undefined)
  return current === undefined || current.state === 'open' ? undefined : current
}

/** `CODE: message` of an error, for the load record's reason. */
function describeFailure (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}

/** `promise`, or the signal's reason as soon as it aborts (the promise is left to settle alone). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  // a promise left behind must not fail unhandled
  promise.catch(() => {})
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}
