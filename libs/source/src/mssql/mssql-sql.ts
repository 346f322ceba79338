/**
 * The T-SQL the SQL Server dialect sends, built by pure functions so tests can assert it to the
 * character. Identifiers reaching these builders come from the catalogue (see
 * mssql-introspector.ts) and are bracket-quoted here all the same; values are always named
 * parameters (`@n`, `@k1`, …), which the driver sends through `sp_executesql`.
 */
import { SourceError } from '../errors.js'
import { QUERY_ALIAS, quoteName, wrapQuery } from '../sql-text.js'

/** A table (or view) as `[schema, name]`, or a custom query wrapped as a derived table. */
export type MssqlSourceObject =
  | { readonly table: readonly [schema: string, name: string] }
  | { readonly query: string }

/**
 * How one column is selected. The driver hands DECIMAL, NUMERIC and MONEY over as JavaScript
 * numbers (losing digits beyond 15–17) and date-times as JavaScript `Date`s (milliseconds, shifted
 * by a time zone), so those are converted to text by SQL Server itself, exactly:
 *
 * | form                | T-SQL                                                             |
 * |---------------------|-------------------------------------------------------------------|
 * | `native`            | `s.[c]`                                                           |
 * | `decimal-text`      | `CONVERT(varchar(64), s.[c])` (all digits of the scale)           |
 * | `money-text`        | `CONVERT(varchar(64), s.[c], 2)` (style 2: four decimals, no commas) |
 * | `bigint-text`       | `CONVERT(varchar(20), s.[c])`                                     |
 * | `date-text`         | `CONVERT(varchar(10), s.[c], 23)` (yyyy-mm-dd)                    |
 * | `datetime-text`     | `CONVERT(varchar(27), s.[c], 121)` (yyyy-mm-dd hh:mi:ss.fff…, every digit of the scale) |
 * | `time-text`         | `CONVERT(varchar(16), s.[c], 121)` (hh:mi:ss.fffffff)             |
 * | `utc-datetime-text` | datetimeoffset as the UTC wall clock: `CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(s.[c], '+00:00')), 121)` |
 * | `offset-text`       | `CONVERT(varchar(34), s.[c], 121)` (with its `+hh:mm` offset)     |
 * | `rowversion-bigint-text` | `CONVERT(varchar(20), CONVERT(bigint, s.[c]))`               |
 * | `unicode-text`      | `CONVERT(nvarchar(max), s.[c])` (xml, sql_variant read as string) |
 */
export type MssqlReadForm =
  | 'native' | 'decimal-text' | 'money-text' | 'bigint-text' | 'date-text' | 'datetime-text' | 'time-text'
  | 'utc-datetime-text' | 'offset-text' | 'rowversion-bigint-text' | 'unicode-text'

export interface MssqlSelectColumn {
  /** Source column name as the catalogue spells it. */
  readonly column: string
  readonly read: MssqlReadForm
}

/** A scalar type a key parameter is converted to, so it compares exactly with its column. */
export interface MssqlScalarType {
  readonly name: 'bigint' | 'decimal' | 'numeric' | 'money' | 'smallmoney' | 'date' | 'datetime' | 'smalldatetime' | 'datetime2' | 'time' | 'uniqueidentifier'
  /** decimal / numeric: 1–38. */
  readonly precision?: number
  /** decimal / numeric: digits after the point; datetime2 / time: fractional-second digits 0–7. */
  readonly scale?: number
}

/**
 * How a key parameter meets its column in the keyset condition: as it is (a parameter declared
 * with the column's own type: `int`, `varchar(20)`, `nvarchar(40)`, `varbinary(16)`), or text
 * converted by SQL Server into the column's exact type (`CONVERT(decimal(19,4), @k1)`), so that a
 * BIGINT beyond 2^53, a DECIMAL(38,10) or a DATETIME2(7) never passes through a JavaScript number
 * or `Date`. Rendered from this closed set only.
 */
export type MssqlKeyComparison =
  | { readonly kind: 'plain' }
  | { readonly kind: 'convert', readonly type: MssqlScalarType, readonly style?: 23 | 121 }

export interface MssqlKeyColumn {
  /** Source column name as the catalogue spells it. */
  readonly column: string
  readonly compare: MssqlKeyComparison
}

/** Per-page isolation: SNAPSHOT where the database allows it, READ UNCOMMITTED for `nolock` streams. */
export type MssqlIsolation = 'SNAPSHOT' | 'READ COMMITTED' | 'READ UNCOMMITTED'

