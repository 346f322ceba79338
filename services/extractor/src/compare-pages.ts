import type { Logger } from 'pino'
import { ROW_HASH_BYTES, hashColumnsOf, rowHash, type CompareBody, type CompareReply, type StreamConfig } from '@sisporta/contracts'
import { keyOf, streamPages, type KeyValues, type SourceDialect, type WireRow } from '@sisporta/source'
import { ExtractError } from './errors.js'

/** Source rows compared per key range unless SISPORTA_COMPARE_ROWS says otherwise. */
export const DEFAULT_COMPARE_ROWS = 5000

/** One key range of the source: lo < key ≤ hi (`null` unbounded), its rows in key order. */
export interface SourceRange {
  readonly lo: KeyValues | null
  readonly hi: KeyValues | null
  readonly rows: readonly WireRow[]
}

export interface ComparedRange extends SourceRange {
  readonly reply: CompareReply
  /** The rows the target does not hold as they are (from `reply.send`). */
  readonly differing: readonly WireRow[]
}

export interface ComparePagesOptions {
  /** Rows read per source page. */
  readonly pageSize: number
  /** Source rows per compared range (pages are gathered up to it). */
  readonly compareRows: number
  /** Ranges being compared at once. */
  readonly inFlight: number
  readonly readAttempts?: number
  readonly signal?: AbortSignal
  readonly log: Logger
}

/**
 * The comparison half of diffed reloads and `sisporta verify` (docs/reloads.md): reads the
 * whole source in key order, page by page, gathers pages into key ranges of about
 * `compareRows` rows — `lo` the previous range's last key, `hi` its own last key, the first
 * range unbounded below — hashes every row (`rowHash`, 8 bytes) and has `compare` ask the
 * target's side about each range, a few at once. A last range above the source's last key
 * (`hi` unbounded) finds the target rows past it; an empty source is one unbounded range.
 * Together the ranges cover every key exactly once, whatever the target holds.
 *
 * `onCompared` gets each range with its answer and the rows to send, in the order answers come;
 * the range's rows are let go when it returns. Only the ranges in flight are held in memory.
 */
export async function comparePages (
  source: SourceDialect,
  stream: StreamConfig,
  compare: (body: CompareBody) => Promise<CompareReply>,
  onCompared: (range: ComparedRange) => Promise<void> | void,
  options: ComparePagesOptions
): Promise<void> {
  const { signal } = options
  const columns = hashColumnsOf(stream)
  const pending = new Set<Promise<void>>()
  let failure: unknown
  const run = (range: SourceRange): void => {
    const task = (async () => {
      const hashes = Buffer.allocUnsafe(range.rows.length * ROW_HASH_BYTES)
      range.rows.forEach((row, i) => { rowHash(columns, row).copy(hashes, i * ROW_HASH_BYTES) })
      const reply = await compare({ lo: range.lo === null ? null : [...range.lo], hi: range.hi === null ? null : [...range.hi], hashes: hashes.toString('base64') })
      await onCompared({ ...range, reply, differing: rowsToSend(stream, range, reply) })
    })().catch((err: unknown) => { failure ??= err })
    const tracked = task.finally(() => pending.delete(tracked))
    pending.add(tracked)
  }
  const retry = { log: options.log, ...(options.readAttempts === undefined ? {} : { attempts: options.readAttempts }) }
  const pages = streamPages(source, stream, options.pageSize, signal === undefined ? { retry } : { signal, retry })[Symbol.asyncIterator]()
  let lo: KeyValues | null = null
  let gathered: WireRow[] = []
  try {
    for (;;) {
      if (failure !== undefined) break
      const step = await pages.next()
      if (step.done === true) break
      gathered = gathered.length === 0 ? step.value : gathered.concat(step.value)
      if (gathered.length < options.compareRows) continue
      const hi = keyOf(stream, gathered[gathered.length - 1]!)
      run({ lo, hi, rows: gathered })
      lo = hi
      gathered = []
      while (pending.size >= options.inFlight) await Promise.race(pending)
    }
  } finally {
    pages.return(undefined).catch(() => {})
  }
  if (failure === undefined) {
    // the rest of the source and whatever the target holds past it: one range unbounded above
    run({ lo, hi: null, rows: gathered })
  }
  await Promise.all(pending)
  if (failure !== undefined) throw failure
  signal?.throwIfAborted()
}

/** The rows a reply asks for; a position that is not one of the range's rows is the gateway's error, said loudly. */
function rowsToSend (stream: StreamConfig, range: SourceRange, reply: CompareReply): WireRow[] {
  const rows: WireRow[] = []
  let previous = -1
  for (const i of reply.send) {
    if (!Number.isInteger(i) || i <= previous || i >= range.rows.length) {
      throw new ExtractError('SIS_EXTRACT_COMPARE_REPLY', `stream '${stream.name}': the comparison of a range of ${range.rows.length} rows asked for row ${i}: not a position of the range, in order`)
    }
    previous = i
    rows.push(range.rows[i]!)
  }
  return rows
}
