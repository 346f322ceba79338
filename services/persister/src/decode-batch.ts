import { BatchHeaders, LOAD_MODES, STREAM_NAME_PATTERN, createBatchChecker, type BatchChecker, type BusNames, type LoadMode, type SisportaConfig, type StreamConfig } from '@sisporta/contracts'
import type { BatchToApply } from './apply-batch.js'
import { PersistError } from './errors.js'
import { createRowTranscoder, type RowTranscoder } from './transcode-rows.js'
import { withRawJson } from './raw-json.js'

/** The parts of a bus message the decoder reads (a `JsMsg` has them). */
export interface BatchMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers?: { get(name: string): string } | undefined
}

/** A batch message read and checked: its rows parsed, or already rendered as SQL for its load. */
export type DecodedBatch = BatchToApply & {
  readonly stream: StreamConfig
  /** `Sisporta-Replay`: the dead letter this message replays (`sisporta dlq replay N`). */
  readonly replay?: number
  /** `Sisporta-Batch-Rows`: rows of the whole batch, when the message holds only some of them (a dead letter's rows). */
  readonly batchRows?: number
}

export type BatchDecoder = (msg: BatchMessage) => DecodedBatch

/**
 * Builds the consume-side check of batch messages: headers well-formed and agreeing with the
 * subject, the stream one of this persister's, the payload a batch body that passes the same
 * `createBatchChecker` contract the gateway enforced. Anything else throws a permanent
 * `PersistError`, before MySQL is touched.
 *
 * A payload is first given to the stream's `createRowTranscoder`, which checks it and writes its
 * rows as SQL in one pass over the bytes (`rendered`); only a payload that one does not vouch for
 * is parsed and checked value by value here (`body`), which also gives the precise reason when
 * it is refused.
 *
 * @example
 * const decode = createBatchDecoder(config, names)
 * const batch = decode(msg) // { stream, loadId, batch, mode, body }
 */
export function createBatchDecoder (config: SisportaConfig, names: BusNames): BatchDecoder {
  const checkers = new Map<string, BatchChecker>()
  const transcoders = new Map<string, RowTranscoder>()
  return (msg) => {
    const streamName = header(msg, BatchHeaders.Stream)
    if (!STREAM_NAME_PATTERN.test(streamName)) throw badHeader(`${BatchHeaders.Stream} '${streamName}' is not a stream name`)
    if (msg.subject !== names.batchSubject(streamName)) throw badHeader(`${BatchHeaders.Stream} '${streamName}' does not match subject '${msg.subject}'`)
    const stream = config.stream(streamName)
    if (stream === undefined) throw new PersistError('SIS_PERSIST_UNKNOWN_STREAM', `stream '${streamName}' is not in this persister's config (${config.file})`)
    const loadId = integerHeader(msg, BatchHeaders.Load, 1)
    const batch = integerHeader(msg, BatchHeaders.Batch, 0)
    const mode = header(msg, BatchHeaders.Mode) as LoadMode
    if (!LOAD_MODES.includes(mode)) throw badHeader(`${BatchHeaders.Mode} '${mode}' is not one of ${LOAD_MODES.join(', ')}`)

    const replayed = replayHeaders(msg)
    const rowsHeader = msg.headers?.get(BatchHeaders.Rows) ?? ''
    let transcode = transcoders.get(stream.name)
    if (transcode === undefined) {
      transcode = createRowTranscoder(stream)
      transcoders.set(stream.name, transcode)
    }
    const rendered = transcode(msg.data, loadId)
    if (rendered !== undefined) {
      if (rowsHeader !== '' && Number(rowsHeader) !== rendered.rowCount) {
        throw badHeader(`${BatchHeaders.Rows} says ${rowsHeader} rows, the payload has ${rendered.rowCount}`)
      }
      return { stream, loadId, batch, mode, rendered, ...replayed }
    }

    let body: unknown
    try {
      body = JSON.parse(UTF8.decode(msg.data))
    } catch (err) {
      throw new PersistError('SIS_PERSIST_BAD_BODY', `payload is not UTF-8 JSON: ${(err as Error).message}`, { cause: err })
    }
    if (!isBatchBody(body)) throw new PersistError('SIS_PERSIST_BAD_BODY', 'payload is not a batch body {columns: string[], rows: unknown[][]}')
    if (rowsHeader !== '' && Number(rowsHeader) !== body.rows.length) {
      throw badHeader(`${BatchHeaders.Rows} says ${rowsHeader} rows, the payload has ${body.rows.length}`)
    }
    let check = checkers.get(stream.name)
    if (check === undefined) {
      check = createBatchChecker(stream)
      checkers.set(stream.name, check)
    }
    const problem = check(body)
    if (problem !== undefined) throw new PersistError('SIS_PERSIST_BAD_BODY', problem.message)
    // json values are stored as the text they were sent as, not as JSON.parse left them
    return { stream, loadId, batch, mode, body: withRawJson(stream, msg.data, body), ...replayed }
  }
}

/** The optional `Sisporta-Replay` and `Sisporta-Batch-Rows` headers, checked when present. */
function replayHeaders (msg: BatchMessage): { replay?: number, batchRows?: number } {
  const out: { replay?: number, batchRows?: number } = {}
  if ((msg.headers?.get(BatchHeaders.Replay) ?? '') !== '') out.replay = integerHeader(msg, BatchHeaders.Replay, 1)
  if ((msg.headers?.get(BatchHeaders.BatchRows) ?? '') !== '') out.batchRows = integerHeader(msg, BatchHeaders.BatchRows, 1)
  return out
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function isBatchBody (body: unknown): body is { columns: string[], rows: unknown[][] } {
  if (typeof body !== 'object' || body === null) return false
  const { columns, rows } = body as { columns?: unknown, rows?: unknown }
  return Array.isArray(columns) && columns.length > 0 && columns.every((c) => typeof c === 'string') &&
    Array.isArray(rows) && rows.length > 0 && rows.every((r) => Array.isArray(r))
}

function header (msg: BatchMessage, name: string): string {
  const value = msg.headers?.get(name) ?? ''
  if (value === '') throw badHeader(`header ${name} is missing`)
  return value
}

function integerHeader (msg: BatchMessage, name: string, min: number): number {
  const raw = header(msg, name)
  const n = Number(raw)
  if (!/^\d{1,15}$/.test(raw) || n < min) throw badHeader(`header ${name} '${raw}' is not an integer >= ${min}`)
  return n
}

function badHeader (message: string): PersistError {
  return new PersistError('SIS_PERSIST_BAD_HEADERS', message)
}
