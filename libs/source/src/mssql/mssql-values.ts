/**
 * SQL Server values ⇄ the wire format. Pure functions over what the mssql driver (tedious)
 * hands back for the select list `mssqlReadForm` chooses:
 *
 * | source                                    | selected as                  | arrives as          |
 * |-------------------------------------------|------------------------------|---------------------|
 * | tinyint, smallint, int                    | stored                       | number              |
 * | bigint                                    | `CONVERT(varchar(20), …)`    | string of digits    |
 * | decimal, numeric                          | `CONVERT(varchar(64), …)`    | string, every digit of the scale |
 * | money, smallmoney                         | `CONVERT(varchar(64), …, 2)` | string, four decimals |
 * | real / float                              | stored                       | number (real widened from single precision) |
 * | bit                                       | stored                       | boolean             |
 * | date                                      | `CONVERT(varchar(10), …, 23)`  | `yyyy-mm-dd`        |
 * | datetime, smalldatetime, datetime2(n)     | `CONVERT(varchar(27), …, 121)` | `yyyy-mm-dd hh:mi:ss[.f…]`, n digits (the 7th cut with `fraction: truncate`) |
 * | datetimeoffset(n) as datetime             | UTC, `CONVERT(varchar(27), …, 121)` | as above      |
 * | time(n), datetimeoffset as string         | `CONVERT(varchar(…), …, 121)`  | string              |
 * | char, varchar, text, nchar, nvarchar, ntext | stored; non-key char/varchar/text as CONVERT(nvarchar) | string (SQL Server converts from the column's code page; see mssql-key-checks.ts for keys) |
 * | uniqueidentifier                          | stored                       | upper-case string   |
 * | binary, varbinary, image, rowversion      | stored                       | Buffer              |
 * | xml as string                             | `CONVERT(nvarchar(max), …)`  | string              |
 * | sql_variant as string                     | text by base type (`renderVariantText`) | string     |
 */
import type { WireType, WireValue } from '@sisporta/contracts'
import type { ValueConverter } from '../convert-rows.js'
import {
  bytesToBase64, fail, isWireDate, numberToDecimalText, parseJsonExact, shortestFloat32, toInt32, toInt64Text,
  toUuidText, toWireDateTime, uuidTextToBytes
} from '../wire-convert.js'
import type { MssqlKeyComparison, MssqlParameterType, MssqlReadForm, MssqlScalarType } from './mssql-sql.js'
import { mssqlReadForm, type MssqlColumnInfo } from './mssql-types.js'

/** `CONVERT(varchar, decimal)` writes `0.5` as `.5` for some scales: both are read. */
const SQL_DECIMAL_TEXT = /^(-?)(\d*)(?:\.(\d+))?$/

function unexpected (value: unknown): never {
  return fail(`arrived as an unexpected ${value instanceof Uint8Array ? 'byte string' : value instanceof Date ? 'Date' : typeof value}`)
}

/**
 * Decimal text as SQL Server writes it (`-0.0100`, `.5`, `-.5`, `123`) in the wire's
 * `-?digits[.digits]`, every digit kept.
 */
export function sqlDecimalToWire (text: string): string {
  const m = SQL_DECIMAL_TEXT.exec(text)
  if (m === null || (m[2] === '' && m[3] === undefined)) return fail('is not a decimal number')
  return `${m[1]!}${m[2] === '' ? '0' : m[2]!}${m[3] === undefined ? '' : `.${m[3]}`}`
}

/**
 * A SQL Server date-time text (`yyyy-mm-dd hh:mi:ss[.fffffff]`, space or `T`) as the wire's
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]`. The wire carries microseconds; a datetime2(7) value has a 7th
 * digit (100 ns): a zero 7th digit is dropped, any other is an error — never rounded away.
 *
 * @example
 * sqlDateTimeToWire('2024-02-29 23:59:59.1234560') // '2024-02-29T23:59:59.123456'
 * sqlDateTimeToWire('2024-02-29 23:59:59.1234567') // throws: a 7th fractional digit
 */
