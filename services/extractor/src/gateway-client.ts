import { setTimeout as sleep } from 'node:timers/promises'
import { API_PREFIX, type BatchReply, type ErrorReply, type LoadMode, type LoadRecord, type SealBody } from '@sisporta/contracts'
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
  onRetry?: (info: { what: string, attempt: number, delayMs: number, reason: string }) => void
}

/** Statuses worth retrying: the gateway or something in front of it is busy or restarting. */
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504])

/**
 * The extractor's only way into the cluster: the gateway's HTTPS API. Transient failures
 * (network errors, 429/5xx, timeouts) are retried with exponential backoff and jitter,
 * honouring `Retry-After`; a 4xx is a definite answer and is not retried. Retrying a batch is
 * always safe: the gateway publishes it with a de-duplication id.
 *
 * @example
 * const gw = new GatewayClient({ url: 'http://127.0.0.1:8080', token })
 * const load = await gw.openLoad('products', 'full')
 */
export class GatewayClient {
  readonly #options: Required<Omit<GatewayClientOptions, 'onRetry'>> & Pick<GatewayClientOptions, 'onRetry'>

  constructor (options: GatewayClientOptions) {
    this.#options = { maxAttempts: 10, baseDelayMs: 200, timeoutMs: 60_000, ...options, url: options.url.replace(/\/+$/, '') }
  }

  async openLoad (stream: string, mode: LoadMode): Promise<LoadRecord> {
    const reply = await this.#request<{ load: LoadRecord }>('POST', `/streams/${stream}/loads`, JSON.stringify({ mode }), `open ${mode} load of ${stream}`)
    return reply.load
  }

  async getLoad (stream: string, loadId: number): Promise<LoadRecord> {
    const reply = await this.#request<{ load: LoadRecord }>('GET', `/streams/${stream}/loads/${loadId}`, undefined, `read load ${loadId}`)
    return reply.load
  }

  /** Posts one batch; `body` is the JSON text of a BatchBody (encoded once by the caller). */
  async postBatch (stream: string, loadId: number, batch: number, body: string): Promise<BatchReply> {
    return await this.#request<BatchReply>('POST', `/streams/${stream}/loads/${loadId}/batches/${batch}`, body, `batch ${batch} of load ${loadId}`)
  }

  async seal (stream: string, loadId: number, counts: SealBody): Promise<LoadRecord> {
    const reply = await this.#request<{ load: LoadRecord }>('POST', `/streams/${stream}/loads/${loadId}/seal`, JSON.stringify(counts), `seal load ${loadId}`)
    return reply.load
  }

  async #request<T> (method: string, path: string, body: string | undefined, what: string): Promise<T> {
    const { url, token, maxAttempts, baseDelayMs, timeoutMs } = this.#options
    for (let attempt = 1; ; attempt++) {
      let retryReason: string
      let retryAfterMs: number | undefined
      try {
        const res = await fetch(`${url}${API_PREFIX}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body,
          signal: AbortSignal.timeout(timeoutMs)
        })
        const text = await res.text()
        if (res.ok) return JSON.parse(text) as T
        const error = parseError(text)
        if (!RETRY_STATUSES.has(res.status)) {
          throw new ExtractError('SIS_EXTRACT_REJECTED', `gateway refused ${what}: ${res.status} ${error?.code ?? ''} ${error?.message ?? text}`.replace(/\s+/g, ' '), {
            statusCode: res.status,
            exitCode: res.status === 401 || res.status === 403 || res.status === 404 ? 2 : 1
          })
        }
        retryReason = `${res.status} ${error?.message ?? ''}`.trim()
        const retryAfter = Number(res.headers.get('retry-after'))
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000
      } catch (err) {
        if (err instanceof ExtractError) throw err
        retryReason = describeNetworkError(err)
      }
      if (attempt >= maxAttempts) {
        throw new ExtractError('SIS_EXTRACT_GATEWAY_UNAVAILABLE', `gateway did not accept ${what} after ${attempt} attempts: ${retryReason}`)
      }
      const backoff = Math.min(15_000, baseDelayMs * 2 ** (attempt - 1))
      const delayMs = Math.max(retryAfterMs ?? 0, Math.round(backoff / 2 + Math.random() * backoff / 2))
      this.#options.onRetry?.({ what, attempt, delayMs, reason: retryReason })
      await sleep(delayMs)
    }
  }
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
  const e = err as { name?: string, message?: string, cause?: { code?: string, message?: string } }
  if (e.name === 'TimeoutError') return 'request timed out'
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)
}
