/**
 * Error catalogue of the source side. Every error the package throws is a `SourceError` with one
 * of these codes; driver errors travel as `cause`.
 */
export const SOURCE_ERROR_CODES = {
  /** The source URL's scheme names an engine this version cannot read yet. */
  SIS_SRC_UNSUPPORTED: 'SIS_SRC_UNSUPPORTED',
  /** The source URL cannot be parsed. */
  SIS_SRC_URL: 'SIS_SRC_URL',
  /** No connection to the source could be opened (network, credentials, server down). */
  SIS_SRC_CONNECT: 'SIS_SRC_CONNECT',
  /** The stream's source table (or view) is not in the catalogue. */
  SIS_SRC_TABLE_NOT_FOUND: 'SIS_SRC_TABLE_NOT_FOUND',
  /** A mapped source column (or the version column) does not exist. */
  SIS_SRC_COLUMN_NOT_FOUND: 'SIS_SRC_COLUMN_NOT_FOUND',
  /** The stream's `query:` cannot be run (syntax, missing objects, duplicate column names). */
  SIS_SRC_QUERY: 'SIS_SRC_QUERY',
  /** The stream's key cannot drive keyset pagination (unknown key column, JSON key, …). */
  SIS_SRC_KEY: 'SIS_SRC_KEY',
  /** A source value cannot be converted losslessly to its column's wire type. */
  SIS_SRC_VALUE: 'SIS_SRC_VALUE',
  /** A source column's type cannot be read as its declared wire type without loss (checked before a load). */
  SIS_SRC_TYPE: 'SIS_SRC_TYPE',
  /** The source login can write (INSERT, UPDATE, DELETE, ALTER, db_owner, sysadmin) and writable logins were not allowed. */
  SIS_SRC_WRITABLE_LOGIN: 'SIS_SRC_WRITABLE_LOGIN',
  /** The server filters (Row-Level Security) or masks (Dynamic Data Masking) the mapped table's rows for this login, and the stream did not opt in with `source.allowFiltered`. */
  SIS_SRC_FILTERED: 'SIS_SRC_FILTERED',
  /** A read failed while running (connection lost, lock timeout, server error). */
  SIS_SRC_READ: 'SIS_SRC_READ',
  /** The source URL turns TLS off (password and rows in clear) and SISPORTA_SOURCE_ALLOW_PLAINTEXT is not set. */
  SIS_SRC_PLAINTEXT: 'SIS_SRC_PLAINTEXT',
  /** A call had bad arguments (page size, `after` of the wrong length, no table nor query). */
  SIS_SRC_ARGUMENT: 'SIS_SRC_ARGUMENT',
  /** The dialect was used after `close()`. */
  SIS_SRC_CLOSED: 'SIS_SRC_CLOSED'
} as const

export type SourceErrorCode = typeof SOURCE_ERROR_CODES[keyof typeof SOURCE_ERROR_CODES]

export interface SourceErrorOptions {
  readonly cause?: unknown
  /** The stream the error is about, for logs. */
  readonly stream?: string
  /** The target column the error is about, for logs. */
  readonly column?: string
  /** Whether trying the same read again later may succeed (connection lost, lock timeout). */
  readonly transient?: boolean
  /** The exit code of a command that fails with it; default by code (see {@link CONFIGURATION_CODES}). */
  readonly exitCode?: 1 | 2
}

/**
 * Codes that mean the stream's configuration does not fit the source (a table, a column, a type,
 * a key or a query as configured): `describe` finds them before a load is opened, and a command
 * failing with one exits 2, as for any other configuration error. Everything else (a value, a
 * lost connection, two rows with one key) is the work failing: exit 1.
 */
export const CONFIGURATION_CODES: ReadonlySet<SourceErrorCode> = new Set<SourceErrorCode>([
  'SIS_SRC_UNSUPPORTED', 'SIS_SRC_URL', 'SIS_SRC_TABLE_NOT_FOUND', 'SIS_SRC_COLUMN_NOT_FOUND', 'SIS_SRC_QUERY',
  'SIS_SRC_KEY', 'SIS_SRC_TYPE', 'SIS_SRC_WRITABLE_LOGIN', 'SIS_SRC_FILTERED'
])

/**
 * An error of the source side. `code` is stable (documented in docs/errors.md); `message` is for
 * people and always names the stream, and the column when there is one.
 */
export class SourceError extends Error {
  readonly code: SourceErrorCode
  readonly stream: string | undefined
  readonly column: string | undefined
  readonly transient: boolean
  /** 2 for a configuration that does not fit the source (checked before a load), 1 otherwise. */
  readonly exitCode: 1 | 2

  constructor (code: SourceErrorCode, message: string, options: SourceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SourceError'
    this.code = code
    this.stream = options.stream
    this.column = options.column
    this.transient = options.transient ?? false
    this.exitCode = options.exitCode ?? (CONFIGURATION_CODES.has(code) ? 2 : 1)
  }
}

/**
 * Whether `err` is a `SourceError`, optionally with the given code.
 *
 * @example
 * if (isSourceError(err, 'SIS_SRC_VALUE')) log.error({ column: err.column }, err.message)
 */
export function isSourceError (err: unknown, code?: SourceErrorCode): err is SourceError {
  return err instanceof SourceError && (code === undefined || err.code === code)
}

/**
 * Whether retrying the failed read later may succeed: the connection dropped, the server was
 * restarting, a lock wait timed out. The extractor backs off and retries these; anything else
 * (a missing column, a value that does not convert) fails the load.
 */
export function isTransientSourceError (err: unknown): boolean {
  return err instanceof SourceError && err.transient
}
