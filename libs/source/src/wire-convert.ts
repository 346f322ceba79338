/**
 * Engine-independent pieces of the conversion to the wire format (see
 * `@sisporta/contracts` wire-types.ts). Each dialect's `…-values.ts` composes these into
 * per-column converters. Everything here is pure and exact: where a value cannot be represented
 * without loss, the helpers throw a `ConversionFailure` with the reason, which the dialect turns
 * into a `SIS_SRC_VALUE` error naming stream, column and row.
 */

/** Why one value could not be converted. Caught by the dialect, never escapes the package. */
export class ConversionFailure extends Error {
  constructor (reason: string) {
    super(reason)
    this.name = 'ConversionFailure'
  }
}

/** Throws a `ConversionFailure` with `reason`. */
export function fail (reason: string): never {
  throw new ConversionFailure(reason)
}

/** `-?digits[.digits]`: the wire form of a decimal. */
export const DECIMAL_TEXT = /^-?\d+(?:\.\d+)?$/
/** An integer written in decimal, possibly with a zero fraction (`12`, `-3`, `12.000`). */
const INTEGRAL_TEXT = /^(-?\d+)(?:\.0+)?$/
const SHORT_INTEGER_TEXT = /^-?[1-9]\d{0,17}$|^0$/
const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const INT64_MIN = -9223372036854775808n
const INT64_MAX = 9223372036854775807n
const UUID_TEXT = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Decodes UTF-8 bytes, failing on any invalid sequence (never substitutes U+FFFD). */
export function textFromBytes (bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    return fail('bytes are not valid UTF-8 text')
  }
}

function digits (s: string, from: number, count: number): number {
  let n = 0
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

function isValidDate (y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  if (d <= 28) return true
  const days = m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : (m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31)
  return d <= days
}

/**
 * `YYYY-MM-DD` checked for a real calendar date (no `0000-00-00`, no February 30th), without
 * regular expressions: this runs for every date value of a load.
 */
export function isWireDate (s: string): boolean {
  return s.length === 10 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 &&
    isValidDate(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2))
}

/**
 * A source date-time `YYYY-MM-DD HH:MM:SS[.f…]` (space or `T`, up to 6 fractional digits, as
 * many as the source has) as the wire's `YYYY-MM-DDTHH:MM:SS[.f…]`; undefined when it is not one
 * or not a real date and time.
 */
