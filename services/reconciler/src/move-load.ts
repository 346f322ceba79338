import type { LoadRecord, LoadState } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'

/** States a load is moved to that someone should look at: logged at warn. */
const WARN_STATES: readonly LoadState[] = Object.freeze(['held', 'failed', 'abandoned'])

/** Fields a state change may set besides the state itself. */
export type LoadChange = Partial<Omit<LoadRecord, 'id' | 'stream' | 'mode' | 'state' | 'openedAt' | 'updatedAt'>>

/**
 * Moves `load` from the state it was examined in to `to`, by compare-and-set on the registry.
 * If the load is no longer in that state (an operator, another replica or the gateway changed
 * it meanwhile) nothing is written and `undefined` comes back: the watcher will bring the new
 * state, and the decision taken on the old one is simply dropped.
 *
 * @example
 * const applied = await moveLoad(deps, load, 'applied', { appliedBatches: 3, appliedRows: 2500, appliedAt })
 */
export async function moveLoad (deps: Pick<ReconcileDeps, 'registry' | 'metrics'>, load: LoadRecord, to: LoadState, change: LoadChange, log: Logger): Promise<LoadRecord | undefined> {
  const from = load.state
  const { load: stored, changed } = await deps.registry.transition(load.stream, load.id, (current) =>
    current.state === from ? { ...current, ...withoutUndefined(change), state: to } : undefined)
  if (!changed) {
    log.debug({ from, to, now: stored.state }, 'load changed meanwhile; dropping this decision')
    return undefined
  }
  deps.metrics?.transitions.inc({ stream: load.stream, from, to })
  // a load that stopped short (held for an operator, failed, abandoned) is worth a warning
  log[WARN_STATES.includes(to) ? 'warn' : 'info']({ from, to, ...withoutUndefined(change) }, `load ${to}`)
  return stored
}

function withoutUndefined (change: LoadChange): LoadChange {
  return Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) as LoadChange
}
