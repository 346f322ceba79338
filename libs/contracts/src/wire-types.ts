import { JSON_MAX_DEPTH, JsonTextProblem, jsonProblemMessage } from './json-text.js'

// json values are checked as text too (the persister stores their text): one entry for both.
export * from './json-text.js'

/**
 * The canonical wire format: how each column type travels as JSON between the extractor, the
 * gateway, the bus and the persister. Values that could lose precision in a JavaScript number
 * travel as strings.
 *
 * | type     | JSON value                                              |
 * |----------|---------------------------------------------------------|
 * | string   | string (well-formed Unicode)                            |
 * | int      | number, integer in the signed 32-bit range              |
 * | bigint   | string of digits, signed 64-bit range                   |
 * | decimal  | string `-?digits[.digits]`                              |
 * | float    | number                                                  |
 * | bool     | true / false                                            |
 * | date     | `YYYY-MM-DD`                                            |
 * | datetime | `YYYY-MM-DDTHH:MM:SS[.ffffff]`, no zone (wall clock)    |
 * | uuid     | lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`       |
 * | binary   | base64                                                  |
 * | json     | any JSON value (object, array, string, number, boolean) |
 *
 * `null` is SQL NULL for every type. A json value is stored as the JSON text it was sent as
 * (see json-text.ts), at most {@link JSON_MAX_DEPTH} levels deep, without lone surrogates.
 */
export const WIRE_TYPES = ['string', 'int', 'bigint', 'decimal', 'float', 'bool', 'date', 'datetime', 'uuid', 'binary', 'json'] as const
export type WireType = typeof WIRE_TYPES[number]
export type WireValue = string | number | boolean | null | WireJson
export type WireJson = { [key: string]: unknown } | unknown[]

/**
 * Precision and scale a decimal column has when the config declares none: the batch check
 * enforces them and `sisporta migrate` creates DECIMAL(38,10), so no value is ever rounded.
 */
export const DECIMAL_DEFAULTS = Object.freeze({ precision: 38, scale: 10 })

/**
 * Fractional-second digits a datetime column has when the config declares no `precision`: the
 * wire's microseconds, `DATETIME(6)`. A column may declare fewer (0–6) to match an existing
 * target (`DATETIME` is `DATETIME(0)`); values must then have no non-zero digit beyond them.
 */
export const DATETIME_DEFAULTS = Object.freeze({ precision: 6 })

/**
 * How the strings of a parsed body hold their text. `'text'`: as JavaScript strings of it, what
 * JSON.parse of the decoded body gives. `'utf8-bytes'`: one char (U+0000–U+00FF) per byte of its
 * UTF-8 encoding, what JSON.parse gives of a body read as latin1 that has no `\u` escape (the
 * gateway's fast path: such a string is the text's bytes exactly). The checks give the same
 * verdict on a value in either form; their messages quote the value as it is.
 */
export type WireStringForm = 'text' | 'utf8-bytes'

/** Per-column facts a value check needs beyond its type. */
export interface WireColumnSpec {
  readonly type: WireType
  /** decimal: total digits. datetime: fractional-second digits the target keeps (0–6). */
  readonly precision?: number
  /** decimal: digits after the point. */
  readonly scale?: number
  /** string: maximum length in characters (code points). binary: maximum bytes. */
  readonly length?: number
}

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

// decimal, bigint, date and datetime are read character by character rather than by regular
// expressions with captures: they are most of a batch's values, and the captures, the numbers
// made of them and the month table were allocations on every value. What they accept is what
// these patterns accept (`$` without the m flag: the end of the string, no trailing newline):
//   decimal  /^-?(\d+)(?:\.(\d+))?$/
//   bigint   /^-?\d{1,19}$/
//   date     /^(\d{4})-(\d{2})-(\d{2})$/
//   datetime /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/
// Only ASCII digits and punctuation are accepted: a string with any other character is refused
// (so the verdict is the same in both string forms: see checkWireValue).
const MINUS = 0x2d
const DOT = 0x2e
const COLON = 0x3a
const LETTER_T = 0x54
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const

/** The ASCII digit at `i` as a number, -1 for anything else (or past the end). */
function digitAt (s: string, i: number): number {
  const d = s.charCodeAt(i) - 0x30
  return d >= 0 && d <= 9 ? d : -1
}

/** Two ASCII digits at `i` as a number, -1 if either is not one. */
function twoDigitsAt (s: string, i: number): number {
  const a = digitAt(s, i)
  const b = digitAt(s, i + 1)
  return a < 0 || b < 0 ? -1 : a * 10 + b
}

