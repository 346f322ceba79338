import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyRequest {
    /** Batch route: the timer that answers 408 when the body is late. */
    bodyTimer: NodeJS.Timeout | undefined
  }
}
import {
  AbandonLoadBodySchema, BatchBodySchema, BatchParamsSchema, LoadParamsSchema, OpenLoadBodySchema, SealBodySchema, StreamParamsSchema, createBatchChecker, createJsonTextCheck,
  type AbandonLoadBody, type BatchBody, type BatchProblem, type BatchReply, type LoadRecord, type LoadReply, type OpenLoadBody, type SealBody, type SisportaConfig
} from '@sisporta/contracts'
import { describePause, type LoadRegistry, type StreamControls } from '@sisporta/nats'
import type { ResolvedAuth } from './auth-options.js'
import type { BatchPublisher } from './batch-publisher.js'
import { GatewayError } from './errors.js'
import { createErrorHandler } from './error-handler.js'
import type { GatewayMetrics } from './gateway-metrics.js'
import { LoadTally } from './load-tally.js'
import { checkBody, useRawJsonParser, type BodyChecks } from './raw-json-parser.js'
import { compareRoutes, type CompareRoutesOptions } from './compare-routes.js'
import { diffEligibility } from './diff-eligibility.js'
import { useStreamAuth } from './stream-auth.js'
import { typeboxValidatorCompiler } from './typebox-validator.js'

export interface IngestRoutesOptions {
  config: SisportaConfig
  loads: LoadRegistry
  /** Operators' pause / resume per stream: a paused stream opens no new load (409 `SIS_GW_STREAM_PAUSED`). */
  controls: StreamControls
  publisher: BatchPublisher
  auth: ResolvedAuth
  metrics: GatewayMetrics
  bodyLimit: number
  /** Batch requests handled at once, from arrival to answer; beyond this, 503 `SIS_GW_BUSY`. */
  maxInFlight: number
  /** Batch requests one token subject may have in progress; beyond this, 429 `SIS_GW_TOKEN_BUSY`. */
  maxInFlightPerToken: number
  /** How long a batch request's body may take to arrive (ms); then 408 `SIS_GW_BODY_TIMEOUT` and its slot is freed. */
  bodyTimeoutMs: number
  /** Range comparisons of diffed reloads and `verify`: asked of the persisters over NATS. */
  compare: Pick<CompareRoutesOptions, 'nc' | 'names' | 'timeoutMs'>
}

interface StreamParams { stream: string }
interface LoadParams { stream: string, loadId: number }
interface BatchParams extends LoadParams { batch: number }

/**
 * The ingestion API, registered under `/v1`: open a load (abandoning an older one still open),
 * read it, post its batches, seal it, or abandon it.
 * An encapsulated plugin: its token check, JSON parser, validator and error handler apply to
 * these routes only.
 */
