import type { StreamConfig, WireType } from '@sisporta/contracts'
import { PersistError } from './errors.js'
import { asciiLiteral, sqlLiteral } from './sql-literal.js'
import { wireToSql } from './wire-to-sql.js'

/**
 * The rows of one batch written out as the VALUES list of the upsert, in UTF-8:
 * `(v1,…,vn,load),(v1,…,vn,load)…` — every value a MySQL literal, each row ending with the load
 * id that stamps it. Statements are cut from it at row boundaries (`rowEnds`).
 */
export interface RenderedRows {
  /** Target columns, in the order of each row's values (the load stamp follows them). */
  readonly columns: readonly string[]
  readonly rowCount: number
  /** The tuples, separated by commas; only the first `length` bytes are meaningful. */
  readonly bytes: Buffer
  readonly length: number
  /** For every row, the offset in `bytes` just past its closing parenthesis. */
  readonly rowEnds: Uint32Array
}

/**
 * Renders parsed batch rows (values in the wire format, already checked against the stream
 * with `createBatchChecker`) as SQL tuples stamped with `loadId`. Each value is converted by
 * `wireToSql` and written by `sqlLiteral` (text as `_utf8mb4 X'…'`), or by `asciiLiteral` for
 * the types whose wire format is checked ASCII (bigint, decimal, date, datetime, uuid).
 *
 * This is the general path: any column type, any body a caller built. Batches as the gateway
 * forwards them normally take `transcodeRows` instead, which writes the same bytes straight from
 * the JSON without building the values. Bodies from the bus come here with their json values
 * as `RawJson` (`withRawJson`), so both paths store a json value's text as it was sent.
 *
 * @example
 * renderRows(stream, { columns: ['sku', 'price'], rows: [['A1', '12.50']] }, 7)
 * // bytes: "(_utf8mb4 X'4131','12.50',7)"
 */
export function renderRows (stream: StreamConfig, body: { readonly columns: readonly string[], readonly rows: readonly (readonly unknown[])[] }, loadId: number): RenderedRows {
  const types = columnTypes(stream, body.columns)
  const suffix = `,${loadId})`
  const tuples: string[] = []
  const rowEnds = new Uint32Array(body.rows.length)
  let length = 0
  for (let r = 0; r < body.rows.length; r++) {
    const row = body.rows[r]!
    let tuple = '('
    for (let c = 0; c < types.length; c++) {
      if (c > 0) tuple += ','
      const type = types[c]!
      const value = wireToSql(type, row[c])
      tuple += typeof value === 'string' && ASCII_FORMATS.has(type) ? asciiLiteral(value) : sqlLiteral(value)
    }
    tuple += suffix
    tuples.push(tuple)
    length += (r > 0 ? 1 : 0) + Buffer.byteLength(tuple)
    rowEnds[r] = length
  }
  const bytes = Buffer.from(tuples.join(','), 'utf8')
  return { columns: body.columns, rowCount: body.rows.length, bytes, length: bytes.length, rowEnds }
}

/** Wire types whose values are checked ASCII formats, written as plain quoted literals. */
const ASCII_FORMATS: ReadonlySet<WireType> = new Set(['bigint', 'decimal', 'date', 'datetime', 'uuid'])

function columnTypes (stream: StreamConfig, columns: readonly string[]): WireType[] {
  const byName = new Map(stream.columns.map((c) => [c.name, c.type]))
  return columns.map((name) => {
    const type = byName.get(name)
    if (type === undefined) throw new PersistError('SIS_PERSIST_BAD_BODY', `unknown column '${name}' for stream '${stream.name}'`)
    return type
  })
}
