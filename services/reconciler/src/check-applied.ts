import type { LoadRecord } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { countAppliedBatches } from './count-applied-batches.js'
import { loadClockOf } from './load-clock.js'
import { moveLoad } from './move-load.js'

/** How many missing batch numbers a reason names before it just counts the rest. */
const LISTED_BATCHES = 10

/**
 * Decides whether a sealed load is applied: every batch 0..n-1 the extractor sealed it with is
 * recorded in sisporta_batches, holding exactly the rows it stated. Then it becomes `applied`
 * (an incremental load ends there). A load whose batches hold a different row count, or that
 * has batches beyond its sealed count, `failed`; so does one still missing batches
 * `applyTimeoutSec` after sealing, with the missing batch numbers in the reason. That time is
 * measured on the reconciler's monotonic clock from when it first saw the load sealed
 * (`LoadClock`), never against the gateway's `sealedAt`: no clock skew makes it early.
 *
 * @returns the load as changed, or `undefined` while it waits for batches (or lost a race).
 */
export async function checkApplied (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  if (load.batches === undefined || load.rows === undefined) {
    return await moveLoad(deps, load, 'failed', { reason: 'sealed without batch and row counts' }, log)
  }
  const applied = await countAppliedBatches(deps.db, load.stream, load.id, load.batches)
  if (applied.beyond.length > 0) {
    return await moveLoad(deps, load, 'failed', {
      appliedBatches: applied.batches,
      appliedRows: applied.rows,
      reason: `batch${applied.beyond.length === 1 ? '' : 'es'} ${listBatches(applied.beyond)} applied, but the load was sealed with ${load.batches} batches (0..${load.batches - 1})`
    }, log)
  }
  if (applied.missingCount === 0) {
    if (applied.rows !== load.rows) {
      return await moveLoad(deps, load, 'failed', {
        appliedBatches: applied.batches,
        appliedRows: applied.rows,
        reason: `the ${applied.batches} batches hold ${applied.rows} rows but the load was sealed with ${load.rows} rows`
      }, log)
    }
    return await moveLoad(deps, load, 'applied', {
      appliedBatches: applied.batches,
      appliedRows: applied.rows,
      appliedAt: new Date(deps.now?.() ?? Date.now()).toISOString()
    }, log)
  }
  if (loadClockOf(deps).elapsedMs(load) < deps.settings.applyTimeoutSec * 1000) {
    log.debug({ missingBatches: applied.missingCount, appliedBatches: applied.batches }, 'sealed load waiting for batches')
    return undefined
  }
  const noun = applied.missingCount === 1 ? 'batch' : 'batches'
  return await moveLoad(deps, load, 'failed', {
    appliedBatches: applied.batches,
    appliedRows: applied.rows,
    reason: `${noun} ${listRanges(applied.missing, applied.missingCount)} (${applied.missingCount} of ${load.batches}) not applied within ${deps.settings.applyTimeoutSec} s of sealing (SISPORTA_APPLY_TIMEOUT, counted from when the reconciler saw it sealed); nothing deleted`
  }, log)
}

/** `1, 3, 5–9, …` for the listed ranges; an ellipsis when there are more. */
function listRanges (ranges: readonly (readonly [number, number])[], count: number): string {
  const listed = ranges.map(([first, last]) => first === last ? String(first) : `${first}–${last}`)
  const shown = ranges.reduce((n, [first, last]) => n + last - first + 1, 0)
  return shown < count ? `${listed.join(', ')}, …` : listed.join(', ')
}

function listBatches (numbers: readonly number[]): string {
  const listed = numbers.slice(0, LISTED_BATCHES).join(', ')
  return numbers.length > LISTED_BATCHES ? `${listed}, … (${numbers.length - LISTED_BATCHES} more)` : listed
}
