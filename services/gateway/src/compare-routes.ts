import type { FastifyInstance } from 'fastify'
import type { NatsConnection } from 'nats'
import {
  CompareBodySchema, LoadParamsSchema, ROW_HASH_BYTES, StreamParamsSchema, checkWireValue,
  type BusNames, type CompareBody, type CompareReply, type SisportaConfig, type StreamConfig
} from '@sisporta/contracts'
import { isBusUnavailable, type LoadRegistry } from '@sisporta/nats'
import { GatewayError } from './errors.js'
import type { GatewayMetrics } from './gateway-metrics.js'

export interface CompareRoutesOptions {
  readonly config: SisportaConfig
  readonly loads: LoadRegistry
  readonly nc: NatsConnection
  readonly names: BusNames
  /** How long a persister may take to compare one range (ms). */
  readonly timeoutMs: number
  readonly metrics: Pick<GatewayMetrics, 'rangesCompared' | 'rowsToSend'>
  /** Comparisons in progress at once (each may make a persister read a range of the target); beyond it 503 `SIS_GW_BUSY`. */
  readonly maxInFlight: number
}

/**
 * Range comparisons (docs/reloads.md), registered inside the ingestion plugin (same token
 * check, parser and errors): the gateway checks the request and hands it to a persister as a
 * NATS request on `<namespace>.compare.<stream>` — it never reads the target itself — and
 * answers with the persister's reply.
 *
 * - `POST /streams/:stream/loads/:loadId/compare`: for an open diffed load; the persister marks
 *   the target rows of the range that nothing matched.
 * - `POST /streams/:stream/compare`: `sisporta verify`; compares only, changes nothing.
 */
export function compareRoutes (app: FastifyInstance, options: CompareRoutesOptions): void {
  const { config, loads, nc, names, timeoutMs } = options
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()

  let inProgress = 0

  const ask = async (stream: StreamConfig, body: CompareBody, loadId: number | undefined): Promise<CompareReply> => {
    checkRange(stream, body)
    if (inProgress >= options.maxInFlight) throw new GatewayError('SIS_GW_BUSY', `the gateway is waiting for ${inProgress} range comparisons (at most ${options.maxInFlight}): retry shortly`)
    inProgress++
    try {
      return await askPersister(stream, body, loadId)
    } finally {
      inProgress--
    }
  }

  const askPersister = async (stream: StreamConfig, body: CompareBody, loadId: number | undefined): Promise<CompareReply> => {
    const message = JSON.stringify({ ...(loadId === undefined ? {} : { loadId }), lo: body.lo, hi: body.hi, hashes: body.hashes })
    let answer: unknown
    try {
      const reply = await nc.request(names.compareSubject(stream.name), encoder.encode(message), { timeout: timeoutMs })
      answer = JSON.parse(decoder.decode(reply.data))
    } catch (err) {
      // no responder (503), a timeout, the connection lost: nothing was compared, ask again
      if (isBusUnavailable(err)) {
        throw new GatewayError('SIS_GW_COMPARER_UNAVAILABLE', `no persister compared the range within ${timeoutMs / 1000} s (SISPORTA_COMPARE_TIMEOUT): retry`, { cause: err })
      }
      throw err
    }
    const a = answer as { ok?: CompareReply, error?: { code: string, message: string, transient: boolean } }
    if (a.ok !== undefined) {
      options.metrics.rangesCompared.inc({ stream: stream.name })
      options.metrics.rowsToSend.inc({ stream: stream.name }, a.ok.send.length)
      return a.ok
    }
    if (a.error?.transient === true) throw new GatewayError('SIS_GW_COMPARER_UNAVAILABLE', `the persister could not compare the range for now (${a.error.code}: ${a.error.message}): retry`)
    throw new GatewayError('SIS_GW_COMPARE_REFUSED', `${a.error?.code ?? 'SIS_PERSIST_COMPARE_FAILED'}: ${a.error?.message ?? 'the persister gave no reason'}`)
  }

  app.post<{ Params: { stream: string, loadId: number }, Body: CompareBody }>('/streams/:stream/loads/:loadId/compare', {
    schema: { params: LoadParamsSchema, body: CompareBodySchema },
    logLevel: 'warn'
  }, async (request) => {
    const { stream, loadId } = request.params
    const entry = await loads.get(stream, loadId)
    if (entry === undefined) throw new GatewayError('SIS_GW_LOAD_UNKNOWN', `load ${loadId} of stream '${stream}' does not exist`)
    if (entry.load.state !== 'open') throw new GatewayError('SIS_GW_LOAD_NOT_OPEN', `load ${loadId} of stream '${stream}' is ${entry.load.state}: only an open load compares ranges`)
    if (entry.load.reload !== 'diff') throw new GatewayError('SIS_GW_COMPARE_REFUSED', `load ${loadId} of stream '${stream}' was opened to send every row, not diffed: it compares nothing`)
    return await ask(config.stream(stream)!, request.body, loadId)
  })

  app.post<{ Params: { stream: string }, Body: CompareBody }>('/streams/:stream/compare', {
    schema: { params: StreamParamsSchema, body: CompareBodySchema },
    logLevel: 'warn'
  }, async (request) => await ask(config.stream(request.params.stream)!, request.body, undefined))
}

/** The bounds are key values of the stream's key columns, in wire format; the hashes whole row hashes. */
function checkRange (stream: StreamConfig, body: CompareBody): void {
  const keyColumns = stream.target.key.map((k) => stream.columns.find((c) => c.name === k)!)
  for (const which of ['lo', 'hi'] as const) {
    const bound = body[which]
    if (bound === null) continue
    if (bound.length !== keyColumns.length) throw new GatewayError('SIS_GW_COMPARE_INVALID', `${which}: ${bound.length} key values, but the key of stream '${stream.name}' has ${keyColumns.length} columns (${stream.target.key.join(', ')})`)
    bound.forEach((value, i) => {
      const column = keyColumns[i]!
      const problem = value === null ? 'is null (a key value never is)' : checkWireValue(column, value)
      if (problem !== undefined) throw new GatewayError('SIS_GW_COMPARE_INVALID', `${which}[${i}] (key column '${column.name}'): ${problem}`)
    })
  }
  const bytes = Buffer.byteLength(body.hashes, 'base64')
  if (body.hashes.length % 4 !== 0 || bytes % ROW_HASH_BYTES !== 0) throw new GatewayError('SIS_GW_COMPARE_INVALID', `hashes: ${bytes} bytes of base64 is not a whole number of ${ROW_HASH_BYTES}-byte row hashes`)
}
