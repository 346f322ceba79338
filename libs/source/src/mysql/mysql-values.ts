/**
 * MySQL/MariaDB values ⇄ the wire format. Pure functions over what mysql2 hands back when the
 * pool is opened with `dateStrings`, `supportBigNumbers` + `bigNumberStrings`,
 * `decimalNumbers: false` and `jsonStrings` (see mysql-driver.ts):
 *
 * | source                         | arrives as                      |
 * |--------------------------------|---------------------------------|
 * | TINYINT…INT, YEAR              | number                          |
 * | BIGINT (signed or unsigned)    | string of digits                |
 * | DECIMAL / NUMERIC              | string, all digits of the scale |
 * | FLOAT                          | number (single precision, widened) |
 * | DOUBLE                         | number                          |
 * | DATE, DATETIME(n), TIMESTAMP(n)| string, `n` fractional digits   |
 * | CHAR, VARCHAR, TEXT, ENUM, JSON, MariaDB UUID | string           |
 * | BINARY, VARBINARY, BLOB, BIT   | Buffer                          |
 */
import type { WireType, WireValue } from '@sisporta/contracts'
import type { MysqlKeyCast } from './mysql-sql.js'
import {
  DECIMAL_TEXT, bytesToBase64, fail, isWireDate, numberToDecimalText, parseJsonExact, shortestFloat32, textFromBytes,
  toInt32, toInt64Text, toUuidText, toWireDateTime, uuidTextToBytes
} from '../wire-convert.js'

/** What the converters need to know about a source column, from the catalogue or result metadata. */
export interface MysqlColumnInfo {
  /** Base type, lower-case: `int`, `decimal`, `varchar`, `bit`, `datetime`, `uuid`, … */
  readonly dataType: string
  /** The full type as the engine spells it: `decimal(19,4) unsigned`, `tinyint(1)`. */
  readonly columnType: string
  readonly nullable: boolean
  readonly unsigned: boolean
  /** DECIMAL: total digits. */
  readonly precision?: number
  /** DECIMAL: digits after the point. */
  readonly scale?: number
  /** Values are bytes (binary character set): BINARY, VARBINARY, BLOB, BIT. */
  readonly binary: boolean
  /**
   * Most a value holds: characters of a character type (CHAR, VARCHAR, TEXT…, ENUM, SET), bytes
   * of a binary one; undefined when the source does not say.
   */
  readonly length?: number
}

/** Converts one non-NULL source value; throws `ConversionFailure` with the reason. */
export type MysqlValueConverter = (value: unknown) => WireValue

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year'])
const DECIMAL_TYPES = new Set(['decimal', 'numeric'])
const TEMPORAL_TYPES = new Set(['date', 'datetime', 'timestamp'])
const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$/
const FLOAT_TEXT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/** Whether values of this column are integers in the source (so a key parameter casts to an integer). */
export function isIntegerType (info: MysqlColumnInfo): boolean {
  return INTEGER_TYPES.has(info.dataType)
}

/** Whether values of this column are dates or date-times in the source. */
export function isTemporalType (info: MysqlColumnInfo): boolean {
  return TEMPORAL_TYPES.has(info.dataType)
}

