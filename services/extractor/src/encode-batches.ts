import type { WireRow } from '@sisporta/source'
import { ExtractError } from './errors.js'

/**
 * Encodes a page of rows as batch bodies no larger than `maxBytes` each: normally one body per
 * page; a page with very long values (texts of hundreds of KB) is cut into as many bodies as it
 * takes, rows kept in order. The bus has a per-message limit (NATS max_payload, 1 MiB by
 * default), and a batch over it would be refused, not split, by the gateway. Each row is
 * encoded once.
 *
 * @example
 * encodeBatches(['sku', 'name'], rows, 900_000, describeRow) // ['{"columns":["sku","name"],"rows":[…]}', …]
 */
export function encodeBatches (columns: readonly string[], rows: readonly WireRow[], maxBytes: number, describeRow: (row: WireRow) => string): string[] {
  const head = `{"columns":${JSON.stringify(columns)},"rows":[`
  const tail = ']}'
  const frame = Buffer.byteLength(head) + tail.length
  const bodies: string[] = []
  let parts: string[] = []
  let size = frame
  for (const row of rows) {
    const json = JSON.stringify(row)
    const bytes = Buffer.byteLength(json)
    if (frame + bytes > maxBytes) {
      throw new ExtractError('SIS_EXTRACT_ROW_TOO_LARGE', `row ${describeRow(row)} is ${frame + bytes} bytes as JSON, more than the ${maxBytes} bytes a batch may have (SISPORTA_MAX_BATCH_BYTES, and the NATS server's max_payload)`)
    }
    // +1 for the comma between rows
    if (parts.length > 0 && size + 1 + bytes > maxBytes) {
      bodies.push(head + parts.join(',') + tail)
      parts = []
      size = frame
    }
    size += (parts.length > 0 ? 1 : 0) + bytes
    parts.push(json)
  }
  if (parts.length > 0) bodies.push(head + parts.join(',') + tail)
  return bodies
}
