import { Agent as HttpAgent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import { API_PREFIX, MAX_ABANDON_REASON, type BatchReply, type CompareBody, type CompareReply, type ReloadKind, type ErrorReply, type LoadMode, type LoadRecord, type SealBody, type StreamStatusReply, type SyncRequest, type SyncRequestsReply, type VerifyReportBody, type VerifyReportRecord } from '@sisporta/contracts'
import { ExtractError } from './errors.js'

export interface GatewayClientOptions {
  /** Base URL of the gateway, e.g. https://sisporta.example.com */
  url: string
  token: string
  /** Attempts per request before giving up (transient failures only). */
  maxAttempts?: number
  /** First retry delay (ms); doubles each attempt, with jitter, capped at 15 s. */
  baseDelayMs?: number
  /** Per-request timeout (ms). */
  timeoutMs?: number
  /**
   * Connections to the gateway at most (default 64, the largest SISPORTA_IN_FLIGHT); further
   * requests wait for a free one. Connections are kept alive between requests.
   */
  maxSockets?: number
  onRetry?: (info: { what: string, attempt: number, delayMs: number, reason: string }) => void
}

/** Per request: stop waiting (retries, backoff, the reply) when `signal` aborts; fewer attempts. */
export interface RequestOptions {
  readonly signal?: AbortSignal | undefined
  readonly maxAttempts?: number
  /** This request's reply timeout (ms), when longer than the client's. */
  readonly timeoutMs?: number
}

/**
 * Reply timeout of a range comparison: longer than the gateway's own wait for a persister
 * (SISPORTA_COMPARE_TIMEOUT, 90 s by default, at most 120 s), so that the gateway's 503 arrives first.
 */
export const COMPARE_REPLY_TIMEOUT_MS = 150_000

/** Statuses worth retrying: the gateway or something in front of it is busy or restarting. */
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504])

/**
 * Idle connections are closed after this long (or sooner, when the gateway announces a shorter
 * `Keep-Alive: timeout`), before the server closes them under a request being sent.
 */
const IDLE_SOCKET_MS = 4_000

/**
 * The extractor's only way into the cluster: the gateway's HTTPS API. Transient failures
 * (network errors, 429/5xx, timeouts) are retried with exponential backoff and jitter,
 * honouring `Retry-After`; a 4xx is a definite answer and is not retried. Retrying a batch is
 * always safe: the gateway publishes it with a de-duplication id.
 *
 * Requests go through node:http(s) on keep-alive connections of the client's own, with bodies
 * sent as bytes: global fetch would encode each batch's text again and pass it through web
 * streams, a cost paid for every row. TLS trusts Node's CAs plus NODE_EXTRA_CA_CERTS.
 *
 * @example
 * const gw = new GatewayClient({ url: 'http://127.0.0.1:8080', token })
 * const load = await gw.openLoad('products', 'full')
 */
export class GatewayClient {
  readonly #options: Required<Omit<GatewayClientOptions, 'onRetry'>> & Pick<GatewayClientOptions, 'onRetry'>
  /** 'http:' or 'https:' (anything else fails each request, as a network error would). */
  readonly #protocol: string
  readonly #agent: HttpAgent

