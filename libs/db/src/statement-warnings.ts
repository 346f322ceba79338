import { AsyncLocalStorage } from 'node:async_hooks'
import { DbError } from './errors.js'

/** One line of `SHOW WARNINGS`: what MySQL said about the statement besides its result. */
export interface StatementWarning {
  /** `Note`, `Warning` or `Error`. */
  readonly level: string
  /** MySQL's error number (`1265` for "Data truncated…"). */
  readonly code: number
  readonly message: string
}

/** How a warning bears on the values a statement wrote. */
export type WarningKind = 'data' | 'harmless' | 'unknown'

/**
 * Warnings and notes that mean a value was stored differently from the one in the statement,
 * or not at all: rounded, truncated, clipped to a range, converted, replaced by a default. In
 * strict mode most of these are errors, but not all: a decimal with more digits than the
 * column's scale is rounded with only a *note* 1265, and an `INSERT IGNORE` or a non-strict
 * server turns any of them into warnings. Chosen from the server error lists of MySQL 8 and
 * MariaDB 10.11.
 */
const DATA_WARNINGS: ReadonlyMap<number, string> = new Map([
  [1048, 'a NULL was replaced by the column\'s default'], // ER_BAD_NULL_ERROR (as a warning)
  [1260, 'a value was cut'], // ER_CUT_VALUE_GROUP_CONCAT
  [1261, 'a row lacked values and got defaults'], // ER_WARN_TOO_FEW_RECORDS
  [1262, 'a row was truncated'], // ER_WARN_TOO_MANY_RECORDS
  [1263, 'a NULL was replaced by the column\'s default'], // ER_WARN_NULL_TO_NOTNULL
  [1264, 'the value is out of the column\'s range and would be clipped'], // ER_WARN_DATA_OUT_OF_RANGE
  [1265, 'the value would be rounded or truncated to fit the column'], // WARN_DATA_TRUNCATED
  [1292, 'the value is not valid for the column\'s type and would be converted'], // ER_TRUNCATED_WRONG_VALUE
  [1300, 'the text is not valid in its character set'], // ER_INVALID_CHARACTER_STRING
  [1301, 'a value was truncated to max_allowed_packet'], // ER_WARN_ALLOWED_PACKET_OVERFLOWED
  [1365, 'a division by zero gave NULL'], // ER_DIVISION_BY_ZERO
  [1366, 'the value cannot be stored in the column and would be converted'], // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  [1367, 'the value is not valid for the column\'s type and would be converted'], // ER_ILLEGAL_VALUE_FOR_TYPE
  [1406, 'the value is too long for the column and would be truncated'], // ER_DATA_TOO_LONG
  [1411, 'the value is not valid for the column\'s type and would be converted'], // ER_WRONG_VALUE_FOR_TYPE
  [1441, 'a datetime computation overflowed'], // ER_DATETIME_FUNCTION_OVERFLOW
  [1525, 'the value is not valid for the column\'s type and would be converted'], // ER_WRONG_VALUE
  [1916, 'the value overflowed the column\'s type and would be truncated'], // ER_DATA_OVERFLOW (MariaDB)
  [1917, 'the value would be truncated to fit the column'], // ER_DATA_TRUNCATED (MariaDB)
  [1918, 'the value is not valid for the column\'s type and would be converted'] // ER_BAD_DATA (MariaDB)
])

/**
 * Warnings that say nothing about the values written: deprecated syntax (MySQL 8.0.20+ notes the
 * `VALUES()` of every `ON DUPLICATE KEY UPDATE` with 1287), a statement unsafe for statement-based
 * binary logging. Anything in neither list is `unknown`, and sisporta's writers treat it as data:
 * a warning nobody looked at is never assumed harmless.
 */
const HARMLESS_WARNINGS: ReadonlySet<number> = new Set([
  1287, // ER_WARN_DEPRECATED_SYNTAX
  1592, // ER_BINLOG_UNSAFE_STATEMENT
  1681, // ER_WARN_DEPRECATED_SYNTAX_NO_REPLACEMENT
  3719 // ER_DEPRECATED_UTF8_ALIAS (MySQL 8)
])

/**
 * Whether a warning means a value was changed on its way into a table (`data`), is known to say
 * nothing about values (`harmless`: deprecation notices…), or is neither (`unknown`).
 *
 * @example
 * warningKind({ level: 'Note', code: 1265, message: "Data truncated for column 'qty' at row 1" }) // 'data'
 * warningKind({ level: 'Warning', code: 1287, message: "'VALUES function' is deprecated…" }) // 'harmless'
 */
