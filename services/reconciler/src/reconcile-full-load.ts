import type { LoadRecord, StreamConfig } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { ReconcilerError, ReconcilerErrorCode } from './errors.js'
import { checkRowsArrived } from './check-rows-arrived.js'
import { countAbsentRows } from './count-absent-rows.js'
import { deleteAbsentRows } from './delete-absent-rows.js'
import { findSupersedingLoad } from './find-superseding-load.js'
import { moveLoad } from './move-load.js'
import { afterWaiting, onReferencedRows, waitsForChildren } from './referenced-rows.js'
import { deleteTarget } from './target.js'

/**
 * An applied full load: removes the target rows it did not contain, unless
 * - rows it sent are missing from the target (merged by a key the target compares loosely, or
 *   lost otherwise; see check-rows-arrived.ts): `failed`, nothing deleted;
 * - the stream keeps them (`deletes: none`): `reconciled`, nothing deleted;
 * - a newer full load is applied or beyond: `superseded`, nothing deleted;
 * - it would delete more than `maxDeleteRatio` of the table: `held` for an operator;
 * - a foreign key refuses its deletes: it waits for the child streams' deletes, then `held`
 *   naming the constraint if they did not help (referenced-rows.ts).
 *
 * @returns the load as changed, or `undefined` when it changed meanwhile or the work stopped.
 */
export async function reconcileApplied (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  const stream = streamOf(deps, load)
  const started = performance.now()
  // before anything is deleted, and before the target is called a mirror of the load at all
  const lost = await checkRowsArrived(deps, load, stream, log, async () => await supersedeIfNewer(deps, load, log))
  if (lost !== null) return observe(deps, load, started, lost)
  if (stream.deletes === 'none') {
    return await moveLoad(deps, load, 'reconciled', { deletedRows: 0, reconciledAt: nowIso(deps) }, log)
  }
  const superseded = await supersedeIfNewer(deps, load, log)
  if (superseded !== null) return observe(deps, load, started, superseded)
  if (await waitsForChildren(deps, load)) return undefined
  const { tableRows, absentRows } = await countAbsentRows(deps.db, deleteTarget(stream), load.id, load.reload)
  if (absentRows > 0 && absentRows / tableRows > stream.maxDeleteRatio) {
    const held = await moveLoad(deps, load, 'held', { tableRows, absentRows, reason: heldReason(load.id, tableRows, absentRows, stream.maxDeleteRatio) }, log)
    return observe(deps, load, started, held)
  }
  return observe(deps, load, started, await deleteAndReconcile(deps, load, stream, { tableRows, absentRows }, log, absentRows))
}

/**
 * An approved load: the operator accepted the deletes, so no ratio guard; still superseded by
 * a newer full load, and still never touching rows a newer load wrote.
 */
export async function reconcileApproved (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  const stream = streamOf(deps, load)
  const started = performance.now()
  const superseded = await supersedeIfNewer(deps, load, log)
  if (superseded !== null) return observe(deps, load, started, superseded)
  // checked again: approving accepts the deletes, not rows that never arrived
  const lost = await checkRowsArrived(deps, load, stream, log, async () => await supersedeIfNewer(deps, load, log))
  if (lost !== null) return observe(deps, load, started, lost)
  if (await waitsForChildren(deps, load)) return undefined
  // the operator approved deleting the rows the held load counted: never more than those
  const approved = load.absentRows ?? (await countAbsentRows(deps.db, deleteTarget(stream), load.id, load.reload)).absentRows
  return observe(deps, load, started, await deleteAndReconcile(deps, load, stream, {}, log, approved))
}

/**
 * A held load waits for an operator; once a newer full load is applied or beyond, approving it
 * would be pointless, so it is `superseded` and leaves the operator only the newest decision.
 */
export async function checkHeld (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  return await supersedeIfNewer(deps, load, log) ?? undefined
}

