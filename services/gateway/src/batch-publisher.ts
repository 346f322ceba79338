import { headers as natsHeaders, type JetStreamClient } from 'nats'
import { BatchHeaders, batchMsgId, type BusNames, type LoadMode } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import { GatewayError } from './errors.js'
import type { GatewayMetrics } from './gateway-metrics.js'

/** One validated batch, ready for the bus. */
export interface OutgoingBatch {
  readonly stream: string
  readonly loadId: number
  readonly batch: number
  readonly mode: LoadMode
  /** Rows in the batch (the `Sisporta-Rows` header). */
  readonly rows: number
  /** The HTTP batch body, byte for byte: the persister reads exactly what the extractor sent. */
  readonly payload: Uint8Array
}

export interface PublishedBatch {
  /** True when JetStream already held this batch id (a retry): nothing new was stored. */
  readonly duplicate: boolean
  /** Sequence of the message in the batch stream (of the original, for a duplicate). */
  readonly seq: number
}

export interface BatchPublisher {
  /**
   * Publishes one batch and resolves once JetStream has acknowledged it (stored on disk, or
   * recognised as a duplicate within the de-duplication window). Rejects with
   * `SIS_GW_BUSY` / `SIS_GW_BUS_UNAVAILABLE` (503: retry, nothing was acknowledged) or
   * `SIS_GW_BODY_TOO_LARGE` (413: over the bus's maximum message size).
   */
  publish(batch: OutgoingBatch): Promise<PublishedBatch>
  /** Publishes awaiting their PubAck. */
  readonly inFlight: number
  /** True when a publish now would be refused with `SIS_GW_BUSY`. */
  readonly saturated: boolean
}

export interface BatchPublisherOptions {
  js: JetStreamClient
  names: BusNames
  log: Logger
  /** Publishes awaiting a PubAck at once; beyond this, `SIS_GW_BUSY` (default 16). */
  maxInFlight?: number
  /** How long to wait for a PubAck before answering 503 (ms, default 5000). */
  timeoutMs?: number
  metrics?: GatewayMetrics
}

export const DEFAULT_MAX_IN_FLIGHT = 16
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000

/**
 * The gateway's core, free of HTTP: puts a batch on its stream's subject with its
 * de-duplication id and headers, bounded in concurrency so that a slow or absent JetStream
 * turns into quick 503s instead of a growing heap.
 *
 * @example
 * const publisher = createBatchPublisher({ js: nc.jetstream(), names, log })
 * const { duplicate } = await publisher.publish({ stream: 'products', loadId: 7, batch: 0, mode: 'full', rows: 2, payload })
 */
export function createBatchPublisher (options: BatchPublisherOptions): BatchPublisher {
  const { js, names, log, metrics } = options
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  const timeout = options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
  let inFlight = 0

  async function publish (batch: OutgoingBatch): Promise<PublishedBatch> {
    if (inFlight >= maxInFlight) {
      throw new GatewayError('SIS_GW_BUSY', `the gateway has ${inFlight} batches awaiting JetStream: retry shortly`)
    }
    const msgID = batchMsgId(batch.stream, batch.loadId, batch.batch)
    const h = natsHeaders()
    h.set(BatchHeaders.Stream, batch.stream)
    h.set(BatchHeaders.Load, String(batch.loadId))
    h.set(BatchHeaders.Batch, String(batch.batch))
    h.set(BatchHeaders.Mode, batch.mode)
    h.set(BatchHeaders.Rows, String(batch.rows))
    inFlight++
    metrics?.publishesInFlight.inc()
    const stopTimer = metrics?.publishSeconds.startTimer({ stream: batch.stream })
    try {
      // expect.streamName: a PubAck from any other stream capturing the subject is not ours.
      const ack = await js.publish(names.batchSubject(batch.stream), batch.payload, { msgID, headers: h, timeout, expect: { streamName: names.batchStream } })
      stopTimer?.()
      return { duplicate: ack.duplicate, seq: ack.seq }
    } catch (err) {
      throw classifyPublishError(err, batch, log)
    } finally {
      inFlight--
      metrics?.publishesInFlight.dec()
    }
  }

  return {
    publish,
    get inFlight () { return inFlight },
    get saturated () { return inFlight >= maxInFlight }
  }
}

/**
 * Every publish failure means "not acknowledged", so the client may retry safely — except a
 * message too large for the server, which no retry can fix.
 */
function classifyPublishError (err: unknown, batch: OutgoingBatch, log: Logger): GatewayError {
  const e = err as { code?: string, message?: string, api_error?: { err_code?: number, description?: string } }
  if (e.code === 'MAX_PAYLOAD_EXCEEDED') {
    return new GatewayError('SIS_GW_BODY_TOO_LARGE', `batch ${batch.batch} (${batch.payload.length} bytes) is larger than the NATS server's maximum message size: send fewer rows per batch`, { cause: err })
  }
  log.warn({ err, stream: batch.stream, loadId: batch.loadId, batch: batch.batch }, 'batch not acknowledged by JetStream')
  const why = e.code === 'TIMEOUT'
    ? 'JetStream did not acknowledge in time'
    : e.code === '503'
      ? 'no JetStream stream answers for the batch subject'
      : e.api_error !== undefined
        ? `JetStream refused the batch (${e.api_error.description ?? 'error ' + String(e.api_error.err_code)})`
        : `JetStream is unavailable (${e.code ?? e.message ?? 'unknown error'})`
  return new GatewayError('SIS_GW_BUS_UNAVAILABLE', `${why}: batch not accepted, retry`, { cause: err })
}