/** A BIT value's bytes (big-endian) as an unsigned integer. */
function bitsToBigInt (bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

function unexpected (value: unknown): never {
  return fail(`arrived as an unexpected ${value instanceof Uint8Array ? 'byte string' : typeof value}`)
}

/**
 * The converter of one column from its source type to its declared wire type. Built once per
 * stream; called for every non-NULL value, so each returned function does the least it can.
 *
 * @example
 * const toWire = createMysqlValueConverter('decimal', { dataType: 'decimal', columnType: 'decimal(19,4)', … })
 * toWire('-12.3400') // '-12.3400'
 */
export function createMysqlValueConverter (type: WireType, info: MysqlColumnInfo): MysqlValueConverter {
  const float32 = info.dataType === 'float'
  const number = float32 ? shortestFloat32 : (n: number): number => n
  switch (type) {
    case 'string':
      return (v) => {
        if (typeof v === 'string') return v
        if (typeof v === 'number') return String(number(v))
        if (v instanceof Uint8Array) return textFromBytes(v)
        return unexpected(v)
      }
    case 'int':
      return (v) => {
        if (typeof v === 'number' || typeof v === 'string') return toInt32(v)
        if (v instanceof Uint8Array) return toInt32(bitsToBigInt(v).toString())
        return unexpected(v)
      }
    case 'bigint':
      return (v) => {
        if (typeof v === 'string' || typeof v === 'number') return toInt64Text(v)
        if (v instanceof Uint8Array) return toInt64Text(bitsToBigInt(v))
        return unexpected(v)
      }
    case 'decimal':
      return (v) => {
        if (typeof v === 'string') return DECIMAL_TEXT.test(v) ? v : fail('is not a decimal number (-digits.digits)')
        if (typeof v === 'number') return numberToDecimalText(number(v))
        if (v instanceof Uint8Array) return bitsToBigInt(v).toString()
        return unexpected(v)
      }
    case 'float':
      return (v) => {
        if (typeof v === 'number') return Number.isFinite(v) ? number(v) : fail('is not a finite number')
        if (typeof v === 'string') return FLOAT_TEXT.test(v) && Number.isFinite(Number(v)) ? Number(v) : fail('is not a number')
        return unexpected(v)
      }
    case 'bool':
      return (v) => {
        let n: number
        if (typeof v === 'number') n = v
        else if (typeof v === 'string') n = /^-?\d+(?:\.0+)?$/.test(v) ? Number.parseFloat(v) : NaN
        // a huge BIT value never rounds to 0 or 1, so the double is enough to tell
        else if (v instanceof Uint8Array) n = Number(bitsToBigInt(v))
        else if (typeof v === 'boolean') return v
        else return unexpected(v)
        if (n === 0) return false
        if (n === 1) return true
        return fail('is neither 0 nor 1, so not a boolean')
      }
    case 'date':
      return (v) => {
        if (typeof v !== 'string') return unexpected(v)
        if (v.length === 10) return isWireDate(v) ? v : fail('is not a valid date')
        // a date-time at midnight is a date without loss; any other time of day would be lost
        const m = MIDNIGHT.exec(v)
        if (m !== null) return isWireDate(m[1]!) ? m[1]! : fail('is not a valid date')
        return fail('is not a date (a date-time with a time of day would lose it)')
      }
    case 'datetime':
      return (v) => {
        if (typeof v !== 'string') return unexpected(v)
        if (v.length === 10) return isWireDate(v) ? `${v}T00:00:00` : fail('is not a valid date')
        return toWireDateTime(v) ?? fail('is not a valid date-time')
      }
    case 'uuid':
      return (v) => {
        if (typeof v === 'string' || v instanceof Uint8Array) return toUuidText(v)
        return unexpected(v)
      }
    case 'binary':
      return (v) => {
        if (v instanceof Uint8Array) return bytesToBase64(v)
        if (typeof v === 'string') return Buffer.from(v, 'utf8').toString('base64')
        return unexpected(v)
      }
    case 'json':
      return (v) => {
        if (typeof v === 'string') return parseJsonExact(v) as WireValue
        if (v instanceof Uint8Array) return parseJsonExact(textFromBytes(v)) as WireValue
        if (typeof v === 'number') return Number.isFinite(v) ? number(v) : fail('is not a finite number')
        return unexpected(v)
      }
  }
}

/** How one key column's wire value goes back into a page query's parameters. */
export interface MysqlKeyParameter {
  readonly cast?: MysqlKeyCast
  readonly toParameter: (value: WireValue) => unknown
}

/**
 * Whether a key column of this wire type read from this source type can drive keyset
 * pagination exactly; returns the reason when it cannot. The wire value must compare in the
 * source exactly as the stored value does, or a page could skip or repeat rows.
 */
export function mysqlKeyProblem (type: WireType, info: MysqlColumnInfo): string | undefined {
  if (type === 'json') return 'a json column cannot be a key'
  if (type === 'float') return 'a float column cannot be a key (its wire value need not compare equal to the stored one)'
  if (info.dataType === 'float' || info.dataType === 'double' || info.dataType === 'real') {
    return `a ${info.columnType} source column cannot be a key (approximate values)`
  }
  // ENUM and SET sort by their index but compare with text as text: pages would skip rows
  if (info.dataType === 'enum' || info.dataType === 'set') return `a ${info.dataType.toUpperCase()} source column cannot be a key`
  if ((type === 'date' || type === 'datetime') && !isTemporalType(info)) {
    return `a ${type} key must come from a DATE, DATETIME or TIMESTAMP column, not ${info.columnType}`
  }
  // text sorts as text: '00123' < '123' < '9', so a number read from text cannot continue a page
  if (isTextType(info) && type !== 'string' && type !== 'uuid') {
    return `a ${type} key cannot come from the text column type ${info.columnType}; declare it as string`
  }
  return undefined
}

function isTextType (info: MysqlColumnInfo): boolean {
  return !info.binary && !isIntegerType(info) && !DECIMAL_TYPES.has(info.dataType) && !isTemporalType(info) && info.dataType !== 'bit'
}

/**
 * The parameter (and its cast) that puts a key's wire value back into the source's terms for
 * the keyset comparison: digits compared as integers or decimals, not doubles; date-times with a
 * space; uuids and base64 as bytes for binary columns.
 */
export function createMysqlKeyParameter (type: WireType, info: MysqlColumnInfo): MysqlKeyParameter {
  if (isIntegerType(info)) {
    return {
      cast: info.unsigned ? { kind: 'unsigned' } : { kind: 'signed' },
      toParameter: (v) => typeof v === 'boolean' ? (v ? '1' : '0') : String(v)
    }
  }
  if (DECIMAL_TYPES.has(info.dataType)) {
    const { precision, scale } = info
    const cast: MysqlKeyCast | undefined = precision !== undefined && scale !== undefined
      ? { kind: 'decimal', precision, scale }
      : undefined
    return { ...(cast === undefined ? {} : { cast }), toParameter: (v) => typeof v === 'boolean' ? (v ? '1' : '0') : String(v) }
  }
  if (isTemporalType(info)) {
    if (type === 'date') return { cast: { kind: 'date' }, toParameter: (v) => v }
    if (type === 'datetime') return { cast: { kind: 'datetime' }, toParameter: (v) => String(v).replace('T', ' ') }
    return { toParameter: (v) => v }
  }
  if (info.dataType === 'bit') {
    return { toParameter: (v) => typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? v : String(v) }
  }
  if (info.binary) {
    switch (type) {
      case 'uuid': return { toParameter: (v) => uuidTextToBytes(String(v)) }
      case 'binary': return { toParameter: (v) => Buffer.from(String(v), 'base64') }
      case 'string': return { toParameter: (v) => Buffer.from(String(v), 'utf8') }
      default: return { toParameter: (v) => v }
    }
  }
  if (type === 'binary') return { toParameter: (v) => Buffer.from(String(v), 'base64').toString('utf8') }
  return { toParameter: (v) => typeof v === 'boolean' ? (v ? 1 : 0) : v }
}
