import { PersistError } from './errors.js'
import type { SqlValue } from './wire-to-sql.js'

/**
 * Text is written as a hex literal with a character-set introducer, `_utf8mb4 X'c3a7…'`: its
 * meaning does not depend on the connection at all. Not on `character_set_client` (a server
 * that imposes gbk or latin1 would read an escaped literal's bytes differently — with gbk, a
 * multi-byte character can swallow the backslash that escapes a quote), nor on sql_mode
 * (NO_BACKSLASH_ESCAPES). The values of an upsert are then printable ASCII — numbers are
 * digits, other quoted values ASCII-only — which every character set a MySQL client may use
 * reads the same way. (The session is pinned and verified as well: `createDb`; this makes the
 * values safe even if that ever failed.) Table and column names are the one part that may not
 * be ASCII (`Preço`: MySQL has no hex form of a name); they are quoted, and read as utf8mb4
 * because the session is verified to be utf8mb4 before a connection is used.
 *
 * Both ways of rendering rows (`renderRows` from parsed values, `transcodeRows` from the JSON
 * bytes) write text with these literals, lower-case hex, so they produce the same bytes.
 */
export const TEXT_LITERAL_OPEN = "_utf8mb4 X'"

/** Text (any string, valid Unicode) as a `_utf8mb4 X'…'` literal of its UTF-8 bytes. */
export function textLiteral (value: string): string {
  return `${TEXT_LITERAL_OPEN}${Buffer.from(value, 'utf8').toString('hex')}'`
}

/** Printable ASCII without a quote or a backslash: the same in every client character set. */
const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/

/**
 * A value of a checked ASCII format (bigint and decimal digits, dates, datetimes, uuids) as a
 * plain quoted literal, `'12.50'`. Such text means the same in every client character set and
 * sql_mode, and is a third of the size of its hex literal. Anything else is refused (the batch
 * check lets nothing else through; this keeps a mistake from reaching the SQL).
 *
 * @example
 * asciiLiteral('2024-02-29 23:59:59.5') // "'2024-02-29 23:59:59.5'"
 */
export function asciiLiteral (value: string): string {
  if (!PLAIN_ASCII.test(value)) throw new PersistError('SIS_PERSIST_BAD_VALUE', `'${value.slice(0, 40)}' is not plain ASCII where a formatted value was expected`)
  return `'${value}'`
}

/**
 * A statement value as MySQL literal text: NULL, a number as JavaScript spells it (the
 * shortest text that reads back as the same double), bytes as a hex literal, text as a
 * `_utf8mb4` hex literal.
 *
 * @example
 * sqlLiteral("O'Brien")                 // "_utf8mb4 X'4f27427269656e'"
 * sqlLiteral(Buffer.from([0, 255]))     // "X'00ff'"
 */
export function sqlLiteral (value: SqlValue): string {
  if (value === null) return 'NULL'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return textLiteral(value)
  return `X'${value.toString('hex')}'`
}
