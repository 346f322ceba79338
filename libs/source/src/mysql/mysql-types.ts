/**
 * MySQL/MariaDB column types and the wire types each may be read as without loss: the table that
 * `describe` enforces before a load (`SIS_SRC_TYPE`), in the shape of SQL Server's
 * (mssql-types.ts), with digits, ranges and lengths judged by type-fit.ts.
 */
import { WIRE_TYPES, type ColumnMapping, type WireType } from '@sisporta/contracts'
import {
  decimalProblem, integerRange, integerRangeProblem, lengthProblem, notAllowed, rangeDigits, wholeNumberProblem,
  type IntegerRange
} from '../type-fit.js'
import type { MysqlColumnInfo } from './mysql-values.js'

const NUMBERS: readonly WireType[] = ['int', 'bigint', 'decimal', 'float', 'bool', 'string']
const TEXT: readonly WireType[] = ['string', 'json', 'uuid']
const BYTES: readonly WireType[] = ['binary', 'uuid']

/**
 * The wire types each source type may be declared as. A pair not listed is refused before the
 * load with `SIS_SRC_TYPE`; a listed pair may still check each value (an `int` read as `bool`
 * must hold 0 or 1, text read as `uuid` or `json` must be one, a `datetime` read as `datetime`
 * keeps its digits).
 *
 * | source                                         | wire types                                   |
 * |------------------------------------------------|----------------------------------------------|
 * | tinyint, smallint, mediumint, int (signed or unsigned) | int (unless int unsigned), bigint, decimal, float, bool, string |
 * | bigint                                         | bigint (signed only), decimal, bool, string   |
 * | year                                           | int, bigint, decimal, string                  |
 * | decimal(p,s), numeric(p,s)                     | decimal (declared precision/scale hold p,s), int (s = 0, p ≤ 9), bigint (s = 0, p ≤ 18), string |
 * | float, double                                  | float, string                                 |
 * | bit(n)                                         | bool, int (n ≤ 31), bigint (n ≤ 63), decimal, binary |
 * | date                                           | date, datetime, string                        |
 * | datetime(n), timestamp(n)                      | datetime, string                              |
 * | time                                           | string                                        |
 * | char, varchar, tinytext … longtext             | string (declared length ≥ the column's), json, uuid |
 * | enum, set                                      | string                                        |
 * | json (MySQL; MariaDB's is longtext)            | json, string                                  |
 * | uuid (MariaDB)                                 | uuid, string                                  |
 * | inet4, inet6 (MariaDB)                         | string                                        |
 * | binary, varbinary, tinyblob … longblob         | binary (declared length ≥ the column's), uuid (binary(16) only) |
 * | NULL (a query's `SELECT NULL AS c`)            | any                                           |
 *
 * Spatial types and anything else: convert them in a query (`ST_AsText(col)`).
 */
export const MYSQL_WIRE_TYPES: Readonly<Record<string, readonly WireType[]>> = Object.freeze({
  tinyint: NUMBERS,
  smallint: NUMBERS,
  mediumint: NUMBERS,
  int: NUMBERS,
  integer: NUMBERS,
  bigint: ['bigint', 'decimal', 'bool', 'string'],
  year: ['int', 'bigint', 'decimal', 'string'],
  decimal: ['decimal', 'int', 'bigint', 'string'],
  numeric: ['decimal', 'int', 'bigint', 'string'],
  float: ['float', 'string'],
  double: ['float', 'string'],
  real: ['float', 'string'],
  bit: ['bool', 'int', 'bigint', 'decimal', 'binary'],
  date: ['date', 'datetime', 'string'],
  datetime: ['datetime', 'string'],
  timestamp: ['datetime', 'string'],
  time: ['string'],
  char: TEXT,
  varchar: TEXT,
  tinytext: TEXT,
  text: TEXT,
  mediumtext: TEXT,
  longtext: TEXT,
  enum: ['string'],
  set: ['string'],
  json: ['json', 'string'],
  uuid: ['uuid', 'string'],
  inet4: ['string'],
  inet6: ['string'],
  binary: BYTES,
  varbinary: BYTES,
  tinyblob: BYTES,
  blob: BYTES,
  mediumblob: BYTES,
  longblob: BYTES,
  null: WIRE_TYPES
})

const INTEGER_BITS: Readonly<Record<string, number>> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 }
const CHARACTER_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'])
const DECIMAL_TYPES = new Set(['decimal', 'numeric'])

/** The values an integer source type (or `bit(n)`, `year`) holds; undefined for other types. */
function rangeOf (info: MysqlColumnInfo): IntegerRange | undefined {
  const bits = INTEGER_BITS[info.dataType]
  if (bits !== undefined) return integerRange(bits, info.unsigned)
  if (info.dataType === 'year') return [0n, 2155n]
  if (info.dataType === 'bit') return integerRange(bitWidth(info), true)
  return undefined
}

/** n of `bit(n)` (1 when the type says no more). */
function bitWidth (info: MysqlColumnInfo): number {
  return Number(/^bit\((\d+)\)/.exec(info.columnType)?.[1] ?? 1)
}

/**
 * Why a source column cannot be read as its declared wire type without loss, or undefined when
 * it can. The reason is for a `SIS_SRC_TYPE` message that names stream and column around it.
 *
 * @example
 * mysqlTypeProblem({ name: 'qty', from: 'qty', type: 'int' }, { dataType: 'varchar', columnType: 'varchar(20)', … })
 * // 'source type varchar(20) cannot be read as int without loss; it maps to string, json, uuid'
 */
export function mysqlTypeProblem (column: ColumnMapping, info: MysqlColumnInfo): string | undefined {
  const allowed = MYSQL_WIRE_TYPES[info.dataType]
  if (allowed === undefined) {
    return `source type ${info.columnType} is not supported; convert it in a query: stream (e.g. ST_AsText(col) or CAST(col AS CHAR))`
  }
  if (!allowed.includes(column.type)) return notAllowed(info.columnType, column.type, allowed)
  switch (column.type) {
    case 'int':
    case 'bigint':
      if (DECIMAL_TYPES.has(info.dataType)) return wholeNumberProblem(column.type, info.columnType, info.precision, info.scale)
      return info.dataType === 'null' ? undefined : integerRangeProblem(column.type, info.columnType, rangeOf(info))
    case 'decimal': {
      if (DECIMAL_TYPES.has(info.dataType)) {
        const { precision, scale } = info
        return precision === undefined || scale === undefined ? undefined : decimalProblem(column, info.columnType, precision - scale, scale)
      }
      const range = rangeOf(info)
      return range === undefined ? undefined : decimalProblem(column, info.columnType, rangeDigits(range), 0)
    }
    case 'uuid':
      if (info.binary && info.columnType !== 'binary(16)') return `a uuid needs exactly 16 bytes: binary(16), not ${info.columnType}`
      return undefined
    case 'string':
      return CHARACTER_TYPES.has(info.dataType) ? lengthProblem(column, info.columnType, info.length, 'characters') : undefined
    case 'binary':
      return lengthProblem(column, info.columnType, info.dataType === 'bit' ? Math.ceil(bitWidth(info) / 8) : info.length, 'bytes')
    default:
      return undefined
  }
}
