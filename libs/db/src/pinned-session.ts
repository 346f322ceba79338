import type { Pool, PoolConnection } from 'mysql2'
import type { MysqlPool, MysqlPoolConnection } from 'kysely'
import { DbError } from './errors.js'
import { queryReadingWarnings, type WarningConnection } from './statement-warnings.js'

/**
 * The session every sisporta connection works in, set by {@link PIN_SESSION_SQL} and checked by
 * {@link verifySession} before the connection is first used:
 *
 * - utf8mb4 for the statement text, the literals in it and the results, with a binary collation
 *   (nothing sisporta sends compares strings, but a binary one never equates two different
 *   values). The handshake asks for it too, but a server may ignore the client's wish
 *   (`--skip-character-set-client-handshake`) or change it after login (`init_connect` runs for
 *   every login without SUPER): then text would be read in gbk or latin1 — mangled, and with
 *   gbk a multi-byte character can swallow the backslash of an escaped quote.
 * - strict mode without NO_BACKSLASH_ESCAPES or ANSI_QUOTES: a value that does not fit its column
 *   is an error, never a silent truncation, a rounding or a `?`; quotes and backslashes mean in
 *   a literal what mysql2's escaping (Kysely's parameters) assumes they mean.
 * - UTC (sisporta writes DATETIME wall-clock values, which MySQL never shifts, but NOW() should
 *   be unambiguous).
 * - notes recorded (`sql_notes = 1`, the default a server or `init_connect` may turn off): strict
 *   mode does not make every change of a value an error — a decimal rounded to the column's
 *   scale is only a *note* — and a note that was never recorded cannot be read back
 *   (see `collectWarnings`).
 */
export const PINNED_SESSION = Object.freeze({
  character_set_client: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  character_set_results: 'utf8mb4',
  collation_connection: 'utf8mb4_bin',
  sql_mode: 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',
  time_zone: '+00:00',
  sql_notes: '1'
} as const)

export type PinnedVariable = keyof typeof PINNED_SESSION

/** The one statement that sets {@link PINNED_SESSION}: SET NAMES covers client, connection and results. */
export const PIN_SESSION_SQL = `SET NAMES ${PINNED_SESSION.character_set_client} COLLATE ${PINNED_SESSION.collation_connection}, ` +
  `SESSION sql_mode = '${PINNED_SESSION.sql_mode}', SESSION time_zone = '${PINNED_SESSION.time_zone}', SESSION sql_notes = ${PINNED_SESSION.sql_notes}`

const VERIFY_SQL = `SELECT ${Object.keys(PINNED_SESSION).map((name) => `@@SESSION.${name} AS ${name}`).join(', ')}`

/** The part of a connection the session check uses: mysql2's callback `query`. */
export interface SessionConnection {
  query(sql: string, values: unknown[], callback: (err: unknown, rows: unknown) => void): unknown
}

/**
 * Sets sisporta's session on a new connection and reads it back: resolves once every variable of
 * {@link PINNED_SESSION} has the value sisporta needs, rejects with `SIS_DB_SESSION` naming the
 * first one that does not (and its value) otherwise.
 *
 * @example
 * await pinSession(connection) // SET NAMES utf8mb4 COLLATE utf8mb4_bin, sql_mode, time_zone; then verified
 */
export async function pinSession (connection: SessionConnection): Promise<void> {
  await query(connection, PIN_SESSION_SQL)
  await verifySession(connection)
}

/**
 * Reads the session's character sets, collation, sql_mode and time zone and compares them with
 * {@link PINNED_SESSION}. A connection that differs is refused: something between sisporta and
 * the server (a server setting, a proxy) does not let it choose how its statements are read.
 *
 * @example
 * await verifySession(connection)
 * // DbError SIS_DB_SESSION: the MySQL session is not the one sisporta set: @@character_set_client is 'latin1', expected 'utf8mb4' …
 */
