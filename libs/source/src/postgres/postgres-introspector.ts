/**
 * Looks a stream's source up in the catalogue (tables) or in the result metadata of its query
 * (`query:` streams), so that only names the server itself reported reach SQL text.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import { matchColumns, type AvailableColumn } from '../match-columns.js'
import { vouchingIndex } from '../page-boundary-keys.js'
import { runQueryDescribe } from '../read-errors.js'
import { resolveTable } from '../resolve-table.js'
import type { SourceDescription } from '../source-dialect.js'
import { streamSource } from '../stream-source.js'
import { POSTGRES_ERRORS, type PostgresClientLike, type PostgresFieldLike } from './postgres-driver.js'
import {
  CURRENT_SCHEMA_SQL, FIND_TABLE_IGNORING_CASE_SQL, FIND_TABLE_SQL, RESULT_TYPES_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEX_COLUMNS_SQL,
  buildQueryDescribeSql, quoteQualified, type PostgresSourceObject
} from './postgres-sql.js'
import type { PostgresColumnInfo } from './postgres-values.js'

/** A stream's source as the server describes it. */
export interface PostgresIntrospection {
  readonly source: PostgresSourceObject
  readonly description: SourceDescription
  /** Per stream column, in `stream.columns` order. */
  readonly columns: readonly PostgresColumnInfo[]
  /**
   * The primary key or unique index whose columns are exactly the key's, all NOT NULL: it vouches
   * that the key is unique. Undefined for views, queries and tables without one; their pages are
   * then checked on every page (`PostgresPageSpec.checkKeys`).
   */
  readonly uniqueIndex?: string
}

type Row = unknown[]

async function rows (client: PostgresClientLike, text: string, values: unknown[]): Promise<Row[]> {
  return (await client.query({ text, values, rowMode: 'array' })).rows as Row[]
}

/**
 * Describes a stream's source: resolves the table (or runs the query with `LIMIT 0`), matches
 * every mapped column and the version column, and checks that the key can drive keyset
 * pagination. Errors name the stream, the column and the types.
 */
export async function introspectPostgresStream (client: PostgresClientLike, stream: StreamConfig): Promise<PostgresIntrospection> {
  const source = streamSource(stream)
  return 'table' in source
    ? await introspectTable(client, stream, source.table)
    : await introspectQuery(client, stream, source.query)
}

async function introspectTable (client: PostgresClientLike, stream: StreamConfig, table: string): Promise<PostgresIntrospection> {
  const { row: [oid], name: resolved } = await resolveTable(stream, table, {
    naming: 'PostgreSQL names a table as schema.table (the database is the source URL\'s)',
    noDefault: 'schema and the session\'s search_path has no existing schema; write it as schema.table',
    async defaultQualifier () {
      const [[current]] = await rows(client, CURRENT_SCHEMA_SQL, []) as [[unknown]]
      return current
    },
    find: (schema, name, ignoringCase) => rows(client, ignoringCase ? FIND_TABLE_IGNORING_CASE_SQL : FIND_TABLE_SQL, [schema, name]),
    nameOf: (row) => [String(row[1]), String(row[2])]
  })
  const object = quoteQualified(resolved)
  const catalogue = (await rows(client, TABLE_COLUMNS_SQL, [oid])).map(catalogueColumn)
  const matched = matchColumns(stream, object, catalogue, `table ${object}`)
  const { key } = matched.description
  const keyNullable = key.some((from) => catalogue.find((c) => c.name === from)?.info.nullable !== false)
  const uniqueIndex = vouchingIndex(key, await rows(client, UNIQUE_INDEX_COLUMNS_SQL, [oid]), keyNullable)
  return { source: { table: resolved }, ...matched, ...(uniqueIndex === undefined ? {} : { uniqueIndex }) }
}

async function introspectQuery (client: PostgresClientLike, stream: StreamConfig, query: string): Promise<PostgresIntrospection> {
  // extended protocol: the query text runs as one statement, never as several
  const { fields } = await runQueryDescribe(stream, POSTGRES_ERRORS, () => client.query({ text: buildQueryDescribeSql(query), rowMode: 'array', queryMode: 'extended' }))
  const types = await rows(client, RESULT_TYPES_SQL, [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier)])
  const columns = fields.map((f, i) => ({ name: f.name, info: resultColumnInfo(f, types[i]) }))
  const matched = matchColumns(stream, '(query)', columns, 'the query\'s result')
  // `SELECT a.id, b.id` runs, but the wrapped query could not tell which `id` to page on
  for (const column of matched.description.columns) {
    if (columns.filter((c) => c.name === column.from).length > 1) {
      throw new SourceError('SIS_SRC_QUERY', `stream '${stream.name}': the query's result has more than one column named '${column.from}' (mapped to column '${column.name}'); give them distinct aliases`, { stream: stream.name, column: column.name })
    }
  }
  return { source: { query }, ...matched }
}

function catalogueColumn (row: Row): AvailableColumn<PostgresColumnInfo> {
  const [name, dataType, columnType, notNull, category, baseWritten] = row
  return {
    name: String(name),
    info: { dataType: String(dataType), columnType: String(columnType), nullable: notNull !== 't', category: String(category), ...typeLimits(String(dataType), baseWritten) }
  }
}

const MODIFIER = /\((-?\d+)(?:,\s*(-?\d+))?\)/

/**
 * Precision and scale of a numeric, length of a character or bit string type, from the base
 * type as PostgreSQL writes it with its modifier (`numeric(19,4)`, `character varying(40)`,
 * `bit(8)`); none for a type written without one (`numeric`, `text`, `bit varying`).
 */
export function typeLimits (dataType: string, baseWritten: unknown): Pick<PostgresColumnInfo, 'precision' | 'scale' | 'length'> {
  // `name` is 63 bytes at most, so 63 characters at most; "char" is one byte
  if (dataType === 'name') return { length: 63 }
  if (dataType === 'char') return { length: 1 }
  const m = typeof baseWritten === 'string' ? MODIFIER.exec(baseWritten) : null
  if (m === null) return {}
  if (dataType === 'numeric') return { precision: Number(m[1]), scale: Number(m[2] ?? 0) }
  if (dataType === 'varchar' || dataType === 'bpchar' || dataType === 'bit' || dataType === 'varbit') return { length: Number(m[1]) }
  return {}
}

/**
 * Column facts from result-set metadata (for `query:` streams, which have no catalogue entry)
 * and the type names the catalogue gave for its type oid. PostgreSQL's result metadata does not
 * say whether a column can be NULL (an outer join can make any column nullable), so query
 * columns are reported nullable.
 */
export function resultColumnInfo (field: PostgresFieldLike, type: Row | undefined): PostgresColumnInfo {
  const [dataType, columnType, category, baseWritten] = type ?? []
  return {
    dataType: typeof dataType === 'string' ? dataType : `type ${field.dataTypeID}`,
    columnType: typeof columnType === 'string' ? columnType : `type ${field.dataTypeID}`,
    nullable: true,
    category: typeof category === 'string' ? category : 'X',
    ...(typeof dataType === 'string' ? typeLimits(dataType, baseWritten) : {})
  }
}
