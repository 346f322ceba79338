import { createPool, format, type PoolOptions } from 'mysql2'
import { CompiledQuery, Kysely, MysqlDialect, type MysqlPool } from 'kysely'
import type { SisportaDatabase } from './schema.js'
import { DbError } from './errors.js'
import { mysqlConnectError, type MysqlEndpoint } from './connect-error.js'
import { pinnedPool } from './pinned-session.js'

export interface CreateDbOptions {
  /** Connections in the pool. */
  poolSize?: number
  /** The setting the URL comes from, named when a connection fails (default `SISPORTA_MYSQL_URL`). */
  setting?: string
}

/**
 * mysql2 options that read values back exactly: DECIMAL and BIGINT as strings, dates as text.
 *
 * `charset` is the collation asked for in the handshake, and it also decides how mysql2 encodes
 * every statement's text: mysql2 3.x writes a query with the encoding of the handshake's
 * character set (`CharsetToEncoding[charsetNumber]`, here 'utf8'), whatever the server then
 * does with the session. `createDb` pins the session to the same utf8mb4 (see `PINNED_SESSION`),
 * so what is sent and how the server reads it agree.
 */
export function exactPoolOptions (url: string): PoolOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new DbError('SIS_DB_URL', 'SISPORTA_MYSQL_URL is not a valid mysql:// URL', { cause: err })
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new DbError('SIS_DB_URL', `SISPORTA_MYSQL_URL must start with mysql:// (got ${parsed.protocol}//)`)
  }
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
    charset: 'utf8mb4_bin',
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    connectTimeout: 10_000,
    queryFormat: formatQuery,
    ...(parsed.searchParams.get('ssl') === 'true' ? { ssl: {} } : {})
  }
}

/**
 * mysql2's own formatting, except that a statement without parameters goes to the server as it
 * is: mysql2 would scan its whole text for placeholders (skipping quoted strings) even with no
 * values to put in — a tenth of the persister's CPU on its ~1 MB upserts, whose values are
 * literals already (see the persister's `prepareUpsert`).
 */
function formatQuery (sql: string, values: unknown): string {
  return Array.isArray(values) && values.length === 0 ? sql : format(sql, values as Parameters<typeof format>[1])
}

/**
 * A Kysely instance over a mysql2 pool. Every connection sets its own session — utf8mb4 with a
 * binary collation, strict sql_mode, UTC — and reads it back before its first statement; one
 * whose session differs (a server that imposes its character set, an `init_connect` that
 * switches it) is refused with `SIS_DB_SESSION` naming the setting and its value, and nothing
 * is written through it (see `pinnedPool`). A connection that cannot be opened fails with
 * `SIS_DB_CONNECT`, `SIS_DB_LOGIN` or `SIS_DB_TLS` naming the setting, host:port, user and the
 * driver's reason, never the password (see `mysqlConnectError`).
 *
 * @example
 * const db = createDb('mysql://sisporta@127.0.0.1:3306/sisporta', { poolSize: 4 })
 * await db.selectFrom('sisporta_batches').selectAll().execute()
 */
export function createDb (url: string, options: CreateDbOptions = {}): Kysely<SisportaDatabase> {
  const poolOptions = exactPoolOptions(url)
  const pool = createPool({ ...poolOptions, connectionLimit: options.poolSize ?? 4, waitForConnections: true })
  return new Kysely<SisportaDatabase>({ dialect: new MysqlDialect({ pool: codedConnectErrors(pinnedPool(pool), endpointOf(poolOptions, options.setting)) }) })
}

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase (url: string): Promise<void> {
  const options = exactPoolOptions(url)
  const database = options.database
  if (database === undefined) throw new DbError('SIS_DB_URL', 'SISPORTA_MYSQL_URL must name a database (mysql://user@host:3306/DATABASE)')
  const endpoint = { ...endpointOf(options), database: undefined }
  const server = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: codedConnectErrors(pinnedPool(createPool({ ...options, database: undefined, connectionLimit: 1 })), endpoint) }) })
  try {
    await server.executeQuery(CompiledQuery.raw(`CREATE DATABASE IF NOT EXISTS \`${database.replaceAll('`', '``')}\` CHARACTER SET utf8mb4`))
  } finally {
    await server.destroy()
  }
}

function endpointOf (options: PoolOptions, setting = 'SISPORTA_MYSQL_URL'): MysqlEndpoint {
  return { host: options.host ?? 'localhost', port: options.port ?? 3306, user: options.user ?? '', database: options.database, password: options.password ?? '', setting }
}

/** A failure to open a connection, as a coded error naming where and why (see `mysqlConnectError`). */
function codedConnectErrors (pool: MysqlPool, endpoint: MysqlEndpoint): MysqlPool {
  return {
    getConnection (callback) {
      pool.getConnection((err, connection) => {
        callback(err === null || err === undefined ? err : mysqlConnectError(err, endpoint), connection)
      })
    },
    end (callback) {
      pool.end(callback)
    }
  }
}
