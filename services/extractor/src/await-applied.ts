import { setTimeout as sleep } from 'node:timers/promises'
import type { LoadRecord, LoadState } from '@sisporta/contracts'
import type { GatewayClient } from './gateway-client.js'

/** States in which every batch of a load is in the target: its rows can be referred to. */
const APPLIED_STATES: ReadonlySet<LoadState> = new Set(['applied', 'held', 'approved', 'reconciled', 'superseded'])

/** True when the load's rows are all in the target (applied, or any state after it but failed or discarded). */
export function isApplied (load: Pick<LoadRecord, 'state'>): boolean {
  return APPLIED_STATES.has(load.state)
}

/**
 * Polls the gateway until a sealed load is no longer open or sealed: applied (or beyond), or
 * ended without being applied (failed, abandoned, discarded). Unlike `waitForLoad` it does not
 * wait for the reconciliation: a parent stream's deletes may themselves wait for its children's
 * (referenced rows), which are loaded only once this returns. Never times out on its own: the
 * reconciler fails a sealed load whose batches do not all arrive within SISPORTA_APPLY_TIMEOUT.
 *
 * @example
 * const load = await awaitApplied(gateway, sealed, { signal })
 * if (isApplied(load)) startChildren()
 */
export async function awaitApplied (gateway: GatewayClient, load: LoadRecord, options: { pollMs?: number, signal?: AbortSignal } = {}): Promise<LoadRecord> {
  for (;;) {
    const current = await gateway.getLoad(load.stream, load.id, { signal: options.signal })
    if (current.state !== 'open' && current.state !== 'sealed') return current
    await sleep(options.pollMs ?? 1000, undefined, options.signal === undefined ? {} : { signal: options.signal })
  }
}
