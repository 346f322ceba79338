/**
 * The slice of mysql2 the MySQL/MariaDB dialect uses, as structural "subset" types (so a test
 * double is a few lines), the pool built from a source URL, and read-only sessions.
 */
import { createPool, type PoolOptions } from 'mysql2/promise'
import { SourceError } from '../errors.js'
import { connectError, readOnlySessionError, type DriverErrors, type SourceEndpoint } from '../read-errors.js'
import { redact } from '../redact-url.js'
import type { SourceDialectOptions } from '../source-dialect.js'
import { SESSION_SQL } from './mysql-sql.js'

/** Result-set column metadata, as mysql2's FieldPacket carries it. */
export interface MysqlFieldLike {
  readonly name: string
  readonly columnType?: number
  readonly columnLength?: number
  readonly decimals: number
  readonly flags: number | string[]
  readonly characterSet?: number
  /** MariaDB 10.5+: `uuid`, `inet6`, … */
  readonly extendedTypeName?: string
}

/** One pooled connection: statements run in order on it. */
export interface MysqlConnectionLike {
  /** Server-side prepared statement: `?` inside the SQL text's literals stay literals. */
  execute (options: { sql: string, rowsAsArray?: boolean }, values?: unknown[]): Promise<[unknown, MysqlFieldLike[]]>
  query (sql: string): Promise<unknown>
  release (): void
  destroy (): void
  /** The driver's connection under the pool wrapper: stable for the life of the session. */
  readonly connection: object
}

export interface MysqlPoolLike {
  getConnection (): Promise<MysqlConnectionLike>
  end (): Promise<void>
  /** Where it connects, for connection errors (never the password in them). */
  readonly endpoint?: SourceEndpoint
}

/** Driver options every source pool uses: values arrive exactly (see mysql-values.ts). */
export const MYSQL_VALUE_OPTIONS = Object.freeze({
  dateStrings: true,
  supportBigNumbers: true,
  bigNumberStrings: true,
  decimalNumbers: false,
  jsonStrings: true,
  charset: 'utf8mb4_unicode_ci'
} satisfies PoolOptions)

const DEFAULT_PORT = 3306

/**
 * Pool options from a `mysql://` or `mariadb://` URL:
 * `mysql://user:password@host:3306/database?ssl=true`. Query parameters: `ssl` (`true` verifies
 * the server certificate, `skip-verify` does not), `connectTimeout` (milliseconds). The password
 * never appears in an error message.
 *
 * @example
 * mysqlPoolOptions('mariadb://reader:s3cret@erp.local/erp', {}) // { host: 'erp.local', port: 3306, user: 'reader', … }
 */
