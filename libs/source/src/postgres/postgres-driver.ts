/**
 * The slice of node-postgres (`pg`) the PostgreSQL dialect uses, as structural "subset" types (so
 * a test double is a few lines), the pool built from a source URL, and read-only sessions.
 */
import pg from 'pg'
import { SourceError } from '../errors.js'
import { connectError, readOnlySessionError, type DriverErrors, type SourceEndpoint } from '../read-errors.js'
import { redact } from '../redact-url.js'
import type { SourceDialectOptions } from '../source-dialect.js'
import { SESSION_SQL } from './postgres-sql.js'

/** Result-set column metadata, as pg's FieldDef carries it. */
export interface PostgresFieldLike {
  readonly name: string
  /** Type oid of the column (a domain's base type). */
  readonly dataTypeID: number
  /** Type modifier: `numeric(p,s)`, `varchar(n)`, `timestamp(n)`; -1 when none. */
  readonly dataTypeModifier: number
}

export interface PostgresResultLike {
  readonly rows: unknown[]
  readonly fields: readonly PostgresFieldLike[]
}

/** One pooled client: statements run in order on it. */
export interface PostgresClientLike {
  /**
   * With parameters or `queryMode: 'extended'`, an unnamed prepared statement (extended
   * protocol: one statement only, `$1` inside the SQL text's literals stays literal). Otherwise
   * the simple protocol, where one text may hold several statements.
   */
  query (config: { text: string, values?: unknown[], rowMode?: 'array', queryMode?: 'extended' }): Promise<PostgresResultLike>
  /** Hands the client back to the pool; with `true` (or an error) the pool closes it instead. */
  release (destroy?: boolean | Error): void
  on (event: 'error', listener: (err: Error) => void): unknown
  removeListener (event: 'error', listener: (err: Error) => void): unknown
}

export interface PostgresPoolLike {
  connect (): Promise<PostgresClientLike>
  end (): Promise<void>
  /** Where it connects, for connection errors (never the password in them). */
  readonly endpoint?: SourceEndpoint
}

const keepText = (value: string): string => value

/**
 * Driver options every source pool uses: no value is parsed by the driver (no JavaScript Date
 * for a timestamp, no double for a bigint); each arrives as the text the server wrote, and the
 * converters of postgres-values.ts read it exactly. Set per pool, never on pg's global parsers,
 * which other code in the same process may rely on.
 */
export const POSTGRES_VALUE_OPTIONS = Object.freeze({
  types: Object.freeze({ getTypeParser: () => keepText })
} satisfies pg.PoolConfig)

const DEFAULT_PORT = 5432

/**
 * Pool options from a `postgres://` or `postgresql://` URL:
 * `postgres://user:password@host:5432/database?sslmode=require`. Query parameters: `sslmode`
 * (`disable`, `require` without certificate check, `verify-ca` / `verify-full` with it), `ssl`
 * (`true`, `skip-verify`, `false`, as for MySQL URLs), `connectTimeout` (milliseconds),
 * `application_name` (default `sisporta`). The password never appears in an error message.
 *
 * @example
 * postgresPoolOptions('postgres://reader:s3cret@erp.local/erp', {}) // { host: 'erp.local', port: 5432, user: 'reader', … }
 */
export function postgresPoolOptions (url: string, options: SourceDialectOptions): pg.PoolConfig {
  let u: URL
  try {
    u = new URL(url)
  } catch (cause) {
    throw new SourceError('SIS_SRC_URL', `the source URL is not a valid URL: ${redact(url)}`, { cause })
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new SourceError('SIS_SRC_URL', `not a PostgreSQL URL: ${redact(url)}`)
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  const pool: pg.PoolConfig = {
    ...POSTGRES_VALUE_OPTIONS,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port === '' ? DEFAULT_PORT : Number(u.port),
    user: decodeURIComponent(u.username) || 'postgres',
    // without one in the URL, pg falls back to PGPASSWORD and ~/.pgpass, as psql does
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(database === '' ? {} : { database }),
    application_name: 'sisporta',
    max: options.poolSize ?? 2,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    // between scheduled loads the source keeps no idle session of ours for long
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    keepAlive: true
  }
  for (const [name, value] of u.searchParams) {
    if (name === 'sslmode') {
      if (value === 'disable') pool.ssl = false
      else if (value === 'require') pool.ssl = { rejectUnauthorized: false }
      else if (value === 'verify-ca' || value === 'verify-full') pool.ssl = { rejectUnauthorized: true }
      else throw new SourceError('SIS_SRC_URL', `source URL: sslmode must be disable, require, verify-ca or verify-full, got '${value}'`)
    } else if (name === 'ssl') {
      if (value === 'true' || value === 'required') pool.ssl = { rejectUnauthorized: true }
      else if (value === 'skip-verify') pool.ssl = { rejectUnauthorized: false }
      else if (value === 'false') pool.ssl = false
      else throw new SourceError('SIS_SRC_URL', `source URL: ssl must be true, skip-verify or false, got '${value}'`)
    } else if (name === 'connectTimeout') {
      const ms = Number(value)
      if (!Number.isSafeInteger(ms) || ms < 1) throw new SourceError('SIS_SRC_URL', `source URL: connectTimeout must be a positive number of milliseconds, got '${value}'`)
      pool.connectionTimeoutMillis = ms
    } else if (name === 'application_name') {
      pool.application_name = value
    } else {
      throw new SourceError('SIS_SRC_URL', `source URL: unknown parameter '${name}' (known: sslmode, ssl, connectTimeout, application_name)`)
    }
  }
  return pool
}

/**
 * Creates the pg pool for a source URL (connections open lazily, on first read). An idle
 * connection that breaks (the server restarted between loads) is dropped with a warning instead
 * of an unhandled 'error' event.
 */
export function createPostgresPool (url: string, options: SourceDialectOptions): PostgresPoolLike {
  const config = postgresPoolOptions(url, options)
  const pool = new pg.Pool(config)
  pool.on('error', (err) => options.log?.warn({ err: driverMessage(err) }, 'idle source connection lost'))
  const host = config.host ?? '127.0.0.1'
  return {
    endpoint: {
      engine: 'PostgreSQL',
      address: `${host.includes(':') ? `[${host}]` : host}:${config.port ?? DEFAULT_PORT}`,
      user: config.user,
      database: config.database,
      password: typeof config.password === 'string' ? config.password : undefined
    },
    connect: async () => await pool.connect() as unknown as PostgresClientLike,
    end: async () => { await pool.end() }
  }
}

/**
 * SQLSTATEs worth a retry: connection exceptions (class 08), the server shutting down or starting
 * (57P01-57P03), serialization failures and deadlocks, lock timeouts, too many connections, a
 * statement cancelled (statement_timeout, pg_cancel_backend).
 */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', '57P02', '57P03', '40001', '40P01', '55P03', '53300', '53400', '57014', '58030'
])
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED'
])
/** pg's own errors for a connection that broke or could not open in time (they carry no code). */
const TRANSIENT_MESSAGES = /^(?:Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/

/** Whether a pg error may go away on retry: the connection broke, the server was busy or restarting. */
export function isTransientPostgresError (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown, message?: unknown }
  if (typeof e.code === 'string') {
    if (e.code.startsWith('08') || TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_NODE_CODES.has(e.code)) return true
  }
  return typeof e.message === 'string' && TRANSIENT_MESSAGES.test(e.message)
}

