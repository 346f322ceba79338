import { findRowCells, jsonProblemMessage, type StreamConfig } from '@sisporta/contracts'
import { PersistError } from './errors.js'

/**
 * A json column's value as the JSON text it had in the batch body, byte for byte: what the
 * persister stores (never a re-serialisation of the parsed value, which would turn `1e400` into
 * `null`, round `12345678901234567890123`, drop a duplicate key, or change spacing and order).
 */
export class RawJson {
  readonly text: string
  constructor (text: string) {
    this.text = text
  }
}

/** The body's rows with every non-null json value replaced by its {@link RawJson} text. */
export interface RowsWithRawJson {
  readonly columns: readonly string[]
  readonly rows: readonly (readonly unknown[])[]
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Puts the raw text of each json value back into a parsed batch body: the general path's
 * counterpart of the transcoder's copying json values from the bytes. `payload` is the body's
 * UTF-8 JSON, `body` what JSON.parse made of it, already passed by the stream's batch check.
 * Each value's text is checked again as text (`findRowCells`): a duplicate key's first value,
 * which JSON.parse dropped and so the check never saw, is still in the text MariaDB would get.
 *
 * @example
 * withRawJson(stream, payload, { columns: ['id', 'doc'], rows: [[1, { a: 1 }]] })
 * // rows: [[1, RawJson { text: '{ "a" : 1 }' }]] — the bytes as sent
 */
export function withRawJson (stream: StreamConfig, payload: Uint8Array, body: { readonly columns: readonly string[], readonly rows: readonly (readonly unknown[])[] }): RowsWithRawJson {
  const jsonColumns = new Set<number>()
  const types = new Map(stream.columns.map((c) => [c.name, c.type]))
  body.columns.forEach((name, index) => { if (types.get(name) === 'json') jsonColumns.add(index) })
  if (jsonColumns.size === 0) return body
  // a byte-order mark: the UTF-8 decoder before JSON.parse skipped it, so skip it here too
  if (payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf) payload = payload.subarray(3)
  const rows = body.rows.map((row) => [...row])
  let cells = 0
  const problem = findRowCells(payload, jsonColumns, ({ row, column, start, end }) => {
    const target = rows[row]
    if (target === undefined || column >= target.length) return
    cells++
    if (target[column] !== null) target[column] = new RawJson(UTF8.decode(payload.subarray(start, end)))
  })
  if (problem !== undefined) {
    const name = body.columns[problem.column]
    if (name === undefined) throw new PersistError('SIS_PERSIST_BAD_BODY', `the rows of the payload cannot be read as JSON text (row ${problem.row})`)
    throw new PersistError('SIS_PERSIST_BAD_BODY', `row ${problem.row}, column '${name}' (json): ${jsonProblemMessage(problem.code)}`)
  }
  if (cells !== rows.length * jsonColumns.size) {
    throw new PersistError('SIS_PERSIST_BAD_BODY', `found ${cells} json values in the payload's text, the parsed body has ${rows.length * jsonColumns.size}`)
  }
  return { columns: body.columns, rows }
}
