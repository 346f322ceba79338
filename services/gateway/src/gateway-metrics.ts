import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The gateway's own Prometheus metrics (beside the process metrics every service has). */
export interface GatewayMetrics {
  readonly batchesAccepted: Counter<'stream'>
  /** Rejected batch requests by error code (no stream label: the stream may be made up). */
  readonly batchesRejected: Counter<'code'>
  readonly rowsAccepted: Counter<'stream'>
  /** Batches JetStream already had (retries): accepted, nothing new stored. */
  readonly duplicates: Counter<'stream'>
  /** From publish to JetStream's PubAck. */
  readonly publishSeconds: Histogram<'stream'>
  readonly publishesInFlight: Gauge
  readonly batchesInProgress: Gauge
  /** Ingestion API requests, for latency percentiles per route. */
  readonly requestSeconds: Histogram<'method' | 'route' | 'status_code'>
  /** Request body bytes received (what extractors send, whatever became of it), per route. */
  readonly requestBytes: Counter<'route'>
  /** Key ranges compared for diffed reloads and verify, and the source rows the persisters asked to be sent. */
  readonly rangesCompared: Counter<'stream'>
  readonly rowsToSend: Counter<'stream'>
}

/**
 * Registers the gateway's metrics on a service registry (once per registry).
 *
 * @example
 * const metrics = createGatewayMetrics(createMetricsRegistry('gateway'))
 * metrics.batchesAccepted.inc({ stream: 'products' })
 */
export function createGatewayMetrics (registry: Registry): GatewayMetrics {
  const registers = [registry]
  return {
    batchesAccepted: new Counter({ name: 'sisporta_gateway_batches_accepted_total', help: 'Batches acknowledged by JetStream and answered 202 (duplicates included)', labelNames: ['stream'], registers }),
    batchesRejected: new Counter({ name: 'sisporta_gateway_batches_rejected_total', help: 'Batch requests answered with an error, by error code', labelNames: ['code'], registers }),
    rowsAccepted: new Counter({ name: 'sisporta_gateway_rows_accepted_total', help: 'Rows in accepted batches (duplicates excluded)', labelNames: ['stream'], registers }),
    duplicates: new Counter({ name: 'sisporta_gateway_batch_duplicates_total', help: 'Batches JetStream already held (client retries)', labelNames: ['stream'], registers }),
    publishSeconds: new Histogram({
      name: 'sisporta_gateway_publish_seconds',
      help: 'Time from publishing a batch to JetStream\'s acknowledgement',
      labelNames: ['stream'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    }),
    publishesInFlight: new Gauge({ name: 'sisporta_gateway_publishes_in_flight', help: 'Batches published and not yet acknowledged by JetStream', registers }),
    batchesInProgress: new Gauge({ name: 'sisporta_gateway_batches_in_progress', help: 'Batch requests being received, checked or published (bounded by SISPORTA_GATEWAY_MAX_IN_FLIGHT)', registers }),
    requestSeconds: new Histogram({
      name: 'sisporta_gateway_http_request_seconds',
      help: 'Ingestion API request duration, from request received to reply sent',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    requestBytes: new Counter({ name: 'sisporta_gateway_request_bytes_total', help: 'Request body bytes received on the ingestion API, per route', labelNames: ['route'], registers }),
    rangesCompared: new Counter({ name: 'sisporta_gateway_ranges_compared_total', help: 'Key ranges compared with the target (diffed reloads and verify)', labelNames: ['stream'], registers }),
    rowsToSend: new Counter({ name: 'sisporta_gateway_compare_rows_to_send_total', help: 'Source rows the range comparisons found the target lacking or different', labelNames: ['stream'], registers })
  }
}