/** Whether year `y` (1–9999), month `m` and day `d` name a day of the proleptic Gregorian calendar. */
export function isCalendarDate (y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  if (m === 2 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0)) return d <= 29
  return d <= DAYS_IN_MONTH[m - 1]!
}

/** Whether `s` starts with a valid `YYYY-MM-DD` date (what follows is the caller's concern). */
function startsWithDate (s: string): boolean {
  const century = twoDigitsAt(s, 0)
  const year = twoDigitsAt(s, 2)
  const month = twoDigitsAt(s, 5)
  const day = twoDigitsAt(s, 8)
  if (century < 0 || year < 0 || month < 0 || day < 0 || s.charCodeAt(4) !== MINUS || s.charCodeAt(7) !== MINUS) return false
  return isCalendarDate(century * 100 + year, month, day)
}

function isDate (s: string): boolean {
  return s.length === 10 && startsWithDate(s)
}

/** `YYYY-MM-DDTHH:MM:SS` with an optional `.` and 1 to 6 digits of fraction, valid date and time. */
function isDatetime (s: string): boolean {
  const n = s.length
  if (n !== 19 && (n < 21 || n > 26)) return false
  if (!startsWithDate(s) || s.charCodeAt(10) !== LETTER_T || s.charCodeAt(13) !== COLON || s.charCodeAt(16) !== COLON) return false
  const hour = twoDigitsAt(s, 11)
  const minute = twoDigitsAt(s, 14)
  const second = twoDigitsAt(s, 17)
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false
  if (n === 19) return true
  if (s.charCodeAt(19) !== DOT) return false
  for (let i = 20; i < n; i++) if (digitAt(s, i) < 0) return false
  return true
}

/**
 * Whether a valid datetime's fraction fits `precision` digits: every digit after the first
 * `precision` is a zero (`.500` fits 1, `.000` fits 0: trailing zeros change nothing).
 */
function fitsFraction (value: string, precision: number): boolean {
  for (let i = 20 + precision; i < value.length; i++) if (value.charCodeAt(i) !== 0x30) return false
  return true
}

/** `-?\d{1,19}` */
function isBigintDigits (s: string): boolean {
  const start = s.charCodeAt(0) === MINUS ? 1 : 0
  const digits = s.length - start
  if (digits < 1 || digits > 19) return false
  for (let i = start; i < s.length; i++) if (digitAt(s, i) < 0) return false
  return true
}

/**
 * `-?(\d+)(?:\.(\d+))?` within the column's scale (digits after the point) and precision
 * (significant digits before the point: leading zeros do not count, '007' has 1, '0' has 0).
 */
function checkDecimal (spec: WireColumnSpec, value: string): string | undefined {
  const n = value.length
  const intStart = value.charCodeAt(0) === MINUS ? 1 : 0
  let i = intStart
  while (i < n && digitAt(value, i) >= 0) i++
  const intEnd = i
  let fractionDigits = 0
  if (intEnd === intStart) return notADecimal(value)
  if (i < n) {
    if (value.charCodeAt(i) !== DOT) return notADecimal(value)
    const fractionStart = ++i
    while (i < n && digitAt(value, i) >= 0) i++
    if (i === fractionStart || i < n) return notADecimal(value)
    fractionDigits = n - fractionStart
  }
  if (spec.scale !== undefined && fractionDigits > spec.scale) return `'${value}' has more than ${spec.scale} digits after the point`
  if (spec.precision !== undefined) {
    let significant = intStart
    while (significant < intEnd && value.charCodeAt(significant) === 0x30) significant++
    const intDigits = intEnd - significant
    if (intDigits > spec.precision - (spec.scale ?? 0)) return `'${value}' has more than ${spec.precision - (spec.scale ?? 0)} digits before the point`
  }
  return undefined
}

function notADecimal (value: string): string {
  return `'${truncate(value)}' is not a decimal (expected -?digits[.digits])`
}

function codePointLength (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) i++
    n++
  }
  return n
}

/** Code points of a text held as its UTF-8 bytes: every byte but continuation bytes (10xxxxxx) starts one. */
function utf8CodePointLength (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    if ((s.charCodeAt(i) & 0xc0) !== 0x80) n++
  }
  return n
}

