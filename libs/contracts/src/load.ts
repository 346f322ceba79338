import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import './formats.js'

export const LOAD_MODES = ['full', 'incremental'] as const
export type LoadMode = typeof LOAD_MODES[number]

/**
 * How a full load ships the source: `rows` sends every row (the first load of a stream, and
 * `source.reload: rows`); `diff` compares row hashes range by range with the target and sends
 * only the rows that differ (docs/reloads.md). Its deletes are the target rows the comparison
 * marked absent, not every row the load did not write.
 */
export const RELOAD_KINDS = ['rows', 'diff'] as const
export type ReloadKind = typeof RELOAD_KINDS[number]

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

/**
 * When a load reached its final state (ISO time), or `undefined` while it is still going: its
 * `reconciledAt`, an incremental load's `appliedAt`, else `updatedAt` (a final record is never
 * changed again, so its last change is the moment it ended).
 *
 * @example
 * loadEndedAt({ mode: 'full', state: 'failed', updatedAt: '2026-12-01T10:00:00.000Z' }) // '2026-12-01T10:00:00.000Z'
 */
export function loadEndedAt (load: { mode: LoadMode, state: LoadState, updatedAt: string, reconciledAt?: string | undefined, appliedAt?: string | undefined }): string | undefined {
  if (!isFinalLoad(load)) return undefined
  if (load.state === 'reconciled' && load.reconciledAt !== undefined) return load.reconciledAt
  if (load.state === 'applied' && load.appliedAt !== undefined) return load.appliedAt
  return load.updatedAt
}

/** Most batches one load may have: batch numbers are 32-bit (0 … 2^31 − 2). */
export const MAX_LOAD_BATCHES = 2147483647
/** Most rows one load may state: counts stay exact JavaScript integers. */
export const MAX_LOAD_ROWS = Number.MAX_SAFE_INTEGER
/** Load ids are exact integers as well (a sequence starting at 1). */
export const MAX_LOAD_ID = Number.MAX_SAFE_INTEGER
/** Most values one load may count (a row holds several): exact JavaScript integers too. */
export const MAX_LOAD_VALUES = Number.MAX_SAFE_INTEGER

const Count = (maximum: number): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, maximum })

export const LoadRecordSchema = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: MAX_LOAD_ID }),
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  state: Type.Union(LOAD_STATES.map((s) => Type.Literal(s))),
  openedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  /** Who opened it (the token's subject). */
  openedBy: Type.Optional(Type.String()),
  /** `diff`: a diffed full load (set by the gateway when it opens it; absent means `rows`). */
  reload: Type.Optional(Type.Literal('diff')),
  /** Stated by the extractor at seal time. */
  sealedAt: Type.Optional(Type.String()),
  batches: Type.Optional(Count(MAX_LOAD_BATCHES)),
  rows: Type.Optional(Count(MAX_LOAD_ROWS)),
  /**
   * Stated at seal time when not zero: datetime values the source cut to the microsecond because
   * their column says `fraction: truncate` (SQL Server datetime2(7) / datetimeoffset(7)).
   */
  truncatedFractions: Type.Optional(Count(MAX_LOAD_VALUES)),
  /**
   * A diffed load, stated at seal time: source rows compared with the target, key ranges
   * compared, and ranges found equal (verified by this load; nothing of them was sent).
   */
  comparedRows: Type.Optional(Count(MAX_LOAD_ROWS)),
  comparedRanges: Type.Optional(Count(MAX_LOAD_ROWS)),
  equalRanges: Type.Optional(Count(MAX_LOAD_ROWS)),
  /** Counted by the reconciler from the persisters' bookkeeping. */
  appliedAt: Type.Optional(Type.String()),
  appliedBatches: Type.Optional(Count(MAX_LOAD_BATCHES)),
  appliedRows: Type.Optional(Count(MAX_LOAD_ROWS)),
  /** Reconciliation: rows in the target table, rows absent from the load, rows removed. */
  tableRows: Type.Optional(Count(MAX_LOAD_ROWS)),
  absentRows: Type.Optional(Count(MAX_LOAD_ROWS)),
  deletedRows: Type.Optional(Count(MAX_LOAD_ROWS)),
  reconciledAt: Type.Optional(Type.String()),
  /** Operator decisions. */
  approvedBy: Type.Optional(Type.String()),
  discardedBy: Type.Optional(Type.String()),
  /** Why the load is held, failed, abandoned or superseded. */
  reason: Type.Optional(Type.String())
}, { additionalProperties: false })

export type LoadRecord = Static<typeof LoadRecordSchema>

/**
 * What the gateway writes once, when it opens a load, under a key of its own
 * (`open.<stream>.<id>` in the registry bucket, writable by the gateway's NATS identity only):
 * the proof that a load came through the gateway's authenticated open path. A load record
 * without its matching open record is refused by every reader (persister, reconciler, CLI).
 */
export const OpenRecordSchema = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: MAX_LOAD_ID }),
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  openedAt: Type.String({ format: 'date-time' }),
  openedBy: Type.Optional(Type.String()),
  /** `diff`: opened as a diffed full load. The reconciler's deletes depend on it, so it is the gateway's word. */
  reload: Type.Optional(Type.Literal('diff'))
}, { additionalProperties: false })

export type OpenRecord = Static<typeof OpenRecordSchema>

const loadRecordCheck = TypeCompiler.Compile(LoadRecordSchema)
const openRecordCheck = TypeCompiler.Compile(OpenRecordSchema)

/**
 * Why `value` is not a well-formed load record (the first problem, with its path), or
 * `undefined` when it is one. Registry entries come from the network: readers check them.
 *
 * @example
 * loadRecordProblem({ id: 1e300, stream: 'p' }) // '/id: Expected integer to be less or equal to 9007199254740991'
 */
export function loadRecordProblem (value: unknown): string | undefined {
  return firstProblem(loadRecordCheck, value)
}

/** Why `value` is not a well-formed open record, or `undefined`. */
export function openRecordProblem (value: unknown): string | undefined {
  return firstProblem(openRecordCheck, value)
}

function firstProblem (check: { Check(v: unknown): boolean, Errors(v: unknown): { First(): { path: string, message: string } | undefined } }, value: unknown): string | undefined {
  if (check.Check(value)) return undefined
  const first = check.Errors(value).First()
  return first === undefined ? 'invalid' : `${first.path === '' ? '(record)' : first.path}: ${first.message}`
}
