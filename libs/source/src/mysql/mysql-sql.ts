/**
 * The SQL text the MySQL/MariaDB dialect sends, built by pure functions so tests can assert it
 * to the character. Identifiers reaching these builders come from the catalogue (see
 * mysql-introspector.ts), and are quoted again here all the same; values are always `?`.
 */
import { SourceError } from '../errors.js'
import { AT_AFTER_COLUMN, buildCheckedPageSql, checkedColumnAlias } from '../page-boundary-keys.js'
import { quoteName, wrapQuery } from '../sql-text.js'

/**
 * How a key parameter is typed for its comparison. Without it MySQL compares a string parameter
 * with a BIGINT or DECIMAL column as doubles, which loses digits beyond 2^53 and would skip or
 * repeat rows; the cast keeps the comparison exact. Rendered from this closed set only.
 */
export type MysqlKeyCast =
  | { readonly kind: 'signed' }
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'decimal', readonly precision: number, readonly scale: number }
  | { readonly kind: 'date' }
  | { readonly kind: 'datetime' }

export interface MysqlKeyColumn {
  /** Source column name as the catalogue spells it. */
  readonly column: string
  readonly cast?: MysqlKeyCast
}

/** A table as `[database, table]`, or a custom query wrapped as a derived table. */
export type MysqlSourceObject =
  | { readonly table: readonly [database: string, table: string] }
  | { readonly query: string }

export interface MysqlPageSpec {
  readonly source: MysqlSourceObject
  /** Source column names to select, in the order of the stream's columns. */
  readonly columns: readonly string[]
  /** Key columns, in `target.key` order: the ORDER BY and keyset comparison. */
  readonly key: readonly MysqlKeyColumn[]
  /**
   * No primary key or unique index vouches for the key (a view, a query, a table without one on
   * exactly the key columns): the server itself tells which keys are equal, under the key
   * columns' collations. Each row carries `sisporta_same_key` (its key equals the previous
   * row's, `LAG` over the page: MySQL 8.0 / MariaDB 10.2), and a next page starts *at* the
   * previous page's last key (`>=` on the last key component) with `sisporta_at_after` (the row
   * is that key), so that a key repeated across the page boundary shows (page-boundary-keys.ts).
   */
  readonly checkKeys?: boolean
}

/**
 * Quotes one identifier with backticks, doubling any backtick inside.
 *
 * @example
 * quoteIdentifier('Preço `x`') // '`Preço ``x```'
 */
export function quoteIdentifier (name: string): string {
  return quoteName(name, '`', '`')
}

/** Quotes a dotted name part by part: `['erp', 'products']` → `` `erp`.`products` ``. */
export function quoteQualified (parts: readonly string[]): string {
  return parts.map(quoteIdentifier).join('.')
}

function renderFrom (source: MysqlSourceObject): string {
  return 'table' in source ? quoteQualified(source.table) : wrapQuery(source.query)
}

function renderCast (cast: MysqlKeyCast | undefined): string {
  if (cast === undefined) return '?'
  switch (cast.kind) {
    case 'signed': return 'CAST(? AS SIGNED)'
    case 'unsigned': return 'CAST(? AS UNSIGNED)'
    case 'date': return 'CAST(? AS DATE)'
    case 'datetime': return 'CAST(? AS DATETIME(6))'
    case 'decimal': {
      const { precision, scale } = cast
      if (!Number.isInteger(precision) || !Number.isInteger(scale) || precision < 1 || precision > 65 || scale < 0 || scale > 30 || scale > precision) {
        throw new SourceError('SIS_SRC_ARGUMENT', `invalid DECIMAL(${precision},${scale}) for a key cast`)
      }
      return `CAST(? AS DECIMAL(${precision},${scale}))`
    }
  }
}

/**
 * The keyset condition "key greater than the previous page's last key", expanded into
 * `k1 > ? OR (k1 = ? AND k2 > ?) …` rather than the row comparison `(k1, k2) > (?, ?)`:
 * MariaDB (10.11 included) does not use an index range for a row comparison and reads the index
 * from the start on every page, which makes a full load quadratic. The expanded form is a range
 * scan on both MariaDB and MySQL. Parameters: see `keysetParameters`.
 */
