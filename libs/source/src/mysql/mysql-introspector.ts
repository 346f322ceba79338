/**
 * Looks a stream's source up in the catalogue (tables) or in the result metadata of its query
 * (`query:` streams), so that only names the server itself reported reach SQL text.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { matchColumns } from '../match-columns.js'
import { vouchingIndex } from '../page-boundary-keys.js'
import { runQueryDescribe } from '../read-errors.js'
import { resolveTable } from '../resolve-table.js'
import type { SourceDescription } from '../source-dialect.js'
import { streamSource } from '../stream-source.js'
import { MYSQL_ERRORS, type MysqlConnectionLike, type MysqlFieldLike } from './mysql-driver.js'
import {
  CURRENT_DATABASE_SQL, FIND_TABLE_IGNORING_CASE_SQL, FIND_TABLE_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEX_COLUMNS_SQL,
  buildQueryDescribeSql, quoteQualified, type MysqlSourceObject
} from './mysql-sql.js'
import type { MysqlColumnInfo } from './mysql-values.js'

/** A stream's source as the server describes it. */
export interface MysqlIntrospection {
  readonly source: MysqlSourceObject
  readonly description: SourceDescription
  /** Per stream column, in `stream.columns` order. */
  readonly columns: readonly MysqlColumnInfo[]
  /**
   * The primary key or unique index whose columns are exactly the key's, all NOT NULL: it vouches
   * that the key is unique. Undefined for views, queries and tables without one; their pages are
   * then checked on every page (`MysqlPageSpec.checkKeys`).
   */
  readonly uniqueIndex?: string
}

interface CatalogueColumn {
  readonly name: string
  readonly info: MysqlColumnInfo
}

type Row = unknown[]

async function rows (connection: MysqlConnectionLike, sql: string, values: unknown[]): Promise<Row[]> {
  const [result] = await connection.execute({ sql, rowsAsArray: true }, values)
  return result as Row[]
}

/**
 * Describes a stream's source: resolves the table (or runs the query with `LIMIT 0`), matches
 * every mapped column and the version column, and checks that the key can drive keyset
 * pagination. Errors name the stream, the column and the types.
 */
export async function introspectMysqlStream (connection: MysqlConnectionLike, stream: StreamConfig): Promise<MysqlIntrospection> {
  const source = streamSource(stream)
  return 'table' in source
    ? await introspectTable(connection, stream, source.table)
    : await introspectQuery(connection, stream, source.query)
}

async function introspectTable (connection: MysqlConnectionLike, stream: StreamConfig, table: string): Promise<MysqlIntrospection> {
  const { name: resolved } = await resolveTable(stream, table, {
    naming: 'MySQL/MariaDB names a table as database.table',
    noDefault: 'database and the source URL has none; write it as database.table',
    async defaultQualifier () {
      const [[current]] = await rows(connection, CURRENT_DATABASE_SQL, []) as [[unknown]]
      return current
    },
    find: (database, name, ignoringCase) => rows(connection, ignoringCase ? FIND_TABLE_IGNORING_CASE_SQL : FIND_TABLE_SQL, [database, name]),
    nameOf: (row) => [String(row[0]), String(row[1])]
  })
  const object = quoteQualified(resolved)
  const catalogue = (await rows(connection, TABLE_COLUMNS_SQL, resolved)).map(catalogueColumn)
  const matched = match(stream, { table: resolved }, object, catalogue, `table ${object}`)
  const { key } = matched.description
  const keyNullable = key.some((from) => catalogue.find((c) => c.name === from)?.info.nullable !== false)
  // MySQL column names ignore case
  const uniqueIndex = vouchingIndex(key, await rows(connection, UNIQUE_INDEX_COLUMNS_SQL, resolved), keyNullable, true)
  return uniqueIndex === undefined ? matched : { ...matched, uniqueIndex }
}

async function introspectQuery (connection: MysqlConnectionLike, stream: StreamConfig, query: string): Promise<MysqlIntrospection> {
  const [, fields] = await runQueryDescribe(stream, MYSQL_ERRORS, () => connection.execute({ sql: buildQueryDescribeSql(query), rowsAsArray: true }, []))
  const columns = fields.map((f) => ({ name: f.name, info: fieldColumnInfo(f) }))
  return match(stream, { query }, '(query)', columns, 'the query\'s result')
}

function match (stream: StreamConfig, source: MysqlSourceObject, object: string, available: readonly CatalogueColumn[], where: string): MysqlIntrospection {
  // MySQL column names and aliases ignore case: matchColumns' single case-insensitive match is the same column
  return { source, ...matchColumns(stream, object, available, where) }
}

const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit'])

