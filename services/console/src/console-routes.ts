import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { BusError } from '@sisporta/nats'
import { isGatewayError } from '@sisporta/gateway'
import type { Logger } from '@sisporta/observability'
import { clearedCookie, MAX_TOKEN_LENGTH, presentedToken, sameOrigin, sessionCookie, type AdminVerifier } from './admin-auth.js'
import type { Asset } from './assets.js'
import { ConsoleError, errorBody } from './errors.js'
import type { SafeHtml } from './html.js'
import type { ActionResult, ConsoleActions, ConsoleReads } from './operations.js'
import { deadLetterPage, deadLettersFragment, deadLettersPage } from './pages/dead-letters-page.js'
import { loadsFragment, loadsPage } from './pages/loads-page.js'
import { isLoginReason, loginPage, type LoginReason } from './pages/login-page.js'
import { overviewFragment, overviewPage, type OverviewView } from './pages/overview-page.js'
import type { Sampler } from './samples.js'
import { streamOverview } from './stream-overview.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in operator (the admin token's `sub`), on the console's protected routes. */
    operator: string | null
  }
  interface FastifyContextConfig {
    /** A page a browser navigates to: refused auth redirects to the login page instead of a 401. */
    page?: boolean
  }
}

export interface ConsoleRoutesOptions {
  readonly verify: AdminVerifier
  readonly reads: ConsoleReads
  readonly actions: ConsoleActions
  readonly sampler: Sampler
  readonly namespace: string
  readonly streams: ReadonlyArray<{ name: string, target: { table: string }, deletes: string }>
  readonly assets: ReadonlyMap<string, Asset>
  readonly log: Logger
}

const STREAM = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' })
const StreamParams = Type.Object({ stream: STREAM })
const StreamQuery = Type.Object({ stream: Type.Optional(Type.Union([STREAM, Type.Literal('')])) })
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) })
const SeqParams = Type.Object({ seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) })
const LoginQuery = Type.Object({ why: Type.Optional(Type.String({ maxLength: 32 })) })

// Pages and replies are about live operations: never cached, never framed, no inline script.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store'
} as const

/**
 * The console's routes: the login page and static files open, everything else behind the admin
 * token (`onRequest` hook of this context only: `/healthz`, `/readyz`, `/metrics` stay as the
 * shell serves them). Cookie-signed POSTs must come from the console's own pages (CSRF).
 */
