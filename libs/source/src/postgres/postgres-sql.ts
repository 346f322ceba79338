/**
 * The SQL text the PostgreSQL dialect sends, built by pure functions so tests can assert it to
 * the character. Identifiers reaching these builders come from the catalogue (see
 * postgres-introspector.ts), and are quoted again here all the same; values are always `$n`
 * parameters, typed by the server from the column they are compared with (so a bigint or numeric
 * key parameter is never a double).
 */
import { SourceError } from '../errors.js'
import { AT_AFTER_COLUMN, buildCheckedPageSql, checkedColumnAlias } from '../page-boundary-keys.js'
import { quoteName, wrapQuery } from '../sql-text.js'

/** One selected column: its name as the catalogue spells it. */
export interface PostgresSelectColumn {
  readonly column: string
  /**
   * Select `to_json(column)` instead of the column: PostgreSQL arrays (and composite values)
   * arrive as JSON text the server wrote, rather than in the array literal syntax.
   */
  readonly toJson?: boolean
}

/** A table as `[schema, table]`, or a custom query wrapped as a derived table. */
export type PostgresSourceObject =
  | { readonly table: readonly [schema: string, table: string] }
  | { readonly query: string }

export interface PostgresPageSpec {
  readonly source: PostgresSourceObject
  /** Columns to select, in the order of the stream's columns. */
  readonly columns: readonly PostgresSelectColumn[]
  /** Key column names, in `target.key` order: the ORDER BY and keyset comparison. */
  readonly key: readonly string[]
  /**
   * No primary key or unique index vouches for the key (a view, a query, a table without one on
   * exactly the key columns): the server itself tells which keys are equal (a nondeterministic
   * collation, `citext`). Each row carries `sisporta_same_key` (its key equals the previous
   * row's, `LAG` over the page), and a next page starts *at* the previous page's last key (`>=`)
   * with `sisporta_at_after` (the row is that key), so that a key repeated across the page
   * boundary shows (see page-boundary-keys.ts).
   */
  readonly checkKeys?: boolean
}

/**
 * Quotes one identifier with double quotes, doubling any double quote inside. Quoted names keep
 * their case: the catalogue's spelling is the name.
 *
 * @example
 * quoteIdentifier('Preço "x"') // '"Preço ""x"""'
 */
export function quoteIdentifier (name: string): string {
  return quoteName(name, '"', '"')
}

/** Quotes a dotted name part by part: `['erp', 'products']` → `"erp"."products"`. */
export function quoteQualified (parts: readonly string[]): string {
  return parts.map(quoteIdentifier).join('.')
}

function renderFrom (source: PostgresSourceObject): string {
  return 'table' in source ? quoteQualified(source.table) : wrapQuery(source.query)
}

function renderColumn (c: PostgresSelectColumn, alias?: string): string {
  const name = quoteIdentifier(c.column)
  const as = alias === undefined ? name : quoteIdentifier(alias)
  if (c.toJson === true) return `to_json(${name}) AS ${as}`
  return alias === undefined ? name : `${name} AS ${as}`
}

/**
 * The keyset condition "key greater than the previous page's last key" as a row comparison:
 * `("k1", "k2") > ($1, $2)`. PostgreSQL turns a row comparison into an index range (EXPLAIN on
 * PostgreSQL 15: `Index Cond: (ROW(doc, line) > ROW($1, $2))`, 1,000 rows read for a page of
 * 1,000), while the expanded `k1 > $1 OR (k1 = $2 AND k2 > $3)` becomes a filter over an index
 * scan from the start of the table, reading every earlier row on every page (quadratic). That is
 * the opposite of MariaDB, whose dialect expands. Parameters are the key values, in key order,
 * numbered from `first`.
 */
export function buildKeysetCondition (key: readonly string[], first = 1, inclusive = false): string {
  const op = inclusive ? '>=' : '>'
  if (key.length === 1) return `${quoteIdentifier(key[0]!)} ${op} $${first}`
  const params = key.map((_, i) => `$${first + i}`)
  return `(${key.map(quoteIdentifier).join(', ')}) ${op} (${params.join(', ')})`
}

/**
 * The flag column of a checked next page: true when the row's key equals the `after` key (the
 * parameters numbered from `first`, in key order) as the server compares it.
 *
 * @example
 * buildAtAfterColumn(['doc', 'line']) // '("doc", "line") = ($1, $2) AS "sisporta_at_after"'
 */
export function buildAtAfterColumn (key: readonly string[], first = 1): string {
  const params = key.map((_, i) => `$${first + i}`)
  const equal = key.length === 1 ? `${quoteIdentifier(key[0]!)} = ${params[0]!}` : `(${key.map(quoteIdentifier).join(', ')}) = (${params.join(', ')})`
  return `${equal} AS ${quoteIdentifier(AT_AFTER_COLUMN)}`
}

/**
 * One page of a stream in key order. With `after`, `$1…$k` are the previous page's last key
 * values (in key order) and `$k+1` the page size; without it, `$1` is the page size. With
 * `checkKeys`, the page is wrapped by `buildCheckedPageSql`; with `after` too, it starts at that
 * key and flags its row (`buildAtAfterColumn`).
 *
 * @example
 * buildPageSql({ source: { table: ['erp', 'lines'] }, columns: [{ column: 'doc' }, { column: 'line' }], key: ['doc', 'line'] }, true)
 * // 'SELECT "doc", "line" FROM "erp"."lines" WHERE ("doc", "line") > ($1, $2) ORDER BY "doc", "line" LIMIT $3'
 */
