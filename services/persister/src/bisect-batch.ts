import type { Kysely } from 'kysely'
import type { StreamConfig } from '@sisporta/contracts'
import type { SisportaDatabase } from '@sisporta/db'
import { applyBatch, type ApplyLimits, type BatchToApply } from './apply-batch.js'
import { PersistError } from './errors.js'
import { isTransientError } from './settle.js'
import { sliceBatch } from './slice-batch.js'

/** Apply attempts one bisection makes at most (each one transaction), unless told otherwise. */
export const MAX_BISECT_ATTEMPTS = 64

/** Codes of failures that one or more rows cause (not the table, the body or the load): only those are bisected. */
const ROW_FAILURES: ReadonlySet<string> = new Set(['SIS_PERSIST_REJECTED', 'SIS_PERSIST_VALUE_CHANGED', 'SIS_PERSIST_FOREIGN_KEY'])

/**
 * True for a permanent failure a row of the batch may cause (a value MySQL refused or changed,
 * a trigger's SIGNAL, a foreign key): a batch failing so is worth bisecting.
 *
 * @example
 * isRowFailure(new PersistError('SIS_PERSIST_REJECTED', '…: row 3, column \'name\': Data too long…')) // true
 */
export function isRowFailure (err: unknown): err is PersistError {
  return err instanceof PersistError && ROW_FAILURES.has(err.code) && !isTransientError(err)
}

/** One row MySQL refused on its own, with why. */
export interface RefusedRow {
  /** Its index among the delivered message's rows. */
  readonly row: number
  /** The refusal (`SIS_PERSIST_REJECTED`…), about a batch of this one row. */
  readonly error: PersistError
}

export interface Bisection {
  /** Rows applied (now, or booked by an earlier delivery of the same message). */
  readonly applied: number
  /** Rows refused one by one, in row order. */
  readonly refused: readonly RefusedRow[]
  /** Rows never decided (the attempt budget ran out, or a failure not about rows stopped it), in row order. */
  readonly undecided: readonly number[]
  /** Why `undecided` is not empty. */
  readonly stoppedBy?: string
  /** Transactions run. */
  readonly attempts: number
}

export interface BisectOptions {
  /** Prefix of the parts' ledger keys (`rows 0-49`; `replay 17 rows 0-49` for a replayed letter). */
  readonly keyPrefix?: string
  /** Rows of the whole batch (differs from the message's rows for a replayed letter). */
  readonly batchRows: number
  readonly maxAttempts?: number
  readonly limits?: ApplyLimits
}

/**
 * Bisects a batch that failed permanently because of some of its rows: applies each half in its
 * own transaction, and each half of a failing half, down to single rows, so that every good row
 * is applied and exactly the offending rows are left over (for one dead letter).
 *
 * Each range applied is a PART of the batch, booked in `sisporta_batch_parts` under
 * `rows <first>-<last>` (see `applyBatch`), never as the batch: the batch stays missing from
 * `sisporta_batches`, so its load is never counted applied and the reconciler fails it when the
 * letter appears. A redelivery after a crash mid-bisection bisects the same rows the same way
 * (the same failures split them the same way), finds the parts applied before booked, and
 * writes them no second time. When no row fails on its own after all, the last part books the
 * batch whole.
 *
 * Bounded: at most `maxAttempts` transactions (default {@link MAX_BISECT_ATTEMPTS}); once spent,
 * or when a half fails for a reason that is not about rows (the table, a transient error is
 * rethrown), the rows not yet decided are left over as they are, to go into the same dead letter.
 * So a batch of 5,000 rows that all fail costs 64 transactions, not 10,000.
 *
 * @example
 * const result = await bisectBatch(db, stream, batch, err, { batchRows: 100 })
 * // { applied: 97, refused: [{ row: 3, error }, …], undecided: [], attempts: 40 }
 */
export async function bisectBatch (db: Kysely<SisportaDatabase>, stream: StreamConfig, batch: BatchToApply, failure: PersistError, options: BisectOptions): Promise<Bisection> {
  const total = 'body' in batch ? batch.body.rows.length : batch.rendered.rowCount
  const maxAttempts = options.maxAttempts ?? MAX_BISECT_ATTEMPTS
  const prefix = options.keyPrefix === undefined ? '' : `${options.keyPrefix} `
  let applied = 0
  let attempts = 0
  let stoppedBy: string | undefined
  const refused: RefusedRow[] = []
  const undecided: number[] = []

  /** Applies rows [first, end) as one part: undefined when applied, else why not. */
  const attempt = async (first: number, end: number): Promise<PersistError | undefined> => {
    attempts++
    try {
      const part = { key: `${prefix}rows ${first}-${end - 1}`, batchRows: options.batchRows }
      await applyBatch(db, stream, { ...sliceBatch(batch, first, end), part }, options.limits)
      applied += end - first
      return undefined
    } catch (err) {
      if (isRowFailure(err)) return err
      if (isTransientError(err)) throw err // the whole message is tried again; parts applied stay booked
      stoppedBy = err instanceof Error ? err.message : String(err)
      return undefined
    }
  }

  // Depth first, left half first: the rows come out in order. The whole batch failed already.
  const split = async (first: number, end: number, failure: PersistError): Promise<void> => {
    if (end - first === 1) {
      refused.push({ row: first, error: failure })
      return
    }
    const middle = first + Math.ceil((end - first) / 2)
    for (const [a, b] of [[first, middle], [middle, end]] as const) {
      if (stoppedBy !== undefined || attempts >= maxAttempts) {
        stoppedBy ??= `bisection stopped after ${attempts} transactions (at most ${maxAttempts} per batch)`
        for (let r = a; r < b; r++) undecided.push(r)
        continue
      }
      const before = stoppedBy
      const why = await attempt(a, b)
      if (stoppedBy !== before) {
        for (let r = a; r < b; r++) undecided.push(r)
        continue
      }
      if (why !== undefined) await split(a, b, why)
    }
  }

  await split(0, total, failure)
  return { applied, refused, undecided, attempts, ...(stoppedBy !== undefined && undecided.length > 0 ? { stoppedBy } : {}) }
}
