import type { FastifyInstance } from 'fastify'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { API_PREFIX, type BusNames, type SisportaConfig } from '@sisporta/contracts'
import { LoadRegistry, StreamControls } from '@sisporta/nats'
import { createServiceApp, natsReadiness, type Logger } from '@sisporta/observability'
import { resolveAuth, type GatewayAuthOptions } from './auth-options.js'
import { createBatchPublisher, DEFAULT_MAX_IN_FLIGHT } from './batch-publisher.js'
import { errorReply } from './errors.js'
import { createErrorHandler } from './error-handler.js'
import { createGatewayMetrics } from './gateway-metrics.js'
import { ingestRoutes } from './ingest-routes.js'
import { streamRoutes } from './stream-routes.js'
import { controlRoutes } from './control-routes.js'

/** Default largest accepted body (a batch of a few thousand wide rows is well under this). */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024
/** Room kept for the batch headers when the body limit follows the NATS server's max_payload. */
const HEADER_ALLOWANCE = 1024

export interface GatewayAppOptions {
  config: SisportaConfig
  /** Connected (and provisioned) NATS connection; the app does not close it. */
  nc: NatsConnection
  names: BusNames
  log: Logger
  /** The service's Prometheus registry (from `createMetricsRegistry('gateway')`). */
  metrics: Registry
  auth: GatewayAuthOptions
  /** The load registry; bound from `nc` and `names` when absent. */
  loads?: LoadRegistry
  /** Operators' stream controls (pause, sync requests); bound from `nc` and `names` when absent. */
  controls?: StreamControls
  /** Largest accepted body in bytes (default 32 MiB, capped by the NATS server's max_payload). */
  bodyLimit?: number
  /**
   * Batch requests handled at once — body being received, checked, or awaiting JetStream's
   * PubAck — before answering 503 with Retry-After (default 16). Each holds up to about three
   * times its body in memory.
   */
  maxInFlight?: number
  /** Batch requests one token subject may have in progress at once (default half of `maxInFlight`, at least 1). */
  maxInFlightPerToken?: number
  /** How long a batch request's body may take to arrive before 408 (ms, default 30 000). */
  bodyTimeoutMs?: number
  /** How long to wait for a PubAck before answering 503 (ms, default 5000). */
  publishTimeoutMs?: number
  /** How long a persister may take to compare one key range before 503 (ms, default 90 000; the extractor waits 150 s). */
  compareTimeoutMs?: number
  /** Longest time to receive a whole request, against slow clients (ms, default 120 000). */
  requestTimeoutMs?: number
  /** `/metrics` on a port of its own (`SISPORTA_METRICS_PORT`), off the public ingestion port. */
  metricsListen?: { host: string, port: number } | undefined
  /** Serve HTTPS with this PEM certificate and key. */
  https?: { cert: string | Buffer, key: string | Buffer } | null
}

/**
 * The gateway as a Fastify app, not yet listening: `/healthz`, `/readyz`, `/metrics`, and the
 * ingestion API under `/v1`. Tests start it with `app.inject()` or `app.listen({ port: 0 })`.
 * Throws `SIS_GW_AUTH_NOT_CONFIGURED`, `SIS_GW_JWT_KEY`, `SIS_GW_JWT_SECRET_WEAK` or `SIS_GW_JWKS`
 * when no usable key is given.
 *
 * @example
 * const app = await buildGatewayApp({ config, nc, names, log, metrics: createMetricsRegistry('gateway'), auth: { secret } })
 * await app.listen({ host: '0.0.0.0', port: 8080 })
 */
/** How long a persister may take to compare one key range (SISPORTA_COMPARE_TIMEOUT). */
export const DEFAULT_COMPARE_TIMEOUT_MS = 90_000

