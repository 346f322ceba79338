import type { StreamConfig, WireType, WireValue } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { KeyValues, WireRow } from './source-dialect.js'
import { describeSourceValue } from './wire-convert.js'

const cache = new WeakMap<StreamConfig, readonly number[]>()

/**
 * Positions in `stream.columns` (and so in a wire row) of the stream's `target.key` columns, in
 * `target.key` order. Fails with `SIS_SRC_KEY` when a key column is not mapped.
 *
 * @example
 * keyColumnIndexes(stream) // [0, 2] for key [sku, line] and columns [sku, name, line]
 */
export function keyColumnIndexes (stream: StreamConfig): readonly number[] {
  let indexes = cache.get(stream)
  if (indexes !== undefined) return indexes
  if (stream.target.key.length === 0) {
    throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': target.key is empty; keyset pagination needs a key`, { stream: stream.name })
  }
  indexes = stream.target.key.map((key) => {
    const i = stream.columns.findIndex((c) => c.name === key)
    if (i < 0) {
      throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': key column '${key}' is not among the mapped columns (${stream.columns.map((c) => c.name).join(', ')})`, { stream: stream.name, column: key })
    }
    return i
  })
  if (new Set(indexes).size !== indexes.length) {
    throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': target.key names a column twice (${stream.target.key.join(', ')})`, { stream: stream.name })
  }
  cache.set(stream, Object.freeze(indexes))
  return indexes
}

/**
 * The key of a wire row: what to pass as `after` to read the page that follows it, and what the
 * extractor checkpoints.
 *
 * @example
 * const page = await dialect.readPage(stream, undefined, 1000)
 * const next = await dialect.readPage(stream, keyOf(stream, page.at(-1)!), 1000)
 */
export function keyOf (stream: StreamConfig, row: WireRow): KeyValues {
  return keyColumnIndexes(stream).map((i) => row[i])
}

/**
 * Wire types every engine orders the same way, by value: numbers, booleans, dates and date-times
 * (canonical wire text: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.ffffff]`, which sorts as it reads).
 * Strings and uuids are left out: their order is the source column's collation (case, accents,
 * a locale) or byte layout (SQL Server's uniqueidentifier), which only the source knows.
 */
const ORDERED_TYPES: ReadonlySet<WireType> = new Set(['int', 'bigint', 'decimal', 'bool', 'date', 'datetime'])

/**
 * Compares two keys of `stream` column by column in `target.key` order, as every engine orders
 * them: negative when `a` comes first, 0 when equal, positive when `b` does — or `undefined`
 * when the first column in which they differ sorts by the source's collation (a string, a uuid),
 * an order only the source knows. Equal keys are always recognised.
 *
 * @example
 * compareKeys(stream, [7, 'B'], [10, 'a'])  // negative: 7 < 10, whatever the collation
 * compareKeys(stream, [7, 'B'], [7, 'a'])   // undefined: 'B' vs 'a' depends on the collation
 * compareKeys(stream, [7, 'a'], [7, 'a'])   // 0
 */
export function compareKeys (stream: StreamConfig, a: KeyValues, b: KeyValues): number | undefined {
  const indexes = keyColumnIndexes(stream)
  for (let k = 0; k < indexes.length; k++) {
    const x = a[k]
    const y = b[k]
    if (x === y) continue
    return compareWireValues(stream.columns[indexes[k]!]!.type, x, y)
  }
  return 0
}

/** Two different wire values of one type, in value order; undefined when only the source can tell. */
function compareWireValues (type: WireType, x: WireValue | undefined, y: WireValue | undefined): number | undefined {
  if (!ORDERED_TYPES.has(type) || x === null || y === null || x === undefined || y === undefined) return undefined
  try {
    switch (type) {
      case 'int':
      case 'bool':
        return Math.sign(Number(x) - Number(y))
      case 'bigint': {
        const bx = BigInt(String(x))
        const by = BigInt(String(y))
        return bx < by ? -1 : bx > by ? 1 : 0
      }
      case 'decimal':
        return compareDecimalText(String(x), String(y))
      default: // date, datetime: canonical text sorts as it reads
        return String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0
    }
  } catch {
    // not canonical wire text: the order cannot be told here
    return undefined
  }
}

/** `-?digits[.digits]` compared exactly, as scaled integers (no doubles: 38 digits stay 38). */
function compareDecimalText (x: string, y: string): number {
  const [xi = '', xf = ''] = x.split('.')
  const [yi = '', yf = ''] = y.split('.')
  const scale = Math.max(xf.length, yf.length)
  const bx = BigInt(`${xi}${xf.padEnd(scale, '0')}`)
  const by = BigInt(`${yi}${yf.padEnd(scale, '0')}`)
  // '-0.5' reads as -05: the sign is carried by the integer part's minus
  return bx < by ? -1 : bx > by ? 1 : 0
}

/**
 * Keyset pagination only ends if each page ends after the one before: a page whose last key is
 * not strictly after the previous page's last key (a `query:` stream whose key is not unique or
 * not ordered the way it compares, a key the source changes between reads) would read the same
 * rows forever. Fails with `SIS_SRC_KEY` naming the stream and both keys. Keys whose order only
 * the source knows (strings, uuids) are refused when equal.
 *
 * @example
 * checkKeyAdvances(stream, [5], [5]) // throws SIS_SRC_KEY: … ends at key {id: 5}, not after {id: 5} …
 */
export function checkKeyAdvances (stream: StreamConfig, previous: KeyValues, last: KeyValues): void {
  const order = compareKeys(stream, previous, last)
  if (order === undefined || order < 0) return
  const describe = (key: KeyValues): string => stream.target.key.map((name, k) => `${name}: ${describeSourceValue(key[k])}`).join(', ')
  throw new SourceError('SIS_SRC_KEY',
    `stream '${stream.name}': the page read after key {${describe(previous)}} ends at key {${describe(last)}}, which is ${order === 0 ? 'the same key' : 'before it'}: ` +
    `the source does not return target.key (${stream.target.key.join(', ')}) in increasing order, so keyset pagination would read the same rows forever. ` +
    'A query: stream needs a key that is unique and sorts as it compares; stopping the load',
    { stream: stream.name, exitCode: 1 })
}
