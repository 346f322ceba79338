import type { Kysely } from 'kysely'
import { BOOKKEEPING, type SisportaDatabase } from '@sisporta/db'

/**
 * Whether a batch is recorded as applied in the bookkeeping (by any replica, at any time), and
 * with how many rows. A batch refused because its load moved on may simply be a late
 * redelivery of one that was applied: then it is a duplicate, acknowledged without writing.
 *
 * @example
 * await findBookedBatch(db, 'products', 42, 0) // { rows: 2000 } or undefined
 */
export async function findBookedBatch (db: Kysely<SisportaDatabase>, stream: string, loadId: number, batch: number): Promise<{ rows: number } | undefined> {
  const row = await db.selectFrom(BOOKKEEPING.batches).select('row_count')
    .where('stream', '=', stream).where('load_id', '=', loadId).where('batch_no', '=', batch)
    .executeTakeFirst()
  return row === undefined ? undefined : { rows: Number(row.row_count) }
}
