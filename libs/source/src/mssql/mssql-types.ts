/**
 * SQL Server column types and the wire types each may be read as without loss: the table that
 * `describe` enforces before a load (`SIS_SRC_TYPE`), the form each column is selected in (see
 * `MssqlReadForm`), and which columns can drive keyset pagination (`SIS_SRC_KEY`).
 */
import type { ColumnMapping, WireType } from '@sisporta/contracts'
import { decimalProblem, lengthProblem, notAllowed, wholeNumberProblem } from '../type-fit.js'
import type { MssqlReadForm } from './mssql-sql.js'

/** What the converters need to know about a source column, from the catalogue or a query's result description. */
export interface MssqlColumnInfo {
  /** System type, lower-case: `int`, `decimal`, `nvarchar`, `datetime2`, `rowversion`, … (an alias type's base type). */
  readonly dataType: string
  /** The full type as SQL Server spells it: `decimal(19,4)`, `nvarchar(max)`, `datetime2(7)`. */
  readonly columnType: string
  readonly nullable: boolean
  /** decimal / numeric (money: 19, smallmoney: 10). */
  readonly precision?: number
  /** decimal / numeric digits after the point (money: 4); datetime2 / time / datetimeoffset fractional-second digits. */
  readonly scale?: number
  /** Character types: characters; binary types: bytes; -1 for `(max)`, `text`, `ntext`, `image`, `xml`. */
  readonly length?: number
  /** Collation of character columns (`Latin1_General_CI_AS`). */
  readonly collation?: string
}

/** A column as the catalogue (sys.columns) or `sys.dm_exec_describe_first_result_set` reports it. */
export interface MssqlCatalogueType {
  /** System type name: `decimal`, `nvarchar`, `timestamp`, … */
  readonly type: string
  /** sys.columns.max_length: bytes, -1 for max. */
  readonly maxLength: number
  readonly precision: number
  readonly scale: number
  readonly nullable: boolean
  readonly collation?: string | null
}

const CHAR_TYPES = new Set(['char', 'varchar', 'text'])
const NCHAR_TYPES = new Set(['nchar', 'nvarchar', 'ntext'])
const BINARY_TYPES = new Set(['binary', 'varbinary', 'image'])
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'int'])
const DECIMAL_TYPES = new Set(['decimal', 'numeric'])
const MONEY_TYPES = new Set(['money', 'smallmoney'])
const DATETIME_TYPES = new Set(['datetime', 'smalldatetime', 'datetime2'])
const FRACTIONAL_TYPES = new Set(['datetime2', 'time', 'datetimeoffset'])
const LOB_TYPES = new Set(['text', 'ntext', 'image', 'xml'])
/** Date-times read as `datetime` whose scale may exceed the wire's microseconds (time reads as string only). */
const SEVEN_DIGIT_TYPES = new Set(['datetime2', 'datetimeoffset'])

/**
 * Column facts from the catalogue's numbers: lengths in characters, money as its decimal
 * precision, rowversion under its current name.
 *
 * @example
 * mssqlColumnInfo({ type: 'nvarchar', maxLength: 80, precision: 0, scale: 0, nullable: true, collation: 'Latin1_General_CI_AS' })
 * // { dataType: 'nvarchar', columnType: 'nvarchar(40)', length: 40, … }
 */
export function mssqlColumnInfo (c: MssqlCatalogueType): MssqlColumnInfo {
  const dataType = c.type.toLowerCase() === 'timestamp' ? 'rowversion' : c.type.toLowerCase()
  const collation = c.collation === null || c.collation === undefined || c.collation === '' ? {} : { collation: c.collation }
  const base = { dataType, nullable: c.nullable, ...collation }
  if (CHAR_TYPES.has(dataType) || NCHAR_TYPES.has(dataType) || BINARY_TYPES.has(dataType)) {
    const length = LOB_TYPES.has(dataType) || c.maxLength === -1 ? -1 : NCHAR_TYPES.has(dataType) ? c.maxLength / 2 : c.maxLength
    const columnType = LOB_TYPES.has(dataType) ? dataType : `${dataType}(${length === -1 ? 'max' : length})`
    return { ...base, columnType, length }
  }
  if (DECIMAL_TYPES.has(dataType)) return { ...base, columnType: `${dataType}(${c.precision},${c.scale})`, precision: c.precision, scale: c.scale }
  if (dataType === 'money') return { ...base, columnType: dataType, precision: 19, scale: 4 }
  if (dataType === 'smallmoney') return { ...base, columnType: dataType, precision: 10, scale: 4 }
  if (FRACTIONAL_TYPES.has(dataType)) return { ...base, columnType: `${dataType}(${c.scale})`, scale: c.scale }
  if (dataType === 'rowversion') return { ...base, columnType: dataType, length: 8 }
  if (dataType === 'xml') return { ...base, columnType: dataType, length: -1 }
  return { ...base, columnType: dataType }
}

