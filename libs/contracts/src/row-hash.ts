import * as crypto from 'node:crypto'
import { DATETIME_DEFAULTS, DECIMAL_DEFAULTS, type WireColumnSpec } from './wire-types.js'

/**
 * Row hashes of diffed reloads and `sisporta verify` (docs/reloads.md): the extractor hashes
 * the source rows, the persister the target rows of the same key range, each through the same
 * canonical form of the wire values, and only rows whose hashes differ are sent.
 *
 * A wire value has more than one spelling (`1.5` and `1.50` in a DECIMAL(9,2); a datetime with
 * `.120` or `.12`; base64 with other padding bits): the canonical form is the one spelling
 * of the value the target stores, so that both sides agree whatever the source's driver or the
 * target's server print. Where sisporta cannot be sure that both sides would spell a value alike
 * (a decimal with more digits than its column keeps, a boolean stored as 2, …) there is no
 * canonical form: {@link canonicalRowText} returns `undefined`, the row hashes as
 * {@link UNKNOWN_ROW_HASH}, and the comparison treats it as different — it is sent. Doubt only
 * ever makes a row be sent, never skipped.
 */

/** Bytes of a row hash: the first 64 bits of SHA-256 of the row's canonical text. */
export const ROW_HASH_BYTES = 8

/** The hash of a row without a canonical form: never equal to anything, the row is always sent. */
export const UNKNOWN_ROW_HASH: Buffer = Buffer.alloc(ROW_HASH_BYTES)

/** A column as hashing sees it: its wire type, precision and scale (as the batch check does). */
export type HashColumn = Pick<WireColumnSpec, 'type' | 'precision' | 'scale'>

/** A stream's columns as row hashing sees them, in the stream's order: what both sides hash with. */
export function hashColumnsOf (stream: { readonly columns: readonly HashColumn[] }): HashColumn[] {
  return stream.columns.map((c) => ({ type: c.type, ...(c.precision !== undefined ? { precision: c.precision } : {}), ...(c.scale !== undefined ? { scale: c.scale } : {}) }))
}

/**
 * The canonical spelling of one wire value of a column, `null` for SQL NULL, `undefined` when
 * there is none (see the module comment). The value is a wire value as the extractor sends it,
 * or as the persister reads it back from MySQL and converts it (target-wire-values.ts).
 *
 * @example
 * canonicalValue({ type: 'decimal', precision: 9, scale: 2 }, '01.5')      // '1.50'
 * canonicalValue({ type: 'datetime', precision: 3 }, '2026-01-02T03:04:05') // '2026-01-02T03:04:05.000'
 * canonicalValue({ type: 'decimal', scale: 2 }, '1.505')                  // undefined
 */
export function canonicalValue (column: HashColumn, value: unknown): string | null | undefined {
  if (value === null) return null
  switch (column.type) {
    case 'string':
      return typeof value === 'string' ? value : undefined
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : undefined
    case 'bigint':
      if (typeof value !== 'string') return undefined
      // most values are spelled canonically already: no BigInt made of them
      if (CANONICAL_BIGINT.test(value)) return value
      return /^-?\d{1,20}$/.test(value) ? BigInt(value).toString() : undefined
    case 'decimal':
      return typeof value === 'string' ? canonicalDecimal(value, column.scale ?? DECIMAL_DEFAULTS.scale) : undefined
    case 'float':
      // the shortest text that reads back as the same double: MySQL's DOUBLE keeps every one
      return typeof value === 'number' && Number.isFinite(value) ? (Object.is(value, -0) ? '0' : String(value)) : undefined
    case 'bool':
      return typeof value === 'boolean' ? String(value) : undefined
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : undefined
    case 'datetime':
      return typeof value === 'string' ? canonicalDatetime(value, column.precision ?? DATETIME_DEFAULTS.precision) : undefined
    case 'uuid':
      // lower case only, as the wire has it: a target value in capitals is other text to the application
      return typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value) ? value : undefined
    case 'binary':
      return typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0 ? Buffer.from(value, 'base64').toString('base64') : undefined
    case 'json':
      // A json wire value is the parsed JSON value, on both sides: the extractor parses the
      // source's text, and mysql2 parses the target's JSON column (MySQL's JSON type, MariaDB's
      // by its `json` column format). Its canonical form is its JSON text — for a string too:
      // the JSON string "5" ('"5"') must not equal the number 5 ('5'), nor '{"a":1}' the object.
      // (A server that reorders keys, such as MySQL 8, reads back other text: such rows are
      // sent every time, never lost.)
      return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' || (typeof value === 'object' && value !== null)
        ? JSON.stringify(value)
        : undefined
  }
}

const CANONICAL_BIGINT = /^(?:0|-?[1-9]\d{0,18})$/
const DIGIT_0 = 0x30
const DIGIT_9 = 0x39

/**
 * `-?digits[.digits]` written with exactly `scale` decimals and no leading zeros; undefined if
 * digits would be cut. Rows are hashed a million at a time: a value already written so (what
 * MySQL prints, and most sources) is recognised in one pass over its characters, without the
 * regular expression and the strings of the general case.
 */
function canonicalDecimal (text: string, scale: number): string | undefined {
  return isCanonicalDecimal(text, scale) ? text : respellDecimal(text, scale)
}

