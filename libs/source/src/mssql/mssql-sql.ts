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
 * | `unicode-text`      | `CONVERT(nvarchar(max), s.[c])` (xml read as string); `nvarchar(n)` for char/varchar(n) that are not key columns |
 * | `variant-text`      | sql_variant as exact text chosen by its base type: see `renderVariantText` |
 */
export type MssqlReadForm =
  | 'native' | 'decimal-text' | 'money-text' | 'bigint-text' | 'date-text' | 'datetime-text' | 'time-text'
  | 'utc-datetime-text' | 'offset-text' | 'rowversion-bigint-text' | 'unicode-text' | 'variant-text'

export interface MssqlSelectColumn {
  /** Source column name as the catalogue spells it. */
  readonly column: string
  readonly read: MssqlReadForm
  /** `unicode-text` of a `varchar(n)` / `char(n)` column: `nvarchar(n)` (n ≤ 4,000); `nvarchar(max)` when absent. */
  readonly length?: number
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
  /**
   * `WITH (SNAPSHOT)` on the table instead of any other hint: a memory-optimized table, which
   * fails under session SNAPSHOT isolation (error 41332) and is read at READ COMMITTED with it.
   */
  readonly snapshotHint?: boolean
  /**
   * No unique index vouches for the key (a view, a query): SQL Server itself tells which keys are
   * equal under their collation. Each row carries `[sisporta_same_key]` (1: its key equals the
   * previous row's, `LAG`), and a next page starts *at* the previous page's last key (`>=`) with
   * `[sisporta_at_after]` (1: the row is that key), so that a duplicate straddling two pages shows.
   */
  readonly checkKeys?: boolean
}

/** Trailing columns of a `checkKeys` page: 1 when the row's key equals the previous row's. */
export const SAME_KEY_COLUMN = 'sisporta_same_key'
/** …and, on a next page, 1 when the row's key equals the `after` key the page starts at. */
export const AT_AFTER_COLUMN = 'sisporta_at_after'

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

/**
 * A sql_variant value as exact text, by its base type (`SQL_VARIANT_PROPERTY(v, 'BaseType')`):
 * the value is first converted back to its base type, then to text in a style that keeps every
 * digit, where a plain `CONVERT(nvarchar(max), v)` would round money to cents, float to 6 digits,
 * datetimes to minutes and read bytes as characters.
 *
 * | base type                    | text                                                        |
 * |------------------------------|-------------------------------------------------------------|
 * | float, real                  | style 3: 17 significant digits (`1.0000000000000001E-1`), real widened to float exactly (SQL Server 2016+) |
 * | money, smallmoney            | style 2: four decimals (`1234.5678`)                        |
 * | datetime, smalldatetime      | style 121: `yyyy-mm-dd hh:mi:ss.mmm`                        |
 * | datetime2, datetimeoffset, time | as (7), style 121: seven fractional digits (`… +hh:mm` for datetimeoffset) |
 * | date                         | style 23: `yyyy-mm-dd`                                      |
 * | binary, varbinary            | style 1: `0x` and two hex digits per byte                   |
 * | anything else                | `CONVERT(nvarchar(max), v)`: integers, bit (`0`/`1`), decimal / numeric (every digit of the scale), uniqueidentifier, char / varchar / nchar / nvarchar (as stored, padding kept) |
 *
 * `CASE` evaluates only the branch of the row's base type, so no conversion meets a value of another type.
 */
export function renderVariantText (c: string): string {
  const as = (type: string, style: number): string => `CONVERT(nvarchar(max), CONVERT(${type}, ${c}), ${style})`
  return `CASE CONVERT(nvarchar(128), SQL_VARIANT_PROPERTY(${c}, 'BaseType'))` +
    ` WHEN 'float' THEN ${as('float', 3)} WHEN 'real' THEN ${as('float', 3)}` +
    ` WHEN 'money' THEN ${as('money', 2)} WHEN 'smallmoney' THEN ${as('smallmoney', 2)}` +
    ` WHEN 'datetime' THEN ${as('datetime', 121)} WHEN 'smalldatetime' THEN ${as('smalldatetime', 121)}` +
    ` WHEN 'datetime2' THEN ${as('datetime2(7)', 121)} WHEN 'datetimeoffset' THEN ${as('datetimeoffset(7)', 121)}` +
    ` WHEN 'time' THEN ${as('time(7)', 121)} WHEN 'date' THEN ${as('date', 23)}` +
    ` WHEN 'binary' THEN ${as('varbinary(8000)', 1)} WHEN 'varbinary' THEN ${as('varbinary(8000)', 1)}` +
    ` ELSE CONVERT(nvarchar(max), ${c}) END`
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
    case 'unicode-text': expression = `CONVERT(nvarchar(${column.length === undefined ? 'max' : declaredLength(column.length)}), ${c})`; break
    case 'variant-text': expression = renderVariantText(c); break
  }
  return `${expression} AS ${quoteIdentifier(column.column)}`
}

function declaredLength (length: number): number {
  if (!Number.isSafeInteger(length) || length < 1 || length > 4000) throw new SourceError('SIS_SRC_ARGUMENT', `invalid nvarchar length ${length}`)
  return length
}

function renderKeyValue (i: number, compare: MssqlKeyComparison): string {
  const parameter = `@${keyParameterName(i)}`
  if (compare.kind === 'plain') return parameter
  const style = compare.style === undefined ? '' : `, ${compare.style}`
  return `CONVERT(${renderScalarType(compare.type)}, ${parameter}${style})`
}