/** The `held` reason: counts, the guard, and what the operator can do about it. */
export function heldReason (loadId: number, tableRows: number, absentRows: number, maxDeleteRatio: number): string {
  const percent = (absentRows / tableRows * 100).toFixed(1)
  return `would delete ${absentRows} of ${tableRows} rows (${percent}%), above maxDeleteRatio ${maxDeleteRatio}; ` +
    `approve with \`sisporta loads approve ${loadId}\` or discard with \`sisporta loads discard ${loadId}\``
}

/** `null` when no newer load supersedes `load`; else the outcome of moving it to `superseded`. */
async function supersedeIfNewer (deps: ReconcileDeps, load: LoadRecord, log: Logger, deletedRows?: number): Promise<LoadRecord | undefined | null> {
  const newer = await findNewer(deps, load)
  if (newer === undefined) return null
  return await moveLoad(deps, load, 'superseded', {
    deletedRows,
    reason: `load ${newer.id}, a newer full load of this stream, is already ${newer.state}; ${deletedRows === undefined || deletedRows === 0 ? 'nothing deleted' : `stopped after deleting ${deletedRows} rows`}`
  }, log)
}

async function findNewer (deps: ReconcileDeps, load: LoadRecord): Promise<LoadRecord | undefined> {
  return deps.findSupersedingLoad !== undefined ? await deps.findSupersedingLoad(load) : await findSupersedingLoad(deps.registry, load)
}

async function deleteAndReconcile (deps: ReconcileDeps, load: LoadRecord, stream: StreamConfig, counts: { tableRows?: number, absentRows?: number }, log: Logger, maxRows: number): Promise<LoadRecord | undefined> {
  let newer: LoadRecord | undefined
  const result = await deleteAbsentRows(deps.db, deleteTarget(stream), {
    loadId: load.id,
    reload: load.reload,
    chunk: deps.settings.deleteChunk,
    maxRows,
    ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
    stillCurrent: async () => {
      const current = await deps.registry.get(load.stream, load.id)
      if (current?.load.state !== load.state) return false
      newer = await findNewer(deps, load)
      return newer === undefined
    },
    onChunk: (affected) => {
      deps.metrics?.deletedRows.inc({ stream: load.stream, deletes: stream.deletes }, affected)
      log.debug({ affected }, 'deleted a chunk of absent rows')
    }
  })
  if (result.referenced !== undefined) return await onReferencedRows(deps, load, stream, result.referenced, result.deletedRows, log)
  if (!result.completed) {
    if (newer !== undefined) return await supersedeIfNewer(deps, load, log, result.deletedRows) ?? undefined
    log.info({ deletedRows: result.deletedRows }, 'stopped deleting: the load changed or the reconciler is stopping')
    return undefined
  }
  if (result.budgetReached === true) {
    log.warn({ deletedRows: result.deletedRows, counted: maxRows }, 'deleted the rows the delete guard counted and stopped: more target rows match now than were counted (rows written behind sisporta\'s back?); the next full load looks at them')
  }
  return await moveLoad(deps, load, 'reconciled', { ...counts, deletedRows: result.deletedRows, reconciledAt: nowIso(deps), ...afterWaiting(load) }, log)
}

function streamOf (deps: ReconcileDeps, load: LoadRecord): StreamConfig {
  const stream = deps.config.stream(load.stream)
  if (stream === undefined) {
    throw new ReconcilerError(ReconcilerErrorCode.StreamUnknown, `load ${load.id}: stream '${load.stream}' is not in ${deps.config.file}; cannot reconcile it (nothing deleted)`)
  }
  return stream
}

function observe (deps: ReconcileDeps, load: LoadRecord, started: number, outcome: LoadRecord | undefined): LoadRecord | undefined {
  if (outcome !== undefined) deps.metrics?.duration.observe({ stream: load.stream, outcome: outcome.state }, (performance.now() - started) / 1000)
  return outcome
}

function nowIso (deps: ReconcileDeps): string {
  return new Date(deps.now?.() ?? Date.now()).toISOString()
}
