import type { Logger } from 'pino'
import type { SisportaConfig, SyncRequest } from '@sisporta/contracts'
import { DEFAULT_PORTS, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { createMetricsRegistry, createServiceApp, runService } from '@sisporta/observability'
import { createSourceDialect, isTransientSourceError } from '@sisporta/source'
import { GatewayClient } from './gateway-client.js'
import { createScheduler } from './scheduler.js'
import { createSyncPoller } from './sync-poller.js'
import { serveVerifyRequest } from './serve-verify.js'
import { ExtractError } from './errors.js'
import { checkGatewayUrl } from './check-gateway-url.js'

/** Builds a gateway client from the settings (the token is required; plain http only to loopback, see `checkGatewayUrl`). */
export function gatewayClientFrom (settings: Settings, log: Logger): GatewayClient {
  checkGatewayUrl(settings.gatewayUrl, settings.allowInsecureGateway)
  if (settings.token === undefined || settings.token === '') {
    throw new ExtractError('SIS_EXTRACT_NO_TOKEN', 'SISPORTA_TOKEN is not set: the extractor needs a token issued with `sisporta token issue --stream NAME`', { exitCode: 2 })
  }
  return new GatewayClient({
    url: settings.gatewayUrl,
    token: settings.token,
    onRetry: (info) => log.warn(info, 'gateway request failed, retrying')
  })
}

/**
 * `sisporta extractor`: the scheduler daemon, with /healthz, /readyz and /metrics on port 9103.
 * Settings are checked first (a bad one exits 2 before anything is reached); then the port is
 * bound (taken: exit 1 at once) and `/healthz` answers while the source is reached: every
 * scheduled stream is described once (it exists, its columns and types fit), waiting for a
 * source that is not reachable yet, failing at once for a refused login or a stream that does
 * not fit (with the source error's code and exit code). Then the schedules start.
 */
export async function runExtractor (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const registry = createMetricsRegistry('extractor')
  const gateway = gatewayClientFrom(settings, log)
  const source = createSourceDialect(requireSetting(settings.sourceUrl, 'SISPORTA_SOURCE_URL'), { log, allowWritableLogin: settings.allowWritableLogin, allowPlaintext: settings.allowSourcePlaintext })
  const scheduled = config.streams.filter((s) => s.schedule?.full !== undefined || s.schedule?.incremental !== undefined)
  try {
    await runService({
      log,
      registry,
      host: settings.httpHost,
      port: settings.httpPort ?? DEFAULT_PORTS.extractor,
      metricsListen: metricsListen(settings),
      start: async (startup) => {
        // closing twice is harmless: the scheduler closes it too when it stops
        startup.onClose(async () => { await source.close() })
        for (const stream of scheduled) {
          await startup.retry(`the source (SISPORTA_SOURCE_URL) for stream '${stream.name}'`, async () => await source.describe(stream), { isTransient: isTransientSourceError })
        }
        const scheduler = createScheduler({ config, source, gateway, log, metrics: registry, batchSize: settings.batchSize, inFlight: settings.inFlight, maxBatchBytes: settings.maxBatchBytes, readAttempts: settings.sourceReadAttempts, compareRows: settings.compareRows })
        // an operator's "sync now" (`sisporta streams sync`, the console) starts a load through the scheduler
        // an operator's verify request runs the comparison of `sisporta verify`, never beside a load of the stream
        const verifyNow = (request: SyncRequest): boolean => {
          const stream = config.stream(request.stream)
          if (stream === undefined) return false
          return scheduler.runExclusive(stream.name, async (signal) => {
            await serveVerifyRequest({ source, gateway, log }, stream, request, {
              pageSize: stream.batchSize ?? settings.batchSize,
              compareRows: settings.compareRows,
              inFlight: settings.inFlight,
              readAttempts: settings.sourceReadAttempts,
              signal
            })
          })
        }
        const syncPoller = createSyncPoller({ config, gateway, runNow: scheduler.runNow, verifyNow, log, metrics: registry, intervalMs: settings.syncPollIntervalSec * 1000 })
        return await createServiceApp({ log, registry, workers: [scheduler, syncPoller], metricsListen: metricsListen(settings) })
      }
    })
  } catch (err) {
    // the pool's idle timer would keep a process that failed to start alive
    await source.close().catch(() => {})
    throw err
  }
}
