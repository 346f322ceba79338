import type { StreamConfig } from '@sisporta/contracts'
import { checkPageSize } from './convert-rows.js'
import { readPageWithRetry, type PageReadRetryOptions } from './retry-page-read.js'
import type { KeyValues, SourceDialect, WireRow } from './source-dialect.js'
import { checkKeyAdvances, keyOf } from './stream-keys.js'

export interface StreamPagesOptions {
  /** Start after this key (resume a load from its checkpoint); from the first row when absent. */
  readonly after?: KeyValues
  /**
   * Start reading the next page while the caller works on the current one. Reads still run one
   * at a time against the source (the next starts when the previous has finished), so the source
   * sees the same load; the extractor only waits less. Default true.
   */
  readonly readAhead?: boolean
  /** Stops between pages (and between attempts at one) with the signal's reason. */
  readonly signal?: AbortSignal
  /**
   * Reading a page again after a transient failure (see `readPageWithRetry`): attempts (default
   * 5, SISPORTA_SOURCE_READ_ATTEMPTS), backoff, and the logger that warns of each retry.
   */
  readonly retry?: Omit<PageReadRetryOptions, 'signal'>
}

/**
 * Reads a whole stream page by page in key order, each page a separate short read, until a page
 * comes back shorter than `pageSize`. Empty pages are not yielded. A page read that fails with a
 * transient error (connection lost, deadlock victim, failover) is read again from the same key,
 * with backoff, a bounded number of times (`options.retry`). A page whose last key is not
 * after the previous page's (or `after`) stops the stream with `SIS_SRC_KEY` (see
 * `checkKeyAdvances`) instead of reading the same rows forever.
 *
 * @example
 * for await (const rows of streamPages(dialect, stream, 1000)) {
 *   await postBatch(rows) // checkpoint keyOf(stream, rows.at(-1)!) once the batch is accepted
 * }
 */
export async function * streamPages (
  dialect: SourceDialect,
  stream: StreamConfig,
  pageSize: number,
  options: StreamPagesOptions = {}
): AsyncGenerator<WireRow[], void, undefined> {
  checkPageSize(stream, pageSize)
  const readAhead = options.readAhead ?? true
  const read = (after: KeyValues | undefined): Promise<WireRow[]> => {
    options.signal?.throwIfAborted()
    // the same `after` again on a retry: the page restarts at the same key, never skips or repeats a row
    const page = readPageWithRetry(stream, after, () => dialect.readPage(stream, after, pageSize), { ...options.retry, ...(options.signal === undefined ? {} : { signal: options.signal }) })
    // a read started ahead may be abandoned (the caller stopped early): its failure is not unhandled
    page.catch(() => {})
    return page
  }
  let previous: KeyValues | undefined = options.after
  let pending: Promise<WireRow[]> | undefined = read(options.after)
  while (pending !== undefined) {
    const rows: WireRow[] = await pending
    const full = rows.length === pageSize
    pending = undefined
    const last = rows.length > 0 ? keyOf(stream, rows[rows.length - 1]!) : undefined
    // checked before the next read: a key that does not advance would ask for this page again
    if (last !== undefined && previous !== undefined) checkKeyAdvances(stream, previous, last)
    previous = last
    if (full && readAhead) pending = read(last)
    if (rows.length > 0) yield rows
    if (full && !readAhead) pending = read(last)
  }
}