export function buildPageSql (spec: PostgresPageSpec, after: boolean): string {
  if (spec.columns.length === 0 || spec.key.length === 0) {
    throw new SourceError('SIS_SRC_ARGUMENT', 'a page query needs columns and a key')
  }
  const checkKeys = spec.checkKeys === true
  const checked = after && checkKeys
  const select = spec.columns.map((c, i) => renderColumn(c, checkKeys ? checkedColumnAlias(i) : undefined)).join(', ') + (checked ? `, ${buildAtAfterColumn(spec.key)}` : '')
  const where = after ? ` WHERE ${buildKeysetCondition(spec.key, 1, checked)}` : ''
  const orderBy = spec.key.map(quoteIdentifier).join(', ')
  const page = `SELECT ${select} FROM ${renderFrom(spec.source)}${where} ORDER BY ${orderBy} LIMIT $${after ? spec.key.length + 1 : 1}`
  if (!checkKeys) return page
  return buildCheckedPageSql(page, spec.columns.length, spec.key.map((k) => spec.columns.findIndex((c) => c.column === k)), quoteIdentifier, after)
}

/**
 * Valid, total (no predicate), plain-column unique indexes of one table (by oid, `$1`), the
 * primary key among them, a row per key column (INCLUDE columns left out): index name, column
 * name. A view has none.
 */
export const UNIQUE_INDEX_COLUMNS_SQL =
  'SELECT ic.relname, a.attname FROM pg_catalog.pg_index i ' +
  'JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid ' +
  'CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ' +
  'JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ' +
  'WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AND k.n <= i.indnkeyatts ' +
  'ORDER BY ic.relname, k.n'

/** Runs a `query:` stream for its result-set metadata only. */
export function buildQueryDescribeSql (query: string): string {
  return `SELECT * FROM ${wrapQuery(query)} LIMIT 0`
}

/**
 * Run once per connection, before its first statement (one simple-protocol round trip):
 * - every statement is its own read-only READ COMMITTED transaction (no transaction spans pages);
 * - `timestamptz` values are written in UTC (`…+00`), so they convert to the UTC wall clock;
 * - dates in ISO form (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.ffffff]`), whatever the server default;
 * - `bytea` as hex (`\x…`), never the escape format;
 * - floats with enough digits to read back exactly (shortest exact form from PostgreSQL 12 on).
 */
export const SESSION_SQL = [
  'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY',
  "SET TIME ZONE 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET bytea_output = 'hex'",
  'SET extra_float_digits = 3'
].join('; ')

/** The session's first existing schema on the search path (`public` unless the role says otherwise). */
export const CURRENT_SCHEMA_SQL = 'SELECT current_schema()'

const FIND_TABLE_SELECT = 'SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples ' +
  'FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace '
/** Tables, partitioned tables, views, materialized views and foreign tables. */
const READABLE_KINDS = "c.relkind IN ('r', 'p', 'v', 'm', 'f')"

/** One table or view by schema and name, with the catalogue's row estimate (`reltuples`). */
export const FIND_TABLE_SQL = `${FIND_TABLE_SELECT}WHERE n.nspname = $1 AND c.relname = $2 AND ${READABLE_KINDS}`

/**
 * The same, ignoring case: asked only when the exact lookup found nothing (an unquoted
 * `Produtos` is `produtos` in PostgreSQL), and used only when it finds exactly one table.
 */
export const FIND_TABLE_IGNORING_CASE_SQL = `${FIND_TABLE_SELECT}WHERE lower(n.nspname) = lower($1) AND lower(c.relname) = lower($2) AND ${READABLE_KINDS}`

/**
 * The base type of a column: a domain's underlying type (`money4` over `numeric(19,4)`), else the
 * type itself. `t` is the column's type, `b` the base type.
 */
const BASE_TYPE_JOIN = 'LEFT JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = \'d\' THEN t.typbasetype ELSE t.oid END'

/**
 * The base type as PostgreSQL writes it, with its modifier (a domain's own, `numeric(19,4)` for
 * `money4`), given the column's type modifier as `typmod`: where precision, scale and length
 * are read from.
 */
function baseTypeWritten (typmod: string): string {
  return `pg_catalog.format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE ${typmod} END)`
}

/**
 * Columns of one table (by oid), in table order: name, base type name, type as PostgreSQL writes
 * it, NOT NULL (the column's or its domain's), base type category, base type as written with its
 * modifier.
 */
export const TABLE_COLUMNS_SQL =
  `SELECT a.attname, b.typname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull OR t.typnotnull, b.typcategory, ${baseTypeWritten('a.atttypmod')} ` +
  'FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid ' + BASE_TYPE_JOIN + ' ' +
  'WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum'

/**
 * Type names of a result set's columns from their type oids and modifiers (`$1` oid[], `$2`
 * int4[]), one row per column in column order: base type name, type as PostgreSQL writes it,
 * base type category, base type as written with its modifier.
 */
export const RESULT_TYPES_SQL =
  `SELECT b.typname, pg_catalog.format_type(m.type, m.typmod), b.typcategory, ${baseTypeWritten('m.typmod')} ` +
  'FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS m(type, typmod, i) ' +
  'LEFT JOIN pg_catalog.pg_type t ON t.oid = m.type ' + BASE_TYPE_JOIN + ' ORDER BY m.i'
