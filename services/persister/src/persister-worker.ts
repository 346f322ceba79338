import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely } from 'kysely'
import type { Consumer, JetStreamClient, JsMsg, NatsConnection } from 'nats'
import { BatchHeaders, type BusNames, type SisportaConfig } from '@sisporta/contracts'
import { createDb, type SisportaDatabase } from '@sisporta/db'
import type { Logger, Worker } from '@sisporta/observability'
import { isBusUnavailable } from '@sisporta/nats'
import { admitBatch, type LoadLookup } from './admit-batch.js'
import { applyBatch, type ApplyLimits, type ApplyResult } from './apply-batch.js'
import { createBatchDecoder, type BatchDecoder, type DecodedBatch } from './decode-batch.js'
import { PersistError } from './errors.js'
import { findBookedBatch } from './find-booked-batch.js'
import type { PersisterMetrics } from './metrics.js'
import { isTransientError, settle } from './settle.js'
import { bisectBatch, isRowFailure } from './bisect-batch.js'
import { RowsRefusedError, refusedRowsLetter } from './refused-rows-letter.js'

export interface PersisterWorkerOptions {
  readonly nc: NatsConnection
  readonly names: BusNames
  readonly config: SisportaConfig
  /** The load registry: a batch is applied only for a trusted load that is open or sealed (`admitBatch`). */
  readonly registry: LoadLookup
  /** The target database; the worker owns its pool (concurrency + 1 connections) and closes it on stop. */
  readonly mysqlUrl: string
  /** Batches applied at once, each in its own transaction on its own connection. */
  readonly concurrency: number
  /** Deliveries of a batch before it is dead-lettered. */
  readonly maxDeliver: number
  readonly log: Logger
  readonly metrics: PersisterMetrics
  /** How long one pull waits for batches (ms, ≥ 1000). Stopping may wait this long. Default 2000. */
  readonly fetchExpiresMs?: number
  readonly nakDelaysMs?: readonly number[]
  readonly applyLimits?: ApplyLimits
  /** Transactions one bisection of a batch MySQL refused makes at most (default `MAX_BISECT_ATTEMPTS`, 64). */
  readonly maxBisectAttempts?: number
  /**
   * TEST HOOK (`SISPORTA_TEST_PAUSE_BEFORE_ACK`), off when undefined: the first batch with this
   * number that this worker applies is held after its commit and before its ack, until the
   * worker stops (or the process is killed), so a fault test can crash the persister in exactly
   * that window and see the redelivery found to be a duplicate.
   */
  readonly testPauseBeforeAck?: number
}

export interface PersisterWorker extends Worker {
  /** Readiness: the consumer loop runs and the MySQL pool answers. */
  ready(): Promise<true | string>
  /** Batches being applied right now. */
  readonly inFlight: number
}

/**
 * The persister's consumer loop over the shared durable pull consumer: pulls at most
 * `concurrency` batches at a time, applies each with {@link applyBatch} and settles it with
 * {@link settle}. While a batch applies, the message is kept alive with `working()` so that
 * `ack_wait` does not expire under a long transaction. After a transient MySQL failure it pulls
 * nothing until MySQL answers again, so an outage does not burn every batch's deliveries.
 *
 * `stop()` stops pulling, lets in-flight batches commit and settle, then closes the pool.
 *
 * @example
 * const worker = createPersisterWorker({ nc, names, config, mysqlUrl, concurrency: 4, maxDeliver: 5, log, metrics })
 * await worker.start()
 * // …
 * await worker.stop()
 */
export function createPersisterWorker (options: PersisterWorkerOptions): PersisterWorker {
  return new ConsumerLoop(options)
}

class ConsumerLoop implements PersisterWorker {
  readonly name = 'persister'
  readonly #o: PersisterWorkerOptions
  readonly #db: Kysely<SisportaDatabase>
  readonly #js: JetStreamClient
  readonly #decode: BatchDecoder
  readonly #inFlight = new Set<Promise<void>>()
  readonly #stopping = new AbortController()
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #loop: Promise<void> | undefined
  #consumerOk = false
  #mysqlSuspect = false
  #workingEveryMs = 20_000
  /** Codes of harmless MySQL warnings already logged. */
  readonly #notesLogged = new Set<number>()
  /** The test hook's batch number while it is armed (it fires once). */
  #pauseBeforeAck: number | undefined

