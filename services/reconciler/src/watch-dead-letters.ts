import { setTimeout as delay } from 'node:timers/promises'
import { ConsumerEvents, type ConsumerMessages, type NatsConnection } from 'nats'
import type { BusNames } from '@sisporta/contracts'
import type { Worker } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { ReconcilerErrorCode } from './errors.js'
import { failDeadLetteredLoad, readDeadLetter } from './fail-dead-lettered-load.js'

export interface DeadLetterWatchDeps extends Pick<ReconcileDeps, 'registry' | 'db' | 'metrics' | 'log'> {
  readonly nc: NatsConnection
  readonly names: BusNames
  /** Wait before re-opening a failed watch, and the first wait before retrying a letter (ms). Default 1000. */
  readonly retryMs?: number
}

/** Longest wait between two tries of one letter while MySQL or the registry fail. */
const MAX_RETRY_MS = 30_000
/** A watch that hears nothing (no letters, no heartbeats) says so at most this often. */
const SILENCE_LOG_MS = 5 * 60_000

/**
 * Watches the dead-letter stream (`<NAMESPACE>_DLQ`) from its first message on, through an
 * ephemeral ordered consumer reading headers only, and fails the load of every dead-lettered
 * batch that is still open or sealed (see `failDeadLetteredLoad`), so the extractor — which only
 * reaches the gateway — learns from the load record, and `extract --wait` exits at once.
 *
 * Letters are handled one at a time, in order; one whose handling fails (MySQL, the registry) is
 * tried again with a growing wait before the next. A restart reads the stream from the start
 * again: a letter handled before finds its load failed already and changes nothing. Several
 * reconciler replicas may watch at once: every change is a compare-and-set.
 *
 * @example
 * const watcher = createDeadLetterWatcher({ nc, names, registry, db, log, metrics })
 * await watcher.start()
 */
export function createDeadLetterWatcher (deps: DeadLetterWatchDeps): Worker {
  return new DeadLetterWatcher(deps)
}

class DeadLetterWatcher implements Worker {
  readonly name = 'dead-letter-watch'
  readonly #deps: DeadLetterWatchDeps
  #controller: AbortController | undefined
  #running: Promise<void> | undefined
  #messages: ConsumerMessages | undefined

  constructor (deps: DeadLetterWatchDeps) {
    this.#deps = deps
  }

  async start (): Promise<void> {
    if (this.#controller !== undefined) return
    this.#controller = new AbortController()
    this.#running = this.#run(this.#controller.signal)
  }

  async stop (): Promise<void> {
    const controller = this.#controller
    if (controller === undefined) return
    controller.abort()
    this.#messages?.stop()
    await this.#running
    this.#controller = undefined
  }

  async #run (signal: AbortSignal): Promise<void> {
    const { nc, names, log } = this.#deps
    // the next stream sequence to read: a reopened watch goes on where the last one stopped
    let next = 1
    while (!signal.aborted) {
      try {
        const consumer = await nc.jetstream().consumers.get(names.dlqStream, { opt_start_seq: next, headers_only: true })
        const messages = await consumer.consume({ max_messages: 100 })
        this.#messages = messages
        if (signal.aborted) messages.stop()
        void this.#reportSilence(messages)
        for await (const msg of messages) {
          const seq = msg.info.streamSequence
          const letter = readDeadLetter(seq, msg.headers)
          if (letter === undefined) log.warn({ seq, code: ReconcilerErrorCode.DeadLetterWatch }, 'a dead letter without stream, load and batch headers: ignored')
          else await this.#handle(letter, signal)
          if (signal.aborted) break
          next = seq + 1
        }
      } catch (err) {
        if (signal.aborted) break
        log.warn({ err, code: ReconcilerErrorCode.DeadLetterWatch }, 'watching the dead letters failed; watching again')
      }
      await delay(this.#deps.retryMs ?? 1000, undefined, { signal }).catch(() => {})
    }
  }

  /**
   * A pull the server refuses (the reconciler's NATS identity lacks the dead-letter stream, see
   * deploy/nats) fails without an error: the watch just hears nothing, heartbeats included.
   * That silence is logged (SIS_RECON_DLQ_WATCH), so a missing permission does not go unseen.
   */
  async #reportSilence (messages: ConsumerMessages): Promise<void> {
    let lastLogged = 0
    try {
      for await (const status of await messages.status()) {
        if (status.type !== ConsumerEvents.HeartbeatsMissed || Date.now() - lastLogged < SILENCE_LOG_MS) continue
        lastLogged = Date.now()
        this.#deps.log.warn({ code: ReconcilerErrorCode.DeadLetterWatch, stream: this.#deps.names.dlqStream, missed: status.data },
          'the dead-letter watch hears nothing from NATS, not even heartbeats: is NATS reachable, and may this identity read the dead-letter stream (deploy/nats/sisporta-permissions.conf)?')
      }
    } catch {
      // the status feed ends with the watch
    }
  }

  /** Handles one letter, trying again (with a growing wait) until it is done or the watch stops. */
  async #handle (letter: NonNullable<ReturnType<typeof readDeadLetter>>, signal: AbortSignal): Promise<void> {
    let waitMs = this.#deps.retryMs ?? 1000
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await failDeadLetteredLoad(this.#deps, letter)
        return
      } catch (err) {
        const level = attempt === 1 ? 'warn' : 'debug'
        this.#deps.log[level]({ err, code: ReconcilerErrorCode.DeadLetterWatch, stream: letter.stream, loadId: letter.loadId, deadLetter: letter.seq, attempt }, 'could not act on a dead letter; trying again')
        await delay(waitMs, undefined, { signal }).catch(() => {})
        waitMs = Math.min(MAX_RETRY_MS, waitMs * 2)
      }
    }
  }
}
