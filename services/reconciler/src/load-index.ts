import type { LoadRecord } from '@sisporta/contracts'
import { needsAttention } from './examine-load.js'
import { supersedes, SUPERSEDING_STATES } from './find-superseding-load.js'

/**
 * The worker's in-memory view of the registry, fed by its watch: the loads that still need
 * attention, and per stream the full loads that may supersede older ones. Eventually
 * consistent with the registry, which is enough: a decision taken on a stale view is either
 * refused by compare-and-set or, for deletes, harmless (an older load's deletes are a subset of
 * what a newer full load deletes).
 */
export class LoadIndex {
  /** `stream` → `id` → latest record, for loads that need attention. */
  readonly #attention = new Map<string, Map<number, LoadRecord>>()
  /** `stream` → `id` → full loads applied or beyond (of reconciled ones, only the newest). */
  readonly #superseding = new Map<string, Map<number, LoadRecord>>()

  /** Records a load's latest state. */
  update (load: LoadRecord): void {
    const attention = mapOf(this.#attention, load.stream)
    if (needsAttention(load)) attention.set(load.id, load)
    else attention.delete(load.id)
    const superseding = mapOf(this.#superseding, load.stream)
    if (load.mode === 'full' && SUPERSEDING_STATES.includes(load.state)) {
      superseding.set(load.id, load)
      // a reconciled load supersedes whatever an older reconciled one did: keep only the newest
      if (load.state === 'reconciled') {
        for (const [id, other] of superseding) if (id < load.id && other.state === 'reconciled') superseding.delete(id)
      }
    } else {
      superseding.delete(load.id)
    }
  }

  /** Streams with loads needing attention. */
  streams (): string[] {
    return [...this.#attention].filter(([, loads]) => loads.size > 0).map(([stream]) => stream)
  }

  /** Loads of `stream` that need attention. */
  pending (stream: string): LoadRecord[] {
    return [...(this.#attention.get(stream)?.values() ?? [])]
  }

  /** True while `stream`'s load `id` needs attention. */
  isPending (stream: string, id: number): boolean {
    return this.#attention.get(stream)?.has(id) ?? false
  }

  /** The newest full load that supersedes `load`, if the watch has seen one. */
  supersedingLoad (load: LoadRecord): LoadRecord | undefined {
    let newest: LoadRecord | undefined
    for (const other of this.#superseding.get(load.stream)?.values() ?? []) {
      if (supersedes(other, load) && (newest === undefined || other.id > newest.id)) newest = other
    }
    return newest
  }

  /** The newest reconciled full load of `stream` the watch has seen. */
  newestReconciled (stream: string): LoadRecord | undefined {
    let newest: LoadRecord | undefined
    for (const load of this.#superseding.get(stream)?.values() ?? []) {
      if (load.state === 'reconciled' && (newest === undefined || load.id > newest.id)) newest = load
    }
    return newest
  }

  /** Loads of `stream` held for an operator. */
  heldCount (stream: string): number {
    let held = 0
    for (const load of this.#attention.get(stream)?.values() ?? []) if (load.state === 'held') held++
    return held
  }
}

function mapOf (maps: Map<string, Map<number, LoadRecord>>, stream: string): Map<number, LoadRecord> {
  let map = maps.get(stream)
  if (map === undefined) {
    map = new Map()
    maps.set(stream, map)
  }
  return map
}
