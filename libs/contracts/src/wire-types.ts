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
 * `null` is SQL NULL for every type.
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

/** Per-column facts a value check needs beyond its type. */
export interface WireColumnSpec {
  readonly type: WireType
  /** decimal: total digits. */
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
const DECIMAL = /^-?(\d+)(?:\.(\d+))?$/
const BIGINT = /^-?\d{1,19}$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function validDate (y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  return d <= days[m - 1]!
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

/**
 * Checks one non-null value against its column's wire type.
 *
 * @returns `undefined` when the value is valid, otherwise a short reason for an error message.
 * @example
 * checkWireValue({ type: 'decimal', precision: 5, scale: 2 }, '123.456') // 'more than 2 digits after the point'
 */
export function checkWireValue (spec: WireColumnSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${describe(value)}`
      if (!value.isWellFormed()) return 'string is not well-formed Unicode (lone surrogate)'
      if (spec.length !== undefined && value.length > spec.length && codePointLength(value) > spec.length) {
        return `longer than ${spec.length} characters`
      }
      return undefined
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `expected an integer number, got ${describe(value)}`
      if (value < INT32_MIN || value > INT32_MAX) return `${value} is outside the 32-bit integer range`
      return undefined
    case 'bigint': {
      if (typeof value !== 'string' || !BIGINT.test(value)) return `expected a string of digits (bigint), got ${describe(value)}`
      const n = BigInt(value)
      if (n > INT64_MAX || n < INT64_MIN) return `${value} is outside the 64-bit integer range`
      return undefined
    }
    case 'decimal': {
      if (typeof value !== 'string') return `expected a decimal as a string of digits, got ${describe(value)}`
      const m = DECIMAL.exec(value)
      if (m === null) return `'${truncate(value)}' is not a decimal (expected -?digits[.digits])`
      if (spec.scale !== undefined && (m[2]?.length ?? 0) > spec.scale) return `'${value}' has more than ${spec.scale} digits after the point`
      if (spec.precision !== undefined) {
        const intDigits = m[1]!.replace(/^0+(?=\d)/, '').replace(/^0$/, '').length
        if (intDigits > spec.precision - (spec.scale ?? 0)) return `'${value}' has more than ${spec.precision - (spec.scale ?? 0)} digits before the point`
      }
      return undefined
    }
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `expected a finite number, got ${describe(value)}`
      return undefined
    case 'bool':
      if (typeof value !== 'boolean') return `expected true or false, got ${describe(value)}`
      return undefined
    case 'date': {
      if (typeof value !== 'string') return `expected a date 'YYYY-MM-DD', got ${describe(value)}`
      const m = DATE.exec(value)
      if (m === null || !validDate(+m[1]!, +m[2]!, +m[3]!)) return `'${truncate(value)}' is not a date 'YYYY-MM-DD'`
      return undefined
    }
    case 'datetime': {
      if (typeof value !== 'string') return `expected a datetime 'YYYY-MM-DDTHH:MM:SS[.ffffff]', got ${describe(value)}`
      const m = DATETIME.exec(value)
      if (m === null || !validDate(+m[1]!, +m[2]!, +m[3]!) || +m[4]! > 23 || +m[5]! > 59 || +m[6]! > 59) {
        return `'${truncate(value)}' is not a datetime 'YYYY-MM-DDTHH:MM:SS[.ffffff]' without zone`
      }
      return undefined
    }
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
      return undefined
  }
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
