import type { Generated } from 'kysely'

/** Names sisporta adds to the target database; one place, used by migrate, persister and reconciler. */
export const BOOKKEEPING = Object.freeze({
  /** One row per applied batch, written in the same transaction as the batch's rows. */
  batches: 'sisporta_batches',
  /**
   * One row per part of a batch applied on its own: a range of rows the persister applied while
   * bisecting a batch MySQL refused, or a replayed dead letter (docs/dead-letters.md). The batch
   * itself is booked in `batches` only once its parts hold all its rows.
   */
  batchParts: 'sisporta_batch_parts'
} as const)

/** Columns sisporta adds to every target table. */
export const STAMP = Object.freeze({
  /** Id of the newest load that wrote (or confirmed) the row. */
  load: '_sisporta_load',
  /** Soft deletes: when reconciliation found the row gone from the source. */
  deletedAt: '_sisporta_deleted_at'
} as const)

/** The Kysely view of sisporta's own tables (target tables are dynamic, addressed by name). */
export interface SisportaDatabase {
  sisporta_batches: {
    stream: string
    load_id: number
    batch_no: number
    row_count: number
    applied_at: Generated<string>
  }
  sisporta_batch_parts: {
    stream: string
    load_id: number
    batch_no: number
    /** `rows 0-49` (rows of the delivered message applied while bisecting), `replay 17` (dead letter #17 replayed), `replay 17 rows 0-4`. */
    part: string
    row_count: number
    applied_at: Generated<string>
  }
}
