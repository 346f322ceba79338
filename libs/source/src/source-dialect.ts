import type { StreamConfig, WireType, WireValue } from '@sisporta/contracts'

/** One row in the canonical wire format: values in the order of `stream.columns`. */
export type WireRow = WireValue[]

/**
 * The key of a row: wire values of the stream's `target.key` columns, in `target.key` order.
 * What `readPage` continues after, and what the extractor checkpoints to resume a load.
 */
export type KeyValues = readonly WireValue[]

/** What the source says about one mapped column. */
export interface SourceColumnDescription {
  /** Target column (`columns[].name`). */
  readonly name: string
  /** Source column as the catalogue spells it (may differ in case from `columns[].from`). */
  readonly from: string
  /** The declared wire type (`columns[].type`). */
  readonly type: WireType
  /** The source type as the engine spells it: `decimal(19,4)`, `varchar(40)`, `datetime(6)`. */
  readonly sourceType: string
  /** Whether the source allows NULL here (for `query:` streams, as the result set reports it). */
  readonly sourceNullable: boolean
}

/** What `describe` found: the stream's columns exist, with their source types. */
export interface SourceDescription {
  readonly stream: string
  /** The object read, quoted as the engine quotes it (`` `erp`.`products` ``), or `(query)`. */
  readonly object: string
  /** In the order of `stream.columns`. */
  readonly columns: readonly SourceColumnDescription[]
  /** Source columns of the key, in `target.key` order. */
  readonly key: readonly string[]
  /** The `source.version` column, when the stream has one. */
  readonly version?: { readonly from: string, readonly sourceType: string }
}

/**
 * The read-only side of one source database. Each engine (SQL Server, PostgreSQL, MySQL/MariaDB)
 * implements this interface in its own folder; the extractor sees only this.
 * There is no write method by design, and sessions are read-only where the engine allows it.
 *
 * Identifiers are never taken from the config as they are: `describe` (run implicitly before
 * the first page of a stream) looks every table and column up in the catalogue, and only the
 * catalogue's spelling, quoted, reaches SQL. Values always travel as parameters.
 */
export interface SourceDialect {
  /** Engine name for logs and metrics: `mssql`, `postgres` or `mysql`. */
  readonly engine: string

  /**
   * Checks that the stream's source object and every mapped column exist and returns their
   * source types. Fails with `SIS_SRC_TABLE_NOT_FOUND`, `SIS_SRC_COLUMN_NOT_FOUND`,
   * `SIS_SRC_QUERY` or `SIS_SRC_KEY`, naming the stream and the column.
   */
  describe (stream: StreamConfig): Promise<SourceDescription>

  /**
   * Reads the next page of rows in key order: the first `limit` rows whose key is greater than
   * `after` (or the first rows when `after` is undefined). Keyset pagination, no OFFSET; each
   * page is its own short statement, no transaction spans pages. A page shorter than `limit`
   * is the last one. Values are converted to the wire format; a value that cannot be converted
   * losslessly fails with `SIS_SRC_VALUE` naming stream, column, row key and value.
   */
  readPage (stream: StreamConfig, after: KeyValues | undefined, limit: number): Promise<WireRow[]>

  /** The catalogue's row-count estimate for a table stream; undefined for queries or when unknown. */
  estimateRows (stream: StreamConfig): Promise<number | undefined>

  /**
   * What the dialect changed on purpose, as the stream's config asks, in the rows it handed out
   * for the stream's current load: counted since the stream was last described or its first page
   * (`after` undefined) read. The extractor asks after the last page and seals the load with it.
   * Dialects that never change a value (MySQL, PostgreSQL) leave it out.
   */
  valuesChanged? (stream: StreamConfig): ValuesChanged

  /** Closes the connections. Idempotent; any call after it fails with `SIS_SRC_CLOSED`. */
  close (): Promise<void>
}

/** Values a dialect changed on purpose in one load (see `SourceDialect.valuesChanged`). */
export interface ValuesChanged {
  /**
   * SQL Server `fraction: truncate`: datetime values whose non-zero 7th fractional digit (100 ns)
   * was cut to the microsecond, over all such columns.
   */
  readonly truncatedFractions: number
}

/** The slice of a pino logger the dialects use (a pino `Logger` fits). */
export interface SourceLogger {
  debug (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** Options shared by every dialect. */
export interface SourceDialectOptions {
  /** Debug lines per described stream and per page read (rows, milliseconds). */
  readonly log?: SourceLogger
  /** Connections kept open at most. Reads are sequential per stream, so a few suffice. Default 2. */
  readonly poolSize?: number
  /** How long opening a connection may take, in milliseconds. Default 10,000 (SQL Server: 60,000). */
  readonly connectTimeoutMs?: number
  /**
   * Read even with a login that could write (`--allow-writable-login`): a warning instead of
   * `SIS_SRC_WRITABLE_LOGIN`. Dialects that check the login's permissions (SQL Server) honour it.
   */
  readonly allowWritableLogin?: boolean
  /**
   * Connect without TLS when the source URL turns it off (`SISPORTA_SOURCE_ALLOW_PLAINTEXT`): a
   * warning instead of `SIS_SRC_PLAINTEXT`. Honoured by the dialects that can refuse it (SQL Server).
   */
  readonly allowPlaintext?: boolean
}
