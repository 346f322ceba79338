import type { WireType } from '@sisporta/contracts'

/**
 * One value of a target row, as the pinned mysql2 pool reads it (`dateStrings`,
 * `bigNumberStrings`, `decimalNumbers: false`), back in the wire format of its column's type —
 * what the extractor would have sent for it — so that `canonicalValue` spells both sides alike.
 * A value that cannot be the column's (a TINYINT(1) holding 2, a number where a string belongs)
 * becomes `undefined`: it has no canonical form, and its row counts as different.
 *
 * @example
 * targetWireValue('bool', 1)                          // true
 * targetWireValue('binary', Buffer.from([0, 1]))      // 'AAE='
 * targetWireValue('datetime', '2026-01-02 03:04:05.5') // '2026-01-02 03:04:05.5' (canonicalValue accepts the space)
 */
export function targetWireValue (type: WireType, value: unknown): unknown {
  if (value === null) return null
  switch (type) {
    case 'bool':
      return value === 0 || value === '0' ? false : value === 1 || value === '1' ? true : undefined
    case 'binary':
      return Buffer.isBuffer(value) ? value.toString('base64') : undefined
    case 'bigint':
      return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value
    case 'int':
      return typeof value === 'string' && /^-?\d{1,10}$/.test(value) ? Number(value) : value
    case 'string':
    case 'decimal':
    case 'date':
    case 'datetime':
    case 'uuid':
      return typeof value === 'string' ? value : undefined
    case 'float':
      // read as MySQL's text (compare-range.ts): JavaScript's Number() rounds it correctly
      if (typeof value === 'string') return /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(value) ? Number(value) : undefined
      return value
    case 'json':
      // mysql2 parses a JSON column (MySQL's JSON type; MariaDB's LONGTEXT by its `json` column
      // format): the value is the parsed JSON value, a wire json value — a string is a JSON string
      return value
  }
}
