import type { FastifyInstance } from 'fastify'
import {
  LOAD_MODES, StreamParamsSchema, StreamStatusReplySchema, isSuccessfulLoad,
  type LoadRecord, type LoadSummary, type SisportaConfig, type StreamStatusReply
} from '@sisporta/contracts'
import type { LoadRegistry } from '@sisporta/nats'
import type { ResolvedAuth } from './auth-options.js'
import { createErrorHandler } from './error-handler.js'
import type { GatewayMetrics } from './gateway-metrics.js'
import { useStreamAuth } from './stream-auth.js'
import { typeboxValidatorCompiler } from './typebox-validator.js'

export interface StreamRoutesOptions {
  config: SisportaConfig
  loads: LoadRegistry
  auth: ResolvedAuth
  metrics: GatewayMetrics
  bodyLimit: number
}

interface StreamParams { stream: string }

/**
 * What the extractor may read of a stream's history, registered under `/v1` with the same token
 * check as the ingestion routes (the token's `streams` must name the stream; an encapsulated
 * plugin of its own):
 *
 * - `GET /v1/streams/:stream` — the newest load of each mode, whatever its state (`lastLoad`),
 *   and the newest successful one (`lastSuccess`), as {@link StreamStatusReply}. The extractor
 *   daemon reads it at start: a scheduled run missed since the last load is made up for once.
 *   One registry list per request.
 */
export async function streamRoutes (app: FastifyInstance, options: StreamRoutesOptions): Promise<void> {
  const { config, loads } = options
  app.setValidatorCompiler(typeboxValidatorCompiler)
  app.setErrorHandler(createErrorHandler({ bodyLimit: options.bodyLimit, metrics: options.metrics }))
  await useStreamAuth(app, { auth: options.auth, config })

  app.get<{ Params: StreamParams }>('/streams/:stream', {
    schema: { params: StreamParamsSchema, response: { 200: StreamStatusReplySchema } }
  }, async (request) => {
    const { stream } = request.params
    return streamStatus(stream, await loads.list({ stream }))
  })
}

/**
 * The newest load of each mode and the newest successful one, from a stream's loads (any order).
 * "Newest" is the highest id: ids come from one sequence, in the order loads were opened.
 *
 * @example
 * streamStatus('products', await registry.list({ stream: 'products' }))
 * // { stream: 'products', lastLoad: { full: { id: 42, mode: 'full', state: 'failed', … } }, lastSuccess: { full: { id: 41, … } } }
 */
export function streamStatus (stream: string, records: readonly LoadRecord[]): StreamStatusReply {
  const reply: StreamStatusReply = { stream, lastLoad: {}, lastSuccess: {} }
  for (const mode of LOAD_MODES) {
    const ofMode = records.filter((l) => l.mode === mode)
    const last = newest(ofMode)
    const success = newest(ofMode.filter(isSuccessfulLoad))
    if (last !== undefined) reply.lastLoad[mode] = summary(last)
    if (success !== undefined) reply.lastSuccess[mode] = summary(success)
  }
  return reply
}

function newest (records: readonly LoadRecord[]): LoadRecord | undefined {
  return records.reduce<LoadRecord | undefined>((best, l) => best === undefined || l.id > best.id ? l : best, undefined)
}

function summary (load: LoadRecord): LoadSummary {
  return { id: load.id, mode: load.mode, state: load.state, openedAt: load.openedAt, updatedAt: load.updatedAt }
}
