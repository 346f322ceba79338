import type { LoadRecord, LoadState } from '@sisporta/contracts'
import type { LoadRegistry } from '@sisporta/nats'

/**
 * States in which a newer full load makes an older one pointless: its batches are all applied,
 * so every row it saw carries its higher stamp, and whatever it deletes (or holds, or has
 * deleted) covers every row the older load would delete.
 */
export const SUPERSEDING_STATES: readonly LoadState[] = Object.freeze(['applied', 'held', 'approved', 'reconciled'])

/** True when `other` supersedes `load`: a newer full load of the same stream, applied or beyond. */
export function supersedes (other: LoadRecord, load: LoadRecord): boolean {
  return other.stream === load.stream && other.mode === 'full' && other.id > load.id && SUPERSEDING_STATES.includes(other.state)
}

/**
 * Asks the registry for the newest full load of `load`'s stream that supersedes it.
 *
 * @example
 * const newer = await findSupersedingLoad(registry, load) // undefined: load is still the one to apply
 */
export async function findSupersedingLoad (registry: LoadRegistry, load: LoadRecord): Promise<LoadRecord | undefined> {
  const loads = await registry.list({ stream: load.stream, states: SUPERSEDING_STATES })
  return loads.filter((other) => supersedes(other, load)).at(-1)
}