export async function ingestRoutes (app: FastifyInstance, options: IngestRoutesOptions): Promise<void> {
  const { config, loads, controls, publisher, metrics, maxInFlight, maxInFlightPerToken, bodyTimeoutMs } = options
  // One compiled check per configured stream and string form, built once: a batch is checked
  // in one pass, whichever way its body was parsed (see checkBody).
  let batchesInProgress = 0
  const inProgressByToken = new Map<string, number>()
  const tally = new LoadTally()
  // json values are checked again as text: a duplicate key hides a value from the parsed check
  const jsonChecks = new Map(config.streams.map((s) => [s.name, createJsonTextCheck(s)]))
  const checkers = new Map<string, BodyChecks<BatchBody, BatchProblem>>(config.streams.map((s) => [s.name, {
    text: createBatchChecker(s, 'text'),
    utf8Bytes: createBatchChecker(s, 'utf8-bytes')
  }]))

  app.decorateRequest('bodyTimer', undefined)
  app.setValidatorCompiler(typeboxValidatorCompiler)
  app.setErrorHandler(createErrorHandler({ bodyLimit: options.bodyLimit, metrics }))
  useRawJsonParser(app, options.bodyLimit)
  await useStreamAuth(app, { auth: options.auth, config })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown'
    metrics.requestSeconds.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    const bytes = Number(request.headers['content-length'])
    if (Number.isFinite(bytes) && bytes > 0) metrics.requestBytes.inc({ route }, bytes)
  })

  app.post<{ Params: StreamParams, Body: OpenLoadBody }>('/streams/:stream/loads', {
    schema: { params: StreamParamsSchema, body: OpenLoadBodySchema }
  }, async (request, reply) => {
    const { stream } = request.params
    const openedBy = request.tokenClaims!.sub
    // A paused stream opens no new load; one already open goes on (batches, seal) and finishes.
    const control = await controls.get(stream)
    if (control.paused) throw new GatewayError('SIS_GW_STREAM_PAUSED', describePause(control))
    // A diffed reload only where it is safe: see diff-eligibility.ts; otherwise every row is sent.
    const diff = request.body.mode === 'full' && request.body.reload === 'diff' ? await diffEligibility(loads, stream) : undefined
    if (diff !== undefined && !diff.eligible) request.log.info({ stream, reason: diff.reason }, 'diffed reload asked for; opening a load that sends every row')
    const load = await loads.openLoad({ stream, mode: request.body.mode, openedBy, ...(diff?.eligible === true ? { reload: 'diff' as const } : {}) })
    request.log.info({ stream, loadId: load.id, mode: load.mode, reload: load.reload ?? 'rows', openedBy: load.openedBy }, 'load opened')
    // One open load per stream: the newest wins, an older one still open is abandoned at once
    // (its extractor died, or another one took over) rather than waiting for SISPORTA_OPEN_TIMEOUT.
    const { previous, newer } = await loads.claimNewest(stream, load.id)
    if (newer !== undefined) {
      await abandonOpenLoad(loads, stream, load.id, `load ${newer} of this stream was opened at the same moment; one open load per stream, the newest goes on`, request.log)
      throw new GatewayError('SIS_GW_LOAD_SUPERSEDED', `load ${load.id} of stream '${stream}' was abandoned at once: load ${newer} of the stream was opened at the same moment (one open load per stream, the newest goes on)`)
    }
    if (previous !== undefined) {
      await abandonOpenLoad(loads, stream, previous, `load ${load.id} of this stream was opened by '${openedBy}' at ${load.openedAt} while this one was still open; one open load per stream`, request.log)
    }
    void reply.code(201)
    return { load } satisfies LoadReply
  })

  compareRoutes(app, { ...options.compare, config, loads, metrics, maxInFlight })

  app.post<{ Params: LoadParams, Body: AbandonLoadBody }>('/streams/:stream/loads/:loadId/abandon', {
    schema: { params: LoadParamsSchema, body: AbandonLoadBodySchema }
  }, async (request) => {
    const { stream, loadId } = request.params
    const by = request.tokenClaims!.sub
    // An unknown load is SIS_BUS_LOAD_UNKNOWN from the registry, answered 404.
    const { load, changed } = await loads.transition(stream, loadId, (current) => abandonChange(current, `abandoned by its extractor ('${by}'): ${request.body.reason}`))
    tally.forget(stream, loadId)
    if (changed) request.log.warn({ stream, loadId, by, reason: request.body.reason }, 'load abandoned by its extractor')
    return { load } satisfies LoadReply
  })

  app.get<{ Params: LoadParams }>('/streams/:stream/loads/:loadId', {
    schema: { params: LoadParamsSchema }
  }, async (request) => {
    const { stream, loadId } = request.params
    const { load } = await getLoad(loads, stream, loadId)
    return { load } satisfies LoadReply
  })

  app.post<{ Params: BatchParams, Body: BatchBody }>('/streams/:stream/loads/:loadId/batches/:batch', {
    schema: { params: BatchParamsSchema, body: BatchBodySchema },
    // latin1Body: the body may come from the parser's latin1 fast path (its strings are only
    // checked, through checkBody, and the raw bytes are what is published).
    config: { batchRoute: true, latin1Body: true },
    // The hot path: per-request access logs at thousands of batches a second cost more than
    // they tell. Refusals are still logged (at warn) and every outcome is counted in metrics.
    logLevel: 'warn',
    // Back-pressure before the body is read: a batch request holds its body (up to the body
    // limit), its parse and its publish until it is answered, so the number of them in
    // progress — not only those awaiting JetStream — is what bounds the gateway's memory.
    onRequest: async (request, reply) => {
      if (batchesInProgress >= maxInFlight) {
        throw new GatewayError('SIS_GW_BUSY', `the gateway is handling ${batchesInProgress} batches (at most ${maxInFlight}): retry shortly`)
      }
      // One token's share: a client that stalls its uploads (or floods them) holds its own
      // slots, never every slot; the auth hook has run, so the subject is verified.
      const subject = request.tokenClaims!.sub
      const mine = inProgressByToken.get(subject) ?? 0
      if (mine >= maxInFlightPerToken) {
        throw new GatewayError('SIS_GW_TOKEN_BUSY', `'${subject}' has ${mine} batch requests in progress (at most ${maxInFlightPerToken} per token): retry shortly`)
      }
      batchesInProgress++
      inProgressByToken.set(subject, mine + 1)
      metrics.batchesInProgress.inc()
      // A body that does not arrive in time gives its slot back with a 408.
      const timer = setTimeout(() => { answerBodyTimeout(request, reply, bodyTimeoutMs, metrics) }, bodyTimeoutMs)
      request.bodyTimer = timer
      // 'close' comes once the answer is sent or the client went away, whichever ends it
      reply.raw.once('close', () => {
        clearTimeout(timer)
        batchesInProgress--
        const left = (inProgressByToken.get(subject) ?? 1) - 1
        if (left === 0) inProgressByToken.delete(subject)
        else inProgressByToken.set(subject, left)
        metrics.batchesInProgress.dec()
      })
    },
    // the body has arrived (and parsed): the body timeout no longer applies
    preValidation: async (request) => {
      clearTimeout(request.bodyTimer)
    }
  }, async (request, reply) => {
    const { stream, loadId, batch } = request.params
    const { load } = await requireOpenLoad(loads, stream, loadId)
    const problem = checkBody(request, checkers.get(stream)!) ?? jsonChecks.get(stream)!(request.body, request.rawBody!)
    if (problem !== undefined) throw new GatewayError('SIS_GW_BATCH_INVALID', `batch ${batch}: ${problem.message}`)
    const rows = request.body.rows.length
    const published = await publisher.publish({ stream, loadId, batch, mode: load.mode, rows, payload: request.rawBody! })
    tally.accepted(stream, loadId, batch, rows)
    metrics.batchesAccepted.inc({ stream })
    if (published.duplicate) {
      metrics.duplicates.inc({ stream })
      request.log.info({ stream, loadId, batch, rows, seq: published.seq }, 'batch already on the bus (a retry)')
    } else {
      metrics.rowsAccepted.inc({ stream }, rows)
      request.log.debug({ stream, loadId, batch, rows, seq: published.seq }, 'batch accepted')
    }
    void reply.code(202)
    return { stream, loadId, batch, rows, duplicate: published.duplicate } satisfies BatchReply
  })

  app.post<{ Params: LoadParams, Body: SealBody }>('/streams/:stream/loads/:loadId/seal', {
    schema: { params: LoadParamsSchema, body: SealBodySchema }
  }, async (request) => {
    const { stream, loadId } = request.params
    const { batches, rows } = request.body
    // none cut is stated by leaving the count out, in the seal and in the load record
    const truncatedFractions = request.body.truncatedFractions === 0 ? undefined : request.body.truncatedFractions
    const contradiction = tally.contradiction(stream, loadId, { batches, rows })
    if (contradiction !== undefined) throw new GatewayError('SIS_GW_SEAL_INVALID', `load ${loadId} of stream '${stream}': ${contradiction}`)
    // An unknown load is SIS_BUS_LOAD_UNKNOWN from the registry, answered 404.
    const compared = comparedCounts(request.body)
    const { load, changed } = await loads.transition(stream, loadId, (current) => sealChange(current, batches, rows, truncatedFractions, compared))
    tally.forget(stream, loadId)
    const log = request.log.child({ stream, loadId })
    if (changed) log.info({ batches, rows, truncatedFractions }, 'load sealed')
    else log.info({ batches, rows, truncatedFractions, state: load.state }, 'load already sealed with these counts (a retry)')
    return { load } satisfies LoadReply
  })
}

