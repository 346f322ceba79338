import type { LoadRecord } from '@sisporta/contracts'
import type { ReconcileDeps } from './deps.js'
import { ReconcilerError, ReconcilerErrorCode } from './errors.js'
import { examineLoad, needsAttention } from './examine-load.js'

/** Steps one pass may take (open → … → reconciled is at most four). */
const MAX_STEPS = 8

/**
 * Reads a load's current record from the registry and takes as many lifecycle steps as are
 * due now (sealed → applied → reconciled in one call when all batches are in), stopping when
 * the load waits (for time, batches or an operator) or reaches a final state.
 *
 * A failure (MySQL, the registry, a stream missing from the config) changes nothing and is
 * thrown as `SIS_RECON_*`: the caller retries on a later sweep. Retrying is safe: every step
 * is idempotent and every state change a compare-and-set.
 *
 * @returns the load as it stands afterwards, or `undefined` if the registry does not hold it.
 *
 * @example
 * const load = await reconcileLoad(deps, { stream: 'products', id: 42 })
 * load?.state // 'reconciled'
 */
export async function reconcileLoad (deps: ReconcileDeps, ref: { readonly stream: string, readonly id: number }): Promise<LoadRecord | undefined> {
  const log = deps.log.child({ stream: ref.stream, loadId: ref.id })
  try {
    let load = (await deps.registry.get(ref.stream, ref.id))?.load
    for (let step = 0; load !== undefined && step < MAX_STEPS && needsAttention(load); step++) {
      if (deps.signal?.aborted === true) break
      const next = await examineLoad(deps, load, log)
      if (next !== undefined) {
        load = next
        continue
      }
      // nothing changed here: either the load waits, or someone else changed it (go on from there)
      const current = (await deps.registry.get(ref.stream, ref.id))?.load
      if (current === undefined || current.state === load.state) return current
      load = current
    }
    return load
  } catch (err) {
    if (err instanceof ReconcilerError) throw err
    throw new ReconcilerError(ReconcilerErrorCode.Examine, `load ${ref.id} of stream '${ref.stream}': ${(err as Error).message}`, { cause: err })
  }
}
