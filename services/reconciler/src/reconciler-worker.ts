import { setTimeout as delay } from 'node:timers/promises'
import type { LoadRecord } from '@sisporta/contracts'
import { isTransientMysqlError } from '@sisporta/db'
import type { Worker } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { ReconcilerErrorCode } from './errors.js'
import { LoadIndex } from './load-index.js'
import { reconcileLoad } from './reconcile-load.js'

export interface ReconcilerWorkerDeps extends Omit<ReconcileDeps, 'findSupersedingLoad' | 'findReconciledLoad' | 'signal'> {
  /** How often every load needing attention is examined again (ms). Default 5000. */
  readonly sweepIntervalMs?: number
  /** Wait before re-opening a failed registry watch (ms). Default 1000. */
  readonly watchRetryMs?: number
  /** Started and stopped with the worker: the dead-letter watch (`createDeadLetterWatcher`), which fails loads with a dead-lettered batch. */
  readonly deadLetters?: Worker
}

export const DEFAULT_SWEEP_INTERVAL_MS = 1000
/** The same failure of the same load is logged at error level at most this often. */
const REPEAT_ERROR_LOG_MS = 5 * 60_000

/**
 * The reconciler's worker: watches the load registry (every current load, then every change),
 * keeps the loads that need attention in memory, and examines each when it changes and again
 * on every sweep (a sealed load waiting for batches, an open one that may time out). Loads of
 * one stream are worked on one at a time, newest first (a newer full load that reconciles makes
 * the older ones superseded without deleting twice); different streams in parallel.
 *
 * Several replicas may run: every state change is a compare-and-set, and deleting absent rows
 * is idempotent, so two replicas working on one load delete the same rows and only one records
 * the outcome. `stop()` finishes the current delete chunk and leaves the load as it is, to be
 * resumed by whichever replica examines it next.
 *
 * @example
 * const worker = createReconcilerWorker({ registry, db, config, settings, log, metrics })
 * await worker.start()
 */
export function createReconcilerWorker (deps: ReconcilerWorkerDeps): Worker {
  return new ReconcilerWorker(deps)
}

class ReconcilerWorker implements Worker {
  readonly name = 'reconciler'
  readonly #deps: ReconcilerWorkerDeps
  readonly #index = new LoadIndex()
  /** Per stream: load ids to examine on the next pass. */
  readonly #dirty = new Map<string, Set<number>>()
  /** Per stream: the pass in progress (one at a time per stream). */
  readonly #running = new Map<string, Promise<void>>()
  /** Per load: the last error logged, to keep a persistent failure from flooding the log. */
  readonly #lastError = new Map<string, { message: string, at: number }>()
  #controller: AbortController | undefined
  #timer: NodeJS.Timeout | undefined
  #watching: Promise<void> | undefined

  constructor (deps: ReconcilerWorkerDeps) {
    this.#deps = deps
  }

  async start (): Promise<void> {
    if (this.#controller !== undefined) return
    const controller = new AbortController()
    this.#controller = controller
    this.#watching = this.#watch(controller.signal)
    this.#timer = setInterval(() => { this.#sweep() }, this.#deps.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS)
    await this.#deps.deadLetters?.start()
  }

  async stop (): Promise<void> {
    const controller = this.#controller
    if (controller === undefined) return
    controller.abort()
    clearInterval(this.#timer)
    await this.#deps.deadLetters?.stop()
    await this.#watching
    await Promise.all([...this.#running.values()])
    this.#controller = undefined
  }

  async #watch (signal: AbortSignal): Promise<void> {
    const log = this.#deps.log
    while (!signal.aborted) {
      try {
        for await (const load of this.#deps.registry.watch(signal)) this.#onLoad(load)
      } catch (err) {
        if (signal.aborted) break
        log.warn({ err, code: ReconcilerErrorCode.Watch }, 'load registry watch failed; watching again')
      }
      // the watch also ends without an error when its connection closes: start it again
      await delay(this.#deps.watchRetryMs ?? 1000, undefined, { signal }).catch(() => {})
    }
  }

  #onLoad (load: LoadRecord): void {
    this.#index.update(load)
    this.#deps.metrics?.held.set({ stream: load.stream }, this.#index.heldCount(load.stream))
    if (this.#index.isPending(load.stream, load.id)) this.#schedule(load.stream, [load.id])
    else this.#lastError.delete(`${load.stream}.${load.id}`)
  }

  #sweep (): void {
    for (const stream of this.#index.streams()) this.#schedule(stream, this.#index.pending(stream).map((l) => l.id))
  }

  #schedule (stream: string, ids: readonly number[]): void {
    if (this.#controller?.signal.aborted !== false) return
    let dirty = this.#dirty.get(stream)
    if (dirty === undefined) {
      dirty = new Set()
      this.#dirty.set(stream, dirty)
    }
    for (const id of ids) dirty.add(id)
    if (this.#running.has(stream)) return
    const pass = this.#drain(stream).finally(() => {
      this.#running.delete(stream)
      // ids marked between the pass's last look and now would otherwise wait for the next sweep
      if ((this.#dirty.get(stream)?.size ?? 0) > 0) this.#schedule(stream, [])
    })
    this.#running.set(stream, pass)
  }

  async #drain (stream: string): Promise<void> {
    const signal = this.#controller?.signal
    for (;;) {
      const dirty = this.#dirty.get(stream)
      if (dirty === undefined || dirty.size === 0 || signal?.aborted !== false) return
      const ids = [...dirty].sort((a, b) => b - a)
      dirty.clear()
      for (const id of ids) {
        if (signal.aborted) return
        if (this.#index.isPending(stream, id)) await this.#examine(stream, id, signal)
      }
    }
  }

  async #examine (stream: string, id: number, signal: AbortSignal): Promise<void> {
    const key = `${stream}.${id}`
    try {
      await reconcileLoad({
        ...this.#deps,
        signal,
        findSupersedingLoad: (load) => this.#index.supersedingLoad(load),
        findReconciledLoad: (name) => this.#index.newestReconciled(name)
      }, { stream, id })
      this.#lastError.delete(key)
    } catch (err) {
      this.#deps.metrics?.errors.inc({ stream })
      const e = err as Error & { code?: string, cause?: unknown }
      const log = this.#deps.log.child({ stream, loadId: id })
      const last = this.#lastError.get(key)
      const now = Date.now()
      if (last !== undefined && last.message === e.message && now - last.at < REPEAT_ERROR_LOG_MS) {
        log.debug({ err, code: e.code }, 'still failing; retrying on the next sweep')
        return
      }
      this.#lastError.set(key, { message: e.message, at: now })
      const level = isTransientMysqlError(e.cause) ? 'warn' : 'error'
      log[level]({ err, code: e.code }, 'examining the load failed; retrying on the next sweep')
    }
  }
}