/**
 * Answers a batch request whose body is still arriving after `timeoutMs` with 408: the slot is
 * freed when the answer is sent, and the connection is closed after it, so the rest of the body
 * is never read.
 */
function answerBodyTimeout (request: FastifyRequest, reply: FastifyReply, timeoutMs: number, metrics: GatewayMetrics): void {
  if (reply.sent) return
  const error = new GatewayError('SIS_GW_BODY_TIMEOUT', `the request body did not arrive within ${timeoutMs / 1000} s (SISPORTA_GATEWAY_BODY_TIMEOUT): retry`)
  request.log.warn({ code: error.code, statusCode: error.statusCode, reason: error.message }, 'request refused')
  metrics.batchesRejected.inc({ code: error.code })
  reply.raw.once('finish', () => { request.raw.destroy() })
  void reply.code(error.statusCode).header('connection', 'close').header('Retry-After', String(error.retryAfterSec)).send(error.toReply())
}

/**
 * Seals an open load with the extractor's counts (`truncatedFractions` undefined when none were
 * cut). A repeated seal with the same counts is a retry and changes nothing, even if the load has
 * moved on since (applied, reconciled…): the first seal's reply may simply have been lost. Other
 * counts, or a load that was never sealed and is no longer open (abandoned, discarded), are conflicts.
 */