export async function verifySession (connection: SessionConnection): Promise<void> {
  const rows = await query(connection, VERIFY_SQL) as Record<string, unknown>[]
  const actual = rows[0] ?? {}
  for (const name of Object.keys(PINNED_SESSION) as PinnedVariable[]) {
    const value = actual[name]
    if (!sameSetting(name, value)) {
      throw new DbError('SIS_DB_SESSION', `the MySQL session is not the one sisporta set: @@${name} is ${describe(value)}, expected '${PINNED_SESSION[name]}'. ` +
        'A server setting (init_connect, --skip-character-set-client-handshake) or a proxy overrides what the client sets; ' +
        'sisporta does not write through such a connection')
    }
  }
}

function sameSetting (name: PinnedVariable, value: unknown): boolean {
  // sql_notes reads back as a number
  const text = typeof value === 'number' || typeof value === 'bigint' ? String(value) : value
  if (typeof text !== 'string') return false
  const expected = PINNED_SESSION[name]
  // sql_mode: the same flags in any order (servers list them in their own order)
  if (name === 'sql_mode') return sameFlags(text, expected)
  return text.toLowerCase() === expected.toLowerCase()
}

function sameFlags (a: string, b: string): boolean {
  const flags = (s: string): string => s.toUpperCase().split(',').filter((f) => f !== '').sort().join(',')
  return flags(a) === flags(b)
}

function describe (value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  return `'${String(value)}'`
}

async function query (connection: SessionConnection, sql: string): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    connection.query(sql, [], (err, rows) => { if (err !== null && err !== undefined) reject(err); else resolve(rows) })
  })
}

/**
 * A mysql2 pool as Kysely's `MysqlDialect` takes it, every connection of which has its session
 * pinned and verified ({@link pinSession}) before it is handed out the first time. A connection
 * that cannot be pinned is destroyed, never used, and the caller gets the `SIS_DB_SESSION`
 * error; the next request opens a new connection and checks it again.
 *
 * Kysely gets each connection behind a thin wrapper whose `query` also reads a statement's
 * warnings when asked to (`collectWarnings`): Kysely keeps only the affected-row counts of a
 * statement's OK packet, not its warning count.
 *
 * (Not Kysely's `onCreateConnection`: a connection whose hook fails stays checked out of the
 * pool there, and its wrapper is remembered as set up.)
 *
 * @example
 * new Kysely({ dialect: new MysqlDialect({ pool: pinnedPool(createPool(options)) }) })
 */
export function pinnedPool (pool: Pool): MysqlPool {
  const pinned = new WeakMap<PoolConnection, MysqlPoolConnection>()
  return {
    getConnection (callback) {
      pool.getConnection((err, connection) => {
        if (err !== null && err !== undefined) {
          callback(err, connection as unknown as MysqlPoolConnection)
          return
        }
        const wrapped = pinned.get(connection)
        if (wrapped !== undefined) {
          callback(null, wrapped)
          return
        }
        pinSession(connection as unknown as SessionConnection).then(() => {
          const wrapper = new WarningReadingConnection(connection)
          pinned.set(connection, wrapper)
          callback(null, wrapper)
        }, (pinErr: unknown) => {
          connection.destroy()
          callback(pinErr, undefined as unknown as MysqlPoolConnection)
        })
      })
    },
    end (callback) {
      pool.end(callback)
    }
  }
}

/**
 * A pooled mysql2 connection as Kysely uses it, with `query` reading warnings for
 * `collectWarnings` (see `queryReadingWarnings`); everything else goes to the connection itself.
 */
class WarningReadingConnection implements MysqlPoolConnection {
  readonly #connection: PoolConnection
  constructor (connection: PoolConnection) {
    this.#connection = connection
  }

  get config (): object {
    return this.#connection.config
  }

  get threadId (): number {
    return this.#connection.threadId
  }

  connect (callback?: (error: unknown) => void): void {
    this.#connection.connect(callback)
  }

  query (sql: string, parameters: unknown, callback?: (error: unknown, result: never) => void): ReturnType<MysqlPoolConnection['query']> {
    return queryReadingWarnings(this.#connection as unknown as WarningConnection, sql, parameters, callback as ((err: unknown, result: unknown) => void) | undefined) as ReturnType<MysqlPoolConnection['query']>
  }

  destroy (): void {
    this.#connection.destroy()
  }

  release (): void {
    this.#connection.release()
  }
}
