import type { Kysely } from 'kysely'
import { BOOKKEEPING, type SisportaDatabase } from '@sisporta/db'

/** Missing ranges a result lists at most. */
export const LISTED_RANGES = 10

export interface AppliedBatches {
  /** Batches of the load recorded in sisporta_batches. */
  readonly batches: number
  /** Rows those batches held. */
  readonly rows: number
  /** How many batch numbers of 0..sealedBatches-1 are not recorded yet. */
  readonly missingCount: number
  /**
   * The first {@link LISTED_RANGES} runs of missing batch numbers, ascending, as `[first, last]`.
   * Ranges, not numbers: a seal may state up to 2^31 − 1 batches, and listing them one by one
   * would exhaust memory on every pass over the load.
   */
  readonly missing: readonly (readonly [number, number])[]
  /** Recorded batch numbers outside 0..sealedBatches-1 (the extractor's seal contradicts its batches). */
  readonly beyond: readonly number[]
}

/**
 * Counts what the persisters recorded for one load: one row per committed batch, written in the
 * same transaction as the batch's rows, so this is exactly what the target holds of the load.
 * The batch numbers are only read when the count does not already prove all are there.
 *
 * @example
 * const { batches, rows, missing } = await countAppliedBatches(db, 'products', 42, 10)
 */
export async function countAppliedBatches (db: Kysely<SisportaDatabase>, stream: string, loadId: number, sealedBatches: number): Promise<AppliedBatches> {
  const summary = await db.selectFrom(BOOKKEEPING.batches)
    .select((eb) => [
      eb.fn.countAll<string | number>().as('batches'),
      eb.fn.sum<string | number | null>('row_count').as('rows'),
      eb.fn.min<number | null>('batch_no').as('first'),
      eb.fn.max<number | null>('batch_no').as('last')
    ])
    .where('stream', '=', stream)
    .where('load_id', '=', loadId)
    .executeTakeFirstOrThrow()
  const batches = Number(summary.batches)
  const rows = Number(summary.rows ?? 0)
  // The primary key (stream, load_id, batch_no) makes batch numbers distinct: n of them, all in 0..n-1, is all of them.
  if (batches === sealedBatches && (batches === 0 || (Number(summary.first) >= 0 && Number(summary.last) === sealedBatches - 1))) {
    return { batches, rows, missingCount: 0, missing: [], beyond: [] }
  }
  // read again, in one statement, so that counts and numbers describe the same moment (batches keep arriving)
  const recorded = await db.selectFrom(BOOKKEEPING.batches).select(['batch_no', 'row_count'])
    .where('stream', '=', stream)
    .where('load_id', '=', loadId)
    .orderBy('batch_no')
    .execute()
  const numbers = recorded.map((r) => Number(r.batch_no))
  const within = numbers.filter((n) => n >= 0 && n < sealedBatches)
  const beyond = numbers.filter((n) => n < 0 || n >= sealedBatches)
  // gaps between consecutive recorded numbers (ascending, distinct), from -1 to sealedBatches
  const missing: Array<[number, number]> = []
  let previous = -1
  for (const n of [...within, sealedBatches]) {
    if (n > previous + 1 && missing.length < LISTED_RANGES) missing.push([previous + 1, n - 1])
    previous = n
  }
  return { batches: recorded.length, rows: recorded.reduce((sum, r) => sum + Number(r.row_count), 0), missingCount: sealedBatches - within.length, missing, beyond }
}