export async function consoleRoutes (app: FastifyInstance, options: ConsoleRoutesOptions): Promise<void> {
  const { verify, reads, actions, log } = options
  const html = (reply: FastifyReply, page: SafeHtml, code = 200): FastifyReply => reply.code(code).type('text/html; charset=utf-8').send(page.toString())
  const secure = (request: FastifyRequest): boolean => request.protocol === 'https'

  app.setErrorHandler(async (err, _request, reply) => await replyError(err, reply, log))
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS)
    return payload
  })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_TOKEN_LENGTH * 2 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  // --- open: static files, login, logout -------------------------------------------------
  app.get('/assets/:file', async (request, reply) => {
    const asset = options.assets.get((request.params as { file: string }).file)
    if (asset === undefined) return await reply.code(404).send(errorBody(404, 'SIS_CONSOLE_NOT_FOUND', 'no such file'))
    // the static files are the console's own: cacheable for a while, unlike the pages
    return await reply.type(asset.type).header('cache-control', 'max-age=300').send(asset.body)
  })
  app.get('/login', { schema: { querystring: LoginQuery } }, async (request, reply) => {
    const why = (request.query as { why?: string }).why
    return html(reply, loginPage({ namespace: options.namespace, reason: isLoginReason(why) ? why : undefined }))
  })
  app.post('/login', async (request, reply) => {
    if (!sameOrigin(request.headers)) throw new ConsoleError('SIS_CONSOLE_CROSS_ORIGIN', 'sign in from the console\'s own login page')
    const token = String((request.body as Record<string, unknown> | undefined)?.token ?? '').trim()
    if (token === '') return html(reply, loginPage({ namespace: options.namespace, reason: 'required' }), 401)
    try {
      const claims = await verify(token)
      log.info({ operator: claims.sub }, 'operator signed in to the console')
      return await reply.code(303).header('set-cookie', sessionCookie(token, { maxAgeSec: claims.exp - Date.now() / 1000, secure: secure(request) })).header('location', '/').send()
    } catch (err) {
      const refused = authRefusal(err)
      if (refused === undefined) throw err
      log.warn({ code: refused.code, reason: refused.message }, 'console sign-in refused')
      return html(reply, loginPage({ namespace: options.namespace, reason: refused.why, detail: refused.message }), refused.status)
    }
  })
  app.post('/logout', async (request, reply) => {
    if (!sameOrigin(request.headers)) throw new ConsoleError('SIS_CONSOLE_CROSS_ORIGIN', 'sign out from the console\'s own pages')
    return await reply.code(303).header('set-cookie', clearedCookie(secure(request))).header('location', '/login?why=signed-out').send()
  })

  // --- behind the admin token ---------------------------------------------------------------
  await app.register(async (guarded) => {
    guarded.decorateRequest('operator', null)
    guarded.addHook('onRequest', async (request) => {
      const presented = presentedToken(request.headers)
      if (presented === undefined) throw new ConsoleError('SIS_CONSOLE_UNAUTHENTICATED', 'not signed in: sign in at /login, or send Authorization: Bearer <admin jwt>')
      // A browser sends the cookie with any request to this host, even one a page elsewhere
      // makes it send: a state change signed by cookie must come from the console's own pages.
      // A bearer header is never added by a browser on its own.
      if (request.method !== 'GET' && request.method !== 'HEAD' && presented.via === 'cookie' && !sameOrigin(request.headers)) {
        throw new ConsoleError('SIS_CONSOLE_CROSS_ORIGIN', `refused ${request.method} ${request.url}: its Origin / Referer is not this console (${request.headers.host ?? 'no Host'})`)
      }
      request.operator = (await verify(presented.token)).sub
    })
    guarded.setErrorHandler(async (err, request, reply) => {
      const refused = authRefusal(err)
      if (refused !== undefined) {
        log.warn({ code: refused.code, reason: refused.message, url: request.url }, 'console request refused')
        if (request.routeOptions.config.page === true && refused.why !== undefined) {
          return await reply.code(303).header('set-cookie', clearedCookie(secure(request))).header('location', `/login?why=${refused.why}`).send()
        }
        return await reply.code(refused.status).send(errorBody(refused.status, refused.code, refused.message))
      }
      return await replyError(err, reply, log)
    })

    const overview = async (request: FastifyRequest): Promise<OverviewView> => {
      const names = options.streams.map((s) => s.name)
      const [loads, controls, queued, deadLetters, consumer] = await Promise.all([
        reads.loads(), reads.controls(names), reads.queuedBatches(), reads.deadLetterCounts(),
        reads.consumer().then((c) => ({ c }), (err: unknown) => ({ err: (err as Error).message }))
      ])
      const now = new Date()
      return {
        namespace: options.namespace,
        operator: request.operator!,
        streams: streamOverview({ streams: options.streams, loads, controls, queued, deadLetters, now }),
        consumer: 'c' in consumer ? consumer.c : undefined,
        consumerError: 'err' in consumer ? consumer.err : undefined,
        at: now
      }
    }
    const loadsView = async (request: FastifyRequest): Promise<Parameters<typeof loadsPage>[0]> => {
      const stream = nonEmpty((request.query as { stream?: string }).stream)
      const loads = (await reads.loads()).filter((l) => stream === undefined || l.stream === stream).sort((a, b) => b.id - a.id)
      return { namespace: options.namespace, operator: request.operator!, loads, stream, streams: options.streams.map((s) => s.name) }
    }
    const lettersView = async (request: FastifyRequest): Promise<Parameters<typeof deadLettersPage>[0]> => {
      const stream = nonEmpty((request.query as { stream?: string }).stream)
      return { namespace: options.namespace, operator: request.operator!, letters: await reads.deadLetters(stream), stream }
    }

    guarded.get('/', { config: { page: true } }, async (request, reply) => html(reply, overviewPage(await overview(request))))
    guarded.get('/fragments/overview', async (request, reply) => html(reply, overviewFragment(await overview(request))))
    guarded.get('/loads', { config: { page: true }, schema: { querystring: StreamQuery } }, async (request, reply) => html(reply, loadsPage(await loadsView(request))))
    guarded.get('/fragments/loads', { schema: { querystring: StreamQuery } }, async (request, reply) => html(reply, loadsFragment(await loadsView(request))))
    guarded.get('/dead-letters', { config: { page: true }, schema: { querystring: StreamQuery } }, async (request, reply) => html(reply, deadLettersPage(await lettersView(request))))
    guarded.get('/fragments/dead-letters', { schema: { querystring: StreamQuery } }, async (request, reply) => html(reply, deadLettersFragment(await lettersView(request))))
    guarded.get('/dead-letters/:seq', { config: { page: true }, schema: { params: SeqParams } }, async (request, reply) => {
      const { seq } = request.params as { seq: number }
      const letter = await reads.deadLetter(seq)
      if (letter === undefined) throw new ConsoleError('SIS_CONSOLE_NOT_FOUND', `no dead letter #${seq}`)
      return html(reply, deadLetterPage({ namespace: options.namespace, operator: request.operator!, letter }))
    })

    guarded.get('/api/state', async (request) => {
      const view = await overview(request)
      return { namespace: view.namespace, at: view.at.toISOString(), consumer: view.consumer ?? null, consumerError: view.consumerError, streams: view.streams }
    })
    guarded.get('/api/samples', async () => ({ streams: options.streams.map((s) => s.name), samples: options.sampler.samples() }))
    guarded.get('/api/loads', { schema: { querystring: StreamQuery } }, async (request) => (await loadsView(request)).loads)
    guarded.get('/api/dead-letters', { schema: { querystring: StreamQuery } }, async (request) => (await lettersView(request)).letters)

    const act = async (request: FastifyRequest, action: string, target: Record<string, unknown>, run: (by: string) => Promise<ActionResult>): Promise<ActionResult> => {
      const result = await run(request.operator!)
      log.info({ operator: request.operator, action, ...target }, result.message)
      return result
    }
    const knownStream = (stream: string): string => {
      if (!options.streams.some((s) => s.name === stream)) throw new ConsoleError('SIS_CONSOLE_NOT_FOUND', `stream '${stream}' is not in this console's config`)
      return stream
    }
    const streamRoute = { schema: { params: StreamParams } }
    guarded.post('/api/streams/:stream/pause', streamRoute, async (request) => {
      const stream = knownStream((request.params as { stream: string }).stream)
      return await act(request, 'pause', { stream }, async (by) => await actions.pause(stream, by))
    })
    guarded.post('/api/streams/:stream/resume', streamRoute, async (request) => {
      const stream = knownStream((request.params as { stream: string }).stream)
      return await act(request, 'resume', { stream }, async (by) => await actions.resume(stream, by))
    })
    guarded.post('/api/streams/:stream/sync', streamRoute, async (request) => {
      const stream = knownStream((request.params as { stream: string }).stream)
      return await act(request, 'sync', { stream }, async (by) => await actions.requestSync(stream, by))
    })
    guarded.post('/api/streams/:stream/verify', streamRoute, async (request) => {
      const stream = knownStream((request.params as { stream: string }).stream)
      return await act(request, 'verify', { stream }, async (by) => await actions.requestVerify(stream, by))
    })
    guarded.post('/api/loads/:id/approve', { schema: { params: IdParams } }, async (request) => {
      const { id } = request.params as { id: number }
      return await act(request, 'approve', { load: id }, async (by) => await actions.approve(id, by))
    })
    guarded.post('/api/loads/:id/discard', { schema: { params: IdParams } }, async (request) => {
      const { id } = request.params as { id: number }
      return await act(request, 'discard', { load: id }, async (by) => await actions.discard(id, by))
    })
    guarded.post('/api/dead-letters/replay-all', { schema: { querystring: StreamQuery } }, async (request) => {
      const stream = nonEmpty((request.query as { stream?: string }).stream)
      return await act(request, 'replay-all', { stream }, async (by) => await actions.replayAll(stream, by))
    })
    guarded.post('/api/dead-letters/:seq/replay', { schema: { params: SeqParams } }, async (request) => {
      const { seq } = request.params as { seq: number }
      return await act(request, 'replay', { letter: seq }, async (by) => await actions.replayLetter(seq, by))
    })
    guarded.post('/api/dead-letters/:seq/drop', { schema: { params: SeqParams } }, async (request) => {
      const { seq } = request.params as { seq: number }
      return await act(request, 'drop', { letter: seq }, async (by) => await actions.dropLetter(seq, by))
    })
  })
}

