import { hostname } from 'node:os'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { DEFAULT_PORTS, busProvisioning, metricsListen, type Settings } from '@sisporta/config'
import { busConnectOptions, connectBus, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { authFromSettings, readPem, resolveAuth } from './auth-options.js'
import { buildGatewayApp } from './build-gateway-app.js'

/** Longest time to receive a whole request, against slow clients (the port is served by the shell, the app says the same). */
const REQUEST_TIMEOUT_MS = 120_000

export interface RunGatewayOptions {
  /** Serve HTTPS: PEM certificate and key, as content or file paths. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  /** Largest accepted body in bytes (default 32 MiB). */
  bodyLimit?: number
  /** Batches awaiting a PubAck at once before answering 503 (default 256). */
  maxInFlight?: number
}

/**
 * Runs the gateway until SIGTERM / SIGINT: checks its keys (refusing to start without one) and
 * its settings, binds `SISPORTA_HTTP_HOST:SISPORTA_HTTP_PORT` (default 8080; taken, it exits 1 at
 * once), answers `/healthz` while it connects to NATS and provisions the bus (`/readyz` says
 * what it waits for), then serves the ingestion API. Used by `main.ts` and `sisporta gateway`.
 * Resolves once ready; the signal handler closes the app and drains the connection.
 */
export async function runGateway (settings: Settings, config: SisportaConfig, log: Logger, options: RunGatewayOptions = {}): Promise<void> {
  // Every configuration problem (a missing or weak key, a malformed JWKS) surfaces before any
  // connection is made.
  const auth = authFromSettings(settings)
  resolveAuth(auth)
  const tls = options.tls ?? (settings.tlsCert !== undefined && settings.tlsKey !== undefined ? { cert: settings.tlsCert, key: settings.tlsKey } : undefined)
  const https = tls === undefined
    ? null
    : { cert: readPem(tls.cert, 'the TLS certificate', 'SIS_GW_TLS'), key: readPem(tls.key, 'the TLS key', 'SIS_GW_TLS') }
  const names = busNames(settings.namespace)
  const bus = busConnectOptions(settings.natsUrl, settings.nats).description
  const metrics = createMetricsRegistry('gateway')
  await runService({
    log,
    registry: metrics,
    host: settings.httpHost,
    port: settings.httpPort ?? DEFAULT_PORTS.gateway,
    metricsListen: metricsListen(settings),
    https,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    start: async (startup) => {
      startup.waitFor(`NATS at ${bus.servers} (SISPORTA_NATS_URL)`)
      const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-gateway@${hostname()}`, log, onRetry: (err) => { startup.failedAttempt(err) } })
      // In-flight batches were answered before the app closed; drain flushes what is left.
      startup.onClose(async () => { if (!nc.isClosed()) await nc.drain() })
      startup.waitFor('the bus to be provisioned (JetStream streams, consumer, load registry)')
      await provisionBus(nc, names, { ...busProvisioning(settings), log })
      return await buildGatewayApp({
        config,
        nc,
        names,
        log,
        metrics,
        auth,
        https,
        bodyLimit: options.bodyLimit ?? settings.gatewayBodyLimit,
        maxInFlight: options.maxInFlight ?? settings.gatewayMaxInFlight,
        maxInFlightPerToken: settings.gatewayMaxInFlightPerToken,
        metricsListen: metricsListen(settings),
        bodyTimeoutMs: settings.gatewayBodyTimeoutSec * 1000,
        compareTimeoutMs: settings.compareTimeoutSec * 1000,
        requestTimeoutMs: REQUEST_TIMEOUT_MS
      })
    }
  })
}