/**
 * Checks one non-null value against its column's wire type.
 *
 * `form` says how strings hold their text ({@link WireStringForm}); the verdict is the same in
 * both forms, which the gateway relies on. Keep it so when changing a check: `string` counts
 * code points in the value's form (and a `'utf8-bytes'` string, like the text of valid UTF-8
 * without `\u` escapes, is always well-formed), `json` counts levels (the same in both forms)
 * and looks for lone surrogates (which only a `\u` escape makes, so only the 'text' form can
 * hold one: a `'utf8-bytes'` string is always well-formed, as its text is), and every other
 * type accepts ASCII strings only, which are the same in both forms.
 *
 * @returns `undefined` when the value is valid, otherwise a short reason for an error message.
 * @example
 * checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '123.456') // 'more than 2 digits after the point'
 */
export function checkWireValue (spec: WireColumnSpec, value: unknown, form: WireStringForm = 'text'): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${describe(value)}`
      if (!value.isWellFormed()) return 'string is not well-formed Unicode (lone surrogate)'
      if (spec.length !== undefined && value.length > spec.length &&
        (form === 'text' ? codePointLength(value) : utf8CodePointLength(value)) > spec.length) {
        return `longer than ${spec.length} characters`
      }
      return undefined
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `expected an integer number, got ${describe(value)}`
      if (value < INT32_MIN || value > INT32_MAX) return `${value} is outside the 32-bit integer range`
      return undefined
    case 'bigint': {
      if (typeof value !== 'string' || !isBigintDigits(value)) return `expected a string of digits (bigint), got ${describe(value)}`
      // up to 18 digits always fits in 64 bits: only 19 need the exact comparison
      if (value.length - (value.charCodeAt(0) === MINUS ? 1 : 0) < 19) return undefined
      const n = BigInt(value)
      if (n > INT64_MAX || n < INT64_MIN) return `${value} is outside the 64-bit integer range`
      return undefined
    }
    case 'decimal':
      if (typeof value !== 'string') return `expected a decimal as a string of digits, got ${describe(value)}`
      return checkDecimal(spec, value)
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `expected a finite number, got ${describe(value)}`
      return undefined
    case 'bool':
      if (typeof value !== 'boolean') return `expected true or false, got ${describe(value)}`
      return undefined
    case 'date':
      if (typeof value !== 'string') return `expected a date 'YYYY-MM-DD', got ${describe(value)}`
      if (!isDate(value)) return `'${truncate(value)}' is not a date 'YYYY-MM-DD'`
      return undefined
    case 'datetime':
      if (typeof value !== 'string') return `expected a datetime 'YYYY-MM-DDTHH:MM:SS[.ffffff]', got ${describe(value)}`
      if (!isDatetime(value)) return `'${truncate(value)}' is not a datetime 'YYYY-MM-DDTHH:MM:SS[.ffffff]' without zone`
      if (spec.precision !== undefined && !fitsFraction(value, spec.precision)) {
        return `'${value}' has fractional seconds beyond the column's ${spec.precision} digit${spec.precision === 1 ? '' : 's'} (datetime precision ${spec.precision}); it would be rounded or cut`
      }
      return undefined
    case 'uuid':
      if (typeof value !== 'string' || !UUID.test(value)) return `expected a lower-case uuid, got ${describe(value)}`
      return undefined
    case 'binary':
      if (typeof value !== 'string' || !BASE64.test(value)) return `expected base64, got ${describe(value)}`
      if (spec.length !== undefined && Math.floor(value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0) > spec.length) {
        return `longer than ${spec.length} bytes`
      }
      return undefined
    case 'json':
      if (value === undefined) return 'expected a JSON value'
      return checkJsonValue(value, 1)
  }
}

/**
 * A parsed json value against what the target's JSON type accepts: levels (a scalar is one,
 * each array or object around it one more; an empty one counts as if it held a scalar, as in
 * MariaDB) and well-formed strings and keys. The text the value came from is checked the same
 * way by `scanJsonValue` (which also sees duplicate keys JSON.parse dropped).
 */
function checkJsonValue (value: unknown, level: number): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : jsonProblemMessage(JsonTextProblem.LoneSurrogate)
  if (typeof value !== 'object' || value === null) return undefined
  // a container's members are one level deeper, whether or not it has any
  if (level + 1 > JSON_MAX_DEPTH) return jsonProblemMessage(JsonTextProblem.TooDeep)
  if (Array.isArray(value)) {
    for (const member of value) {
      const problem = checkJsonValue(member, level + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  for (const key of Object.keys(value)) {
    if (!key.isWellFormed()) return jsonProblemMessage(JsonTextProblem.LoneSurrogate)
    const problem = checkJsonValue((value as Record<string, unknown>)[key], level + 1)
    if (problem !== undefined) return problem
  }
  return undefined
}

function truncate (s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `string '${truncate(value)}'`
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}
