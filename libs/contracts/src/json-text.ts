import type { BatchProblem } from './batch-check.js'
import type { StreamConfig } from './config-schema.js'

/**
 * `json` column values as JSON text: what the target accepts, and where a value's text is in a
 * batch body. A json value is stored exactly as it was sent — the bytes of its JSON text, not a
 * re-serialisation of the parsed value (that turns `1e400` into `null`, rounds big integers and
 * long decimals, collapses duplicate keys) — so the persister needs each value's byte span in
 * the body, and the checks must refuse what MariaDB's JSON type (LONGTEXT + `JSON_VALID`) would.
 *
 * MariaDB's JSON_VALID accepts any number (`1e400`, 30 digits), duplicate keys and any
 * whitespace, and refuses:
 * - more than 31 arrays or objects inside one another (its parser keeps 32 levels and counts the
 *   innermost values as one): `JSON_MAX_DEPTH` levels, counting a scalar as 1 and each array
 *   or object around it as one more;
 * - an unpaired surrogate escape (`"\ud800"`, `"\udc00\ud800"`), in strings and keys alike;
 * - text that is not UTF-8 (the whole body is checked as UTF-8 before this).
 */

/** Levels a json value may have: a scalar is 1, each array or object around it one more. */
export const JSON_MAX_DEPTH = 32

/** Why a JSON text was refused (negative, so that scans return an offset or one of these). */
export const JsonTextProblem = Object.freeze({ Syntax: -1, TooDeep: -2, LoneSurrogate: -3 } as const)

/** The reason for a {@link JsonTextProblem}, as the batch check words it. */
export function jsonProblemMessage (code: number): string {
  if (code === JsonTextProblem.TooDeep) return `JSON nested deeper than ${JSON_MAX_DEPTH} levels (at most ${JSON_MAX_DEPTH - 1} arrays or objects inside one another)`
  if (code === JsonTextProblem.LoneSurrogate) return 'JSON text has a lone surrogate (an unpaired \\ud800-\\udfff escape)'
  return 'not valid JSON text'
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OBJECT = 1
const ARRAY = 2

/**
 * Scans the JSON value that starts at `at` (no whitespace before it) in UTF-8 bytes already
 * checked as valid UTF-8, as strictly as JSON.parse reads it, and also refusing what the target
 * refuses (see {@link JSON_MAX_DEPTH}, lone surrogates).
 *
 * `limits` false only finds where a value ends (any depth, any escapes): for walking a body.
 *
 * @returns the offset just past the value, or a negative {@link JsonTextProblem}.
 * @example
 * scanJsonValue(Buffer.from('[1, {"a": 1e400}] ,'), 0) // 17
 * scanJsonValue(Buffer.from('"\\ud800"'), 0)           // JsonTextProblem.LoneSurrogate
 */
export function scanJsonValue (src: Uint8Array, at: number, limits = true): number {
  const maxDepth = limits ? JSON_MAX_DEPTH : Infinity
  const maxContainers = maxDepth - 1
  let stack = new Uint8Array(Math.min(maxContainers, 64) + 1)
  let depth = 0
  let i = at
  for (;;) {
    // a value starts at i
    const b = src[i]
    if (b === 0x7b || b === 0x5b) {
      if (++depth > maxContainers) return JsonTextProblem.TooDeep
      if (depth === stack.length) {
        const bigger = new Uint8Array(stack.length * 2)
        bigger.set(stack)
        stack = bigger
      }
      stack[depth] = b === 0x7b ? OBJECT : ARRAY
      i = skipWs(src, i + 1)
      if (src[i] === (b === 0x7b ? 0x7d : 0x5d)) {
        i++
        depth--
      } else {
        if (b === 0x7b) {
          i = member(src, i, limits)
          if (i < 0) return i
        }
        continue
      }
    } else if (b === QUOTE) {
      i = scanString(src, i, limits)
      if (i < 0) return i
    } else if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) {
      i = scanNumber(src, i)
      if (i < 0) return i
    } else if (b === 0x74) {
      if (!literal(src, i, TRUE)) return JsonTextProblem.Syntax
      i += 4
    } else if (b === 0x66) {
      if (!literal(src, i, FALSE)) return JsonTextProblem.Syntax
      i += 5
    } else if (b === 0x6e) {
      if (!literal(src, i, NULL)) return JsonTextProblem.Syntax
      i += 4
    } else {
      return JsonTextProblem.Syntax
    }
    // after a value: close containers, or go on with the next member
    for (;;) {
      if (depth === 0) return i
      i = skipWs(src, i)
      const c = src[i]
      const kind = stack[depth]
      if (c === 0x2c) {
        i = skipWs(src, i + 1)
        if (kind === OBJECT) {
          i = member(src, i, limits)
          if (i < 0) return i
        }
        break
      }
      if (c === (kind === OBJECT ? 0x7d : 0x5d)) {
        i++
        depth--
        continue
      }
      return JsonTextProblem.Syntax
    }
  }
}