/** Whether `text` is `-?digits` + (`.` + `scale` digits when scale > 0), no leading zero, not a negative zero. */
function isCanonicalDecimal (text: string, scale: number): boolean {
  const n = text.length
  const start = text.charCodeAt(0) === 0x2d ? 1 : 0
  const dot = scale > 0 ? n - scale - 1 : n
  if (dot <= start || (scale > 0 && text.charCodeAt(dot) !== 0x2e)) return false
  let nonZero = false
  for (let i = start; i < n; i++) {
    if (i === dot) continue
    const c = text.charCodeAt(i)
    if (c < DIGIT_0 || c > DIGIT_9) return false
    if (c !== DIGIT_0) nonZero = true
  }
  // no leading zero but the one before the point; a minus only before a value that is not zero
  return (text.charCodeAt(start) !== DIGIT_0 || dot === start + 1) && (start === 0 || nonZero)
}

/** The general case of {@link canonicalDecimal}. */
function respellDecimal (text: string, scale: number): string | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
  if (match === null) return undefined
  const [, sign, whole, fraction = ''] = match
  if (fraction.length > scale && !/^0*$/.test(fraction.slice(scale))) return undefined
  const intPart = whole!.replace(/^0+(?=\d)/, '')
  const fracPart = fraction.slice(0, scale).padEnd(scale, '0')
  const zero = /^0+$/.test(intPart) && /^0*$/.test(fracPart)
  return `${zero ? '' : sign!}${intPart}${scale > 0 ? `.${fracPart}` : ''}`
}

/** `YYYY-MM-DDTHH:MM:SS` and exactly `precision` fractional digits; undefined if non-zero digits would be cut. */
function canonicalDatetime (text: string, precision: number): string | undefined {
  // the common case (the wire's spelling, or MySQL's with a space) in one pass, as for decimals
  if (text.length === (precision > 0 ? 20 + precision : 19) && hasDatetimeShape(text)) {
    return text.charCodeAt(10) === 0x54 ? text : `${text.slice(0, 10)}T${text.slice(11)}`
  }
  return respellDatetime(text, precision)
}

/** `dddd-dd-dd[T ]dd:dd:dd[.d…]`, character by character. */
function hasDatetimeShape (text: string): boolean {
  const sep = text.charCodeAt(10)
  if (sep !== 0x54 && sep !== 0x20) return false
  for (let i = 0; i < text.length; i++) {
    if (i === 10) continue
    const c = text.charCodeAt(i)
    const expected = i === 4 || i === 7 ? 0x2d : i === 13 || i === 16 ? 0x3a : i === 19 ? 0x2e : -1
    if (expected >= 0 ? c !== expected : c < DIGIT_0 || c > DIGIT_9) return false
  }
  return true
}

/** The general case of {@link canonicalDatetime}. */
function respellDatetime (text: string, precision: number): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/.exec(text)
  if (match === null) return undefined
  const [, date, time, fraction = ''] = match
  if (fraction.length > precision && !/^0*$/.test(fraction.slice(precision))) return undefined
  return `${date!}T${time!}${precision > 0 ? `.${fraction.slice(0, precision).padEnd(precision, '0')}` : ''}`
}

/**
 * The canonical text of a row (values in the stream's column order): a JSON array of the
 * canonical spellings, or `undefined` when a value has none.
 *
 * @example
 * canonicalRowText([{ type: 'bigint' }, { type: 'bool' }], ['007', true]) // '["7","true"]'
 */
export function canonicalRowText (columns: readonly HashColumn[], row: readonly unknown[]): string | undefined {
  if (row.length !== columns.length) return undefined
  const values = new Array<string | null>(row.length)
  for (let i = 0; i < row.length; i++) {
    const value = canonicalValue(columns[i]!, row[i])
    if (value === undefined) return undefined
    values[i] = value
  }
  return JSON.stringify(values)
}

/**
 * The 64-bit hash of a row: the first {@link ROW_HASH_BYTES} bytes of SHA-256 of its canonical
 * text, or {@link UNKNOWN_ROW_HASH} when it has none. SHA-256 rather than a faster checksum: a
 * value changed behind sisporta's back must not be able to keep its row's hash.
 */
export function rowHash (columns: readonly HashColumn[], row: readonly unknown[]): Buffer {
  const text = canonicalRowText(columns, row)
  if (text === undefined) return UNKNOWN_ROW_HASH
  // a real row never hashes to the "unknown" marker (1 in 2^64; then it is simply always sent)
  return sha256(text).subarray(0, ROW_HASH_BYTES)
}

/**
 * SHA-256 of a text's UTF-8 bytes: the one-shot `crypto.hash` where Node has it (20.12+, a third
 * cheaper per row than a Hash object), else `createHash`.
 */
const sha256: (text: string) => Buffer = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (text) => (crypto as unknown as { hash: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash('sha256', text, 'buffer')
  : (text) => crypto.createHash('sha256').update(text).digest()

/** Whether a hash is the marker of a row without canonical form. */
export function isUnknownRowHash (hash: Uint8Array): boolean {
  for (const byte of hash) if (byte !== 0) return false
  return true
}
