import { BatchHeaders, type StreamConfig } from '@sisporta/contracts'
import type { Bisection } from './bisect-batch.js'
import type { DecodedBatch } from './decode-batch.js'
import { PersistError } from './errors.js'
import { rowTexts } from './row-texts.js'

/** What a dead letter stores instead of the delivered message: its body and the headers it adds. */
export interface LetterContent {
  readonly data: Uint8Array
  /** Set on the letter over the message's own (`Sisporta-Rows` among them). */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The failure of a batch whose good rows bisection applied: `SIS_PERSIST_ROWS_REFUSED`, carrying
 * the dead letter to store instead of the whole message (`settle` publishes `letter`).
 */
export class RowsRefusedError extends PersistError {
  readonly letter: LetterContent
  /** Rows of the batch bisection applied. */
  readonly applied: number
  constructor (message: string, letter: LetterContent, applied: number) {
    super('SIS_PERSIST_ROWS_REFUSED', message)
    this.letter = letter
    this.applied = applied
  }
}

/** Longest `Sisporta-Keys` header (JSON of the offending rows' keys): longer lists are cut, still valid JSON. */
const MAX_KEYS_HEADER = 4000
/** Refused rows the reason names one by one. */
const NAMED_IN_REASON = 5

/** A refused row as the letter describes it. */
export interface RefusedRowReport {
  readonly row: number
  readonly key: Record<string, unknown>
  readonly column?: string
  readonly error: string
}

/**
 * The dead letter of a bisected batch: a batch body holding only the rows not applied (those
 * MySQL refused one by one, and any bisection left undecided), each as the JSON text it was sent
 * as, and headers naming the offending rows' keys (`Sisporta-Keys`), the column MySQL named
 * (`Sisporta-Column`), the rows applied (`Sisporta-Applied`) and the whole batch's rows
 * (`Sisporta-Batch-Rows`, what a replay of the letter completes). The reason lists the first
 * rows with their key, column and MySQL's words.
 *
 * @example
 * throw refusedRowsLetter(batch, msg.data, bisection, 100)
 * // SIS_PERSIST_ROWS_REFUSED: batch 0 of load 7 (stream 'customers'): 3 of 100 rows refused, 97 applied; row 12 (id=13), column 'name': Data too long for column 'name' …
 */
export function refusedRowsLetter (batch: DecodedBatch, payload: Uint8Array, bisection: Bisection, batchRows: number): RowsRefusedError {
  const stream = batch.stream
  const columns = 'body' in batch ? batch.body.columns : batch.rendered.columns
  const rows = [...bisection.refused.map((r) => r.row), ...bisection.undecided].sort((a, b) => a - b)
  const texts = rowTexts(payload, columns.length, rows)
  const textOf = new Map(rows.map((r, i) => [r, texts[i]!]))
  const reports: RefusedRowReport[] = bisection.refused.map(({ row, error }) => {
    const { column, text } = describeRefusal(error)
    return { row, key: keyOf(stream, columns, textOf.get(row)!), ...(column !== undefined ? { column } : {}), error: text }
  })
  const total = 'body' in batch ? batch.body.rows.length : batch.rendered.rowCount
  const where = `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}')`
  const named = reports.slice(0, NAMED_IN_REASON).map((r) => `row ${r.row} (${describeKey(r.key)})${r.column === undefined ? '' : `, column '${r.column}'`}: ${r.error}`)
  const more = reports.length > NAMED_IN_REASON ? `; and ${reports.length - NAMED_IN_REASON} more refused row(s)` : ''
  const left = bisection.undecided.length === 0 ? '' : `; ${bisection.undecided.length} row(s) not tried one by one (${bisection.stoppedBy ?? 'bisection stopped'}) are in the letter too`
  const message = `${where}: ${reports.length} of ${total} rows refused, ${bisection.applied} applied (the letter holds the ${rows.length} rows not applied); ${named.join('; ')}${more}${left}`
  const body = `{"columns":${JSON.stringify(columns)},"rows":[${texts.join(',')}]}`
  const headers: Record<string, string> = {
    [BatchHeaders.Rows]: String(rows.length),
    [BatchHeaders.BatchRows]: String(batchRows),
    [BatchHeaders.Applied]: String(bisection.applied),
    [BatchHeaders.Keys]: keysHeader(reports)
  }
  const column = reports.find((r) => r.column !== undefined)?.column
  if (column !== undefined) headers[BatchHeaders.Column] = column
  return new RowsRefusedError(message, { data: new TextEncoder().encode(body), headers }, bisection.applied)
}

/**
 * The column and MySQL's words of a one-row refusal, without the "batch … of load …: row 0, "
 * the error starts with (the row is named by the letter instead).
 */
export function describeRefusal (error: PersistError): { column?: string, text: string } {
  const text = error.message
    .replace(/^batch \d+ of load \d+ \(stream '[^']*'\):\s*/, '')
    .replace(/^(?:row \d+|one of rows \d+–\d+),?\s*/, '')
    .replace(/^column '[^']*'(?: \(.*?\))?:\s*/, '')
    .replace(/\s*Nothing of the batch is stored\.$/, '') // said of the one-row part, not of the batch
  const column = /column [`']?(?:[^`'.\s]+[`']?\.[`']?[^`'.\s]+[`']?\.)?[`']([^`']+)[`']/.exec(error.message)?.[1]
  return { ...(column !== undefined ? { column } : {}), text }
}

function keyOf (stream: StreamConfig, columns: readonly string[], text: string): Record<string, unknown> {
  let values: unknown[] = []
  try {
    values = JSON.parse(text) as unknown[]
  } catch {
    // the letter still holds the row; its key is just not named
  }
  const key: Record<string, unknown> = {}
  for (const name of stream.target.key) {
    const at = columns.indexOf(name)
    if (at >= 0) key[name] = values[at]
  }
  return key
}

function describeKey (key: Record<string, unknown>): string {
  return Object.entries(key).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')
}

/** The refused rows' keys as JSON, as many as fit the header. */
function keysHeader (reports: readonly RefusedRowReport[]): string {
  const keys: Record<string, unknown>[] = []
  let length = 2
  for (const r of reports) {
    const text = JSON.stringify(r.key)
    if (length + text.length + 1 > MAX_KEYS_HEADER) break
    keys.push(r.key)
    length += text.length + 1
  }
  return JSON.stringify(keys)
}
