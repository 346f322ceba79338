import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import { keyColumnIndexes } from './stream-keys.js'

/** What a stream reads, as configured: a table (or view) by name, or a query. */
export type StreamSource = { readonly table: string } | { readonly query: string }

/**
 * The stream's source, after the checks every engine makes before asking the server: exactly
 * one of `table` and `query` (`SIS_SRC_ARGUMENT`), and a key whose columns are all mapped
 * (`SIS_SRC_KEY`, early rather than after a round trip).
 *
 * @example
 * const source = streamSource(stream)
 * return 'table' in source ? introspectTable(stream, source.table) : introspectQuery(stream, source.query)
 */
export function streamSource (stream: StreamConfig): StreamSource {
  const { table, query } = stream.source
  if ((table === undefined) === (query === undefined)) {
    throw new SourceError('SIS_SRC_ARGUMENT', `stream '${stream.name}': source needs exactly one of table or query`, { stream: stream.name })
  }
  keyColumnIndexes(stream) // fails early on a key that is not mapped
  return table !== undefined ? { table } : { query: query! }
}
