import type { FastifyInstance } from 'fastify'
import { StreamParamsSchema, SyncRequestsQuerySchema, VerifyReportBodySchema, type SisportaConfig, type SyncRequestsReply, type TokenClaims, type VerifyReportBody, type VerifyReportRecord } from '@sisporta/contracts'
import type { StreamControls } from '@sisporta/nats'
import type { ResolvedAuth } from './auth-options.js'
import { createErrorHandler } from './error-handler.js'
import { GatewayError } from './errors.js'
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
 *   KV get per stream in scope (more only for a stream with a request): cheap to poll. With
 *   `?include=verify` it lists the pending verify requests too (`kind: 'verify'`, and the loads
 *   get `kind: 'load'`); without it, only loads, without `kind`, as older extractors expect.
 * - `POST /v1/streams/:stream/verify-reports` — the extractor's report on a verify request
 *   (`sisporta streams verify NAME`): stored as the stream's latest (`verify.<stream>` in the
 *   registry bucket, with `reportedAt` and the token's `sub`), which ends the request. Only for
 *   the pending request it names by `requestedAt` (409 `SIS_GW_VERIFY_NOT_PENDING` otherwise).
 *
 * Pausing is enforced where loads open (`POST /v1/streams/:stream/loads`, ingest-routes.ts).
 */
export async function controlRoutes (app: FastifyInstance, options: ControlRoutesOptions): Promise<void> {
  const { config, controls } = options
  app.setValidatorCompiler(typeboxValidatorCompiler)
  app.setErrorHandler(createErrorHandler({ bodyLimit: options.bodyLimit, metrics: options.metrics }))
  await useStreamAuth(app, { auth: options.auth, config })

  app.get<{ Querystring: { include?: 'verify' } }>('/sync-requests', { schema: { querystring: SyncRequestsQuerySchema } }, async (request) => {
    const requests = await controls.syncRequestsToServe(streamsInScope(config, request.tokenClaims!), { verify: request.query.include === 'verify' })
    if (requests.length > 0) request.log.info({ requests: requests.map((r) => `${r.kind ?? 'load'} ${r.stream}`) }, 'pending sync requests handed out')
    return { requests } satisfies SyncRequestsReply
  })

  app.post<{ Params: { stream: string }, Body: VerifyReportBody }>('/streams/:stream/verify-reports', {
    schema: { params: StreamParamsSchema, body: VerifyReportBodySchema }
  }, async (request, reply) => {
    const { stream } = request.params
    const body = request.body
    if (body.stream !== stream) throw new GatewayError('SIS_GW_INVALID_REQUEST', `/stream: the report is about stream '${body.stream}', posted for stream '${stream}'`)
    // the compare-and-set of the operators never races this: they write control.*, the gateway verify.*
    const pending = await controls.pendingVerify(stream)
    if (pending === undefined || pending.requestedAt !== body.requestedAt) {
      const why = pending === undefined ? 'it has no pending verify request' : `its pending verify request is of ${pending.requestedAt} (by ${pending.requestedBy})`
      throw new GatewayError('SIS_GW_VERIFY_NOT_PENDING', `verify report of stream '${stream}' for the request of ${body.requestedAt} refused: ${why}; nothing was stored`)
    }
    const record: VerifyReportRecord = { ...body, requestedBy: pending.requestedBy, reportedAt: new Date().toISOString(), reportedBy: request.tokenClaims!.sub.slice(0, 200) }
    await controls.storeVerifyReport(record)
    request.log.info({ stream, requestedAt: body.requestedAt, missing: body.missing, extra: body.extra, different: body.different }, 'verify report stored')
    return await reply.code(201).send({ report: record })
  })
}

/** The configured streams the token may load (`*`: every one), in config order. */
function streamsInScope (config: SisportaConfig, claims: TokenClaims): string[] {
  const all = config.streams.map((s) => s.name)
  return claims.streams.includes('*') ? all : all.filter((s) => claims.streams.includes(s))
}