export function toWireDateTime (s: string): string | undefined {
  const n = s.length
  if (n < 19 || n === 20 || n > 26) return undefined
  const sep = s.charCodeAt(10)
  if ((sep !== 32 && sep !== 84) || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined
  if (n > 19 && (s.charCodeAt(19) !== 46 || digits(s, 20, n - 20) < 0)) return undefined
  const hour = digits(s, 11, 2)
  const minute = digits(s, 14, 2)
  const second = digits(s, 17, 2)
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined
  const date = s.slice(0, 10)
  if (!isWireDate(date)) return undefined
  return sep === 84 ? s : `${date}T${s.slice(11)}`
}

/** Bytes as standard padded base64 (the wire form of `binary`). */
export function bytesToBase64 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/**
 * A JavaScript number as a 32-bit integer (`int`). Accepts integral numbers and integral decimal
 * text (`'42'`, `'42.000'`, as BIGINT and DECIMAL columns arrive).
 */
export function toInt32 (value: number | string): number {
  let n: number
  if (typeof value === 'number') {
    n = value
  } else {
    const m = INTEGRAL_TEXT.exec(value)
    if (m === null) return fail('is not an integer')
    n = Number(m[1])
  }
  if (!Number.isInteger(n)) return fail('is not an integer')
  if (n < INT32_MIN || n > INT32_MAX) return fail('is outside the 32-bit integer range of type int')
  return n === 0 ? 0 : n // no -0 on the wire
}

/** An integer as the wire's `bigint`: a string of digits in the signed 64-bit range. */
export function toInt64Text (value: number | string | bigint): string {
  let n: bigint
  if (typeof value === 'bigint') {
    n = value
  } else if (typeof value === 'number') {
    // an integral double is an exact integer, however large; BigInt() keeps every digit
    if (!Number.isInteger(value)) return fail('is not an integer')
    n = BigInt(value)
  } else {
    // the common case, and always in range: up to 18 digits
    if (value.length <= 18 && SHORT_INTEGER_TEXT.test(value)) return value === '-0' ? '0' : value
    const m = INTEGRAL_TEXT.exec(value)
    if (m === null) return fail('is not an integer')
    n = BigInt(m[1]!)
  }
  if (n < INT64_MIN || n > INT64_MAX) return fail('is outside the signed 64-bit range of type bigint')
  return n.toString()
}

/**
 * A number as plain decimal text without exponent: `1e21` → `'1000000000000000000000'`,
 * `1.5e-7` → `'0.00000015'`. Uses the shortest text that reads back as the same double.
 */
export function numberToDecimalText (n: number): string {
  if (!Number.isFinite(n)) return fail('is not a finite number')
  const s = String(n)
  if (!s.includes('e')) return s
  const { sign, digits, exponent } = splitDecimal(s)
  if (exponent >= 0) return `${sign}${digits}${'0'.repeat(exponent)}`
  const point = digits.length + exponent
  return point > 0
    ? `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
    : `${sign}0.${'0'.repeat(-point)}${digits}`
}

/**
 * The double nearest a single-precision float, written with the fewest digits that read back as
 * the same float: a FLOAT column holding 0.1 arrives from a binary protocol as
 * 0.10000000149011612 and leaves as 0.1, which is what the source shows and stores.
 */
export function shortestFloat32 (x: number): number {
  if (!Number.isFinite(x) || Math.fround(x) !== x) return x
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits))
    if (Math.fround(y) === x) return y
  }
  return x
}

/** A uuid as the wire's lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, from text (any case, with or without dashes) or 16 bytes. */
export function toUuidText (value: string | Uint8Array): string {
  let hex: string
  if (typeof value === 'string') {
    if (!UUID_TEXT.test(value)) return fail('is not a uuid')
    hex = value.replaceAll('-', '').toLowerCase()
  } else {
    if (value.byteLength !== 16) return fail(`has ${value.byteLength} bytes, a uuid has 16`)
    hex = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** A wire uuid as its 16 bytes (to compare with a BINARY(16) key column). */
export function uuidTextToBytes (uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex')
}

const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g

/**
 * Parses JSON text and fails rather than round a number: `{"id": 9007199254740993}` cannot be
 * held by `JSON.parse`'s doubles, so it is an error instead of a silent `…992`.
 */
export function parseJsonExact (text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return fail('is not valid JSON')
  }
  // the text is valid JSON, so every token the pattern finds outside a string is a number
  for (const [token] of text.matchAll(JSON_TOKEN)) {
    if (token.charCodeAt(0) === 34 /* " */) continue
    if (canonicalDecimal(token) !== canonicalDecimal(String(Number(token)))) {
      return fail(`holds the number ${token.length > 40 ? `${token.slice(0, 40)}…` : token}, which JSON numbers in JavaScript cannot hold exactly`)
    }
  }
  return value
}

function splitDecimal (text: string): { sign: string, digits: string, exponent: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!
  const fraction = m[3] ?? ''
  let digits = `${m[2]!}${fraction}`.replace(/^0+/, '')
  let exponent = Number(m[4] ?? 0) - fraction.length
  if (digits === '') return { sign: '', digits: '0', exponent: 0 }
  const trimmed = digits.replace(/0+$/, '')
  exponent += digits.length - trimmed.length
  digits = trimmed
  return { sign: m[1]!, digits, exponent }
}

/** A decimal number's value as `digits e exponent`, so equal values compare equal as text. */
function canonicalDecimal (text: string): string {
  const { sign, digits, exponent } = splitDecimal(text)
  return digits === '0' ? '0' : `${sign}${digits}e${exponent}`
}

/** A source value, short, for an error message. */
export function describeSourceValue (value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`
  if (value instanceof Uint8Array) {
    const hex = Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, 32)).toString('hex')
    return `0x${hex}${value.byteLength > 32 ? `… (${value.byteLength} bytes)` : ''}`
  }
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') {
    const json = JSON.stringify(value)
    return json.length > 60 ? `${json.slice(0, 60)}…` : json
  }
  return String(value)
}