export function warningKind (warning: StatementWarning): WarningKind {
  if (DATA_WARNINGS.has(warning.code)) return 'data'
  if (HARMLESS_WARNINGS.has(warning.code)) return 'harmless'
  return 'unknown'
}

/**
 * What a data warning means for the value, in words (`the value would be rounded or truncated to
 * fit the column` for 1265); `undefined` for other warnings.
 *
 * @example
 * describeDataWarning({ level: 'Note', code: 1264, message: '…' }) // "the value is out of the column's range and would be clipped"
 */
export function describeDataWarning (warning: StatementWarning): string | undefined {
  return DATA_WARNINGS.get(warning.code)
}

interface Collector {
  readonly warnings: StatementWarning[]
  /** Statements that ran on a warning-aware connection while collecting. */
  statements: number
}

const collecting = new AsyncLocalStorage<Collector>()

/**
 * Runs `run` and returns its result with the warnings and notes MySQL raised for the statements
 * it sent (those that answer with an OK packet: INSERT, UPDATE, DELETE, DDL — not SELECTs).
 *
 * A statement that reported no warning costs nothing more: its OK packet carries the count, and
 * only a count above zero makes the connection read `SHOW WARNINGS`, on the same connection,
 * before the statement's promise resolves (so no other statement can reset them first). The
 * connections of `createDb`'s pool do this; a statement that ran anywhere else cannot be vouched
 * for, so `run` sending none through such a connection is an error (`SIS_DB_WARNINGS_UNSEEN`)
 * rather than an empty list. Notes are recorded because every session pins `sql_notes = 1`.
 *
 * @example
 * const { warnings } = await collectWarnings(async () => await trx.executeQuery(upsert))
 * // [{ level: 'Note', code: 1265, message: "Data truncated for column 'qty' at row 3" }]
 */
export async function collectWarnings<T> (run: () => Promise<T>): Promise<{ result: T, warnings: StatementWarning[] }> {
  const collector: Collector = { warnings: [], statements: 0 }
  const result = await collecting.run(collector, run)
  if (collector.statements === 0) {
    throw new DbError('SIS_DB_WARNINGS_UNSEEN', 'no statement ran on a connection of createDb\'s pool: its warnings and notes cannot be read, so its values cannot be vouched for')
  }
  return { result, warnings: collector.warnings }
}

/** The part of a mysql2 connection the warning reader uses (its callback `query`). */
export interface WarningConnection {
  query(sql: string, values: unknown, callback?: (err: unknown, result: unknown, fields?: unknown) => void): unknown
}

/**
 * mysql2's `query` on `connection`, reading the statement's warnings into the active
 * {@link collectWarnings} when it reported any. Outside `collectWarnings` it is plain `query`.
 * If the warnings cannot be read, the statement fails with that error: its values are not
 * vouched for.
 */
export function queryReadingWarnings (connection: WarningConnection, sql: string, values: unknown, callback?: (err: unknown, result: unknown, fields?: unknown) => void): unknown {
  const collector = collecting.getStore()
  if (collector === undefined || callback === undefined) return connection.query(sql, values, callback)
  collector.statements++
  return connection.query(sql, values, (err, result, fields) => {
    const count = (result as { warningStatus?: unknown } | undefined)?.warningStatus
    if (err !== null && err !== undefined) {
      callback(err, result, fields)
      return
    }
    if (typeof count !== 'number' || count === 0) {
      callback(null, result, fields)
      return
    }
    connection.query('SHOW WARNINGS', [], (showErr, rows) => {
      if (showErr !== null && showErr !== undefined) {
        callback(showErr, undefined)
        return
      }
      const listed = rows as { Level: string, Code: number, Message: string }[]
      for (const row of listed) collector.warnings.push({ level: row.Level, code: Number(row.Code), message: row.Message })
      // max_error_count caps the list: what it leaves out was not looked at, so it is not harmless
      if (listed.length < count && listed.every((w) => warningKind({ level: w.Level, code: Number(w.Code), message: w.Message }) === 'harmless')) {
        collector.warnings.push({ level: 'Warning', code: 0, message: `the statement reported ${count} warning(s), SHOW WARNINGS listed ${listed.length} (max_error_count)` })
      }
      callback(null, result, fields)
    })
  })
}
