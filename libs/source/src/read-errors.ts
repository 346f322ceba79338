/**
 * How a dialect turns a driver's failure into a `SourceError`, the same way for every engine: a
 * read that fails names the stream and what was being done, and says whether retrying may help,
 * as the engine's own classification of its driver errors tells.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'

/** What a dialect knows about its driver's errors (its `…-driver.ts`). */
export interface DriverErrors {
  /** The driver's message without its stack, for a message of ours (with the engine's error code). */
  message (err: unknown): string
  /** Whether the same statement may succeed later: connection lost, lock timeout, server restarting. */
  isTransient (err: unknown): boolean
}

/** A Node.js socket error code (`ECONNREFUSED`, `EHOSTUNREACH`, …): the server could not be reached. */
export function isNetworkError (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'EACCES'
}

/** `SIS_SRC_CONNECT` for a pool that could not hand out a connection; a network error is transient. */
export function connectError (cause: unknown, driver: DriverErrors): SourceError {
  return new SourceError('SIS_SRC_CONNECT', `cannot connect to the source: ${driver.message(cause)}`, { cause, transient: driver.isTransient(cause) || isNetworkError(cause) })
}

/** `SIS_SRC_CONNECT` for a new connection whose session could not be made read-only. */
export function readOnlySessionError (cause: unknown, driver: DriverErrors): SourceError {
  return new SourceError('SIS_SRC_CONNECT', `cannot make the source session read-only: ${driver.message(cause)}`, { cause, transient: driver.isTransient(cause) })
}

/**
 * Runs a `query:` stream's describe (its `LIMIT 0` run): a failure is the query's own
 * (`SIS_SRC_QUERY`: syntax, missing objects), unless it is transient, which passes through for
 * `ReadGuard` to report as a read that may succeed later.
 */
export async function runQueryDescribe<T> (stream: StreamConfig, driver: DriverErrors, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (cause) {
    if (driver.isTransient(cause)) throw cause
    throw new SourceError('SIS_SRC_QUERY', `stream '${stream.name}': the source query cannot run: ${driver.message(cause)}`, { stream: stream.name, cause })
  }
}

/**
 * What every dialect does around its statements: after `close()` it refuses them with
 * `SIS_SRC_CLOSED`; a driver error becomes `SIS_SRC_READ` (`stream 's': could not read a page:
 * …`), transient as the engine classifies it, once `onDriverError` has run (a dialect forgets the
 * stream's prepared state there: the schema may have moved under it). The package's own errors
 * (`SIS_SRC_CONNECT`, `SIS_SRC_QUERY`, …) pass through as they are.
 *
 * @example
 * readonly #reads = new ReadGuard(MYSQL_ERRORS, (stream) => this.#prepared.forget(stream))
 * const rows = await this.#reads.run(stream, 'read a page', () => connection.execute(sql, params))
 * await this.#reads.close(() => this.#pool.end())
 */
export class ReadGuard {
  readonly #driver: DriverErrors
  readonly #onDriverError: (stream: StreamConfig) => void
  #closed = false

  constructor (driver: DriverErrors, onDriverError: (stream: StreamConfig) => void) {
    this.#driver = driver
    this.#onDriverError = onDriverError
  }

  /** Runs `work` for `stream`; `doing` completes "could not …" in the error (`read a page`). */
  async run<T> (stream: StreamConfig, doing: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new SourceError('SIS_SRC_CLOSED', `stream '${stream.name}': the source dialect is closed`, { stream: stream.name })
    try {
      return await work()
    } catch (err) {
      if (err instanceof SourceError) throw err
      this.#onDriverError(stream)
      throw new SourceError('SIS_SRC_READ', `stream '${stream.name}': could not ${doing}: ${this.#driver.message(err)}`, { stream: stream.name, cause: err, transient: this.#driver.isTransient(err) })
    }
  }

  /** Refuses every later read, then runs `end` (closing the pool) the first time only. */
  async close (end: () => Promise<void>): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await end()
  }
}