  constructor (options: PersisterWorkerOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be an integer >= 1')
    this.#o = options
    this.#db = createDb(options.mysqlUrl, { poolSize: options.concurrency + 1 })
    this.#js = options.nc.jetstream()
    this.#decode = createBatchDecoder(options.config, options.names)
    this.#pauseBeforeAck = options.testPauseBeforeAck
  }

  get inFlight (): number {
    return this.#inFlight.size
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new Error(`persister worker cannot start: it is ${this.#state}`)
    const { names } = this.#o
    const consumer = await this.#js.consumers.get(names.batchStream, names.persisterConsumer)
    const info = await consumer.info(true)
    // Signal progress well within ack_wait, so a long batch is not redelivered while it applies.
    this.#workingEveryMs = Math.max(250, Math.floor((info.config.ack_wait ?? 30e9) / 1e6 / 3))
    this.#consumerOk = true
    if (this.#pauseBeforeAck !== undefined) {
      this.#o.log.warn({ testHook: 'SISPORTA_TEST_PAUSE_BEFORE_ACK', batch: this.#pauseBeforeAck }, 'TEST HOOK armed (SISPORTA_TEST_PAUSE_BEFORE_ACK): the first batch with this number will be held after its commit, before its ack; never set this in production')
    }
    this.#state = 'running'
    this.#loop = this.#run(consumer)
  }

  async stop (): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return
    const wasRunning = this.#state === 'running'
    this.#state = 'stopping'
    this.#stopping.abort()
    if (wasRunning) {
      // The loop ends once its current pull expires; whatever that pull still delivers is
      // applied like the rest, never left to time out.
      await this.#loop
      await Promise.all(this.#inFlight)
      // nak / term are fire-and-forget: make sure they reached the server before going away.
      await this.#o.nc.flush().catch(() => {})
    }
    await this.#db.destroy()
    this.#state = 'stopped'
  }