// the gateway's token refusals (SIS_GW_TOKEN_EXPIRED, …): what the shared verifier throws
const TOKEN_CODE = /^SIS_GW_TOKEN_[A-Z_]+$/

interface Refusal {
  readonly status: number
  readonly code: string
  readonly message: string
  /** The login page's reason, for a browser sent back to it. */
  readonly why: LoginReason | undefined
}

/** An authentication or authorisation refusal, or `undefined` for any other error. */
function authRefusal (err: unknown): Refusal | undefined {
  if (isGatewayError(err) && TOKEN_CODE.test(err.code)) {
    return { status: 401, code: err.code, message: err.message, why: err.code === 'SIS_GW_TOKEN_EXPIRED' ? 'expired' : 'invalid' }
  }
  if (err instanceof ConsoleError) {
    if (err.code === 'SIS_CONSOLE_UNAUTHENTICATED') return { status: 401, code: err.code, message: err.message, why: 'required' }
    if (err.code === 'SIS_CONSOLE_NOT_ADMIN') return { status: 403, code: err.code, message: err.message, why: 'not-admin' }
    if (err.code === 'SIS_CONSOLE_CROSS_ORIGIN') return { status: 403, code: err.code, message: err.message, why: undefined }
  }
  return undefined
}

async function replyError (err: unknown, reply: FastifyReply, log: Logger): Promise<FastifyReply> {
  if (err instanceof ConsoleError) return await reply.code(err.statusCode).send(errorBody(err.statusCode, err.code, err.message))
  const e = err as { validation?: unknown, statusCode?: number, message?: string }
  if (e.validation !== undefined) return await reply.code(400).send(errorBody(400, 'SIS_CONSOLE_BAD_REQUEST', e.message ?? 'invalid request'))
  if (err instanceof BusError) {
    log.warn({ err, code: err.code }, 'console action failed on the bus')
    const status = err.exitCode === 2 ? 400 : 409
    return await reply.code(status).send(errorBody(status, err.code, err.message))
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return await reply.code(e.statusCode).send(errorBody(e.statusCode, 'SIS_CONSOLE_BAD_REQUEST', e.message ?? 'bad request'))
  }
  log.error({ err, code: 'SIS_CONSOLE_BUS' }, 'console request failed')
  return await reply.code(502).send(errorBody(502, 'SIS_CONSOLE_BUS', `reading or changing the bus failed: ${e.message ?? 'unknown error'}`))
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