const TRUE = [0x74, 0x72, 0x75, 0x65]
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65]
const NULL = [0x6e, 0x75, 0x6c, 0x6c]

function literal (src: Uint8Array, at: number, bytes: readonly number[]): boolean {
  for (let k = 0; k < bytes.length; k++) if (src[at + k] !== bytes[k]) return false
  return true
}

/** `"key" :` and the whitespace after it: the offset of the member's value, or a problem. */
function member (src: Uint8Array, at: number, surrogates: boolean): number {
  if (src[at] !== QUOTE) return JsonTextProblem.Syntax
  let i = scanString(src, at, surrogates)
  if (i < 0) return i
  i = skipWs(src, i)
  if (src[i] !== 0x3a) return JsonTextProblem.Syntax
  return skipWs(src, i + 1)
}

/** The offset of the first non-whitespace byte (JSON whitespace: space, tab, LF, CR) from `at`. */
export function skipWs (src: Uint8Array, at: number): number {
  let i = at
  for (;;) {
    const b = src[i]
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i
    i++
  }
}

/** At a quote: the offset past the closing quote, or a problem (with `surrogates`, a lone surrogate escape included). */
function scanString (src: Uint8Array, at: number, surrogates: boolean): number {
  let i = at + 1
  for (;;) {
    const b = src[i++]
    if (b === undefined) return JsonTextProblem.Syntax
    if (b === QUOTE) return i
    if (b < 0x20) return JsonTextProblem.Syntax
    if (b !== BACKSLASH) continue
    const e = src[i++]
    if (e === 0x75) {
      const unit = hex4(src, i)
      if (unit < 0) return JsonTextProblem.Syntax
      i += 4
      if (surrogates && unit >= 0xd800 && unit <= 0xdfff) {
        // only a high surrogate followed by an escaped low one makes a code point
        if (unit > 0xdbff || src[i] !== BACKSLASH || src[i + 1] !== 0x75) return JsonTextProblem.LoneSurrogate
        const low = hex4(src, i + 2)
        if (low < 0) return JsonTextProblem.Syntax
        if (low < 0xdc00 || low > 0xdfff) return JsonTextProblem.LoneSurrogate
        i += 6
      }
    } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
      return JsonTextProblem.Syntax
    }
  }
}

/** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` from `at`: the offset past it, or a problem. */
function scanNumber (src: Uint8Array, at: number): number {
  let i = at
  if (src[i] === 0x2d) i++
  if (src[i] === 0x30) {
    i++
  } else {
    const first = i
    while (isDigit(src[i])) i++
    if (i === first) return JsonTextProblem.Syntax
  }
  if (src[i] === 0x2e) {
    const first = ++i
    while (isDigit(src[i])) i++
    if (i === first) return JsonTextProblem.Syntax
  }
  if (src[i] === 0x65 || src[i] === 0x45) {
    i++
    if (src[i] === 0x2b || src[i] === 0x2d) i++
    const first = i
    while (isDigit(src[i])) i++
    if (i === first) return JsonTextProblem.Syntax
  }
  return i
}

function isDigit (b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39
}

/** Four hex digits at `at` (a `\u` escape's) as a code unit, or -1. */
export function hex4 (src: Uint8Array, at: number): number {
  let value = 0
  for (let k = 0; k < 4; k++) {
    const b = src[at + k]
    if (b === undefined) return -1
    const d = b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1
    if (d < 0) return -1
    value = value * 16 + d
  }
  return value
}

/** Where a value of a batch body's rows is: row and column index, byte offsets of its JSON text. */
export interface RowCell {
  readonly row: number
  readonly column: number
  readonly start: number
  readonly end: number
}

/** A json value of a batch body that the target would refuse. */
export interface RowCellProblem {
  readonly row: number
  readonly column: number
  /** A {@link JsonTextProblem}. */
  readonly code: number
}

