/**
 * Reading one page again after a failure that may go away (a lost connection, a deadlock victim,
 * a failover), the same way for every engine. A page is `readPage(stream, after, limit)`: asking
 * again with the same `after` reads the same rows from the same key, so a retry can never skip
 * or duplicate a row. Whether a failure may go away is the engine's own classification (its
 * `DriverErrors.isTransient`, applied by `ReadGuard`), carried as `SourceError.transient`.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError, isTransientSourceError } from './errors.js'
import type { KeyValues, SourceLogger, WireRow } from './source-dialect.js'
import { describeSourceValue } from './wire-convert.js'

/** Attempts at reading one page, the first included (SISPORTA_SOURCE_READ_ATTEMPTS). */
export const DEFAULT_SOURCE_READ_ATTEMPTS = 5
/** The most attempts a setting may ask for. */
export const MAX_SOURCE_READ_ATTEMPTS = 20
const DEFAULT_BASE_DELAY_MS = 500
const DEFAULT_MAX_DELAY_MS = 15_000

export interface PageReadRetryOptions {
  /** Attempts at one page, the first included; 1 never retries. Default 5. */
  readonly attempts?: number
  /** The wait before the first retry (doubling after each, with jitter). Default 500 ms. */
  readonly baseDelayMs?: number
  /** The longest wait between two attempts. Default 15 s. */
  readonly maxDelayMs?: number
  /** A warning per retry (stream, page key, attempt, reason). */
  readonly log?: Pick<SourceLogger, 'warn'>
  /** Stops the wait between attempts with the signal's reason. */
  readonly signal?: AbortSignal
  /** Test seam: waits `ms` (default: a timer, cancelled by `signal`). */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>
  /** Test seam: a number in [0, 1) for the jitter (default `Math.random`). */
  readonly random?: () => number
}

/**
 * The wait before retry `retry` (1 for the first): half of min(max, base × 2^(retry−1)), plus up
 * to the other half at random, so that extractors failing together do not retry together.
 *
 * @example
 * retryDelayMs(1, 500, 15_000, () => 0.5) // 375
 * retryDelayMs(9, 500, 15_000, () => 0.999) // just under 15,000
 */
export function retryDelayMs (retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(retry - 1, 30))
  return Math.round(cap / 2 + (cap / 2) * random())
}

/** Where a page starts, in words: `the stream's first page` or `the page after key {id: 41}`. */
export function describePageStart (stream: StreamConfig, after: KeyValues | undefined): string {
  if (after === undefined) return 'the stream\'s first page'
  return `the page after key {${stream.target.key.map((name, k) => `${name}: ${describeSourceValue(after[k])}`).join(', ')}}`
}

/**
 * Runs `read` (one `readPage` of `stream` after `after`) until it succeeds, fails with an error
 * that is not transient (thrown as it is, at once), or has failed `attempts` times: then
 * `SIS_SRC_READ`-style failure naming the stream, where the page starts, the attempts and the
 * last error (its code, exit code and `transient` kept, the last error as `cause`). Each retry
 * is logged first, with the wait before it.
 *
 * @example
 * const rows = await readPageWithRetry(stream, after, () => dialect.readPage(stream, after, 1000), { attempts: 5, log })
 */
export async function readPageWithRetry (
  stream: StreamConfig,
  after: KeyValues | undefined,
  read: () => Promise<WireRow[]>,
  options: PageReadRetryOptions = {}
): Promise<WireRow[]> {
  const attempts = checkAttempts(options.attempts ?? DEFAULT_SOURCE_READ_ATTEMPTS)
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS
  const sleep = options.sleep ?? abortableSleep
  const random = options.random ?? Math.random
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted()
    try {
      return await read()
    } catch (err) {
      // a value that does not convert, a missing column, a key that does not advance: the same
      // read would fail the same way, so it fails the load now
      if (!isTransientSourceError(err)) throw err
      const failed = err as SourceError
      if (attempt >= attempts) throw gaveUp(stream, after, attempts, failed)
      const delayMs = retryDelayMs(attempt, baseDelayMs, maxDelayMs, random)
      options.log?.warn({
        stream: stream.name,
        after: after === undefined ? null : after.map((v) => describeSourceValue(v)),
        attempt,
        attempts,
        delayMs,
        code: failed.code,
        reason: failed.message
      }, `source page read failed, retrying ${describePageStart(stream, after)}`)
      await sleep(delayMs, options.signal)
    }
  }
}

function gaveUp (stream: StreamConfig, after: KeyValues | undefined, attempts: number, last: SourceError): SourceError {
  return new SourceError(last.code,
    `stream '${stream.name}': could not read ${describePageStart(stream, after)} in ${attempts} attempts; the last error: ${last.message}`,
    {
      stream: stream.name,
      cause: last,
      transient: last.transient,
      exitCode: last.exitCode,
      ...(last.column === undefined ? {} : { column: last.column })
    })
}

function checkAttempts (attempts: number): number {
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_SOURCE_READ_ATTEMPTS) {
    throw new SourceError('SIS_SRC_ARGUMENT', `page read attempts must be an integer from 1 to ${MAX_SOURCE_READ_ATTEMPTS}, got ${String(attempts)}`)
  }
  return attempts
}

/** A timer that the signal cancels (with its reason). */
async function abortableSleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
