import { findRowCells } from '@sisporta/contracts'

const UTF8 = new TextDecoder('utf-8')

/**
 * The JSON text of some rows of a batch body, byte for byte as sent (`[1,"A1",{"x":1.0}]`), so
 * that a dead letter holding only those rows stores their values exactly as the extractor sent
 * them — a json value is never re-serialised. Falls back to re-serialising the parsed rows when
 * the text cannot be cut (a body the checks passed always can).
 *
 * @example
 * rowTexts(Buffer.from('{"columns":["id","name"],"rows":[[1,"a"],[2,"b"]]}'), 2, [1])
 * // ['[2,"b"]']
 */
export function rowTexts (payload: Uint8Array, columnCount: number, rows: readonly number[]): string[] {
  // a byte-order mark: JSON.parse never saw it, the offsets below must not either
  if (payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf) payload = payload.subarray(3)
  const wanted = new Set(rows)
  const starts = new Map<number, number>()
  const ends = new Map<number, number>()
  const last = columnCount - 1
  const problem = findRowCells(payload, new Set([0, last]), ({ row, column, start, end }) => {
    if (!wanted.has(row)) return
    if (column === 0) starts.set(row, start)
    if (column === last) ends.set(row, end)
  })
  if (problem === undefined && rows.every((r) => starts.has(r) && ends.has(r))) {
    return rows.map((r) => `[${UTF8.decode(payload.subarray(starts.get(r), ends.get(r)))}]`)
  }
  const parsed = JSON.parse(UTF8.decode(payload)) as { rows: unknown[][] }
  return rows.map((r) => JSON.stringify(parsed.rows[r]))
}
