import { isUtf8 } from 'node:buffer'
import { DATETIME_DEFAULTS, DECIMAL_DEFAULTS, createBatchChecker, hex4, isCalendarDate, scanJsonValue, type StreamConfig } from '@sisporta/contracts'
import type { RenderedRows } from './render-rows.js'
import { TEXT_LITERAL_OPEN } from './sql-literal.js'

/**
 * Renders a batch payload straight from its JSON bytes, or answers `undefined` when it will not
 * vouch for the result (then parse and render the general way: `renderRows`).
 */
export type RowTranscoder = (payload: Uint8Array, loadId: number) => RenderedRows | undefined

// What a column's values may be, worked out once per stream.
const STRING = 0
const INT = 1
const FLOAT = 2
const BIGINT = 3
const DECIMAL = 4
const BOOL = 5
const DATE = 6
const DATETIME = 7
const UUID = 8
const JSON_TEXT = 9

interface ColumnPlan {
  readonly kind: number
  readonly nullable: boolean
  /** string: most code points. */
  readonly length: number
  /** decimal: most digits before and after the point. */
  readonly intDigits: number
  readonly scale: number
  /** datetime: fractional digits the column keeps (a non-zero digit beyond them is refused). */
  readonly fraction: number
}

/** The two lower-case hex digits of each byte, as `Buffer#toString('hex')` writes them (sqlLiteral). */
const HEX_HIGH = new Uint8Array(256)
const HEX_LOW = new Uint8Array(256)
for (let b = 0; b < 256; b++) {
  const pair = b.toString(16).padStart(2, '0')
  HEX_HIGH[b] = pair.charCodeAt(0)
  HEX_LOW[b] = pair.charCodeAt(1)
}
const TEXT_OPEN = Buffer.from(TEXT_LITERAL_OPEN, 'latin1')

const QUOTE = 0x22
const BACKSLASH = 0x5c
const APOSTROPHE = 0x27
const INT64_MAX = Buffer.from('9223372036854775807')
const INT64_MIN = Buffer.from('9223372036854775808')
const KEY_COLUMNS = Buffer.from('"columns"')
const KEY_ROWS = Buffer.from('"rows"')
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')
const SQL_NULL = Buffer.from('NULL')

/**
 * The fast path of the persister: turns the payload of a batch message — the JSON body the
 * gateway checked and forwarded byte for byte — into the upsert's VALUES text in one pass over
 * the bytes, without building strings, arrays or numbers for the values. On the benchmark's
 * rows this costs the persister a fraction of `JSON.parse` + check + `renderRows`, and leaves
 * almost nothing for the garbage collector.
 *
 * It vouches for its output only when the payload is the plain shape the gateway accepts
 * (`{"columns":[…],"rows":[[…],…]}`, in that order, any JSON whitespace) and every value passes
 * the same checks as `createBatchChecker` for its column — then the bytes are exactly the ones
 * `renderRows` would write for the parsed body with its json values' text (`withRawJson`): a
 * property the tests check on generated batches. For anything else — another key order, a value
 * it does not check itself (`binary` columns, a number with an exponent in an `int` column, an
 * escaped digit), or any problem at all — it answers `undefined`: the general path then accepts
 * the batch or refuses it with the precise message. So the fast path can make a batch cheaper,
 * never accept what the general path would refuse.
 *
 * Text (`string` values, decoded from their JSON escapes, and the JSON text of `json` values as
 * it is, once `scanJsonValue` found it valid for the target) is written as `_utf8mb4 X'…'`
 * literals (see sql-literal.ts); the other quoted values are checked ASCII.
 *
 * @example
 * const transcode = createRowTranscoder(stream)
 * const rendered = transcode(msg.data, 42) ?? renderRows(stream, JSON.parse(text), 42)
 */