export interface MssqlPageSpec {
  readonly source: MssqlSourceObject
  /** In the order of the stream's columns. */
  readonly columns: readonly MssqlSelectColumn[]
  /** Key columns, in `target.key` order: the ORDER BY and keyset comparison. */
  readonly key: readonly MssqlKeyColumn[]
  readonly isolation: MssqlIsolation
  /** `WITH (NOLOCK)` on the table (only when the stream asks for it). */
  readonly nolock: boolean
}

/** The declared type of a statement parameter; `length` -1 is `(max)`. */
export type MssqlParameterType =
  | { readonly kind: 'int' }
  | { readonly kind: 'bit' }
  | { readonly kind: 'varchar', readonly length: number }
  | { readonly kind: 'nvarchar', readonly length: number }
  | { readonly kind: 'varbinary', readonly length: number }

/** One named parameter of a statement (`name` without the `@`). */
export interface MssqlParameter {
  readonly name: string
  readonly type: MssqlParameterType
  readonly value: unknown
}

/** Alias of the table in a page query; qualifying every column with it keeps ORDER BY on the stored column, not on a converted alias of the same name. */
export const TABLE_ALIAS = 's'
/** Name of the page-size parameter. */
export const PAGE_SIZE_PARAMETER = 'n'

/** Name of the parameter holding the `i`-th key value (0-based): `k1`, `k2`, … */
export function keyParameterName (i: number): string {
  return `k${i + 1}`
}

/**
 * Quotes one identifier with brackets, doubling any `]` inside (what `QUOTENAME` does).
 *
 * @example
 * quoteIdentifier('Preço [unit]') // '[Preço [unit]]]'
 */
export function quoteIdentifier (name: string): string {
  return quoteName(name, '[', ']', { maxLength: 128, engine: 'SQL Server' })
}

/** Quotes a dotted name part by part: `['dbo', 'Produtos']` → `[dbo].[Produtos]`. */
export function quoteQualified (parts: readonly string[]): string {
  return parts.map(quoteIdentifier).join('.')
}

/** `SET TRANSACTION ISOLATION LEVEL …;` — inside the page's own batch, so it holds for that page only. */
export function isolationSql (isolation: MssqlIsolation): string {
  switch (isolation) {
    case 'SNAPSHOT': return 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;'
    case 'READ COMMITTED': return 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;'
    case 'READ UNCOMMITTED': return 'SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;'
  }
}

/** A parameter type as T-SQL declares it: `int`, `varchar(20)`, `nvarchar(max)`. */
export function declareParameterType (type: MssqlParameterType): string {
  if (type.kind === 'int' || type.kind === 'bit') return type.kind
  const max = type.kind === 'nvarchar' ? 4000 : 8000
  if (type.length === -1) return `${type.kind}(max)`
  if (!Number.isSafeInteger(type.length) || type.length < 1 || type.length > max) {
    throw new SourceError('SIS_SRC_ARGUMENT', `invalid ${type.kind} parameter length ${type.length}`)
  }
  return `${type.kind}(${type.length})`
}

/** A scalar type as T-SQL spells it, checked: `decimal(19,4)`, `datetime2(7)`, `bigint`. */
export function renderScalarType (type: MssqlScalarType): string {
  const { name, precision, scale } = type
  switch (name) {
    case 'decimal':
    case 'numeric':
      if (!Number.isInteger(precision) || !Number.isInteger(scale) || precision! < 1 || precision! > 38 || scale! < 0 || scale! > precision!) {
        throw new SourceError('SIS_SRC_ARGUMENT', `invalid ${name}(${precision},${scale})`)
      }
      return `${name}(${precision},${scale})`
    case 'datetime2':
    case 'time':
      if (!Number.isInteger(scale) || scale! < 0 || scale! > 7) throw new SourceError('SIS_SRC_ARGUMENT', `invalid ${name}(${scale})`)
      return `${name}(${scale})`
    default:
      return name
  }
}

/** The select-list expression of one column (aliased to its own name when converted). */
export function renderSelectColumn (alias: string, column: MssqlSelectColumn): string {
  const c = `${alias}.${quoteIdentifier(column.column)}`
  let expression: string
  switch (column.read) {
    case 'native': return c
    case 'decimal-text': expression = `CONVERT(varchar(64), ${c})`; break
    case 'money-text': expression = `CONVERT(varchar(64), ${c}, 2)`; break
    case 'bigint-text': expression = `CONVERT(varchar(20), ${c})`; break
    case 'date-text': expression = `CONVERT(varchar(10), ${c}, 23)`; break
    case 'datetime-text': expression = `CONVERT(varchar(27), ${c}, 121)`; break
    case 'time-text': expression = `CONVERT(varchar(16), ${c}, 121)`; break
    case 'utc-datetime-text': expression = `CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(${c}, '+00:00')), 121)`; break
    case 'offset-text': expression = `CONVERT(varchar(34), ${c}, 121)`; break
    case 'rowversion-bigint-text': expression = `CONVERT(varchar(20), CONVERT(bigint, ${c}))`; break
    case 'unicode-text': expression = `CONVERT(nvarchar(max), ${c})`; break
  }
  return `${expression} AS ${quoteIdentifier(column.column)}`
}

