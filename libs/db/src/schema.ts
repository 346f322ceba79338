import type { Generated } from 'kysely'

/** Names sisporta adds to the target database; one place, used by migrate, persister and reconciler. */
export const BOOKKEEPING = Object.freeze({
  /** One row per applied batch, written in the same transaction as the batch's rows. */
  batches: 'sisporta_batches'
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
}