/**
 * The keyset condition "key greater than the previous page's last key" (`inclusive`: greater or
 * equal, for pages that start at that key, see `MssqlPageSpec.checkKeys`). SQL Server has no row
 * comparison, so a composite key expands into `k1 > @k1 OR (k1 = @k1 AND k2 > @k2) …`; for a
 * composite key it is preceded by the redundant `k1 >= @k1 AND (…)`, which gives the optimizer a
 * plain range on the leading index column, so every page is an index seek rather than a scan
 * from the start of the index. Each key parameter is named once and used where needed.
 *
 * @example
 * buildKeysetCondition('s', [{ column: 'Doc', compare: { kind: 'plain' } }, { column: 'Line', compare: { kind: 'plain' } }])
 * // 's.[Doc] >= @k1 AND (s.[Doc] > @k1 OR (s.[Doc] = @k1 AND s.[Line] > @k2))'
 */
export function buildKeysetCondition (alias: string, key: readonly MssqlKeyColumn[], inclusive = false): string {
  const column = (k: MssqlKeyColumn): string => `${alias}.${quoteIdentifier(k.column)}`
  const values = key.map((k, i) => renderKeyValue(i, k.compare))
  const terms = key.map((k, i) => {
    const parts = key.slice(0, i).map((e, j) => `${column(e)} = ${values[j]!}`)
    parts.push(`${column(k)} ${inclusive && i === key.length - 1 ? '>=' : '>'} ${values[i]!}`)
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
    ? `${quoteQualified(spec.source.table)} AS ${TABLE_ALIAS}${spec.snapshotHint === true ? ' WITH (SNAPSHOT)' : spec.nolock ? ' WITH (NOLOCK)' : ''}`
    : wrapQuery(spec.source.query)
  const checkKeys = spec.checkKeys === true
  const where = after ? ` WHERE ${buildKeysetCondition(alias, spec.key, checkKeys)}` : ''
  const keyColumns = spec.key.map((k) => `${alias}.${quoteIdentifier(k.column)}`)
  const orderBy = keyColumns.join(', ')
  const checks = checkKeys ? `, ${buildKeyChecks(alias, spec.key, after)}` : ''
  return `${isolationSql(spec.isolation)}\nSELECT TOP (@${PAGE_SIZE_PARAMETER}) ${select}${checks} FROM ${from}${where} ORDER BY ${orderBy};`
}

/**
 * The trailing check columns of a `checkKeys` page, compared by SQL Server under each key
 * column's collation (case, accents, width, kana, trailing spaces, expansions such as `ß`/`ss`):
 * `[sisporta_same_key]`, and on a next page `[sisporta_at_after]`.
 *
 * @example
 * buildKeyChecks('s', [{ column: 'Code', compare: { kind: 'plain' } }], true)
 * // 'CASE WHEN s.[Code] = LAG(s.[Code]) OVER (ORDER BY s.[Code]) THEN 1 ELSE 0 END AS [sisporta_same_key], CASE WHEN s.[Code] = @k1 THEN 1 ELSE 0 END AS [sisporta_at_after]'
 */
export function buildKeyChecks (alias: string, key: readonly MssqlKeyColumn[], after: boolean): string {
  const columns = key.map((k) => `${alias}.${quoteIdentifier(k.column)}`)
  const over = `OVER (ORDER BY ${columns.join(', ')})`
  const same = `CASE WHEN ${columns.map((c) => `${c} = LAG(${c}) ${over}`).join(' AND ')} THEN 1 ELSE 0 END AS ${quoteIdentifier(SAME_KEY_COLUMN)}`
  if (!after) return same
  const at = `CASE WHEN ${columns.map((c, i) => `${c} = ${renderKeyValue(i, key[i]!.compare)}`).join(' AND ')} THEN 1 ELSE 0 END AS ${quoteIdentifier(AT_AFTER_COLUMN)}`
  return `${same}, ${at}`
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

/**
 * A table, view or synonym by schema (`@schema`) and name (`@name`). Compared with `=` under the
 * database's collation, as SQL Server itself resolves names; a NULL `@schema` looks in the user's
 * default schema, then in `dbo`, as SQL Server does — the default schema's object first.
 */
export const FIND_OBJECT_SQL =
  'SELECT s.name, o.name, o.type, o.object_id FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id ' +
  "WHERE o.name = @name AND (s.name = @schema OR (@schema IS NULL AND s.name IN (SCHEMA_NAME(), N'dbo'))) AND o.type IN ('U', 'V', 'SN') " +
  'ORDER BY CASE WHEN s.name = SCHEMA_NAME() THEN 0 ELSE 1 END;'

/** The object a synonym (`@object_id`) stands for, as written in `CREATE SYNONYM` (`[Sales].[Orders]`). */
export const SYNONYM_SQL = 'SELECT sn.base_object_name FROM sys.synonyms AS sn WHERE sn.object_id = @object_id;'

/**
 * For a `varchar`/`char` key: the database's collation and code page (what the driver encodes
 * every varchar parameter with) and the code page of the key column's collation (`@collation`).
 */
export const KEY_CODE_PAGE_SQL =
  "SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), " +
  "CONVERT(int, COLLATIONPROPERTY(CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), 'CodePage')), " +
  "CONVERT(int, COLLATIONPROPERTY(@collation, 'CodePage'));"

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