export function sqlDateTimeToWire (text: string): string {
  let s = text
  if (s.length === 27 && s.charCodeAt(19) === 46 /* . */) {
    if (s.charCodeAt(26) !== 48 /* 0 */) {
      return fail('has a 7th fractional digit (100 ns) that the wire format (microseconds) cannot carry, and sisporta never rounds; declare the column as string to keep it, or truncate it in a query: stream')
    }
    s = s.slice(0, 26)
  }
  return toWireDateTime(s) ?? fail('is not a valid date-time')
}

/**
 * `fraction: truncate`: a SQL Server date-time text as the wire's, its 7th fractional digit cut,
 * never rounded (the dialect counts the cut digits that were not zero, see mssql-fraction.ts).
 *
 * @example
 * sqlDateTimeToWireTruncated('2024-02-29 23:59:59.9999999') // '2024-02-29T23:59:59.999999'
 */
export function sqlDateTimeToWireTruncated (text: string): string {
  if (text.length !== 27 || text.charCodeAt(19) !== 46 /* . */) return sqlDateTimeToWire(text)
  const seventh = text.charCodeAt(26)
  if (seventh < 48 || seventh > 57) return fail('is not a valid date-time')
  return toWireDateTime(text.slice(0, 26)) ?? fail('is not a valid date-time')
}

/**
 * The converter of one column from its source type to its declared wire type. Built once per
 * stream; called for every non-NULL value, so each returned function does the least it can.
 * `truncateFraction`: the column declares `fraction: truncate`; a `datetime` value's 7th fractional
 * digit is cut.
 *
 * @example
 * const toWire = createMssqlValueConverter('decimal', { dataType: 'decimal', columnType: 'decimal(19,4)', precision: 19, scale: 4, nullable: true })
 * toWire('-12.3400') // '-12.3400'
 */
export function createMssqlValueConverter (type: WireType, info: MssqlColumnInfo, truncateFraction = false): ValueConverter {
  const form: MssqlReadForm = mssqlReadForm(type, info)
  // only integers, bits and floats are read as stored; a JavaScript number for a column selected
  // as text (decimal, money, bigint) would be a double that may already have lost digits
  const native = form === 'native'
  const real = info.dataType === 'real'
  const number = real ? shortestFloat32 : (n: number): number => n
  switch (type) {
    case 'string':
      return (v) => {
        if (typeof v === 'string') {
          // nvarchar holds UTF-16 code units as stored: an unpaired surrogate is not Unicode text
          return v.isWellFormed() ? v : fail('holds an unpaired UTF-16 surrogate, so it is not well-formed Unicode text')
        }
        if (typeof v === 'number' && native) return Number.isFinite(v) ? String(number(v)) : fail('is not a finite number')
        return unexpected(v)
      }
    case 'int':
      return (v) => {
        if (typeof v === 'number' && native) return toInt32(v)
        if (typeof v === 'string') return toInt32(sqlDecimalToWire(v))
        if (typeof v === 'boolean') return v ? 1 : 0
        return unexpected(v)
      }
    case 'bigint':
      return (v) => {
        if (typeof v === 'string') return toInt64Text(form === 'decimal-text' ? sqlDecimalToWire(v) : v)
        if (typeof v === 'number' && native) return toInt64Text(v)
        return unexpected(v)
      }
    case 'decimal':
      return (v) => {
        if (typeof v === 'string') return sqlDecimalToWire(v)
        if (typeof v === 'number' && native) return numberToDecimalText(v)
        return unexpected(v)
      }
    case 'float':
      return (v) => {
        if (typeof v === 'number') return Number.isFinite(v) ? number(v) : fail('is not a finite number')
        return unexpected(v)
      }
    case 'bool':
      return (v) => {
        if (typeof v === 'boolean') return v
        if (v === 0) return false
        if (v === 1) return true
        if (typeof v === 'number') return fail('is neither 0 nor 1, so not a boolean')
        return unexpected(v)
      }
    case 'date':
      return (v) => {
        if (typeof v !== 'string') return unexpected(v)
        return isWireDate(v) ? v : fail('is not a valid date')
      }
    case 'datetime':
      if (truncateFraction) {
        return (v) => {
          if (typeof v !== 'string') return unexpected(v)
          if (v.length === 10) return isWireDate(v) ? `${v}T00:00:00` : fail('is not a valid date')
          return sqlDateTimeToWireTruncated(v)
        }
      }
      return (v) => {
        if (typeof v !== 'string') return unexpected(v)
        if (v.length === 10) return isWireDate(v) ? `${v}T00:00:00` : fail('is not a valid date')
        return sqlDateTimeToWire(v)
      }
    case 'uuid':
      return (v) => {
        if (typeof v === 'string' || v instanceof Uint8Array) return toUuidText(v)
        return unexpected(v)
      }
    case 'binary':
      return (v) => {
        if (v instanceof Uint8Array) return bytesToBase64(v)
        return unexpected(v)
      }
    case 'json':
      return (v) => {
        if (typeof v === 'string') return parseJsonExact(v) as WireValue
        return unexpected(v)
      }
  }
}