export function mysqlPoolOptions (url: string, options: SourceDialectOptions): PoolOptions {
  let u: URL
  try {
    u = new URL(url)
  } catch (cause) {
    throw new SourceError('SIS_SRC_URL', `the source URL is not a valid URL: ${redact(url)}`, { cause })
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new SourceError('SIS_SRC_URL', `not a MySQL/MariaDB URL: ${redact(url)}`)
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  const pool: PoolOptions = {
    ...MYSQL_VALUE_OPTIONS,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port === '' ? DEFAULT_PORT : Number(u.port),
    user: decodeURIComponent(u.username) || 'root',
    password: decodeURIComponent(u.password),
    ...(database === '' ? {} : { database }),
    connectionLimit: options.poolSize ?? 2,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    // between scheduled loads the source keeps no idle session of ours
    maxIdle: 0,
    idleTimeout: 60_000,
    enableKeepAlive: true
  }
  for (const [name, value] of u.searchParams) {
    if (name === 'ssl') {
      if (value === 'true' || value === 'required') pool.ssl = { rejectUnauthorized: true }
      else if (value === 'skip-verify') pool.ssl = { rejectUnauthorized: false }
      else if (value !== 'false') throw new SourceError('SIS_SRC_URL', `source URL: ssl must be true, skip-verify or false, got '${value}'`)
    } else if (name === 'connectTimeout') {
      const ms = Number(value)
      if (!Number.isSafeInteger(ms) || ms < 1) throw new SourceError('SIS_SRC_URL', `source URL: connectTimeout must be a positive number of milliseconds, got '${value}'`)
      pool.connectTimeout = ms
    } else {
      throw new SourceError('SIS_SRC_URL', `source URL: unknown parameter '${name}' (known: ssl, connectTimeout)`)
    }
  }
  return pool
}

/** Creates the mysql2 pool for a source URL (connections open lazily, on first read). */
export function createMysqlPool (url: string, options: SourceDialectOptions): MysqlPoolLike {
  const config = mysqlPoolOptions(url, options)
  const pool = createPool(config) as unknown as MysqlPoolLike
  const host = config.host ?? '127.0.0.1'
  return {
    endpoint: {
      engine: 'MySQL/MariaDB',
      address: `${host.includes(':') ? `[${host}]` : host}:${config.port ?? DEFAULT_PORT}`,
      user: config.user,
      database: config.database,
      password: config.password
    },
    getConnection: async () => await pool.getConnection(),
    end: async () => { await pool.end() }
  }
}

/** The URL with its password masked, for messages (shared by every engine). */
export { redact }

const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE',
  'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS', 'ER_SERVER_SHUTDOWN', 'ER_QUERY_INTERRUPTED', 'ER_CLIENT_INTERACTION_TIMEOUT',
  'ER_CONNECTION_KILLED'
])

/** Whether a mysql2 error may go away on retry: the connection broke, the server was busy or restarting. */
export function isTransientMysqlError (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown, errno?: unknown, fatal?: unknown }
  return e.fatal === true || (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) ||
    e.errno === 1927 /* MariaDB: connection killed */ || e.errno === 4031 /* MySQL: disconnected by server */
}

/** The driver's message without its stack, for an error message of ours. */
export function driverMessage (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}

/** Error numbers of a server that refused the login: user, password, host or database. */
const LOGIN_REASONS: Readonly<Record<number, string>> = Object.freeze({
  1044: 'access to the database denied for this user',
  1045: 'access denied: wrong user or password',
  1049: 'unknown database',
  1130: 'this host may not connect as this user',
  1251: 'the server wants an authentication method the client does not offer',
  1698: 'access denied: wrong user or password'
})

/** A refused login or an unknown database, in words (mysql2 reports them without marking them fatal). */
export function mysqlLoginReason (err: unknown): string | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno
  return typeof errno === 'number' ? LOGIN_REASONS[errno] : undefined
}

/** mysql2's errors as the shared read and connect errors name and classify them. */
export const MYSQL_ERRORS: DriverErrors = Object.freeze({ message: driverMessage, isTransient: isTransientMysqlError, loginReason: mysqlLoginReason })

/**
 * Runs `work` on a pooled connection whose session is read-only with READ COMMITTED reads
 * (set once per connection, before its first statement), then hands the connection back; a
 * connection that broke is destroyed instead. Failures to connect are `SIS_SRC_CONNECT`; failures
 * of `work` are passed through for the caller to name.
 */
export async function withReadOnlySession<T> (
  pool: MysqlPoolLike,
  sessions: WeakSet<object>,
  work: (connection: MysqlConnectionLike) => Promise<T>
): Promise<T> {
  let connection: MysqlConnectionLike
  try {
    connection = await pool.getConnection()
  } catch (cause) {
    throw connectError(cause, MYSQL_ERRORS, pool.endpoint)
  }
  let broken = false
  try {
    if (!sessions.has(connection.connection)) {
      try {
        await connection.query(SESSION_SQL)
      } catch (cause) {
        broken = true
        throw readOnlySessionError(cause, MYSQL_ERRORS, pool.endpoint)
      }
      sessions.add(connection.connection)
    }
    return await work(connection)
  } catch (err) {
    if ((err as { fatal?: unknown }).fatal === true) broken = true
    throw err
  } finally {
    if (broken) connection.destroy()
    else connection.release()
  }
}