  async ready (): Promise<true | string> {
    if (this.#state !== 'running') return `consumer loop is ${this.#state}`
    if (this.#o.nc.isClosed()) return 'NATS connection closed'
    if (!this.#consumerOk) return `cannot pull from consumer ${this.#o.names.persisterConsumer}`
    return await this.#pingMysql()
  }

  async #run (consumer: Consumer): Promise<void> {
    const { concurrency, log } = this.#o
    while (this.#state === 'running') {
      if (this.#inFlight.size >= concurrency) {
        await Promise.race(this.#inFlight)
        continue
      }
      if (this.#mysqlSuspect) {
        await this.#waitForMysql()
        continue
      }
      try {
        const messages = await consumer.fetch({ max_messages: concurrency - this.#inFlight.size, expires: this.#o.fetchExpiresMs ?? 2000 })
        for await (const msg of messages) this.#dispatch(msg)
        this.#consumerOk = true
      } catch (err) {
        this.#consumerOk = false
        log.warn({ err }, 'pulling batches failed; retrying')
        await this.#pause(1000)
      }
    }
  }

  #dispatch (msg: JsMsg): void {
    const done: Promise<void> = this.#process(msg)
      .catch((err: unknown) => { this.#o.log.error({ err }, 'batch settlement failed') })
      .finally(() => { this.#inFlight.delete(done) })
    this.#inFlight.add(done)
  }

  async #process (msg: JsMsg): Promise<void> {
    const { metrics, config } = this.#o
    const log = this.#o.log.child({
      stream: msg.headers?.get(BatchHeaders.Stream),
      loadId: Number(msg.headers?.get(BatchHeaders.Load)),
      batch: Number(msg.headers?.get(BatchHeaders.Batch))
    })
    const deliveries = msg.info.redeliveryCount
    metrics.inFlight.inc()
    const keepAlive = setInterval(() => {
      try {
        msg.working()
      } catch (err) {
        // NATS is away: the batch may be redelivered once ack_wait expires; its bookkeeping
        // row then makes that redelivery a duplicate, so there is nothing more to do here.
        log.warn({ err }, 'could not signal progress on the batch')
      }
    }, this.#workingEveryMs)
    const started = performance.now()
    let label = 'unknown'
    let result: ApplyResult | undefined
    let failure: unknown
    try {
      const headerStream = msg.headers?.get(BatchHeaders.Stream) ?? ''
      if (config.stream(headerStream) !== undefined) label = headerStream
      try {
        const batch = this.#decode(msg)
        result = await this.#admitAndApply(batch, label, msg.data, log)
        if (result.status === 'applied') metrics.applySeconds.observe({ stream: label }, (performance.now() - started) / 1000)
      } catch (err) {
        failure = err
      }
      if (failure === undefined && result?.status === 'applied') await this.#testPauseBeforeAck(msg, log)
      const outcome = await settle(msg, failure, { js: this.#js, names: this.#o.names, maxDeliver: this.#o.maxDeliver, log, ...(this.#o.nakDelaysMs !== undefined ? { delaysMs: this.#o.nakDelaysMs } : {}) })
      if (outcome === 'acked' && result !== undefined) {
        if (result.status === 'duplicate') {
          metrics.duplicates.inc({ stream: label })
          log.info({ deliveries }, 'batch already applied (redelivery); acked without writing')
        } else {
          metrics.applied.inc({ stream: label })
          metrics.rows.inc({ stream: label }, result.rows)
          log.debug({ rows: result.rows, statements: result.statements, ms: Math.round(performance.now() - started) }, 'batch applied')
          for (const note of result.notes ?? []) {
            // harmless by their code (a deprecation…): said once per code, not on every batch
            if (this.#notesLogged.has(note.code)) continue
            this.#notesLogged.add(note.code)
            log.warn({ mysqlWarning: note }, 'MySQL raised a warning that does not concern the values (logged once per code)')
          }
        }
      } else if (outcome === 'nakked') {
        metrics.naks.inc({ stream: label })
        log.warn({ err: failure, deliveries }, 'batch failed transiently; handed back for redelivery')
      } else if (outcome === 'dead-lettered') {
        metrics.deadLettered.inc({ stream: label })
        // a bisected batch's good rows were upserted all the same
        if (failure instanceof RowsRefusedError && failure.applied > 0) metrics.rows.inc({ stream: label }, failure.applied)
        log.error({ err: failure, deliveries, dlq: this.#o.names.dlqSubject(label) }, 'batch dead-lettered')
      }
      // a load the registry does not show yet, or NATS not answering, is transient too, but says nothing about MySQL
      if (failure !== undefined && !(failure instanceof PersistError) && !isBusUnavailable(failure) && isTransientError(failure)) this.#mysqlSuspect = true
    } finally {
      clearInterval(keepAlive)
      metrics.inFlight.dec()
    }
  }

  /**
   * Applies a batch only if the registry vouches for its load; a batch refused because its load
   * moved on (applied, reconciled…) that the bookkeeping already has is a late redelivery: a
   * duplicate, acked without writing.
   */
  async #admitAndApply (batch: DecodedBatch, label: string, payload: Uint8Array, log: Logger): Promise<ApplyResult> {
    try {
      await admitBatch(this.#o.registry, { stream: batch.stream.name, loadId: batch.loadId, batch: batch.batch, mode: batch.mode, ...(batch.replay !== undefined ? { replay: batch.replay } : {}) })
    } catch (err) {
      if (err instanceof PersistError && err.code === 'SIS_PERSIST_LOAD_STATE') {
        const booked = await findBookedBatch(this.#db, batch.stream.name, batch.loadId, batch.batch)
        if (booked !== undefined) return { status: 'duplicate', rows: booked.rows, statements: 0 }
      }
      if (err instanceof PersistError) this.#o.metrics.refused.inc({ stream: label, code: err.code })
      throw err
    }
    const rows = 'body' in batch ? batch.body.rows.length : batch.rendered.rowCount
    // A replayed dead letter is a part of its batch with its own ledger identity (apply-batch.ts):
    // the batch's number may be booked in part already (bisection applied its good rows).
    const batchRows = batch.batchRows ?? rows
    const part = batch.replay !== undefined ? { key: `replay ${batch.replay}`, batchRows } : undefined
    try {
      return await applyBatch(this.#db, batch.stream, part === undefined ? batch : { ...batch, part }, this.#o.applyLimits)
    } catch (err) {
      if (!isRowFailure(err)) throw err
      return await this.#bisect(batch, err, payload, batchRows, log)
    }
  }

  /**
   * A batch MySQL refused because of some of its rows: its good rows are applied by
   * {@link bisectBatch}; the rest becomes the dead letter (`RowsRefusedError`), naming the
   * offending rows' keys, the column and MySQL's error.
   */
  async #bisect (batch: DecodedBatch, failure: PersistError, payload: Uint8Array, batchRows: number, log: Logger): Promise<ApplyResult> {
    const started = performance.now()
    const bisection = await bisectBatch(this.#db, batch.stream, batch, failure, {
      batchRows,
      ...(batch.replay !== undefined ? { keyPrefix: `replay ${batch.replay}` } : {}),
      ...(this.#o.maxBisectAttempts !== undefined ? { maxAttempts: this.#o.maxBisectAttempts } : {}),
      ...(this.#o.applyLimits !== undefined ? { limits: this.#o.applyLimits } : {})
    })
    const left = bisection.refused.length + bisection.undecided.length
    log.info({ applied: bisection.applied, refused: bisection.refused.length, undecided: bisection.undecided.length, attempts: bisection.attempts, ms: Math.round(performance.now() - started) },
      left === 0 ? 'batch bisected: every row applied on its own' : 'batch bisected: good rows applied, the rest goes to the dead-letter stream')
    if (left === 0) return { status: 'applied', rows: bisection.applied, statements: bisection.attempts }
    // Stopped before deciding any row (the table itself refuses, say): nothing was applied, so
    // the letter is the whole message, with the failure that said most about it.
    if (bisection.applied === 0 && bisection.refused.length === 0) throw failure
    throw refusedRowsLetter(batch, payload, bisection, batchRows)
  }

  /**
   * TEST HOOK (`testPauseBeforeAck`): holds the armed batch, committed and not yet acked, until
   * the worker stops; the fault test kills the process meanwhile. Does nothing when unarmed.
   */
  async #testPauseBeforeAck (msg: JsMsg, log: Logger): Promise<void> {
    if (this.#pauseBeforeAck === undefined || Number(msg.headers?.get(BatchHeaders.Batch)) !== this.#pauseBeforeAck) return
    this.#pauseBeforeAck = undefined
    log.warn({ testHook: 'SISPORTA_TEST_PAUSE_BEFORE_ACK' }, 'TEST HOOK: batch committed; holding its ack until the persister stops or is killed')
    await new Promise<void>((resolve) => {
      if (this.#stopping.signal.aborted) resolve()
      else this.#stopping.signal.addEventListener('abort', () => resolve(), { once: true })
    })
  }

  /** Pulls nothing until MySQL answers again (or the worker stops). */
  async #waitForMysql (): Promise<void> {
    let warned = false
    while (this.#state === 'running') {
      const answer = await this.#pingMysql()
      if (answer === true) {
        if (warned) this.#o.log.info('MySQL answers again; pulling batches')
        this.#mysqlSuspect = false
        return
      }
      if (!warned) this.#o.log.warn({ reason: answer }, 'MySQL not answering; pulling no batches until it does')
      warned = true
      await this.#pause(1000)
    }
  }

  async #pingMysql (): Promise<true | string> {
    const timeout = new AbortController()
    try {
      await Promise.race([
        sql`SELECT 1`.execute(this.#db),
        sleep(3000, undefined, { signal: timeout.signal }).then(() => { throw new Error('no answer within 3 s') })
      ])
      return true
    } catch (err) {
      return `MySQL: ${(err as Error).message}`
    } finally {
      timeout.abort()
    }
  }

  /** Waits, unless the worker is stopping. */
  async #pause (ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stopping.signal }).catch(() => {})
  }
}
