import type { Logger } from 'pino'
import type { SisportaConfig } from '@sisporta/contracts'
import { DEFAULT_PORTS, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { createMetricsRegistry, createServiceApp, runService } from '@sisporta/observability'
import { createSourceDialect } from '@sisporta/source'
import { GatewayClient } from './gateway-client.js'
import { createScheduler } from './scheduler.js'
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

/** `sisporta extractor`: the scheduler daemon, with /healthz, /readyz and /metrics on port 9103. */
export async function runExtractor (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const registry = createMetricsRegistry('extractor')
  const source = await createSourceDialect(requireSetting(settings.sourceUrl, 'SISPORTA_SOURCE_URL'), { log, allowWritableLogin: settings.allowWritableLogin })
  const scheduler = createScheduler({ config, source, gateway: gatewayClientFrom(settings, log), log, metrics: registry, batchSize: settings.batchSize, inFlight: settings.inFlight, maxBatchBytes: settings.maxBatchBytes })
  const app = await createServiceApp({ log, registry, workers: [scheduler], metricsListen: metricsListen(settings) })
  await runService({ app, log, host: settings.httpHost, port: settings.httpPort ?? DEFAULT_PORTS.extractor })
}
