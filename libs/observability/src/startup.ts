import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'

/** What a service's start-up tells the shell while it connects (see `runService`). */
export interface Startup {
  /** What start-up waits for now (`NATS (SISPORTA_NATS_URL)`): `/readyz` says so, with 503, until the service is ready. */
  waitFor (what: string): void
  /** A failed attempt at what start-up waits for: `/readyz` shows its message until the next step. */
  failedAttempt (err: unknown): void
  /**
   * Waits for `what`: runs `attempt` until it succeeds, backing off after each failure
   * `isTransient` accepts, for at most `timeoutMs` (default 60 s); then, or at once for any other
   * failure, throws the last error as it is (its code and exit code say what went wrong).
   */
  retry<T> (what: string, attempt: () => Promise<T>, options: { isTransient: (err: unknown) => boolean, timeoutMs?: number }): Promise<T>
  /** Closes something start-up opened, at shutdown or when start-up fails; the last one registered runs first. */
  onClose (close: () => Promise<unknown> | unknown): void
  /** Aborted when the process is stopped during start-up. */
  readonly signal: AbortSignal
}

const DEFAULT_RETRY_TIMEOUT_MS = 60_000

/** The shell's side of {@link Startup}: what `/readyz` says while starting, and the closing. */
export class StartupState implements Startup {
  readonly #log: Logger
  readonly #closers: Array<() => Promise<unknown> | unknown> = []
  readonly #controller = new AbortController()
  #waitingFor = 'starting'
  #lastFailure: string | undefined

  constructor (log: Logger) {
    this.#log = log
  }

  get signal (): AbortSignal {
    return this.#controller.signal
  }

  waitFor (what: string): void {
    this.#waitingFor = what
    this.#lastFailure = undefined
    this.#log.info({ waitingFor: what }, `waiting for ${what}`)
  }

  failedAttempt (err: unknown): void {
    this.#lastFailure = messageOf(err)
  }

  async retry<T> (what: string, attempt: () => Promise<T>, options: { isTransient: (err: unknown) => boolean, timeoutMs?: number }): Promise<T> {
    this.waitFor(what)
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_RETRY_TIMEOUT_MS)
    let delay = 250
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt()
      } catch (err) {
        this.failedAttempt(err)
        if (this.signal.aborted || !options.isTransient(err)) throw err
        if (Date.now() + delay > deadline) {
          this.#log.error({ err, waitingFor: what, attempts }, `gave up waiting for ${what}`)
          throw err
        }
        this.#log.warn({ err, waitingFor: what, attempts, retryInMs: delay }, `${what} not reachable yet, retrying`)
        await sleep(delay, undefined, { signal: this.signal }).catch(() => {})
        if (this.signal.aborted) throw err
        delay = Math.min(delay * 2, 5_000)
      }
    }
  }

  onClose (close: () => Promise<unknown> | unknown): void {
    this.#closers.push(close)
  }

  /** The `/readyz` check while starting: never ready, saying what it waits for. */
  readonly check = (): string => this.#lastFailure === undefined
    ? `starting: waiting for ${this.#waitingFor}`
    : `starting: waiting for ${this.#waitingFor}; last attempt: ${this.#lastFailure}`

  /** Stops start-up and closes what it opened, latest first; a failure to close is logged, not thrown. */
  async close (): Promise<void> {
    this.#controller.abort()
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close()
      } catch (err) {
        this.#log.warn({ err }, 'closing a connection failed')
      }
    }
  }
}

function messageOf (err: unknown): string {
  const e = err as { code?: unknown, message?: unknown } | undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return typeof e?.code === 'string' && e.code.startsWith('SIS_') ? `${message} [${e.code}]` : message
}