export function buildKeysetCondition (key: readonly MysqlKeyColumn[], inclusive = false): string {
  const terms = key.map((_, i) => {
    const parts = key.slice(0, i).map((k) => `${quoteIdentifier(k.column)} = ${renderCast(k.cast)}`)
    parts.push(`${quoteIdentifier(key[i]!.column)} ${inclusive && i === key.length - 1 ? '>=' : '>'} ${renderCast(key[i]!.cast)}`)
    return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`
  })
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`
}

/**
 * The flag column of a checked next page: 1 when the row's key equals the `after` key as the
 * server compares it (collation included), with the key values as parameters, once each, in key order.
 *
 * @example
 * buildAtAfterColumn([{ column: 'doc' }, { column: 'line', cast: { kind: 'signed' } }])
 * // '(`doc` = ? AND `line` = CAST(? AS SIGNED)) AS `sisporta_at_after`'
 */
export function buildAtAfterColumn (key: readonly MysqlKeyColumn[]): string {
  return `(${key.map((k) => `${quoteIdentifier(k.column)} = ${renderCast(k.cast)}`).join(' AND ')}) AS ${quoteIdentifier(AT_AFTER_COLUMN)}`
}

/**
 * The parameters of `buildKeysetCondition` for key values `after`, in placeholder order:
 * `[a, b]` → `[a, a, b]`, `[a, b, c]` → `[a, a, b, a, b, c]`.
 */
export function keysetParameters<T> (after: readonly T[]): T[] {
  const params: T[] = []
  for (let i = 0; i < after.length; i++) {
    for (let j = 0; j <= i; j++) params.push(after[j]!)
  }
  return params
}

/**
 * One page of a stream in key order. With `after`, the statement continues after the key bound
 * by `keysetParameters(after)`; the last parameter is always the page size. With `checkKeys`, the
 * page is wrapped by `buildCheckedPageSql`; with `after` too, it starts at that key instead, and
 * the `buildAtAfterColumn` parameters (`after` once) come first: `[...after, ...keysetParameters(after), limit]`.
 *
 * @example
 * buildPageSql({ source: { table: ['erp', 'products'] }, columns: ['ProdCode', 'Descr'], key: [{ column: 'ProdCode' }] }, true)
 * // 'SELECT `ProdCode`, `Descr` FROM `erp`.`products` WHERE `ProdCode` > ? ORDER BY `ProdCode` LIMIT ?'
 */
export function buildPageSql (spec: MysqlPageSpec, after: boolean): string {
  if (spec.columns.length === 0 || spec.key.length === 0) {
    throw new SourceError('SIS_SRC_ARGUMENT', 'a page query needs columns and a key')
  }
  const checkKeys = spec.checkKeys === true
  const checked = after && checkKeys
  const columns = spec.columns.map((c, i) => checkKeys ? `${quoteIdentifier(c)} AS ${quoteIdentifier(checkedColumnAlias(i))}` : quoteIdentifier(c))
  const select = columns.join(', ') + (checked ? `, ${buildAtAfterColumn(spec.key)}` : '')
  const where = after ? ` WHERE ${buildKeysetCondition(spec.key, checked)}` : ''
  const orderBy = spec.key.map((k) => quoteIdentifier(k.column)).join(', ')
  const page = `SELECT ${select} FROM ${renderFrom(spec.source)}${where} ORDER BY ${orderBy} LIMIT ?`
  if (!checkKeys) return page
  return buildCheckedPageSql(page, spec.columns.length, spec.key.map((k) => spec.columns.indexOf(k.column)), quoteIdentifier, after)
}

/**
 * Unique indexes (the primary key among them) of one table, a row per column in index order:
 * index name, column name (NULL for a functional index part). A view has none.
 */
export const UNIQUE_INDEX_COLUMNS_SQL =
  'SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS ' +
  'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX'

/** Runs a `query:` stream for its result-set metadata only. */
export function buildQueryDescribeSql (query: string): string {
  return `SELECT * FROM ${wrapQuery(query)} LIMIT 0`
}

/** Makes a session read-only with per-statement READ COMMITTED reads (MySQL 5.6.5+, MariaDB 10.0+). */
export const SESSION_SQL = 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY'

/** The connection's default database. */
export const CURRENT_DATABASE_SQL = 'SELECT DATABASE()'

/** One table or view by database and name (the catalogue can answer it without opening other tables). */
export const FIND_TABLE_SQL =
  'SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES ' +
  'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?'

/**
 * The same, ignoring case: asked only when the exact lookup found nothing, and used only when it
 * finds exactly one table (on a case-sensitive server `Produtos` and `produtos` are two tables).
 */
export const FIND_TABLE_IGNORING_CASE_SQL =
  'SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES ' +
  'WHERE LOWER(TABLE_SCHEMA) = LOWER(?) AND LOWER(TABLE_NAME) = LOWER(?)'

/**
 * Columns of one table, in table order; `CHARACTER_MAXIMUM_LENGTH` is characters for character
 * types, bytes for binary ones.
 */
export const TABLE_COLUMNS_SQL =
  'SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, CHARACTER_SET_NAME, CHARACTER_MAXIMUM_LENGTH ' +
  'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION'