/** How one key column's wire value goes back into a page query as its `@k` parameter. */
export interface MssqlKeyParameter {
  readonly compare: MssqlKeyComparison
  readonly type: MssqlParameterType
  readonly toParameter: (value: Exclude<WireValue, null>) => unknown
}

const text = (v: Exclude<WireValue, null>): string => String(v)

function convertTo (type: MssqlScalarType, length: number, style?: 23 | 121, toParameter: (v: Exclude<WireValue, null>) => unknown = text): MssqlKeyParameter {
  return { compare: { kind: 'convert', type, ...(style === undefined ? {} : { style }) }, type: { kind: 'varchar', length }, toParameter }
}

/**
 * The parameter that puts a key's wire value back into the source's terms for the keyset
 * comparison: integers, bits, character and binary keys as parameters of the column's own type
 * (an `nvarchar` parameter against a `varchar` column would convert the column and turn an index
 * seek into a scan); bigints, decimals, money, dates, times and uniqueidentifiers as text that
 * SQL Server converts to the column's exact type.
 *
 * Call only for pairs `mssqlKeyProblem` accepts.
 */
export function createMssqlKeyParameter (type: WireType, info: MssqlColumnInfo): MssqlKeyParameter {
  const plain = (parameter: MssqlParameterType, toParameter: (v: Exclude<WireValue, null>) => unknown): MssqlKeyParameter =>
    ({ compare: { kind: 'plain' }, type: parameter, toParameter })
  switch (info.dataType) {
    case 'tinyint':
    case 'smallint':
    case 'int':
      return plain({ kind: 'int' }, (v) => typeof v === 'boolean' ? (v ? 1 : 0) : Number(v))
    case 'bit':
      return plain({ kind: 'bit' }, (v) => v === true || v === 1)
    case 'bigint':
      return convertTo({ name: 'bigint' }, 20)
    case 'decimal':
    case 'numeric':
      return convertTo({ name: info.dataType, precision: info.precision!, scale: info.scale! }, 64)
    case 'money':
    case 'smallmoney':
      return convertTo({ name: info.dataType }, 64)
    case 'date':
      // a date read as datetime comes back as 'YYYY-MM-DDT00:00:00'
      return convertTo({ name: 'date' }, 10, 23, (v) => String(v).slice(0, 10))
    case 'datetime':
    case 'smalldatetime':
      return convertTo({ name: info.dataType }, 27, 121, (v) => String(v).replace('T', ' '))
    case 'datetime2':
      return convertTo({ name: 'datetime2', scale: info.scale! }, 27, 121, (v) => String(v).replace('T', ' '))
    case 'time':
      return convertTo({ name: 'time', scale: info.scale! }, 16)
    case 'uniqueidentifier':
      return convertTo({ name: 'uniqueidentifier' }, 36)
    case 'binary':
    case 'varbinary':
      return plain({ kind: 'varbinary', length: info.length! }, (v) => type === 'uuid' ? uuidTextToBytes(String(v)) : Buffer.from(String(v), 'base64'))
    case 'nchar':
    case 'nvarchar':
      return plain({ kind: 'nvarchar', length: info.length! }, text)
    default:
      // char, varchar
      return plain({ kind: 'varchar', length: info.length! }, text)
  }
}