/**
 * Walks the JSON text of a batch body `{"columns": […], "rows": [[…], …]}` (UTF-8 bytes, already
 * accepted by JSON.parse: any key order, any whitespace, the last `rows` key counting, as for
 * JSON.parse) and reports the byte span of every value whose column index is in `columns`,
 * checking each as a json value ({@link scanJsonValue}). A value JSON.parse collapsed away (a
 * duplicate key's earlier value) is still in the text, and still checked: the text is what the
 * target receives.
 *
 * @returns the first value the target would refuse, or undefined when every one is fine.
 * @example
 * const spans: RowCell[] = []
 * findRowCells(body, new Set([2]), (cell) => spans.push(cell))
 */
export function findRowCells (src: Uint8Array, columns: ReadonlySet<number>, visit: (cell: RowCell) => void): RowCellProblem | undefined {
  const rows = rowsSpan(src)
  if (rows < 0) return { row: -1, column: -1, code: JsonTextProblem.Syntax }
  let i = rows + 1
  let row = 0
  i = skipWs(src, i)
  if (src[i] === 0x5d) return undefined
  for (;;) {
    if (src[i] !== 0x5b) return { row, column: -1, code: JsonTextProblem.Syntax }
    i = skipWs(src, i + 1)
    let column = 0
    if (src[i] !== 0x5d) {
      for (;;) {
        const checked = columns.has(column)
        const end = scanJsonValue(src, i, checked)
        if (end < 0) return { row, column, code: end }
        if (checked) visit({ row, column, start: i, end })
        i = skipWs(src, end)
        column++
        if (src[i] === 0x5d) break
        if (src[i] !== 0x2c) return { row, column, code: JsonTextProblem.Syntax }
        i = skipWs(src, i + 1)
      }
    }
    i = skipWs(src, i + 1)
    row++
    if (src[i] === 0x5d) return undefined
    if (src[i] !== 0x2c) return { row, column: -1, code: JsonTextProblem.Syntax }
    i = skipWs(src, i + 1)
  }
}

const ROWS = [0x72, 0x6f, 0x77, 0x73]
const UTF8 = new TextDecoder()

/** The offset of the `[` of the body's last `rows` member, or -1. */
function rowsSpan (src: Uint8Array): number {
  let i = skipWs(src, 0)
  if (src[i] !== 0x7b) return -1
  i = skipWs(src, i + 1)
  let found = -1
  if (src[i] === 0x7d) return -1
  for (;;) {
    if (src[i] !== QUOTE) return -1
    const keyEnd = scanString(src, i, false)
    if (keyEnd < 0) return -1
    // a key may spell `rows` with escapes (`"\u0072ows"`): JSON.parse reads it as rows too
    const isRows = keyEnd - i === 6 ? literal(src, i + 1, ROWS) : keyEnd - i > 6 && JSON.parse(UTF8.decode(src.subarray(i, keyEnd))) === 'rows'
    i = skipWs(src, keyEnd)
    if (src[i] !== 0x3a) return -1
    i = skipWs(src, i + 1)
    const end = scanJsonValue(src, i, false)
    if (end < 0) return -1
    if (isRows) found = src[i] === 0x5b ? i : -1
    i = skipWs(src, end)
    if (src[i] === 0x7d) return found
    if (src[i] !== 0x2c) return -1
    i = skipWs(src, i + 1)
  }
}

/**
 * The check of a batch body's json values as text, for the gateway to run on the raw body after
 * the batch check passed: JSON.parse keeps only the last of duplicate keys, so a value the
 * target would refuse (`{"a": <33 levels>, "a": 1}`, `{"a": "\\ud800", "a": 1}`) can hide from
 * the check of parsed values, yet the target receives the whole text. Undefined when the stream
 * has no json column in `body.columns` (nothing to scan) or every value is fine.
 *
 * @example
 * const checkJson = createJsonTextCheck(stream)
 * checkJson(body, request.rawBody) // { row: 1, column: 'doc', message: "row 1, column 'doc' (json): JSON nested deeper than 32 levels …" }
 */
export function createJsonTextCheck (stream: StreamConfig): (body: { readonly columns: readonly string[] }, raw: Uint8Array) => BatchProblem | undefined {
  const json = new Set(stream.columns.filter((c) => c.type === 'json').map((c) => c.name))
  return (body, raw) => {
    const columns = new Set<number>()
    body.columns.forEach((name, index) => { if (json.has(name)) columns.add(index) })
    if (columns.size === 0) return undefined
    const problem = findRowCells(raw, columns, () => {})
    if (problem === undefined) return undefined
    const name = body.columns[problem.column]
    if (name === undefined) return { message: `the rows cannot be read as JSON text (row ${problem.row})` }
    return { row: problem.row, column: name, message: `row ${problem.row}, column '${name}' (json): ${jsonProblemMessage(problem.code)}` }
  }
}
