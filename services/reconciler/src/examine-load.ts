import type { LoadRecord, LoadState } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { checkApplied } from './check-applied.js'
import { checkOpen } from './check-open.js'
import { checkHeld, reconcileApplied, reconcileApproved } from './reconcile-full-load.js'

/** States in which a load may still need the reconciler (applied only for full loads). */
export const ATTENTION_STATES: readonly LoadState[] = Object.freeze(['open', 'sealed', 'applied', 'held', 'approved'])

/** True when the reconciler may still have something to do with `load`. */
export function needsAttention (load: Pick<LoadRecord, 'mode' | 'state'>): boolean {
  if (load.state === 'applied') return load.mode === 'full'
  return ATTENTION_STATES.includes(load.state)
}

/**
 * Takes one step of a load's lifecycle, according to the state it is in:
 *
 * - `open`: abandoned once older than `openTimeoutSec`;
 * - `sealed`: applied once every batch is recorded with the stated rows, failed when they
 *   disagree or batches are still missing `applyTimeoutSec` after sealing;
 * - `applied` (full): reconciled, held by the delete guard, or superseded;
 * - `held`: superseded once a newer full load is applied;
 * - `approved`: reconciled (deleting without the ratio guard) or superseded.
 *
 * Every change is a compare-and-set against the state `load` was read in.
 *
 * @returns the load as stored after this step changed it, or `undefined` when nothing changed
 * (waiting for time or batches, or the load changed meanwhile).
 *
 * @example
 * const next = await examineLoad(deps, (await registry.get('products', 42))!.load)
 */
export async function examineLoad (deps: ReconcileDeps, load: LoadRecord, log: Logger = deps.log.child({ stream: load.stream, loadId: load.id })): Promise<LoadRecord | undefined> {
  switch (load.state) {
    case 'open': return await checkOpen(deps, load, log)
    case 'sealed': return await checkApplied(deps, load, log)
    // incremental loads end at applied: they never delete
    case 'applied': return load.mode === 'full' ? await reconcileApplied(deps, load, log) : undefined
    case 'held': return await checkHeld(deps, load, log)
    case 'approved': return await reconcileApproved(deps, load, log)
    default: return undefined
  }
}
