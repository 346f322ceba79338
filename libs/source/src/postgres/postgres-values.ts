/**
 * PostgreSQL values ⇄ the wire format. Pure functions over what node-postgres hands back when the
 * pool is opened with `POSTGRES_VALUE_OPTIONS` (see postgres-driver.ts): every value as the text
 * the server wrote, none parsed by the driver, in a session set up by `SESSION_SQL`:
 *
 * | source                              | arrives as                                   |
 * |-------------------------------------|----------------------------------------------|
 * | smallint, integer, bigint, oid      | `'-42'`, `'9223372036854775807'`             |
 * | numeric(p,s)                        | `'-0.0100'`, all digits of the scale; `'NaN'` |
 * | real, double precision              | shortest text that reads back exactly (`'0.1'`, `'1e+300'`) |
 * | boolean                             | `'t'`, `'f'`                                 |
 * | date                                | `'2024-02-29'`                               |
 * | timestamp(n)                        | `'2024-02-29 23:59:59.123456'` (the stored fractional digits) |
 * | timestamp(n) with time zone         | `'2024-02-29 22:59:59.123456+00'` (session time zone UTC) |
 * | bytea                               | `'\x00ff10'`                                 |
 * | json, jsonb                         | JSON text                                    |
 * | uuid                                | `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`     |
 * | bit(n), bit varying                 | `'101'`                                      |
 * | arrays, composite values            | JSON text: selected as `to_json(column)`     |
 * | text, varchar, char(n), enums, time, interval, … | their text (`char(n)` padded as stored) |
 */
import type { WireType, WireValue } from '@sisporta/contracts'
import type { SourceColumnFacts } from '../match-columns.js'
import {
  DECIMAL_TEXT, bytesToBase64, fail, isWireDate, numberToDecimalText, parseJsonExact, shortestFloat32, textFromBytes,
  toInt32, toInt64Text, toUuidText, toWireDateTime, uuidTextToBytes
} from '../wire-convert.js'

/** What the converters need to know about a source column, from the catalogue or result metadata. */
export interface PostgresColumnInfo extends SourceColumnFacts {
  /** Base type as `pg_type` names it (a domain's underlying type): `int4`, `numeric`, `bpchar`, `timestamptz`, `_int4`, … */
  readonly dataType: string
  /** The type as PostgreSQL writes it: `numeric(19,4)`, `character varying(40)`, `timestamp(6) without time zone`. */
  readonly columnType: string
  /** For `query:` streams always true: PostgreSQL result metadata does not say. */
  readonly nullable: boolean
  /** `pg_type.typcategory` of the base type: `N` numeric, `S` string, `D` date/time, `A` array, `C` composite, `U` user-defined, … */
  readonly category: string
  /** numeric(p,s): total digits; undefined for a numeric without precision (any number of digits). */
  readonly precision?: number
  /** numeric(p,s): digits after the point (PostgreSQL 15 allows a negative scale, or one above the precision). */
  readonly scale?: number
  /** Most a value holds: characters of varchar(n), char(n), name; bits of bit(n), bit varying(n); undefined for text and other types without one. */
  readonly length?: number
}

/** How the text of a source value is to be read. */
export type PostgresValueKind =
  | 'integer' | 'numeric' | 'float4' | 'float8' | 'bool' | 'date' | 'timestamp' | 'timestamptz'
  | 'bytea' | 'json' | 'uuid' | 'bit' | 'structured' | 'text'

const KINDS: Readonly<Record<string, PostgresValueKind>> = {
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  oid: 'integer',
  numeric: 'numeric',
  float4: 'float4',
  float8: 'float8',
  bool: 'bool',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  bytea: 'bytea',
  json: 'json',
  jsonb: 'json',
  uuid: 'uuid',
  bit: 'bit',
  varbit: 'bit'
}

/**
 * How values of this column are read: by base type, with arrays and composite values
 * (`typcategory` A and C) read as the JSON the server writes for them, and every other type
 * (text, varchar, char, enums, time, interval, money, inet, …) as its text.
 */
export function postgresValueKind (info: PostgresColumnInfo): PostgresValueKind {
  if (info.category === 'A' || info.category === 'C') return 'structured'
  return KINDS[info.dataType] ?? 'text'
}

/** Converts one non-NULL source value; throws `ConversionFailure` with the reason. */
export type PostgresValueConverter = (value: unknown) => WireValue

const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$/
const FLOAT_TEXT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const INTEGRAL = /^-?\d+(?:\.0+)?$/
const HEX = /^[0-9a-fA-F]*$/
const BITS = /^[01]+$/
const ZONED = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(\.\d{1,6})?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/

/** `bytea` hex output (`\x00ff`) as its bytes. */
export function byteaToBytes (text: string): Buffer {
  if (text.charCodeAt(0) !== 92 /* \ */ || text.charCodeAt(1) !== 120 /* x */) {
    return fail('is not bytea in hex output (the session sets bytea_output = hex)')
  }
  const hex = text.slice(2)
  if (hex.length % 2 !== 0 || !HEX.test(hex)) return fail('is not bytea in hex output')
  return Buffer.from(hex, 'hex')
}

