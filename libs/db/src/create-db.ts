import { createPool, format, type PoolOptions } from 'mysql2'
import { CompiledQuery, Kysely, MysqlDialect } from 'kysely'
import type { SisportaDatabase } from './schema.js'
import { DbError } from './errors.js'

export interface CreateDbOptions {
  /** Connections in the pool. */
  poolSize?: number
}

/**
 * Session settings for every connection: strict mode, so a value that does not fit its column
 * is an error instead of a silent truncation or rounding; UTC session zone (sisporta writes
 * DATETIME wall-clock values, which MySQL never shifts, but NOW() should be unambiguous).
 */
const SESSION_SQL = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'"

/** mysql2 options that read values back exactly: DECIMAL and BIGINT as strings, dates as text. */
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
    charset: 'utf8mb4_unicode_ci',
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
 * A Kysely instance over a mysql2 pool, with sisporta's session settings on every connection.
 *
 * @example
 * const db = createDb('mysql://root@127.0.0.1:3306/sisporta', { poolSize: 4 })
 * await db.selectFrom('sisporta_batches').selectAll().execute()
 */
export function createDb (url: string, options: CreateDbOptions = {}): Kysely<SisportaDatabase> {
  const pool = createPool({ ...exactPoolOptions(url), connectionLimit: options.poolSize ?? 4, waitForConnections: true })
  return new Kysely<SisportaDatabase>({
    dialect: new MysqlDialect({
      pool,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(SESSION_SQL))
      }
    })
  })
}

/** Creates the database named in the URL if it does not exist yet. */
export async function ensureDatabase (url: string): Promise<void> {
  const options = exactPoolOptions(url)
  const database = options.database
  if (database === undefined) throw new DbError('SIS_DB_URL', 'SISPORTA_MYSQL_URL must name a database (mysql://user@host:3306/DATABASE)')
  const server = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: createPool({ ...options, database: undefined, connectionLimit: 1 }) }) })
  try {
    await server.executeQuery(CompiledQuery.raw(`CREATE DATABASE IF NOT EXISTS \`${database.replaceAll('`', '``')}\` CHARACTER SET utf8mb4`))
  } finally {
    await server.destroy()
  }
}
