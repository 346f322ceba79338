import type { FastifyInstance } from 'fastify'
import type { SisportaConfig, SyncRequestsReply, TokenClaims } from '@sisporta/contracts'
import type { StreamControls } from '@sisporta/nats'
import type { ResolvedAuth } from './auth-options.js'
import { createErrorHandler } from './error-handler.js'
import type { GatewayMetrics } from './gateway-metrics.js'
import { useStreamAuth } from './stream-auth.js'
import { typeboxValidatorCompiler } from './typebox-validator.js'

export interface ControlRoutesOptions {
  config: SisportaConfig
  controls: StreamControls
  auth: ResolvedAuth
  metrics: GatewayMetrics
  bodyLimit: number
}

/**
 * What the extractor learns of the operators' stream controls, registered under `/v1` with the
 * same token check as the ingestion routes (an encapsulated plugin of its own):
 *
 * - `GET /v1/sync-requests` — the pending "sync now" requests (`sisporta streams sync NAME`) of
 *   the streams in the token's scope that are not paused: `{ requests: [{ stream, requestedAt,
 *   requestedBy }] }`. The extractor daemon polls it and opens a load of each; a request is
 *   served once the stream has a load opened after it, so the gateway writes nothing here. One
 *   KV get per stream in scope (more only for a stream with a request): cheap to poll.
 *
 * Pausing is enforced where loads open (`POST /v1/streams/:stream/loads`, ingest-routes.ts).
 */
export async function controlRoutes (app: FastifyInstance, options: ControlRoutesOptions): Promise<void> {
  const { config, controls } = options
  app.setValidatorCompiler(typeboxValidatorCompiler)
  app.setErrorHandler(createErrorHandler({ bodyLimit: options.bodyLimit, metrics: options.metrics }))
  await useStreamAuth(app, { auth: options.auth, config })

  app.get('/sync-requests', async (request) => {
    const requests = await controls.syncRequestsToServe(streamsInScope(config, request.tokenClaims!))
    if (requests.length > 0) request.log.info({ streams: requests.map((r) => r.stream) }, 'pending sync requests handed out')
    return { requests } satisfies SyncRequestsReply
  })
}

/** The configured streams the token may load (`*`: every one), in config order. */
function streamsInScope (config: SisportaConfig, claims: TokenClaims): string[] {
  const all = config.streams.map((s) => s.name)
  return claims.streams.includes('*') ? all : all.filter((s) => claims.streams.includes(s))
}