  constructor (options: GatewayClientOptions) {
    this.#options = { maxAttempts: 10, baseDelayMs: 200, timeoutMs: 60_000, maxSockets: 64, ...options, url: options.url.replace(/\/+$/, '') }
    this.#protocol = URL.canParse(this.#options.url) && new URL(this.#options.url).protocol === 'https:' ? 'https:' : 'http:'
    const agentOptions = { keepAlive: true, maxSockets: this.#options.maxSockets, timeout: IDLE_SOCKET_MS }
    this.#agent = this.#protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)
  }

  /**
   * Opens a load. `reload: 'diff'` asks for a diffed full load: the gateway opens one only where
   * it is safe (docs/reloads.md), else a load that sends every row; the record's `reload` says which.
   */
  async openLoad (stream: string, mode: LoadMode, reload?: ReloadKind): Promise<LoadRecord> {
    const body = reload === undefined ? { mode } : { mode, reload }
    const reply = await this.#request<{ load: LoadRecord }>('POST', `/streams/${stream}/loads`, JSON.stringify(body), `open ${mode} load of ${stream}`)
    return reply.load
  }

  /**
   * Compares one key range of the source with the target (docs/reloads.md): for an open diffed
   * load (`loadId`), whose unmatched target rows are then marked; without one (`sisporta
   * verify`), changing nothing. Resolves with the positions of the rows to send.
   */
  async compare (stream: string, loadId: number | undefined, body: CompareBody, options: RequestOptions = {}): Promise<CompareReply> {
    const path = loadId === undefined ? `/streams/${stream}/compare` : `/streams/${stream}/loads/${loadId}/compare`
    return await this.#request<CompareReply>('POST', path, JSON.stringify(body), loadId === undefined ? `compare a range of ${stream}` : `compare a range of load ${loadId}`, { timeoutMs: COMPARE_REPLY_TIMEOUT_MS, ...options })
  }

  /**
   * The pending "sync now" requests of the streams this token may load, paused streams left out
   * (`GET /v1/sync-requests`): the daemon opens a load of each. A request stays listed until the
   * stream has a load opened after it, so asking again before that load opens lists it again.
   * `verify`: the pending verify requests too (`kind: 'verify'`; loads then have `kind: 'load'`).
   *
   * @example
   * for (const { stream, requestedBy } of await gw.syncRequests()) console.log(`${requestedBy} asked for ${stream}`)
   */
  async syncRequests (options: RequestOptions & { readonly verify?: boolean } = {}): Promise<SyncRequest[]> {
    const path = options.verify === true ? '/sync-requests?include=verify' : '/sync-requests'
    const reply = await this.#request<SyncRequestsReply>('GET', path, undefined, 'list sync requests', options)
    return reply.requests
  }

  /**
   * Posts the report of an operator's verify request (`POST /v1/streams/:stream/verify-reports`):
   * the gateway stores it as the stream's latest, which ends the request. A request no longer
   * pending (answered, or replaced by a newer one) is refused with 409 `SIS_GW_VERIFY_NOT_PENDING`.
   */
  async postVerifyReport (body: VerifyReportBody, options: RequestOptions = {}): Promise<VerifyReportRecord> {
    const reply = await this.#request<{ report: VerifyReportRecord }>('POST', `/streams/${body.stream}/verify-reports`, JSON.stringify(body), `post the verify report of ${body.stream}`, options)
    return reply.report
  }

  /**
   * The stream's newest load of each mode and its newest successful one (`GET /v1/streams/:stream`):
   * what the daemon schedules from at start.
   *
   * @example
   * const { lastLoad } = await gw.streamStatus('products')
   * lastLoad.full?.openedAt // '2026-01-01T02:00:03.120Z'
   */
  async streamStatus (stream: string, options: RequestOptions = {}): Promise<StreamStatusReply> {
    return await this.#request<StreamStatusReply>('GET', `/streams/${stream}`, undefined, `read the loads of ${stream}`, options)
  }

  async getLoad (stream: string, loadId: number, options: RequestOptions = {}): Promise<LoadRecord> {
    const reply = await this.#request<{ load: LoadRecord }>('GET', `/streams/${stream}/loads/${loadId}`, undefined, `read load ${loadId}`, options)
    return reply.load
  }

  /** Posts one batch; `body` is a BatchBody as UTF-8 JSON bytes (encoded once by the caller), or as text. */
  async postBatch (stream: string, loadId: number, batch: number, body: Uint8Array | string, options: RequestOptions = {}): Promise<BatchReply> {
    return await this.#request<BatchReply>('POST', `/streams/${stream}/loads/${loadId}/batches/${batch}`, body, `batch ${batch} of load ${loadId}`, options)
  }

  async seal (stream: string, loadId: number, counts: SealBody, options: RequestOptions = {}): Promise<LoadRecord> {
    const reply = await this.#request<{ load: LoadRecord }>('POST', `/streams/${stream}/loads/${loadId}/seal`, JSON.stringify(counts), `seal load ${loadId}`, options)
    return reply.load
  }

  /**
   * Gives up an open load at once, with the reason (cut to what the gateway takes): it deletes
   * nothing and takes no more batches. Repeating it is harmless; a load that is no longer open
   * (sealed, failed…) is refused with 409 `SIS_GW_LOAD_NOT_OPEN`.
   *
   * @example
   * await gw.abandonLoad('products', 42, 'SIS_SRC_VALUE: stream \'products\', column \'price\' …')
   */
  async abandonLoad (stream: string, loadId: number, reason: string, options: RequestOptions = {}): Promise<LoadRecord> {
    const text = reason.length > MAX_ABANDON_REASON ? `${reason.slice(0, MAX_ABANDON_REASON - 1)}…` : reason
    const reply = await this.#request<{ load: LoadRecord }>('POST', `/streams/${stream}/loads/${loadId}/abandon`, JSON.stringify({ reason: text === '' ? 'no reason given' : text }), `abandon load ${loadId}`, options)
    return reply.load
  }

  async #request<T> (method: string, path: string, body: Uint8Array | string | undefined, what: string, options: RequestOptions = {}): Promise<T> {
    const { url, token, baseDelayMs } = this.#options
    const timeoutMs = Math.max(this.#options.timeoutMs, options.timeoutMs ?? 0)
    const maxAttempts = options.maxAttempts ?? this.#options.maxAttempts
    const signal = options.signal
    // Encoded once: every attempt sends the same bytes.
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted()
      let retryReason: string
      let retryAfterMs: number | undefined
      try {
        const res = await this.#send(method, `${url}${API_PREFIX}${path}`, token, bytes, timeoutMs, signal)
        if (res.status >= 200 && res.status < 300) return JSON.parse(res.text) as T
        const error = parseError(res.text)
        if (res.status === 409 && error?.code === 'SIS_GW_STREAM_PAUSED') {
          // an operator's decision, not a fault: the gateway's message says who, when, why and how to resume
          throw new ExtractError('SIS_EXTRACT_STREAM_PAUSED', error.message, { statusCode: res.status, gatewayCode: error.code })
        }
        if (!RETRY_STATUSES.has(res.status)) {
          throw new ExtractError('SIS_EXTRACT_REJECTED', `gateway refused ${what}: ${res.status} ${error?.code ?? ''} ${error?.message ?? res.text}`.replace(/\s+/g, ' '), {
            statusCode: res.status,
            gatewayCode: error?.code,
            exitCode: res.status === 401 || res.status === 403 || res.status === 404 ? 2 : 1
          })
        }
        retryReason = `${res.status} ${error?.message ?? ''}`.trim()
        const retryAfter = Number(res.retryAfter)
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000
      } catch (err) {
        if (err instanceof ExtractError) throw err
        signal?.throwIfAborted()
        retryReason = describeNetworkError(err)
      }
      if (attempt >= maxAttempts) {
        throw new ExtractError('SIS_EXTRACT_GATEWAY_UNAVAILABLE', `gateway did not accept ${what} after ${attempt} attempts: ${retryReason}`)
      }
      const backoff = Math.min(15_000, baseDelayMs * 2 ** (attempt - 1))
      const delayMs = Math.max(retryAfterMs ?? 0, Math.round(backoff / 2 + Math.random() * backoff / 2))
      this.#options.onRetry?.({ what, attempt, delayMs, reason: retryReason })
      try {
        await sleep(delayMs, undefined, signal === undefined ? {} : { signal })
      } catch {
        // only an abort ends the wait early: report it with the signal's own reason
        signal?.throwIfAborted()
      }
    }
  }

