import { hostname } from 'node:os'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { DEFAULT_PORTS, metricsListen, type Settings } from '@sisporta/config'
import { connectBus, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { authFromSettings, readPem, resolveAuth } from './auth-options.js'
import { buildGatewayApp } from './build-gateway-app.js'

export interface RunGatewayOptions {
  /** Serve HTTPS: PEM certificate and key, as content or file paths. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  /** Largest accepted body in bytes (default 32 MiB). */
  bodyLimit?: number
  /** Batches awaiting a PubAck at once before answering 503 (default 256). */
  maxInFlight?: number
}

/**
 * Runs the gateway until SIGTERM / SIGINT: checks its keys (refusing to start without one),
 * connects to NATS, provisions the bus, and serves the ingestion API on
 * `SISPORTA_HTTP_HOST:SISPORTA_HTTP_PORT` (default 8080). Used by `main.ts` and `sisporta gateway`.
 * Resolves once listening; the signal handler closes the app and drains the connection.
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
  const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-gateway@${hostname()}`, log })
  try {
    await provisionBus(nc, names, { maxDeliver: settings.maxDeliver, log })
    const app = await buildGatewayApp({
      config,
      nc,
      names,
      log,
      metrics: createMetricsRegistry('gateway'),
      auth,
      https,
      bodyLimit: options.bodyLimit ?? settings.gatewayBodyLimit,
      maxInFlight: options.maxInFlight ?? settings.gatewayMaxInFlight,
      maxInFlightPerToken: settings.gatewayMaxInFlightPerToken,
      metricsListen: metricsListen(settings),
      bodyTimeoutMs: settings.gatewayBodyTimeoutSec * 1000
    })
    await runService({
      app,
      log,
      host: settings.httpHost,
      port: settings.httpPort ?? DEFAULT_PORTS.gateway,
      // In-flight batches were answered before the app closed; drain flushes what is left.
      onClosed: async () => { await nc.drain() }
    })
  } catch (err) {
    await nc.close()
    throw err
  }
}