/** The base type of `sys.dm_exec_describe_first_result_set`'s `system_type_name` (`decimal(19,4)` → `decimal`). */
export function baseTypeName (systemTypeName: string): string {
  return systemTypeName.replace(/\(.*$/, '').trim().toLowerCase()
}

/**
 * The wire types each source type may be declared as. A pair not listed is refused before the
 * load with `SIS_SRC_TYPE`; a listed pair may still check each value (an `int` read as `bool` must
 * hold 0 or 1, text read as `uuid` or `json` must be one). A datetime2(7) / datetimeoffset(7)
 * read as `datetime` is refused unless the column declares `fraction: truncate`.
 *
 * | source                                   | wire types                                  |
 * |------------------------------------------|---------------------------------------------|
 * | tinyint, smallint, int                   | int, bigint, decimal, float, bool, string   |
 * | bigint                                   | bigint, decimal, string                     |
 * | decimal(p,s), numeric(p,s)               | decimal (declared precision/scale hold p,s), int (s = 0, p ≤ 9), bigint (s = 0, p ≤ 18), string |
 * | money, smallmoney                        | decimal (holding 19,4 / 10,4), string       |
 * | real, float                              | float, string                               |
 * | bit                                      | bool, int                                   |
 * | date                                     | date, datetime, string                      |
 * | datetime, smalldatetime, datetime2       | datetime (datetime2(7) only with `fraction: truncate`), string |
 * | datetimeoffset                           | datetime (UTC wall clock; (7) only with `fraction: truncate`), string (with offset) |
 * | time                                     | string                                      |
 * | char, varchar, text, nchar, nvarchar, ntext | string, json, uuid                       |
 * | uniqueidentifier                         | uuid, string                                |
 * | binary, varbinary, image                 | binary, uuid (binary(16) only)              |
 * | rowversion                               | binary, bigint                              |
 * | xml, sql_variant                         | string                                      |
 */
export const MSSQL_WIRE_TYPES: Readonly<Record<string, readonly WireType[]>> = Object.freeze({
  tinyint: ['int', 'bigint', 'decimal', 'float', 'bool', 'string'],
  smallint: ['int', 'bigint', 'decimal', 'float', 'bool', 'string'],
  int: ['int', 'bigint', 'decimal', 'float', 'bool', 'string'],
  bigint: ['bigint', 'decimal', 'string'],
  decimal: ['decimal', 'int', 'bigint', 'string'],
  numeric: ['decimal', 'int', 'bigint', 'string'],
  money: ['decimal', 'string'],
  smallmoney: ['decimal', 'string'],
  real: ['float', 'string'],
  float: ['float', 'string'],
  bit: ['bool', 'int'],
  date: ['date', 'datetime', 'string'],
  datetime: ['datetime', 'string'],
  smalldatetime: ['datetime', 'string'],
  datetime2: ['datetime', 'string'],
  datetimeoffset: ['datetime', 'string'],
  time: ['string'],
  char: ['string', 'json', 'uuid'],
  varchar: ['string', 'json', 'uuid'],
  text: ['string', 'json', 'uuid'],
  nchar: ['string', 'json', 'uuid'],
  nvarchar: ['string', 'json', 'uuid'],
  ntext: ['string', 'json', 'uuid'],
  uniqueidentifier: ['uuid', 'string'],
  binary: ['binary', 'uuid'],
  varbinary: ['binary', 'uuid'],
  image: ['binary'],
  rowversion: ['binary', 'bigint'],
  xml: ['string'],
  sql_variant: ['string']
})

/** Digits before the point an integer type can hold, as decimal(p,0). */
const INTEGER_PRECISION: Readonly<Record<string, number>> = { tinyint: 3, smallint: 5, int: 10, bigint: 19 }

/**
 * Why a source column cannot be read as its declared wire type without loss, or undefined when
 * it can. The reason is for a `SIS_SRC_TYPE` message that names stream and column around it.
 *
 * @example
 * mssqlTypeProblem({ name: 'price', from: 'Preco', type: 'decimal', precision: 10, scale: 2 }, info('decimal(19,4)'))
 * // 'decimal(19,4) needs the declared decimal to hold 15 digits before the point and 4 after; declared precision 10, scale 2'
 */
export function mssqlTypeProblem (column: ColumnMapping, info: MssqlColumnInfo): string | undefined {
  const allowed = MSSQL_WIRE_TYPES[info.dataType]
  if (allowed === undefined) {
    return `source type ${info.columnType} is not supported; convert it in a query: stream (e.g. CONVERT(nvarchar(max), col) or col.ToString())`
  }
  if (!allowed.includes(column.type)) return notAllowed(info.columnType, column.type, allowed)
  if (column.type === 'datetime' && SEVEN_DIGIT_TYPES.has(info.dataType) && (info.scale ?? 7) > 6 && column.fraction !== 'truncate') {
    return `${info.columnType} keeps 7 fractional-second digits (100 ns) and a datetime carries 6 (microseconds): a value with a non-zero 7th digit (most values written by SYSDATETIME()) would fail the load midway; add fraction: truncate to the column to read it cut to the microsecond (never rounded; the values cut are counted and logged per load), or declare it as string to keep all seven digits`
  }
  if (info.dataType === 'xml' || info.dataType === 'sql_variant') return undefined
  switch (column.type) {
    case 'decimal': {
      const [p, s] = decimalShape(info)
      return decimalProblem(column, info.columnType, p - s, s)
    }
    case 'int':
    case 'bigint':
      return DECIMAL_TYPES.has(info.dataType) ? wholeNumberProblem(column.type, info.columnType, info.precision, info.scale) : undefined
    case 'uuid':
      if (BINARY_TYPES.has(info.dataType) && info.columnType !== 'binary(16)') return `a uuid needs exactly 16 bytes: binary(16), not ${info.columnType}`
      return undefined
    case 'string':
      if (!CHAR_TYPES.has(info.dataType) && !NCHAR_TYPES.has(info.dataType)) return undefined
      return lengthProblem(column, info.columnType, info.length === -1 ? 'about 2^30' : info.length, 'characters')
    case 'binary':
      return lengthProblem(column, info.columnType, info.length === -1 ? '2^31' : info.length, 'bytes')
    default:
      return undefined
  }
}

/** Digits (precision, scale) of an exact numeric source type. */
function decimalShape (info: MssqlColumnInfo): [number, number] {
  const integer = INTEGER_PRECISION[info.dataType]
  if (integer !== undefined) return [integer, 0]
  if (info.dataType === 'rowversion') return [19, 0]
  return [info.precision ?? 38, info.scale ?? 0]
}

/**
 * How a column of this source type is selected for this wire type: the driver would hand
 * decimals and money over as doubles and date-times as `Date`s, so those are converted to text by
 * SQL Server; what JavaScript holds exactly is read as stored.
 */
export function mssqlReadForm (type: WireType, info: MssqlColumnInfo): MssqlReadForm {
  const t = info.dataType
  if (DECIMAL_TYPES.has(t)) return 'decimal-text'
  if (MONEY_TYPES.has(t)) return 'money-text'
  if (t === 'bigint') return 'bigint-text'
  if (t === 'date') return 'date-text'
  if (DATETIME_TYPES.has(t)) return 'datetime-text'
  if (t === 'time') return 'time-text'
  if (t === 'datetimeoffset') return type === 'datetime' ? 'utc-datetime-text' : 'offset-text'
  if (t === 'rowversion' && type === 'bigint') return 'rowversion-bigint-text'
  if (t === 'xml') return 'unicode-text'
  if (t === 'sql_variant') return 'variant-text'
  return 'native'
}

/**
 * Whether a key column of this wire type read from this source type can drive keyset
 * pagination exactly; the reason when it cannot. The wire value goes back to SQL Server as the
 * next page's bound and must compare there exactly as the stored value does.
 */
export function mssqlKeyProblem (type: WireType, info: MssqlColumnInfo): string | undefined {
  const t = info.dataType
  if (type === 'json') return 'a json column cannot be a key'
  if (type === 'float' || t === 'real' || t === 'float') return 'a float column cannot be a key (approximate values need not compare equal to their wire value)'
  if (LOB_TYPES.has(t) || t === 'sql_variant' || info.length === -1) return `a ${info.columnType} column cannot be a key (it cannot be indexed or compared)`
  if (t === 'datetimeoffset') return 'a datetimeoffset column cannot be a key; convert it in a query: stream (e.g. CONVERT(datetime2(7), SWITCHOFFSET(col, \'+00:00\')))'
  if (t === 'rowversion') return 'a rowversion changes whenever its row changes, so it cannot identify a row'
  if (type === 'uuid' && (CHAR_TYPES.has(t) || NCHAR_TYPES.has(t))) {
    return `a uuid key read from ${info.columnType} would be lower-cased and could compare differently under the column's collation; declare it as string`
  }
  return undefined
}

/** Whether values of this column are character data (for collation-aware key comparison). */
export function isCharacterType (info: MssqlColumnInfo): boolean {
  return CHAR_TYPES.has(info.dataType) || NCHAR_TYPES.has(info.dataType)
}

/** Whether the driver delivers this column's values as text the server produced (`CONVERT(varchar…)`). */
export function isTextReadForm (form: MssqlReadForm): boolean {
  return form !== 'native'
}

/**
 * The driver types (mssql `TYPES` declarations) a column may arrive as, given how it is
 * selected: a cheap check on a page's result metadata that the source still is what `describe`
 * saw. Undefined: anything goes.
 */
export function expectedDriverTypes (form: MssqlReadForm, info: MssqlColumnInfo): readonly string[] | undefined {
  if (form === 'unicode-text' || form === 'variant-text') return ['nvarchar', 'ntext']
  if (isTextReadForm(form)) return ['varchar', 'char']
  const t = info.dataType
  if (INTEGER_TYPES.has(t)) return ['tinyint', 'smallint', 'int']
  if (t === 'bit') return ['bit']
  if (t === 'real' || t === 'float') return ['real', 'float']
  if (t === 'uniqueidentifier') return ['uniqueidentifier']
  if (CHAR_TYPES.has(t) || NCHAR_TYPES.has(t)) return ['char', 'varchar', 'text', 'nchar', 'nvarchar', 'ntext']
  if (BINARY_TYPES.has(t) || t === 'rowversion') return ['binary', 'varbinary', 'image']
  return undefined
}