export async function buildGatewayApp (options: GatewayAppOptions): Promise<FastifyInstance> {
  const { nc, names, log } = options
  const auth = resolveAuth(options.auth)
  const bodyLimit = effectiveBodyLimit(options.bodyLimit ?? DEFAULT_BODY_LIMIT, nc, log)
  const loads = options.loads ?? await LoadRegistry.bind(nc, names)
  // a malformed control record reads as paused (fail-safe): said loudly, once per read
  const controls = options.controls ?? await StreamControls.bind(nc, names, {
    onMalformed: (key, problem) => { log.warn({ key, problem }, 'malformed stream control record in the registry: the stream is treated as paused until an operator resumes it') }
  })
  const metrics = createGatewayMetrics(options.metrics)
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  const publisher = createBatchPublisher({
    js: nc.jetstream(),
    names,
    log,
    metrics,
    maxInFlight,
    ...(options.publishTimeoutMs !== undefined ? { timeoutMs: options.publishTimeoutMs } : {})
  })

  const app = await createServiceApp({
    log,
    registry: options.metrics,
    // a reconnecting gateway is not ready (the shared check follows the connection's status)
    checks: { nats: natsReadiness(nc) },
    metricsListen: options.metricsListen,
    fastify: { bodyLimit, requestTimeout: options.requestTimeoutMs ?? 120_000, https: options.https ?? null }
  })
  // every request line (incoming, refused, completed, the handlers' own) names its stream, load and batch
  app.setChildLoggerFactory(function (logger, bindings, opts, raw) {
    const route = this.findRoute({ method: raw.method ?? '', url: raw.url ?? '' })
    return logger.child({ ...bindings, ...requestLogBindings(route?.params) }, opts)
  })
  app.setErrorHandler(createErrorHandler({ bodyLimit, metrics }))
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorReply(404, 'SIS_GW_ROUTE_UNKNOWN', `no route ${request.method} ${request.url.slice(0, 200)}`))
  })
  await app.register(ingestRoutes, {
    prefix: API_PREFIX,
    config: options.config,
    loads,
    controls,
    publisher,
    auth,
    metrics,
    bodyLimit,
    maxInFlight,
    maxInFlightPerToken: options.maxInFlightPerToken ?? Math.max(1, Math.ceil(maxInFlight / 2)),
    bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
    compare: { nc, names, timeoutMs: options.compareTimeoutMs ?? DEFAULT_COMPARE_TIMEOUT_MS }
  })
  await app.register(controlRoutes, { prefix: API_PREFIX, config: options.config, controls, auth, metrics, bodyLimit })
  await app.register(streamRoutes, { prefix: API_PREFIX, config: options.config, loads, auth, metrics, bodyLimit })
  log.info({ streams: options.config.streams.map((s) => s.name), bodyLimit, algorithms: auth.algorithms }, 'gateway ready to accept batches')
  return app
}

const ID = /^[1-9][0-9]{0,15}$/
const BATCH = /^(0|[1-9][0-9]{0,9})$/

/**
 * The log fields of a request's route parameters: `stream`, `loadId` and `batch` (numbers as
 * the handlers log them; anything else, which the route will refuse, as a short string).
 *
 * @example
 * requestLogBindings({ stream: 'products', loadId: '42', batch: '7' }) // { stream: 'products', loadId: 42, batch: 7 }
 */
export function requestLogBindings (params: Record<string, string | undefined> | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  if (params === undefined) return out
  if (params.stream !== undefined) out.stream = params.stream.slice(0, 64)
  if (params.loadId !== undefined) out.loadId = ID.test(params.loadId) && Number.isSafeInteger(Number(params.loadId)) ? Number(params.loadId) : params.loadId.slice(0, 32)
  if (params.batch !== undefined) out.batch = BATCH.test(params.batch) ? Number(params.batch) : params.batch.slice(0, 32)
  return out
}

/**
 * A body the bus cannot carry is better refused up front (413, from Content-Length) than
 * after it was read: the NATS server's `max_payload` (1 MiB unless configured) caps it.
 */
function effectiveBodyLimit (wanted: number, nc: NatsConnection, log: Logger): number {
  const maxPayload = nc.info?.max_payload
  if (maxPayload === undefined || wanted <= maxPayload - HEADER_ALLOWANCE) return wanted
  const capped = maxPayload - HEADER_ALLOWANCE
  log.warn({ bodyLimit: wanted, natsMaxPayload: maxPayload, effectiveBodyLimit: capped }, 'body limit capped by the NATS server\'s max_payload; raise max_payload in the NATS config to accept larger batches')
  return capped
}
