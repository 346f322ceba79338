/**
 * PostgreSQL column types and the wire types each may be read as without loss: the table that
 * `describe` enforces before a load (`SIS_SRC_TYPE`), in the shape of SQL Server's
 * (mssql-types.ts), with digits, ranges and lengths judged by type-fit.ts. Types are known by
 * their base type (a domain's underlying type) and its modifier.
 */
import type { ColumnMapping, WireType } from '@sisporta/contracts'
import {
  decimalProblem, integerRange, integerRangeProblem, lengthProblem, notAllowed, rangeDigits, wholeNumberProblem,
  type IntegerRange
} from '../type-fit.js'
import type { PostgresColumnInfo } from './postgres-values.js'

const SMALL_INTEGERS: readonly WireType[] = ['int', 'bigint', 'decimal', 'float', 'bool', 'string']
const TEXT: readonly WireType[] = ['string', 'json', 'uuid']
const BITS: readonly WireType[] = ['bool', 'int', 'bigint', 'decimal', 'string']

/**
 * The wire types each base type may be declared as. A pair not listed is refused before the
 * load with `SIS_SRC_TYPE`; a listed pair may still check each value (an integer read as `bool`
 * must hold 0 or 1, text read as `uuid` or `json` must be one, a bare `numeric` must fit the
 * declared decimal).
 *
 * | source                                   | wire types                                  |
 * |------------------------------------------|---------------------------------------------|
 * | smallint, integer                        | int, bigint, decimal, float, bool, string   |
 * | bigint                                   | bigint, decimal, bool, string               |
 * | oid                                      | bigint, decimal, string                     |
 * | numeric(p,s)                             | decimal (declared precision/scale hold p,s), int (s = 0, p ≤ 9), bigint (s = 0, p ≤ 18), string |
 * | numeric (no precision)                   | decimal (each value checked), string        |
 * | real, double precision                   | float, string                               |
 * | boolean                                  | bool, string                                |
 * | date                                     | date, datetime, string                      |
 * | timestamp(n), timestamptz(n)             | datetime (timestamptz: the UTC wall clock), string |
 * | time, timetz, interval, money, xml       | string                                      |
 * | text, varchar(n), char(n), name          | string (declared length ≥ n), json, uuid    |
 * | uuid                                     | uuid, string                                |
 * | bytea                                    | binary, uuid (each value: 16 bytes)         |
 * | json, jsonb                              | json, string                                |
 * | bit(n), bit varying(n)                   | bool, int (n ≤ 31), bigint (n ≤ 63), decimal, string |
 * | arrays, composite types                  | json                                        |
 * | enums and every other type (inet, ranges, …) | string (their text)                     |
 */
export const POSTGRES_WIRE_TYPES: Readonly<Record<string, readonly WireType[]>> = Object.freeze({
  int2: SMALL_INTEGERS,
  int4: SMALL_INTEGERS,
  int8: ['bigint', 'decimal', 'bool', 'string'],
  oid: ['bigint', 'decimal', 'string'],
  numeric: ['decimal', 'int', 'bigint', 'string'],
  float4: ['float', 'string'],
  float8: ['float', 'string'],
  bool: ['bool', 'string'],
  date: ['date', 'datetime', 'string'],
  timestamp: ['datetime', 'string'],
  timestamptz: ['datetime', 'string'],
  time: ['string'],
  timetz: ['string'],
  interval: ['string'],
  money: ['string'],
  xml: ['string'],
  text: TEXT,
  varchar: TEXT,
  bpchar: TEXT,
  name: TEXT,
  char: TEXT,
  uuid: ['uuid', 'string'],
  bytea: ['binary', 'uuid'],
  json: ['json', 'string'],
  jsonb: ['json', 'string'],
  bit: BITS,
  varbit: BITS
})

const INTEGER_RANGES: Readonly<Record<string, IntegerRange>> = {
  int2: integerRange(16, false),
  int4: integerRange(32, false),
  int8: integerRange(64, false),
  oid: integerRange(32, true)
}
const CHARACTER_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'char'])

/** The wire types a column may be declared as; undefined for a type the catalogue could not name. */
function allowedTypes (info: PostgresColumnInfo): readonly WireType[] | undefined {
  // arrays and composite values arrive as the JSON the server writes for them
  if (info.category === 'A' || info.category === 'C') return ['json']
  const listed = POSTGRES_WIRE_TYPES[info.dataType]
  if (listed !== undefined) return listed
  // every type has a text form that reads back as the same value: enums, inet, ranges, tsvector, …
  return info.dataType.startsWith('type ') ? undefined : ['string']
}

/** The values of an integer or bit string type; undefined for a bit string of any length. */
function rangeOf (info: PostgresColumnInfo): IntegerRange | undefined {
  const range = INTEGER_RANGES[info.dataType]
  if (range !== undefined) return range
  return info.length === undefined ? undefined : integerRange(info.length, true)
}

/**
 * Why a source column cannot be read as its declared wire type without loss, or undefined when
 * it can. The reason is for a `SIS_SRC_TYPE` message that names stream and column around it.
 *
 * @example
 * postgresTypeProblem({ name: 'qty', from: 'qty', type: 'int' }, { dataType: 'varchar', columnType: 'character varying(20)', … })
 * // 'source type character varying(20) cannot be read as int without loss; it maps to string, json, uuid'
 */
export function postgresTypeProblem (column: ColumnMapping, info: PostgresColumnInfo): string | undefined {
  const allowed = allowedTypes(info)
  if (allowed === undefined) return `source type ${info.columnType} is not supported; convert it in a query: stream (e.g. col::text)`
  if (!allowed.includes(column.type)) return notAllowed(info.columnType, column.type, allowed)
  const numeric = info.dataType === 'numeric'
  switch (column.type) {
    case 'int':
    case 'bigint':
      return numeric ? wholeNumberProblem(column.type, info.columnType, info.precision, info.scale) : integerRangeProblem(column.type, info.columnType, rangeOf(info))
    case 'decimal': {
      if (numeric) {
        // a numeric without precision states no maximum: its values are checked one by one
        if (info.precision === undefined || info.scale === undefined) return undefined
        return decimalProblem(column, info.columnType, Math.max(info.precision - info.scale, 0), Math.max(info.scale, 0))
      }
      const range = rangeOf(info)
      return range === undefined ? undefined : decimalProblem(column, info.columnType, rangeDigits(range), 0)
    }
    case 'string':
      return CHARACTER_TYPES.has(info.dataType) ? lengthProblem(column, info.columnType, info.length, 'characters') : undefined
    default:
      // bytea states no length: a declared binary length is checked value by value
      return undefined
  }
}
