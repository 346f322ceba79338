import type { WireRow } from '@sisporta/source'
import { ExtractError } from './errors.js'

/**
 * Encodes a page of rows as batch bodies no larger than `maxBytes` each: normally one body per
 * page; a page with very long values (texts of hundreds of KB) is halved until each half fits.
 * The bus has a per-message limit (NATS max_payload, 1 MiB by default), and a batch over it
 * would be refused, not split, by the gateway.
 *
 * @example
 * encodeBatches(['sku', 'name'], rows, 900_000) // ['{"columns":["sku","name"],"rows":[…]}', …]
 */
export function encodeBatches (columns: readonly string[], rows: readonly WireRow[], maxBytes: number, describeRow: (row: WireRow) => string): string[] {
  const body = JSON.stringify({ columns, rows })
  if (Buffer.byteLength(body) <= maxBytes) return [body]
  if (rows.length === 1) {
    throw new ExtractError('SIS_EXTRACT_ROW_TOO_LARGE', `row ${describeRow(rows[0]!)} is ${Buffer.byteLength(body)} bytes as JSON, more than the ${maxBytes} bytes a batch may have (SISPORTA_MAX_BATCH_BYTES, and the NATS server's max_payload)`)
  }
  const half = Math.ceil(rows.length / 2)
  return [...encodeBatches(columns, rows.slice(0, half), maxBytes, describeRow), ...encodeBatches(columns, rows.slice(half), maxBytes, describeRow)]
}
