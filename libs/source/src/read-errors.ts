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
  /**
   * Why a connection could not be opened, in words, when the engine says so in its own terms
   * (a refused login, an unknown database, TLS); socket failures are named by `connectError`.
   */
  loginReason? (err: unknown): string | undefined
  /**
   * Whether a refused login is also what a failover looks like (SQL Server's `ELOGIN` while an
   * availability group or Azure SQL moves the database: 4060, 4221, 40613, …, of which the driver
   * keeps only the text). Permanent at start-up (a wrong database is the setting's fault), but
   * once the same login has read from the source, `ReadGuard` reports it as transient.
   */
  isFailoverLogin? (err: unknown): boolean
}

/** Where a source pool connects, as a message names it: never with the password. */
export interface SourceEndpoint {
  /** `MySQL/MariaDB`, `PostgreSQL`, `SQL Server`. */
  readonly engine: string
  /** `erp.local:1433`, `erp.local\\ERP` (a named instance). */
  readonly address: string
  readonly user: string | undefined
  readonly database: string | undefined
  /** Only to make sure it never reaches a message. */
  readonly password: string | undefined
}

/** The setting every source connection comes from. */
const SETTING = 'SISPORTA_SOURCE_URL'

/** Node's codes for a server out of reach, in words. */
const NETWORK_REASONS: Readonly<Record<string, string>> = Object.freeze({
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  ETIMEDOUT: 'timed out',
  ETIMEOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  EINSTLOOKUP: 'the named instance was not found (the SQL Server Browser, UDP 1434, did not answer for it)'
})

const TLS_CODE = /^(ERR_TLS_.*|ERR_SSL_.*|.*CERT.*|UNABLE_TO_.*|SELF_SIGNED.*|DEPTH_ZERO.*|HOSTNAME_MISMATCH|HANDSHAKE_NO_SSL_SUPPORT|HANDSHAKE_SSL_ERROR)$/

/** The codes along an error's chain (`cause`, mssql's `originalError`, an AggregateError's first), outermost first. */
export function errorCodes (err: unknown): string[] {
  const codes: string[] = []
  const seen = new Set<unknown>()
  let current: unknown = err
  while (typeof current === 'object' && current !== null && !seen.has(current) && codes.length < 8) {
    seen.add(current)
    const e = current as { code?: unknown, cause?: unknown, originalError?: unknown, errors?: unknown }
    if (typeof e.code === 'string' && !codes.includes(e.code)) codes.push(e.code)
    current = e.originalError ?? e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined)
  }
  return codes
}

/** Why a connection failed, in words: the engine's own reason, a socket failure, TLS; `undefined` when none applies. */
function connectReason (cause: unknown, driver: DriverErrors): string | undefined {
  const login = driver.loginReason?.(cause)
  if (login !== undefined) return login
  const codes = errorCodes(cause)
  for (const code of codes) {
    const network = NETWORK_REASONS[code]
    if (network !== undefined) return network
  }
  if (codes.some((code) => TLS_CODE.test(code))) return 'TLS failed (the server does not offer it, or its certificate does not verify)'
  return undefined
}

function describeEndpoint (endpoint: SourceEndpoint | undefined): string {
  if (endpoint === undefined) return SETTING
  const user = endpoint.user === undefined ? '' : ` as '${endpoint.user}'`
  const database = endpoint.database === undefined ? '' : `, database '${endpoint.database}'`
  return `${SETTING}: ${endpoint.engine} at ${endpoint.address}${user}${database}`
}

/** No driver message is known to repeat the password; this makes sure (only passwords long enough to be told apart from words). */
function scrub (text: string, password: string | undefined): string {
  return password !== undefined && password.length >= 4 ? text.replaceAll(password, '***') : text
}

/** A Node.js socket error code (`ECONNREFUSED`, `EHOSTUNREACH`, …): the server could not be reached. */
export function isNetworkError (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'EACCES'
}

/**
 * `SIS_SRC_CONNECT` for a pool that could not hand out a connection, naming SISPORTA_SOURCE_URL,
 * the engine, host:port, user and database, the reason in words and the driver's message —
 * never the password. A network error is transient (exit code 1 once given up on); a refused
 * login or an unknown database is not (exit code 2: the setting must change).
 *
 * @example
 * connectError(err, MYSQL_ERRORS, endpoint).message
 * // cannot connect to the source (SISPORTA_SOURCE_URL: MySQL/MariaDB at erp:3306 as 'reader', database 'erp'): access denied: wrong user or password — ER_ACCESS_DENIED_ERROR: Access denied for user …
 */
export function connectError (cause: unknown, driver: DriverErrors, endpoint?: SourceEndpoint): SourceError {
  if (cause instanceof SourceError) return cause
  const reason = connectReason(cause, driver)
  const message = `cannot connect to the source (${describeEndpoint(endpoint)}): ${reason !== undefined ? `${reason} — ` : ''}${driver.message(cause)}`
  const transient = driver.loginReason?.(cause) === undefined && (driver.isTransient(cause) || isNetworkError(cause))
  // a refused login or an unknown database is the setting's fault: exit 2, like any configuration error
  return new SourceError('SIS_SRC_CONNECT', scrub(message, endpoint?.password), { cause, transient, exitCode: transient ? 1 : 2 })
}

/** `SIS_SRC_CONNECT` for a new connection whose session could not be made read-only. */
export function readOnlySessionError (cause: unknown, driver: DriverErrors, endpoint?: SourceEndpoint): SourceError {
  return new SourceError('SIS_SRC_CONNECT', scrub(`cannot make the source session read-only (${describeEndpoint(endpoint)}): ${driver.message(cause)}`, endpoint?.password), { cause, transient: driver.isTransient(cause) })
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
  /** Whether a statement has succeeded: a login refused after that may be a failover. */
  #answered = false

  constructor (driver: DriverErrors, onDriverError: (stream: StreamConfig) => void) {
    this.#driver = driver
    this.#onDriverError = onDriverError
  }

  /** Runs `work` for `stream`; `doing` completes "could not …" in the error (`read a page`). */
  async run<T> (stream: StreamConfig, doing: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new SourceError('SIS_SRC_CLOSED', `stream '${stream.name}': the source dialect is closed`, { stream: stream.name })
    try {
      const result = await work()
      this.#answered = true
      return result
    } catch (err) {
      if (err instanceof SourceError) throw this.#failoverLogin(stream, err) ?? err
      this.#onDriverError(stream)
      throw new SourceError('SIS_SRC_READ', `stream '${stream.name}': could not ${doing}: ${this.#driver.message(err)}`, { stream: stream.name, cause: err, transient: this.#driver.isTransient(err) })
    }
  }

  /**
   * A login refused by a server that accepted the same login before, in a way a failover also
   * gives (`isFailoverLogin`): transient, so that the page is read again once the database is
   * back, instead of failing the load as a configuration error.
   */
  #failoverLogin (stream: StreamConfig, err: SourceError): SourceError | undefined {
    if (!this.#answered || err.code !== 'SIS_SRC_CONNECT' || err.transient || this.#driver.isFailoverLogin?.(err.cause) !== true) return undefined
    this.#onDriverError(stream)
    return new SourceError('SIS_SRC_CONNECT', `${err.message} (the same login was accepted before: taken for a failover in progress, so the read may be tried again)`,
      { stream: stream.name, cause: err.cause, transient: true, exitCode: 1 })
  }

  /** Refuses every later read, then runs `end` (closing the pool) the first time only. */
  async close (end: () => Promise<void>): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await end()
  }
}
