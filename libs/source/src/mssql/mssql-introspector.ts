/**
 * Looks a stream's source up in SQL Server's catalogue (tables and views) or in the described
 * first result set of its query (`query:` streams), so that only names the server itself reported
 * reach T-SQL text; and finds the unique index that makes the key safe for keyset pagination.
 * What the login could do besides reading: mssql-write-access.ts; what the server filters or
 * masks: mssql-silent-filters.ts.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import { matchColumns, type AvailableColumn } from '../match-columns.js'
import type { SourceDescription } from '../source-dialect.js'
import { streamSource } from '../stream-source.js'
import type { MssqlRows } from './mssql-driver.js'
import {
  DATABASE_SQL, DESCRIBE_QUERY_SQL,
  TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL, buildQueryDescribeSql, quoteQualified, type MssqlParameter
} from './mssql-sql.js'
import { baseTypeName, mssqlColumnInfo, type MssqlColumnInfo } from './mssql-types.js'
import { keyIndex } from './mssql-key-checks.js'
import { resolveMssqlObject } from './mssql-resolve-object.js'

/** Runs one statement with named parameters (the dialect's pooled, error-wrapping runner). */
export type MssqlRunner = (sql: string, params?: readonly MssqlParameter[]) => Promise<MssqlRows>

/** The connected database, asked once per dialect. */
export interface MssqlDatabaseFacts {
  readonly name: string
  /** `ALLOW_SNAPSHOT_ISOLATION` is ON: pages read at SNAPSHOT isolation. */
  readonly snapshotIsolation: boolean
  /** `READ_COMMITTED_SNAPSHOT` is ON: READ COMMITTED reads row versions too. */
  readonly readCommittedSnapshot: boolean
  /** `READ_ONLY` on a readable secondary replica (or a read-only database). */
  readonly updateability: string
  readonly version: string
  /** The login and the database user it maps to, for messages. */
  readonly login: string
  readonly user: string
}

/** A stream's source as the server resolved it. */
export type MssqlStreamSource =
  | { readonly table: readonly [schema: string, name: string], readonly objectId: number, readonly kind: 'table' | 'view' }
  | { readonly query: string }

export interface MssqlIntrospection {
  readonly source: MssqlStreamSource
  readonly description: SourceDescription
  /** Per stream column, in `stream.columns` order. */
  readonly columns: readonly MssqlColumnInfo[]
  /**
   * The primary key or unique index that makes the key unique; undefined for views without one
   * and for queries, whose keys are checked page by page while reading.
   */
  readonly uniqueIndex?: string
}

const nvarchar = (name: string, value: string | null, length = 128): MssqlParameter => ({ name, type: { kind: 'nvarchar', length }, value })
const int = (name: string, value: number): MssqlParameter => ({ name, type: { kind: 'int' }, value })

/** The connected database's name, isolation settings, updateability, version, login and user. */
export async function readMssqlDatabase (run: MssqlRunner): Promise<MssqlDatabaseFacts> {
  const { rows } = await run(DATABASE_SQL)
  const row = rows[0]
  if (row === undefined) throw new SourceError('SIS_SRC_CONNECT', 'the SQL Server source did not describe its database (sys.databases has no row for DB_ID())')
  const [name, snapshot, rcsi, updateability, version, login, user] = row
  return Object.freeze({
    name: String(name),
    snapshotIsolation: snapshot === 'ON',
    readCommittedSnapshot: rcsi === true || rcsi === 1,
    updateability: String(updateability ?? ''),
    version: String(version ?? ''),
    login: String(login ?? ''),
    user: String(user ?? '')
  })
}

/**
 * Describes a stream's source: resolves the table or view (or describes the query's result
 * set without running it), matches every mapped column and the version column, and for a table
 * finds the unique index that covers the key. Errors name the stream, the column and the types.
 */
export async function introspectMssqlStream (run: MssqlRunner, stream: StreamConfig, database: MssqlDatabaseFacts): Promise<MssqlIntrospection> {
  const source = streamSource(stream)
  return 'table' in source
    ? await introspectTable(run, stream, source.table, database)
    : await introspectQuery(run, stream, source.query)
}