function sealChange (current: LoadRecord, batches: number, rows: number, truncatedFractions: number | undefined, compared: ComparedCounts | undefined): LoadRecord | undefined {
  const where = `load ${current.id} of stream '${current.stream}'`
  if (current.state === 'open') {
    if (compared !== undefined && current.reload !== 'diff') throw new GatewayError('SIS_GW_COMPARE_REFUSED', `${where} was opened to send every row: its seal states no comparison`)
    if (compared === undefined && current.reload === 'diff') throw new GatewayError('SIS_GW_COMPARE_REFUSED', `${where} is a diffed load: its seal states the rows and ranges compared`)
    return { ...current, state: 'sealed', batches, rows, ...(truncatedFractions === undefined ? {} : { truncatedFractions }), ...compared, sealedAt: new Date().toISOString() }
  }
  if (current.sealedAt === undefined) {
    throw new GatewayError('SIS_GW_LOAD_NOT_OPEN', `${where} is ${current.state}: only an open load can be sealed`)
  }
  if (current.batches !== batches || current.rows !== rows) {
    throw new GatewayError('SIS_GW_SEAL_MISMATCH', `${where} was already sealed with ${current.batches ?? '?'} batches and ${current.rows ?? '?'} rows, not ${batches} batches and ${rows} rows`)
  }
  if ((current.truncatedFractions ?? 0) !== (truncatedFractions ?? 0)) {
    throw new GatewayError('SIS_GW_SEAL_MISMATCH', `${where} was already sealed with ${current.truncatedFractions ?? 0} datetime values cut to the microsecond, not ${truncatedFractions ?? 0}`)
  }
  return undefined
}

interface ComparedCounts { comparedRows: number, comparedRanges: number, equalRanges: number }

/** A diffed load's seal states all three counts, a load of rows none. */
function comparedCounts (body: SealBody): ComparedCounts | undefined {
  const { comparedRows, comparedRanges, equalRanges } = body
  if (comparedRows === undefined && comparedRanges === undefined && equalRanges === undefined) return undefined
  if (comparedRows === undefined || comparedRanges === undefined || equalRanges === undefined) {
    throw new GatewayError('SIS_GW_INVALID_REQUEST', 'a seal states comparedRows, comparedRanges and equalRanges together, or none of them')
  }
  if (equalRanges > comparedRanges) throw new GatewayError('SIS_GW_INVALID_REQUEST', `equalRanges (${equalRanges}) cannot exceed comparedRanges (${comparedRanges})`)
  return { comparedRows, comparedRanges, equalRanges }
}

/**
 * Abandons an open load: an abandoned one stays as it is (a retry), any other state is a
 * conflict — a sealed load is no longer the extractor's to give up, it is being applied.
 */
function abandonChange (current: LoadRecord, reason: string): LoadRecord | undefined {
  if (current.state === 'open') return { ...current, state: 'abandoned', reason }
  if (current.state === 'abandoned') return undefined
  throw new GatewayError('SIS_GW_LOAD_NOT_OPEN', `load ${current.id} of stream '${current.stream}' is ${current.state}: only an open load can be abandoned`)
}

/**
 * Abandons `loadId` if it is still open (compare-and-set: a seal that got there first wins, and
 * the load goes on). A load the registry does not trust, or no longer has, is left alone.
 */
async function abandonOpenLoad (loads: LoadRegistry, stream: string, loadId: number, reason: string, log: FastifyRequest['log']): Promise<void> {
  try {
    const { load, changed } = await loads.transition(stream, loadId, (current) => current.state === 'open' ? { ...current, state: 'abandoned', reason } : undefined)
    if (changed) log.warn({ stream, loadId, reason }, 'older open load abandoned')
    else log.debug({ stream, loadId, state: load.state }, 'older load no longer open; left as it is')
  } catch (err) {
    log.warn({ err, stream, loadId }, 'could not abandon the older open load; SISPORTA_OPEN_TIMEOUT will')
  }
}

async function getLoad (loads: LoadRegistry, stream: string, loadId: number): Promise<{ load: LoadRecord }> {
  const entry = await loads.get(stream, loadId)
  if (entry === undefined) throw new GatewayError('SIS_GW_LOAD_UNKNOWN', `load ${loadId} of stream '${stream}' does not exist`)
  return entry
}

async function requireOpenLoad (loads: LoadRegistry, stream: string, loadId: number): Promise<{ load: LoadRecord }> {
  const entry = await getLoad(loads, stream, loadId)
  if (entry.load.state !== 'open') {
    throw new GatewayError('SIS_GW_LOAD_NOT_OPEN', `load ${loadId} of stream '${stream}' is ${entry.load.state}: only an open load takes batches`)
  }
  return entry
}