/** The driver's message without its stack, for an error message of ours: `message (SQLSTATE 42601)`. */
export function driverMessage (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'string' || err.message.includes(code)) return err.message
    return /^[0-9A-Z]{5}$/.test(code) ? `${err.message} (SQLSTATE ${code})` : `${code}: ${err.message}`
  }
  return String(err)
}

/** SQLSTATEs of a server that refused the login or the database. */
const LOGIN_REASONS: Readonly<Record<string, string>> = Object.freeze({
  '28P01': 'access denied: wrong user or password',
  '28000': 'login refused: no such role, or no pg_hba.conf entry for this host, user and database',
  '3D000': 'unknown database',
  '42501': 'permission denied (the login may not connect to this database)'
})

/** A refused login or an unknown database, in words; also a server that offers no TLS when the URL asks for it. */
export function postgresLoginReason (err: unknown): string | undefined {
  const e = err as { code?: unknown, message?: unknown } | null
  if (typeof e?.code === 'string' && Object.hasOwn(LOGIN_REASONS, e.code)) return LOGIN_REASONS[e.code]
  if (typeof e?.message === 'string' && /does not support SSL/i.test(e.message)) return 'TLS failed: the server does not offer it (sslmode / ssl in the URL)'
  return undefined
}

/** pg's errors as the shared read and connect errors name and classify them. */
export const POSTGRES_ERRORS: DriverErrors = Object.freeze({ message: driverMessage, isTransient: isTransientPostgresError, loginReason: postgresLoginReason })

/**
 * Whether the connection an error came from is still usable: a statement the server refused
 * (severity ERROR: syntax, missing table, lock timeout) leaves it healthy; anything else (a
 * FATAL, a broken socket, a protocol error) does not.
 */
function leavesConnectionUsable (err: unknown): boolean {
  if (err instanceof SourceError) return err.cause === undefined || leavesConnectionUsable(err.cause)
  return (err as { severity?: unknown } | null)?.severity === 'ERROR'
}

/**
 * Runs `work` on a pooled client whose session is read-only with READ COMMITTED statements (set
 * once per connection, before its first statement: see `SESSION_SQL`), then hands the client
 * back; a client that broke is closed instead. Failures to connect are `SIS_SRC_CONNECT`;
 * failures of `work` are passed through for the caller to name.
 */
export async function withReadOnlySession<T> (
  pool: PostgresPoolLike,
  sessions: WeakSet<object>,
  work: (client: PostgresClientLike) => Promise<T>
): Promise<T> {
  let client: PostgresClientLike
  try {
    client = await pool.connect()
  } catch (cause) {
    throw connectError(cause, POSTGRES_ERRORS, pool.endpoint)
  }
  // a connection lost while we hold the client (between two statements) is reported here, not
  // as an unhandled 'error' event; the statement that follows fails and says why
  let lost: Error | undefined
  const onError = (err: Error): void => { lost = err }
  client.on('error', onError)
  let broken = false
  try {
    if (!sessions.has(client)) {
      try {
        await client.query({ text: SESSION_SQL })
      } catch (cause) {
        broken = true
        throw readOnlySessionError(cause, POSTGRES_ERRORS, pool.endpoint)
      }
      sessions.add(client)
    }
    return await work(client)
  } catch (err) {
    if (!leavesConnectionUsable(err)) broken = true
    throw err
  } finally {
    client.removeListener('error', onError)
    client.release(broken || lost !== undefined)
  }
}