function catalogueColumn (row: Row): CatalogueColumn {
  const [name, dataType, columnType, isNullable, precision, scale, , maxLength] = row
  const type = String(dataType).toLowerCase()
  const full = String(columnType).toLowerCase()
  const decimal = type === 'decimal' || type === 'numeric'
  return {
    name: String(name),
    info: {
      dataType: type,
      columnType: full,
      nullable: isNullable === 'YES',
      unsigned: /\bunsigned\b/.test(full),
      ...(decimal && precision !== null ? { precision: Number(precision) } : {}),
      ...(decimal && scale !== null ? { scale: Number(scale) } : {}),
      binary: BINARY_TYPES.has(type),
      ...(maxLength === null || maxLength === undefined ? {} : { length: Number(maxLength) })
    }
  }
}

// Protocol column types (include/mysql_com.h enum_field_types) and column flags.
const FIELD_TYPES: Record<number, string> = {
  0: 'decimal', 1: 'tinyint', 2: 'smallint', 3: 'int', 4: 'float', 5: 'double', 6: 'null', 7: 'timestamp',
  8: 'bigint', 9: 'mediumint', 10: 'date', 11: 'time', 12: 'datetime', 13: 'year', 14: 'date', 15: 'varchar',
  16: 'bit', 245: 'json', 246: 'decimal', 247: 'enum', 248: 'set', 249: 'tinytext', 250: 'mediumtext',
  251: 'longtext', 252: 'text', 253: 'varchar', 254: 'char', 255: 'geometry'
}
const TEXT_TYPES = new Set(['varchar', 'char', 'tinytext', 'text', 'mediumtext', 'longtext'])
/** Types whose name carries their length: `varchar(20)`, `varbinary(16)`. */
const SIZED_TYPES = new Set(['varchar', 'char', 'varbinary', 'binary'])
const BYTES_NAMES: Record<string, string> = {
  varchar: 'varbinary', char: 'binary', tinytext: 'tinyblob', mediumtext: 'mediumblob', longtext: 'longblob', text: 'blob'
}
/**
 * Most bytes a character of a result's text takes: the session's results are utf8mb4
 * (`MYSQL_VALUE_OPTIONS`), whatever the columns' own character sets, and the protocol states a
 * text column's length in bytes of it.
 */
const RESULT_BYTES_PER_CHARACTER = 4
const NOT_NULL_FLAG = 1
const UNSIGNED_FLAG = 32
const ENUM_FLAG = 256
const SET_FLAG = 2048
const BINARY_CHARSET = 63

function hasFlag (flags: number | string[], bit: number, name: string): boolean {
  return typeof flags === 'number' ? (flags & bit) !== 0 : flags.includes(name)
}

/** Column facts from result-set metadata (for `query:` streams, which have no catalogue entry). */
export function fieldColumnInfo (field: MysqlFieldLike): MysqlColumnInfo {
  let dataType = FIELD_TYPES[field.columnType ?? -1] ?? `type ${field.columnType ?? '?'}`
  const unsigned = hasFlag(field.flags, UNSIGNED_FLAG, 'UNSIGNED')
  const length = field.columnLength ?? 0
  let binary = dataType === 'bit'
  if (hasFlag(field.flags, ENUM_FLAG, 'ENUM')) dataType = 'enum'
  else if (hasFlag(field.flags, SET_FLAG, 'SET')) dataType = 'set'
  else if (field.characterSet === BINARY_CHARSET && BYTES_NAMES[dataType] !== undefined) {
    dataType = BYTES_NAMES[dataType]!
    binary = true
  }
  if (field.extendedTypeName !== undefined && field.extendedTypeName !== '') dataType = field.extendedTypeName.toLowerCase()
  let columnType = dataType
  let precision: number | undefined
  let scale: number | undefined
  if (dataType === 'decimal') {
    scale = field.decimals
    // display length counts the point and, when signed, the sign
    precision = length - (scale > 0 ? 1 : 0) - (unsigned ? 0 : 1)
    columnType = `decimal(${precision},${scale})`
  } else if (dataType === 'tinyint' && length === 1) {
    columnType = 'tinyint(1)'
  } else if (dataType === 'bit') {
    columnType = `bit(${length})`
  } else if ((dataType === 'datetime' || dataType === 'timestamp' || dataType === 'time') && field.decimals > 0 && field.decimals <= 6) {
    columnType = `${dataType}(${field.decimals})`
  } else if (SIZED_TYPES.has(dataType) && field.columnLength !== undefined) {
    columnType = `${dataType}(${binary ? length : Math.floor(length / RESULT_BYTES_PER_CHARACTER)})`
  }
  if (unsigned) columnType += ' unsigned'
  // a text column's length is in bytes of the result's character set, a binary one's in bytes
  const textual = TEXT_TYPES.has(dataType) || dataType === 'enum' || dataType === 'set'
  const maxLength = binary && dataType !== 'bit' ? length : textual ? Math.floor(length / RESULT_BYTES_PER_CHARACTER) : undefined
  return {
    dataType,
    columnType,
    nullable: !hasFlag(field.flags, NOT_NULL_FLAG, 'NOT_NULL'),
    unsigned,
    ...(precision === undefined ? {} : { precision }),
    ...(scale === undefined ? {} : { scale }),
    binary,
    ...(maxLength === undefined || field.columnLength === undefined ? {} : { length: maxLength })
  }
}