export function createRowTranscoder (stream: StreamConfig): RowTranscoder {
  const checkColumns = createBatchChecker(stream)
  const keys = new Set(stream.target.key)
  const plans = new Map<string, ColumnPlan | undefined>()
  for (const c of stream.columns) {
    const kind = KINDS[c.type]
    if (kind === undefined) {
      plans.set(c.name, undefined)
      continue
    }
    const scale = c.scale ?? DECIMAL_DEFAULTS.scale
    plans.set(c.name, {
      kind,
      nullable: !keys.has(c.name) && c.nullable !== false,
      length: c.type === 'string' && c.length !== undefined ? c.length : Infinity,
      intDigits: (c.precision ?? DECIMAL_DEFAULTS.precision) - scale,
      scale,
      fraction: c.type === 'datetime' ? c.precision ?? DATETIME_DEFAULTS.precision : DATETIME_DEFAULTS.precision
    })
  }
  return (payload, loadId) => {
    if (!isUtf8(payload)) return undefined
    const t = new Transcoding(payload, loadId)
    const columns = t.header()
    if (columns === undefined || checkColumns({ columns, rows: [] }) !== undefined) return undefined
    const row: ColumnPlan[] = []
    for (const name of columns) {
      const plan = plans.get(name)
      if (plan === undefined) return undefined
      row.push(plan)
    }
    return t.rows(row) ? t.result(columns) : undefined
  }
}

const KINDS: Partial<Record<StreamConfig['columns'][number]['type'], number>> = {
  string: STRING, int: INT, float: FLOAT, bigint: BIGINT, decimal: DECIMAL, bool: BOOL, date: DATE, datetime: DATETIME, uuid: UUID, json: JSON_TEXT
}

/** One payload being transcoded: a cursor over the JSON bytes and a growing output buffer. */
class Transcoding {
  readonly #src: Uint8Array
  readonly #suffix: Buffer
  #i = 0
  #out: Buffer
  #o = 0
  #rowEnds = new Uint32Array(1024)
  #rowCount = 0

  constructor (src: Uint8Array, loadId: number) {
    this.#src = src
    this.#suffix = Buffer.from(`,${loadId})`)
    // text doubles as hex (plus its introducer); `true` shrinks to `1`: most batches never grow this
    this.#out = Buffer.allocUnsafe(Math.max(1024, Math.ceil(src.length * 2.25)))
  }

