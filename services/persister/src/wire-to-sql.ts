import type { WireType } from '@sisporta/contracts'
import { PersistError } from './errors.js'
import { RawJson } from './raw-json.js'

/** What a wire value becomes as a statement parameter. */
export type SqlValue = string | number | Buffer | null

/**
 * Converts one value from the canonical wire format to the parameter MySQL stores exactly.
 * The value is expected to have passed the stream's batch check (`createBatchChecker`); the
 * JavaScript type is still checked here, because the driver would render an object or a
 * boolean in a string column as SQL of its own.
 *
 * - bigint and decimal stay strings of digits: MySQL converts a string to DECIMAL / BIGINT
 *   exactly, a JavaScript number would already have lost digits;
 * - datetime `YYYY-MM-DDTHH:MM:SS.ffffff` becomes `YYYY-MM-DD HH:MM:SS.ffffff` (wall clock, no
 *   zone: never a `Date`, which the driver would shift to its time zone);
 * - bool is 1 / 0, binary is base64-decoded to bytes;
 * - json is its JSON text: the text it was received as when the value is a {@link RawJson}
 *   (every batch from the bus: see `withRawJson`), JSON.stringify of a value built in code.
 *
 * @example
 * wireToSql('datetime', '2024-02-29T23:59:59.123456') // '2024-02-29 23:59:59.123456'
 * wireToSql('binary', 'AAE=')                         // <Buffer 00 01>
 * wireToSql('json', new RawJson('{ "n": 1e400 }'))    // '{ "n": 1e400 }'
 * wireToSql('json', { a: [1, 2] })                    // '{"a":[1,2]}'
 */
export function wireToSql (type: WireType, value: unknown): SqlValue {
  if (value === null) return null
  switch (type) {
    case 'string':
    case 'bigint':
    case 'decimal':
    case 'date':
    case 'uuid':
      return expectString(type, value)
    case 'datetime': {
      const s = expectString(type, value)
      return s.length > 10 && s[10] === 'T' ? `${s.slice(0, 10)} ${s.slice(11)}` : s
    }
    case 'int':
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw badValue(type, value)
      return value
    case 'bool':
      if (typeof value !== 'boolean') throw badValue(type, value)
      return value ? 1 : 0
    case 'binary':
      return Buffer.from(expectString(type, value), 'base64')
    case 'json': {
      if (value instanceof RawJson) return value.text
      const text = JSON.stringify(value)
      if (text === undefined) throw badValue(type, value)
      return text
    }
  }
}

function expectString (type: WireType, value: unknown): string {
  if (typeof value !== 'string') throw badValue(type, value)
  return value
}

function badValue (type: WireType, value: unknown): PersistError {
  const got = Array.isArray(value) ? 'an array' : typeof value
  return new PersistError('SIS_PERSIST_BAD_VALUE', `a ${type} value must not be ${got}`)
}