/** Days since 1970-01-01 of a proleptic Gregorian date (exact integer arithmetic, any year). */
function daysFromCivil (y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468
}

function civilFromDays (days: number): [number, number, number] {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/**
 * A `timestamptz` value as written by the server (`2024-01-02 03:04:05.123456+00`, or with any
 * offset `+05:30`, `-03:06:28`) as the UTC wall clock on the wire: `2024-01-02T03:04:05.123456`.
 * The fractional digits are kept as text and the offset is applied with integer arithmetic, never
 * through a JavaScript Date. Undefined when it is not such a value (`infinity`, a BC date, a
 * year beyond 9999).
 *
 * @example
 * timestamptzToUtc('2024-01-01 00:30:00.5+05:30') // '2023-12-31T19:00:00.5'
 */
export function timestamptzToUtc (text: string): string | undefined {
  const m = ZONED.exec(text)
  if (m === null) return undefined
  const local = toWireDateTime(m[1]!)
  if (local === undefined) return undefined
  const fraction = m[2] ?? ''
  const offset = (Number(m[4]) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0)) * (m[3] === '-' ? -1 : 1)
  if (offset === 0) return `${local}${fraction}`
  const seconds = daysFromCivil(Number(local.slice(0, 4)), Number(local.slice(5, 7)), Number(local.slice(8, 10))) * 86400 +
    Number(local.slice(11, 13)) * 3600 + Number(local.slice(14, 16)) * 60 + Number(local.slice(17, 19)) - offset
  const days = Math.floor(seconds / 86400)
  const rest = seconds - days * 86400
  const [y, mo, d] = civilFromDays(days)
  if (y < 1 || y > 9999) return undefined
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(Math.floor(rest / 3600))}:${pad(Math.floor(rest / 60) % 60)}:${pad(rest % 60)}${fraction}`
}

/** A bit string (`'0101'`) as an unsigned integer. */
function bits (text: string): bigint {
  return BITS.test(text) ? BigInt(`0b${text}`) : fail('is not a bit string of at least one bit')
}

function unexpected (value: unknown): never {
  return fail(`arrived as an unexpected ${value instanceof Uint8Array ? 'byte string' : typeof value}`)
}

function structuredOnlyJson (info: PostgresColumnInfo): PostgresValueConverter {
  return () => fail(`is a PostgreSQL ${info.category === 'A' ? 'array' : 'composite value'} (${info.columnType}), which converts only to type json`)
}

/** A float4 value's text (possibly with extra digits from an old server) as its shortest single-precision value. */
function float4 (text: string): number {
  return shortestFloat32(Math.fround(Number(text)))
}

function floatOf (kind: PostgresValueKind, text: string): number {
  if (!FLOAT_TEXT.test(text)) return fail('is not a finite number')
  const n = kind === 'float4' ? float4(text) : Number(text)
  return Number.isFinite(n) ? n : fail('is not a finite number')
}

/**
 * The converter of one column from its source type to its declared wire type. Built once per
 * stream; called for every non-NULL value, so each returned function does the least it can.
 *
 * @example
 * const toWire = createPostgresValueConverter('datetime', { dataType: 'timestamp', columnType: 'timestamp(6) without time zone', … })
 * toWire('2024-02-29 23:59:59.123456') // '2024-02-29T23:59:59.123456'
 */
export function createPostgresValueConverter (type: WireType, info: PostgresColumnInfo): PostgresValueConverter {
  const kind = postgresValueKind(info)
  if (kind === 'structured' && type !== 'json') return structuredOnlyJson(info)
  const converter = textConverter(type, kind)
  return (v) => typeof v === 'string' ? converter(v) : unexpected(v)
}

function textConverter (type: WireType, kind: PostgresValueKind): (v: string) => WireValue {
  switch (type) {
    case 'string':
      if (kind === 'bytea') return (v) => textFromBytes(byteaToBytes(v))
      // the source's text as it is: char(n) padded, timestamps with a space, booleans as t / f
      return (v) => v
    case 'int':
      if (kind === 'float4' || kind === 'float8') return (v) => toInt32(floatOf(kind, v))
      if (kind === 'bit') return (v) => toInt32(bits(v).toString())
      return (v) => toInt32(v)
    case 'bigint':
      if (kind === 'float4' || kind === 'float8') return (v) => toInt64Text(floatOf(kind, v))
      if (kind === 'bit') return (v) => toInt64Text(bits(v))
      return (v) => toInt64Text(v)
    case 'decimal':
      if (kind === 'float4' || kind === 'float8') return (v) => numberToDecimalText(floatOf(kind, v))
      if (kind === 'bit') return (v) => bits(v).toString()
      return (v) => DECIMAL_TEXT.test(v) ? v : fail('is not a decimal number (-digits.digits)')
    case 'float':
      return (v) => floatOf(kind, v)
    case 'bool':
      if (kind === 'bool') return (v) => v === 't' ? true : v === 'f' ? false : fail('is not a boolean')
      return (v) => {
        // a huge bit string never equals 0 or 1, so the comparison on BigInt is exact
        const n = kind === 'bit' ? bits(v) : INTEGRAL.test(v) ? BigInt(v.replace(/\.0+$/, '')) : undefined
        if (n === 0n) return false
        if (n === 1n) return true
        return fail('is neither 0 nor 1, so not a boolean')
      }
    case 'date':
      if (kind === 'date') return (v) => isWireDate(v) ? v : fail('is not a date from year 1 to 9999 (BC dates and infinity have no wire form)')
      return (v) => {
        const text = kind === 'timestamptz' ? timestamptzToUtc(v) ?? fail('is not a valid date-time') : v
        if (text.length === 10) return isWireDate(text) ? text : fail('is not a valid date')
        // a date-time at midnight is a date without loss; any other time of day would be lost
        const m = MIDNIGHT.exec(text)
        if (m !== null) return isWireDate(m[1]!) ? m[1]! : fail('is not a valid date')
        return fail('is not a date (a date-time with a time of day would lose it)')
      }
    case 'datetime':
      if (kind === 'timestamptz') return (v) => timestamptzToUtc(v) ?? fail('is not a valid date-time')
      if (kind === 'date') return (v) => isWireDate(v) ? `${v}T00:00:00` : fail('is not a date from year 1 to 9999 (BC dates and infinity have no wire form)')
      return (v) => {
        if (v.length === 10) return isWireDate(v) ? `${v}T00:00:00` : fail('is not a valid date')
        return toWireDateTime(v) ?? fail('is not a valid date-time')
      }
    case 'uuid':
      if (kind === 'bytea') return (v) => toUuidText(byteaToBytes(v))
      return (v) => toUuidText(v)
    case 'binary':
      if (kind === 'bytea') return (v) => bytesToBase64(byteaToBytes(v))
      return (v) => Buffer.from(v, 'utf8').toString('base64')
    case 'json':
      switch (kind) {
        case 'float4': case 'float8': return (v) => floatOf(kind, v)
        case 'bool': return (v) => v === 't'
        case 'bytea': return (v) => parseJsonExact(textFromBytes(byteaToBytes(v))) as WireValue
        // json, jsonb, arrays, numbers (a number a double cannot hold is an error), JSON in text
        default: return (v) => parseJsonExact(v) as WireValue
      }
  }
}

/** How one key column's wire value goes back into a page query's parameters. */
export interface PostgresKeyParameter {
  readonly toParameter: (value: Exclude<WireValue, null>) => unknown
}

/**
 * Whether a key column of this wire type read from this source type can drive keyset
 * pagination exactly; returns the reason when it cannot. The wire value must compare in the
 * source exactly as the stored value does, or a page could skip or repeat rows.
 */
export function postgresKeyProblem (type: WireType, info: PostgresColumnInfo): string | undefined {
  const kind = postgresValueKind(info)
  if (type === 'json') return 'a json column cannot be a key'
  if (type === 'float') return 'a float column cannot be a key (its wire value need not compare equal to the stored one)'
  if (kind === 'float4' || kind === 'float8') return `a ${info.columnType} source column cannot be a key (approximate values)`
  if (kind === 'json' || kind === 'structured') return `a ${info.columnType} source column cannot be a key`
  if ((type === 'date' || type === 'datetime') && kind !== 'date' && kind !== 'timestamp' && kind !== 'timestamptz') {
    return `a ${type} key must come from a date, timestamp or timestamptz column, not ${info.columnType}`
  }
  // text sorts as text: '00123' < '123' < '9', so a number read from text cannot continue a page;
  // and a uuid read from text is lower-cased on the wire, which need not sort where the stored text does
  if (kind === 'text' && type !== 'string') {
    return `a ${type} key cannot come from the text column type ${info.columnType}; declare it as string`
  }
  // a number read from a bit string goes back as a bit string of another length
  if (kind === 'bit' && type !== 'string') return `a ${type} key cannot come from the bit string type ${info.columnType}; declare it as string`
  return undefined
}

/**
 * The parameter that puts a key's wire value back into the source's terms for the keyset
 * comparison. The server types each parameter from the column it is compared with, so digits
 * stay exact as bigint or numeric; bytes go as bytes; a UTC date-time gets its zone back.
 */
export function createPostgresKeyParameter (type: WireType, info: PostgresColumnInfo): PostgresKeyParameter {
  const kind = postgresValueKind(info)
  if (kind === 'bytea') {
    switch (type) {
      case 'uuid': return { toParameter: (v) => uuidTextToBytes(String(v)) }
      case 'binary': return { toParameter: (v) => Buffer.from(String(v), 'base64') }
      default: return { toParameter: (v) => Buffer.from(String(v), 'utf8') }
    }
  }
  if (kind === 'timestamptz') {
    if (type === 'date') return { toParameter: (v) => `${String(v)}T00:00:00Z` }
    if (type === 'datetime') return { toParameter: (v) => `${String(v)}Z` }
  }
  if (type === 'binary') return { toParameter: (v) => Buffer.from(String(v), 'base64').toString('utf8') }
  // digits as text: the server reads them as the column's integer or numeric type, exactly
  return { toParameter: (v) => String(v) }
}