async function introspectTable (run: MssqlRunner, stream: StreamConfig, table: string, database: MssqlDatabaseFacts): Promise<MssqlIntrospection> {
  const { table: resolved, objectId, kind } = await resolveMssqlObject(run, stream, table, database)
  const object = quoteQualified(resolved)
  const catalogue = (await run(TABLE_COLUMNS_SQL, [int('object_id', Number(objectId))])).rows.map(catalogueColumn)
  const matched = matchColumns(stream, object, catalogue, `${kind} ${object}`)
  const indexes = uniqueIndexes((await run(UNIQUE_INDEXES_SQL, [int('object_id', Number(objectId))])).rows)
  const covering = keyIndex(stream, object, matched.description.key, indexes)
  if (covering === undefined && kind === 'table') {
    const known = indexes.length === 0
      ? 'it has no primary key or unique index'
      : `its unique indexes are ${indexes.map((i) => `${i.name} (${i.columns.join(', ')})`).join('; ')}`
    throw new SourceError('SIS_SRC_KEY',
      `stream '${stream.name}': target.key (${stream.target.key.join(', ')}) from ${object} (${matched.description.key.join(', ')}) is not known to be unique: no primary key or unique index covers it, and ${known}. Keyset pagination would skip rows that share a key: map the key of a unique index, add one, or read through a query: stream (checked while reading)`,
      { stream: stream.name })
  }
  return {
    source: { table: resolved, objectId: Number(objectId), kind },
    description: matched.description,
    columns: matched.columns,
    ...(covering === undefined ? {} : { uniqueIndex: covering.name })
  }
}

async function introspectQuery (run: MssqlRunner, stream: StreamConfig, query: string): Promise<MssqlIntrospection> {
  const { rows } = await run(DESCRIBE_QUERY_SQL, [nvarchar('tsql', buildQueryDescribeSql(query), -1)])
  const failed = rows.find((r) => r[7] !== null && r[7] !== undefined)
  if (failed !== undefined) {
    throw new SourceError('SIS_SRC_QUERY', `stream '${stream.name}': the source query cannot run: SQL Server error ${String(failed[7])}: ${String(failed[8])}${queryHint(query, Number(failed[7]))}`, { stream: stream.name })
  }
  if (rows.length === 0) {
    throw new SourceError('SIS_SRC_QUERY', `stream '${stream.name}': the source query returns no result set`, { stream: stream.name })
  }
  const available: AvailableColumn<MssqlColumnInfo>[] = rows.map(([name, systemType, maxLength, precision, scale, nullable, collation]) => ({
    name: String(name),
    info: mssqlColumnInfo({
      type: baseTypeName(String(systemType)),
      maxLength: Number(maxLength),
      precision: Number(precision),
      scale: Number(scale),
      nullable: nullable === true || nullable === 1,
      collation: collation === null ? null : String(collation)
    })
  }))
  const matched = matchColumns(stream, '(query)', available, 'the query\'s result')
  return { source: { query }, description: matched.description, columns: matched.columns }
}

/** What to do about the usual reasons a query cannot be wrapped as a derived table. */
function queryHint (query: string, errorNumber: number): string {
  if (/^\s*with\b/i.test(query)) return ' (a query that starts with WITH cannot be wrapped as a derived table: write the CTE as a subquery, or create a view)'
  if (errorNumber === 1033) return ' (remove the ORDER BY: sisporta orders every page by the key)'
  if (errorNumber === 8155) return ' (give every computed column a name with AS)'
  if (errorNumber === 8156) return ' (two result columns share a name: alias one of them)'
  return ''
}

function catalogueColumn (row: unknown[]): AvailableColumn<MssqlColumnInfo> {
  const [name, type, maxLength, precision, scale, nullable, collation] = row
  return {
    name: String(name),
    info: mssqlColumnInfo({
      type: String(type),
      maxLength: Number(maxLength),
      precision: Number(precision),
      scale: Number(scale),
      nullable: nullable === true || nullable === 1,
      collation: collation === null || collation === undefined ? null : String(collation)
    })
  }
}

interface UniqueIndex {
  readonly name: string
  readonly columns: readonly string[]
}

/** Rows `[index_id, name, is_primary_key, column]` (key columns in order) grouped by index. */
function uniqueIndexes (rows: unknown[][]): UniqueIndex[] {
  const byId = new Map<number, { name: string, columns: string[] }>()
  for (const [id, name, , column] of rows) {
    let index = byId.get(Number(id))
    if (index === undefined) byId.set(Number(id), index = { name: String(name), columns: [] })
    index.columns.push(String(column))
  }
  return [...byId.values()]
}
