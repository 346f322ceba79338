import type { SqlValue } from './wire-to-sql.js'

/**
 * How an ASCII code unit is written inside a single-quoted MySQL string literal: the quote and
 * the backslash escaped, NUL and Ctrl-Z (which some clients treat as end of input) escaped, the
 * common control characters in their backslash form; anything else as itself. Both ways of
 * rendering rows (`renderRows` from parsed values, `transcodeRows` from the JSON bytes) write
 * strings with this one table, so they produce the same bytes for the same value.
 *
 * The backslash escapes assume the session's sql_mode has no NO_BACKSLASH_ESCAPES: sisporta
 * sets the session's sql_mode itself (`createDb`).
 */
export const ASCII_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x00, '\\0'],
  [0x08, '\\b'],
  [0x09, '\\t'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x1a, '\\Z'],
  [0x27, "\\'"],
  [0x5c, '\\\\']
])

const NEEDS_ESCAPE = /[\0\b\t\n\r\x1a'\\]/
const NEEDS_ESCAPE_ALL = /[\0\b\t\n\r\x1a'\\]/g

/** A JavaScript string as a quoted MySQL string literal (see {@link ASCII_ESCAPES}). */
export function quoteSqlString (value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `'${value}'`
  return `'${value.replace(NEEDS_ESCAPE_ALL, (c) => ASCII_ESCAPES.get(c.charCodeAt(0))!)}'`
}

/**
 * A statement value as MySQL literal text: NULL, a number as JavaScript spells it (the
 * shortest text that reads back as the same double), bytes as a hex literal, a string quoted.
 *
 * @example
 * sqlLiteral("O'Brien")                 // "'O\\'Brien'"
 * sqlLiteral(Buffer.from([0, 255]))     // "X'00ff'"
 */
export function sqlLiteral (value: SqlValue): string {
  if (value === null) return 'NULL'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return quoteSqlString(value)
  return `X'${value.toString('hex')}'`
}