  /**
   * One HTTP exchange on the client's keep-alive connections: sends `body` with its length and
   * reads the whole reply. Rejects on a network error, a reply cut short, or no complete reply
   * within `timeoutMs` of getting a connection (time spent waiting for a free one, when more
   * requests than `maxSockets` are out, does not count).
   */
  async #send (method: string, href: string, token: string, body: Uint8Array | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    const target = new URL(href)
    if (target.protocol !== this.#protocol) {
      throw new Error(`${href} is not an ${this.#protocol.slice(0, -1)} URL`)
    }
    const headers: OutgoingHttpHeaders = { authorization: `Bearer ${token}` }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = body.byteLength
    }
    return await new Promise<Reply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      let settled = false
      const fail = (err: Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(err)
        // A connection with a request cut short is never reused.
        req.destroy()
      }
      const options = { method, headers, agent: this.#agent }
      const req = this.#protocol === 'https:' ? httpsRequest(target, options) : httpRequest(target, options)
      if (signal !== undefined) {
        const abort = (): void => { fail(signal.reason instanceof Error ? signal.reason : new Error('aborted')) }
        signal.addEventListener('abort', abort, { once: true })
        req.once('close', () => { signal.removeEventListener('abort', abort) })
      }
      req.once('socket', () => {
        timer = setTimeout(() => { fail(Object.assign(new Error(`no reply within ${timeoutMs} ms`), { name: 'TimeoutError' })) }, timeoutMs)
      })
      req.on('error', fail)
      req.once('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', fail)
        res.once('end', () => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text: Buffer.concat(chunks).toString('utf8') })
        })
        res.once('close', () => { if (!res.complete) fail(Object.assign(new Error('the reply was cut short'), { code: 'ECONNRESET' })) })
      })
      req.end(body)
    })
  }
}

/** What {@link GatewayClient} needs of a reply. */
interface Reply {
  status: number
  retryAfter: string | undefined
  text: string
}

function parseError (text: string): ErrorReply | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<ErrorReply>
    return typeof parsed.message === 'string' ? parsed as ErrorReply : undefined
  } catch {
    return undefined
  }
}

function describeNetworkError (err: unknown): string {
  const e = err as { name?: string, code?: string, message?: string, errors?: Array<{ code?: string }> }
  if (e.name === 'TimeoutError') return 'request timed out'
  // Connecting to a name with several addresses fails with an AggregateError of each attempt.
  return e.code ?? e.errors?.[0]?.code ?? (e.message === undefined || e.message === '' ? String(err) : e.message)
}
