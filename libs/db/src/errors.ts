/** Errors of the MySQL layer (connection, migration, schema checks). */
export class DbError extends Error {
  readonly code: string
  constructor (code: `SIS_DB_${string}`, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DbError'
    this.code = code
  }
}

/** MySQL / MariaDB error numbers sisporta classifies. */
export const MysqlErrno = Object.freeze({
  LockWaitTimeout: 1205,
  Deadlock: 1213,
  ServerGone: 2006,
  ServerLost: 2013,
  ConnCountError: 1040,
  ServerShutdown: 1053,
  ReadOnly: 1290,
  QueryInterrupted: 1317,
  /** MariaDB: the connection was killed (KILL, server shutdown). */
  ConnectionKilled: 1927,
  /** MySQL 8: the server closed an idle connection. */
  ClientInteractionTimeout: 4031,
  DupEntry: 1062,
  BadDb: 1049,
  NoSuchTable: 1146,
  BadField: 1054,
  /** A NOT NULL column without a default the statement does not name (one added to the table since). */
  NoDefaultForField: 1364,
  /** The table's definition changed under the statement. */
  TableDefChanged: 1412,
  DataTooLong: 1406,
  OutOfRange: 1264,
  TruncatedWrongValue: 1292,
  WrongValueForType: 1366,
  /** MariaDB: a CHECK constraint failed (a JSON column's JSON_VALID). */
  ConstraintFailed: 4025,
  /** A foreign key refused a write: the parent row is missing (2: with the constraint named). */
  NoReferencedRow: 1216,
  NoReferencedRow2: 1452,
  /** A foreign key refused a delete: a child row still refers to the row (2: with the constraint named). */
  RowIsReferenced: 1217,
  RowIsReferenced2: 1451
} as const)

const TRANSIENT_ERRNOS: ReadonlySet<number> = new Set([
  MysqlErrno.LockWaitTimeout, MysqlErrno.Deadlock, MysqlErrno.ServerGone, MysqlErrno.ServerLost,
  MysqlErrno.ConnCountError, MysqlErrno.ServerShutdown, MysqlErrno.ReadOnly, MysqlErrno.QueryInterrupted,
  MysqlErrno.ConnectionKilled, MysqlErrno.ClientInteractionTimeout
])
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'POOL_CLOSED', 'ER_CON_COUNT_ERROR',
  // A connection whose session could not be pinned says nothing about the batch: the batch
  // waits (nothing is written meanwhile) until the server is fixed, instead of dead-lettering.
  'SIS_DB_SESSION'
])

/**
 * True when retrying the same statement later may succeed: deadlocks, lock waits, a server
 * that is restarting or unreachable, a connection refused for its session (`SIS_DB_SESSION`:
 * it succeeds once the server's settings are fixed). False for errors in the data or the
 * schema, which fail the same way every time (those go to the dead-letter stream instead of
 * being retried forever).
 */
export function isTransientMysqlError (err: unknown): boolean {
  const e = err as { errno?: number, code?: string, fatal?: boolean } | undefined
  if (e === undefined || e === null) return false
  if (typeof e.errno === 'number' && TRANSIENT_ERRNOS.has(e.errno)) return true
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true
  return e.fatal === true
}