function renderKeyValue (i: number, compare: MssqlKeyComparison): string {
  const parameter = `@${keyParameterName(i)}`
  if (compare.kind === 'plain') return parameter
  const style = compare.style === undefined ? '' : `, ${compare.style}`
  return `CONVERT(${renderScalarType(compare.type)}, ${parameter}${style})`
}

/**
 * The keyset condition "key greater than the previous page's last key". SQL Server has no row
 * comparison, so a composite key expands into `k1 > @k1 OR (k1 = @k1 AND k2 > @k2) …`; for a
 * composite key it is preceded by the redundant `k1 >= @k1 AND (…)`, which gives the optimizer a
 * plain range on the leading index column, so every page is an index seek rather than a scan
 * from the start of the index. Each key parameter is named once and used where needed.
 *
 * @example
 * buildKeysetCondition('s', [{ column: 'Doc', compare: { kind: 'plain' } }, { column: 'Line', compare: { kind: 'plain' } }])
 * // 's.[Doc] >= @k1 AND (s.[Doc] > @k1 OR (s.[Doc] = @k1 AND s.[Line] > @k2))'
 */
export function buildKeysetCondition (alias: string, key: readonly MssqlKeyColumn[]): string {
  const column = (k: MssqlKeyColumn): string => `${alias}.${quoteIdentifier(k.column)}`
  const values = key.map((k, i) => renderKeyValue(i, k.compare))
  const terms = key.map((k, i) => {
    const parts = key.slice(0, i).map((e, j) => `${column(e)} = ${values[j]!}`)
    parts.push(`${column(k)} > ${values[i]!}`)
    return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`
  })
  if (terms.length === 1) return terms[0]!
  return `${column(key[0]!)} >= ${values[0]!} AND (${terms.join(' OR ')})`
}

/**
 * One page of a stream in key order: `@n` rows at most, after the key `@k1…` when `after`.
 * The batch sets its isolation level first; SET inside `sp_executesql` lasts for that batch only,
 * so no session state outlives the page and no transaction spans pages.
 *
 * @example
 * buildPageSql({ source: { table: ['dbo', 'Produtos'] }, columns: [{ column: 'Codigo', read: 'native' }, { column: 'Preco', read: 'decimal-text' }],
 *   key: [{ column: 'Codigo', compare: { kind: 'plain' } }], isolation: 'SNAPSHOT', nolock: false }, true)
 * // 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\nSELECT TOP (@n) s.[Codigo], CONVERT(varchar(64), s.[Preco]) AS [Preco] FROM [dbo].[Produtos] AS s WHERE s.[Codigo] > @k1 ORDER BY s.[Codigo];'
 */
export function buildPageSql (spec: MssqlPageSpec, after: boolean): string {
  if (spec.columns.length === 0 || spec.key.length === 0) {
    throw new SourceError('SIS_SRC_ARGUMENT', 'a page query needs columns and a key')
  }
  const table = 'table' in spec.source
  const alias = table ? TABLE_ALIAS : QUERY_ALIAS
  const select = spec.columns.map((c) => renderSelectColumn(alias, c)).join(', ')
  // a derived table takes no table hint: a nolock query stream reads at READ UNCOMMITTED instead
  const from = 'table' in spec.source
    ? `${quoteQualified(spec.source.table)} AS ${TABLE_ALIAS}${spec.nolock ? ' WITH (NOLOCK)' : ''}`
    : wrapQuery(spec.source.query)
  const where = after ? ` WHERE ${buildKeysetCondition(alias, spec.key)}` : ''
  const orderBy = spec.key.map((k) => `${alias}.${quoteIdentifier(k.column)}`).join(', ')
  return `${isolationSql(spec.isolation)}\nSELECT TOP (@${PAGE_SIZE_PARAMETER}) ${select} FROM ${from}${where} ORDER BY ${orderBy};`
}

/** The statement whose first result set `DESCRIBE_QUERY_SQL` describes for a `query:` stream. */
export function buildQueryDescribeSql (query: string): string {
  return `SELECT * FROM ${wrapQuery(query)}`
}

// ---------------------------------------------------------------------------------------------
// catalogue statements (arrays of values come back in the column order written here)

/**
 * The connected database: name, snapshot isolation, read-committed snapshot, updateability
 * (READ_ONLY on a readable secondary), server version, login and database user. The current
 * database's row of sys.databases is visible to every user.
 */
export const DATABASE_SQL =
  'SELECT DB_NAME(), d.snapshot_isolation_state_desc, d.is_read_committed_snapshot_on, ' +
  "CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Updateability')), CONVERT(nvarchar(128), SERVERPROPERTY('ProductVersion')), " +
  'SUSER_SNAME(), USER_NAME() FROM sys.databases AS d WHERE d.database_id = DB_ID();'

/** What the login can do beyond reading, database-wide: each check answers 1 when it can. */
export const LOGIN_WRITE_CHECKS = Object.freeze([
  { can: 'INSERT in the database', sql: "HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'INSERT')" },
  { can: 'UPDATE in the database', sql: "HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'UPDATE')" },
  { can: 'DELETE in the database', sql: "HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'DELETE')" },
  { can: 'ALTER the database', sql: "HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'ALTER')" },
  { can: 'act as db_owner', sql: "IS_ROLEMEMBER('db_owner')" },
  { can: 'write as db_datawriter', sql: "IS_ROLEMEMBER('db_datawriter')" },
  { can: 'change the schema as db_ddladmin', sql: "IS_ROLEMEMBER('db_ddladmin')" },
  { can: 'do anything as sysadmin', sql: "IS_SRVROLEMEMBER('sysadmin')" }
] as const)

export const LOGIN_WRITE_SQL = `SELECT ${LOGIN_WRITE_CHECKS.map((c) => c.sql).join(', ')};`

/** What the login can do to one mapped object (`@schema`, `@name`) beyond reading it. */
export const OBJECT_WRITE_CHECKS = Object.freeze(['INSERT', 'UPDATE', 'DELETE', 'ALTER'] as const)

export const OBJECT_WRITE_SQL = 'SELECT ' +
  OBJECT_WRITE_CHECKS.map((p) => `HAS_PERMS_BY_NAME(QUOTENAME(@schema) + N'.' + QUOTENAME(@name), N'OBJECT', N'${p}')`).join(', ') + ';'

/**
 * A table or view by schema (`@schema`; NULL: the user's default schema) and name (`@name`).
 * Compared with `=` under the database's collation, as SQL Server itself resolves names.
 */
export const FIND_OBJECT_SQL =
  'SELECT s.name, o.name, o.type, o.object_id FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id ' +
  "WHERE o.name = @name AND s.name = COALESCE(@schema, SCHEMA_NAME()) AND o.type IN ('U', 'V');"

/**
 * Columns of one object (`@object_id`), in table order: name, system type (the base type of an
 * alias type; the type's own name for CLR types), max_length in bytes (-1: max), precision,
 * scale, nullability, collation.
 */
export const TABLE_COLUMNS_SQL =
  'SELECT c.name, COALESCE(bt.name, ut.name), c.max_length, c.precision, c.scale, c.is_nullable, c.collation_name ' +
  'FROM sys.columns AS c JOIN sys.types AS ut ON ut.user_type_id = c.user_type_id ' +
  'LEFT JOIN sys.types AS bt ON bt.user_type_id = c.system_type_id AND bt.is_user_defined = 0 ' +
  'WHERE c.object_id = @object_id ORDER BY c.column_id;'

/** Enabled, unfiltered unique indexes of one object (`@object_id`), key columns in order. */
export const UNIQUE_INDEXES_SQL =
  'SELECT i.index_id, i.name, i.is_primary_key, c.name FROM sys.indexes AS i ' +
  'JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id ' +
  'JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ' +
  'WHERE i.object_id = @object_id AND i.is_unique = 1 AND i.is_disabled = 0 AND i.has_filter = 0 AND ic.is_included_column = 0 ' +
  'ORDER BY i.index_id, ic.key_ordinal;'

/**
 * The first result set of `@tsql` (see `buildQueryDescribeSql`), without running it:
 * `sys.dm_exec_describe_first_result_set`, the table-valued form of `sp_describe_first_result_set`,
 * whose columns can be named. A query that does not compile comes back as one row with an
 * error number and message rather than as an exception.
 */
export const DESCRIBE_QUERY_SQL =
  'SELECT name, system_type_name, max_length, precision, scale, is_nullable, collation_name, error_number, error_message ' +
  'FROM sys.dm_exec_describe_first_result_set(@tsql, NULL, 0) WHERE is_hidden = 0 OR is_hidden IS NULL ORDER BY column_ordinal;'

/** Row count of a table from its heap or clustered index partitions (`@object_id`); NULL for a view. */
export const ESTIMATE_ROWS_SQL =
  'SELECT SUM(p.rows) FROM sys.partitions AS p WHERE p.object_id = @object_id AND p.index_id IN (0, 1);'