  /** `{"columns":[names…],"rows":[` — the column names, or undefined. */
  header (): string[] | undefined {
    this.#ws()
    if (!this.#eat(0x7b)) return undefined
    this.#ws()
    if (!this.#eatBytes(KEY_COLUMNS)) return undefined
    this.#ws()
    if (!this.#eat(0x3a)) return undefined
    this.#ws()
    if (!this.#eat(0x5b)) return undefined
    const columns: string[] = []
    for (;;) {
      this.#ws()
      const start = this.#asciiString()
      if (start < 0) return undefined
      columns.push(Buffer.from(this.#src.buffer, this.#src.byteOffset + start, this.#i - 1 - start).toString('latin1'))
      this.#ws()
      if (this.#eat(0x5d)) break
      if (!this.#eat(0x2c)) return undefined
    }
    this.#ws()
    if (!this.#eat(0x2c)) return undefined
    this.#ws()
    if (!this.#eatBytes(KEY_ROWS)) return undefined
    this.#ws()
    if (!this.#eat(0x3a)) return undefined
    this.#ws()
    if (!this.#eat(0x5b)) return undefined
    return columns.length > 0 ? columns : undefined
  }

  /** Every row up to the end of the payload; false as soon as anything is not vouched for. */
  rows (plans: readonly ColumnPlan[]): boolean {
    const width = plans.length
    for (;;) {
      this.#ws()
      if (!this.#eat(0x5b)) return false
      this.#need(1 + this.#suffix.length)
      if (this.#rowCount > 0) this.#out[this.#o++] = 0x2c
      this.#out[this.#o++] = 0x28
      for (let c = 0; c < width; c++) {
        this.#ws()
        if (c > 0) {
          if (!this.#eat(0x2c)) return false
          this.#ws()
          this.#out[this.#o++] = 0x2c
        }
        if (!this.#value(plans[c]!)) return false
        this.#need(this.#suffix.length + 2)
      }
      this.#ws()
      if (!this.#eat(0x5d)) return false
      this.#o += this.#suffix.copy(this.#out, this.#o)
      this.#endRow()
      this.#ws()
      if (this.#eat(0x5d)) break
      if (!this.#eat(0x2c)) return false
    }
    this.#ws()
    if (!this.#eat(0x7d)) return false
    this.#ws()
    return this.#i === this.#src.length && this.#rowCount > 0
  }

  result (columns: readonly string[]): RenderedRows {
    return { columns, rowCount: this.#rowCount, bytes: this.#out, length: this.#o, rowEnds: this.#rowEnds.subarray(0, this.#rowCount) }
  }

  #value (plan: ColumnPlan): boolean {
    const src = this.#src
    const b = src[this.#i]
    if (b === 0x6e) {
      if (!plan.nullable || !this.#eatBytes(NULL)) return false
      this.#need(4)
      this.#o += SQL_NULL.copy(this.#out, this.#o)
      return true
    }
    switch (plan.kind) {
      case STRING:
        return b === QUOTE && this.#string(plan.length)
      case BOOL:
        if (this.#eatBytes(TRUE)) return this.#byte(0x31)
        if (this.#eatBytes(FALSE)) return this.#byte(0x30)
        return false
      case INT:
        return this.#int()
      case FLOAT:
        return this.#float()
      case JSON_TEXT:
        return this.#json()
      default:
        return b === QUOTE && this.#formatted(plan)
    }
  }

  /**
   * A JSON string into a `_utf8mb4 X'…'` literal of its text: raw UTF-8 bytes copied as hex (the
   * payload is valid UTF-8), escapes decoded to UTF-8 and written as hex. Refuses what the batch
   * check refuses: a lone surrogate, more than `maxCodePoints` code points.
   */
  #string (maxCodePoints: number): boolean {
    const src = this.#src
    const end = src.length
    let i = this.#i + 1
    this.#need(TEXT_OPEN.length)
    let out = this.#out
    let o = this.#o + TEXT_OPEN.copy(out, this.#o)
    // room for the longest step: 4 bytes of UTF-8 as 8 hex digits, and the closing quote
    let room = out.length - 16
    let codePoints = 0
    for (;;) {
      if (i >= end) return false
      if (o >= room) { this.#o = o; this.#grow(); out = this.#out; room = out.length - 16 }
      const b = src[i++]!
      if (b === QUOTE) break
      if (b === BACKSLASH) {
        if (i >= end) return false
        let unit: number
        switch (src[i++]) {
          case 0x22: unit = 0x22; break
          case 0x5c: unit = 0x5c; break
          case 0x2f: unit = 0x2f; break
          case 0x62: unit = 0x08; break
          case 0x66: unit = 0x0c; break
          case 0x6e: unit = 0x0a; break
          case 0x72: unit = 0x0d; break
          case 0x74: unit = 0x09; break
          case 0x75: {
            unit = hex4(src, i)
            if (unit < 0) return false
            i += 4
            break
          }
          default: return false
        }
        codePoints++
        if (unit < 0x80) {
          out[o++] = HEX_HIGH[unit]!
          out[o++] = HEX_LOW[unit]!
        } else if (unit < 0x800) {
          o = hexByte(out, o, 0xc0 | (unit >> 6))
          o = hexByte(out, o, 0x80 | (unit & 0x3f))
        } else if (unit < 0xd800 || unit > 0xdfff) {
          o = hexByte(out, o, 0xe0 | (unit >> 12))
          o = hexByte(out, o, 0x80 | ((unit >> 6) & 0x3f))
          o = hexByte(out, o, 0x80 | (unit & 0x3f))
        } else {
          // a surrogate: only a high one followed by an escaped low one makes a code point
          if (unit > 0xdbff || src[i] !== BACKSLASH || src[i + 1] !== 0x75) return false
          const low = hex4(src, i + 2)
          if (low < 0xdc00 || low > 0xdfff) return false
          i += 6
          const cp = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
          o = hexByte(out, o, 0xf0 | (cp >> 18))
          o = hexByte(out, o, 0x80 | ((cp >> 12) & 0x3f))
          o = hexByte(out, o, 0x80 | ((cp >> 6) & 0x3f))
          o = hexByte(out, o, 0x80 | (cp & 0x3f))
        }
      } else if (b < 0x20) {
        return false
      } else {
        out[o++] = HEX_HIGH[b]!
        out[o++] = HEX_LOW[b]!
        if ((b & 0xc0) !== 0x80) codePoints++
      }
    }
    out[o++] = APOSTROPHE
    if (codePoints > maxCodePoints) return false
    this.#i = i
    this.#o = o
    return true
  }

  /**
   * A json value: its JSON text as it is in the payload, once `scanJsonValue` found it valid
   * JSON the target accepts (depth, no lone surrogate), as a `_utf8mb4 X'…'` literal.
   */
  #json (): boolean {
    const src = this.#src
    const start = this.#i
    const end = scanJsonValue(src, start)
    if (end < 0) return false
    this.#need(TEXT_OPEN.length + 2 * (end - start) + 1)
    const out = this.#out
    let o = this.#o + TEXT_OPEN.copy(out, this.#o)
    for (let k = start; k < end; k++) {
      const b = src[k]!
      out[o++] = HEX_HIGH[b]!
      out[o++] = HEX_LOW[b]!
    }
    out[o++] = APOSTROPHE
    this.#i = end
    this.#o = o
    return true
  }

  /** bigint, decimal, date, datetime, uuid: an ASCII string of the column's format, quoted as is (datetime with a space for the T). */
  #formatted (plan: ColumnPlan): boolean {
    const start = this.#asciiString()
    if (start < 0) return false
    const src = this.#src
    const end = this.#i - 1
    let ok: boolean
    switch (plan.kind) {
      case BIGINT: ok = isBigint(src, start, end); break
      case DECIMAL: ok = isDecimal(src, start, end, plan); break
      case DATE: ok = end - start === 10 && isDate(src, start); break
      case DATETIME: ok = isDatetime(src, start, end) && fitsFraction(src, start, end, plan.fraction); break
      default: ok = isUuid(src, start, end)
    }
    if (!ok) return false
    this.#need(end - start + 2)
    const out = this.#out
    out[this.#o++] = APOSTROPHE
    this.#o += copyBytes(src, start, end, out, this.#o)
    if (plan.kind === DATETIME) out[this.#o - (end - start) + 10] = 0x20
    out[this.#o++] = APOSTROPHE
    return true
  }

  /** A JSON integer in the signed 32-bit range, written as is; "-0", fractions and exponents are left to the general path. */
  #int (): boolean {
    const src = this.#src
    const start = this.#i
    let i = start
    if (src[i] === 0x2d) i++
    const first = i
    let value = 0
    while (i < src.length && src[i]! >= 0x30 && src[i]! <= 0x39) value = value * 10 + src[i++]! - 0x30
    const digits = i - first
    if (digits === 0 || digits > 10 || (digits > 1 && src[first] === 0x30)) return false
    const next = src[i]
    if (next === 0x2e || next === 0x65 || next === 0x45) return false
    const negative = first > start
    if (negative ? (value > 2147483648 || value === 0) : value > 2147483647) return false
    this.#i = i
    this.#need(i - start)
    this.#o += copyBytes(src, start, i, this.#out, this.#o)
    return true
  }

  /** A JSON number of any spelling, written as JavaScript spells the double it denotes (as `renderRows` does). */
  #float (): boolean {
    const src = this.#src
    const start = this.#i
    let i = start
    if (src[i] === 0x2d) i++
    const intStart = i
    while (isDigit(src[i])) i++
    if (i === intStart || (i - intStart > 1 && src[intStart] === 0x30)) return false
    if (src[i] === 0x2e) {
      const f = ++i
      while (isDigit(src[i])) i++
      if (i === f) return false
    }
    if (src[i] === 0x65 || src[i] === 0x45) {
      i++
      if (src[i] === 0x2b || src[i] === 0x2d) i++
      const e = i
      while (isDigit(src[i])) i++
      if (i === e) return false
    }
    const value = Number(Buffer.from(src.buffer, src.byteOffset + start, i - start).toString('latin1'))
    if (!Number.isFinite(value)) return false
    this.#i = i
    const text = String(value)
    this.#need(text.length)
    this.#o += this.#out.write(text, this.#o, 'latin1')
    return true
  }

  /**
   * At a quote: a JSON string of printable ASCII without escapes. Returns where its content
   * starts (the cursor is then past the closing quote), or -1.
   */
  #asciiString (): number {
    const src = this.#src
    if (src[this.#i] !== QUOTE) return -1
    const start = this.#i + 1
    let i = start
    for (;;) {
      const b = src[i]
      if (b === undefined || b === BACKSLASH || b < 0x20 || b > 0x7e) return -1
      if (b === QUOTE) break
      i++
    }
    this.#i = i + 1
    return start
  }

  #byte (b: number): boolean {
    this.#need(1)
    this.#out[this.#o++] = b
    return true
  }

  #endRow (): void {
    if (this.#rowCount === this.#rowEnds.length) {
      const bigger = new Uint32Array(this.#rowEnds.length * 2)
      bigger.set(this.#rowEnds)
      this.#rowEnds = bigger
    }
    this.#rowEnds[this.#rowCount++] = this.#o
  }

  #ws (): void {
    const src = this.#src
    let i = this.#i
    for (;;) {
      const b = src[i]
      if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break
      i++
    }
    this.#i = i
  }

  #eat (b: number): boolean {
    if (this.#src[this.#i] !== b) return false
    this.#i++
    return true
  }

  #eatBytes (bytes: Buffer): boolean {
    const src = this.#src
    const at = this.#i
    for (let k = 0; k < bytes.length; k++) {
      if (src[at + k] !== bytes[k]) return false
    }
    this.#i = at + bytes.length
    return true
  }

  #need (n: number): void {
    if (this.#o + n > this.#out.length) this.#grow(n)
  }

  #grow (n = 0): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#o + n + 1024))
    this.#out.copy(bigger, 0, 0, this.#o)
    this.#out = bigger
  }
}

/** Writes byte `b` as two hex digits at `o`; returns the offset after them. */
function hexByte (out: Buffer, o: number, b: number): number {
  out[o] = HEX_HIGH[b]!
  out[o + 1] = HEX_LOW[b]!
  return o + 2
}

function copyBytes (src: Uint8Array, start: number, end: number, out: Buffer, at: number): number {
  for (let k = start; k < end; k++) out[at + k - start] = src[k]!
  return end - start
}

function isDigit (b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39
}

function digitsAt (src: Uint8Array, at: number, n: number): number {
  let value = 0
  for (let k = 0; k < n; k++) {
    const b = src[at + k]!
    if (b < 0x30 || b > 0x39) return -1
    value = value * 10 + b - 0x30
  }
  return value
}

/** `-?\d{1,19}` in the signed 64-bit range (as the batch check's BigInt comparison). */
function isBigint (src: Uint8Array, start: number, end: number): boolean {
  const negative = src[start] === 0x2d
  const first = negative ? start + 1 : start
  const n = end - first
  if (n < 1 || n > 19) return false
  for (let k = first; k < end; k++) if (!isDigit(src[k])) return false
  if (n < 19) return true
  const limit = negative ? INT64_MIN : INT64_MAX
  for (let k = 0; k < 19; k++) {
    const d = src[first + k]! - limit[k]!
    if (d !== 0) return d < 0
  }
  return true
}

/** `-?\d+(\.\d+)?` within the column's digits before and after the point (leading zeros not counted). */
function isDecimal (src: Uint8Array, start: number, end: number, plan: ColumnPlan): boolean {
  let i = src[start] === 0x2d ? start + 1 : start
  const intStart = i
  while (i < end && isDigit(src[i])) i++
  if (i === intStart) return false
  let significant = intStart
  while (significant < i && src[significant] === 0x30) significant++
  if (i - significant > plan.intDigits) return false
  if (i === end) return true
  if (src[i] !== 0x2e) return false
  const fracStart = ++i
  while (i < end && isDigit(src[i])) i++
  return i === end && i > fracStart && i - fracStart <= plan.scale
}

/** `YYYY-MM-DD`, a real calendar day (year 1 to 9999). */
function isDate (src: Uint8Array, at: number): boolean {
  if (src[at + 4] !== 0x2d || src[at + 7] !== 0x2d) return false
  const y = digitsAt(src, at, 4)
  const m = digitsAt(src, at + 5, 2)
  const d = digitsAt(src, at + 8, 2)
  return isCalendarDate(y, m, d)
}

/** `YYYY-MM-DDTHH:MM:SS[.f{1,6}]`. */
function isDatetime (src: Uint8Array, start: number, end: number): boolean {
  const n = end - start
  if (n < 19 || n === 20 || n > 26 || !isDate(src, start) || src[start + 10] !== 0x54) return false
  if (src[start + 13] !== 0x3a || src[start + 16] !== 0x3a) return false
  const h = digitsAt(src, start + 11, 2)
  const mi = digitsAt(src, start + 14, 2)
  const s = digitsAt(src, start + 17, 2)
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return false
  if (n === 19) return true
  return src[start + 19] === 0x2e && digitsAt(src, start + 20, n - 20) >= 0
}

/** Whether a valid datetime's digits after the first `fraction` fractional ones are all zeros (as `checkWireValue`). */
function fitsFraction (src: Uint8Array, start: number, end: number, fraction: number): boolean {
  for (let i = start + 20 + fraction; i < end; i++) if (src[i] !== 0x30) return false
  return true
}

/** Lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
function isUuid (src: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 36) return false
  for (let k = 0; k < 36; k++) {
    const b = src[start + k]!
    if (k === 8 || k === 13 || k === 18 || k === 23) {
      if (b !== 0x2d) return false
    } else if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66))) {
      return false
    }
  }
  return true
}
