import { Type, type Static } from '@sinclair/typebox'

export const LOAD_MODES = ['full', 'incremental'] as const
export type LoadMode = typeof LOAD_MODES[number]

/**
 * Life of a load:
 *
 *   open → sealed → applied → reconciled          (full)
 *   open → sealed → applied                       (incremental: applied is final)
 *   applied → held → approved → reconciled        (delete guard, operator approves)
 *   held → discarded                              (operator discards: nothing deleted)
 *   open → abandoned                              (never sealed in time)
 *   sealed → failed                               (batches never all applied in time)
 *   applied → superseded                          (a newer full load got there first)
 */
export const LOAD_STATES = ['open', 'sealed', 'applied', 'held', 'approved', 'reconciled', 'failed', 'abandoned', 'discarded', 'superseded'] as const
export type LoadState = typeof LOAD_STATES[number]

/** States after which nothing happens to a load any more. */
export const FINAL_LOAD_STATES: ReadonlySet<LoadState> = new Set(['reconciled', 'failed', 'abandoned', 'discarded', 'superseded'])

export function isFinalLoad (load: { mode: LoadMode, state: LoadState }): boolean {
  return FINAL_LOAD_STATES.has(load.state) || (load.mode === 'incremental' && load.state === 'applied')
}

/** True when the load reached the end its mode aims for (what `extract --wait` exits 0 on). */
export function isSuccessfulLoad (load: { mode: LoadMode, state: LoadState }): boolean {
  return load.state === 'reconciled' || (load.mode === 'incremental' && load.state === 'applied')
}

export const LoadRecordSchema = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  stream: Type.String(),
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  state: Type.Union(LOAD_STATES.map((s) => Type.Literal(s))),
  openedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  /** Who opened it (the token's subject). */
  openedBy: Type.Optional(Type.String()),
  /** Stated by the extractor at seal time. */
  sealedAt: Type.Optional(Type.String()),
  batches: Type.Optional(Type.Integer({ minimum: 0 })),
  rows: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Counted by the reconciler from the persisters' bookkeeping. */
  appliedAt: Type.Optional(Type.String()),
  appliedBatches: Type.Optional(Type.Integer({ minimum: 0 })),
  appliedRows: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Reconciliation: rows in the target table, rows absent from the load, rows removed. */
  tableRows: Type.Optional(Type.Integer({ minimum: 0 })),
  absentRows: Type.Optional(Type.Integer({ minimum: 0 })),
  deletedRows: Type.Optional(Type.Integer({ minimum: 0 })),
  reconciledAt: Type.Optional(Type.String()),
  /** Operator decisions. */
  approvedBy: Type.Optional(Type.String()),
  discardedBy: Type.Optional(Type.String()),
  /** Why the load is held, failed, abandoned or superseded. */
  reason: Type.Optional(Type.String())
}, { additionalProperties: false })

export type LoadRecord = Static<typeof LoadRecordSchema>
