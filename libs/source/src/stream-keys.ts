import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { KeyValues, WireRow } from './source-dialect.js'

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
