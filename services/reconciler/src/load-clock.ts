import type { LoadRecord } from '@sisporta/contracts'

/**
 * How long this reconciler has watched a load in its current state: the clock the open and
 * apply timeouts are measured on.
 *
 * Why not `now - openedAt`: `openedAt` is the gateway's wall clock and `now` the reconciler's,
 * so a reconciler whose clock runs 20 minutes ahead would abandon fresh loads, and one running
 * behind would keep dead ones open. Two clocks that cannot disagree were possible:
 *
 * - the NATS server's: JetStream stamps every KV revision with its own time
 *   (`KvEntry.created`). But the NATS server 2.9 that sisporta supports does not tell a client
 *   what time it is now (stream info's `ts` arrived in 2.10), so comparing with it would mean
 *   writing to the bus just to read its clock;
 * - a monotonic one, measured here from when this process first saw the load in its state
 *   (`performance.now()`): no wall clock takes part, so neither skew between hosts nor a clock
 *   stepped by NTP or a VM resumed can make a timeout early. We use this one.
 *
 * The price: a restart restarts every clock, so a timeout may come late — by as long as the
 * reconciler was down, or had not yet seen the load — never early. Late errs on the side that
 * deletes nothing (an abandoned or failed load deletes nothing either way). Replicas measure each
 * their own; the first whose clock runs out moves the load, by compare-and-set.
 */
export interface LoadClock {
  /**
   * Milliseconds since this clock first saw the load in the state it is in now (0 the first
   * time it sees it so; a new state starts a new count).
   */
  elapsedMs (load: Pick<LoadRecord, 'stream' | 'id' | 'state'>): number
}

/**
 * Loads remembered at most; beyond that the longest-known is forgotten (its count restarts:
 * late, never early). Far more loads than are ever open or sealed at once.
 */
const MAX_LOADS = 50_000

/**
 * A {@link LoadClock} on `monotonicNow` (default `performance.now()`; tests pass their own).
 *
 * @example
 * const clock = createLoadClock()
 * clock.elapsedMs(load) // 0: first seen now
 * // 6 hours later, whatever the wall clock says:
 * clock.elapsedMs(load) // 21_600_000
 */
export function createLoadClock (monotonicNow: () => number = () => performance.now()): LoadClock {
  const seen = new Map<string, { state: string, since: number }>()
  return {
    elapsedMs (load) {
      const key = `${load.stream}\u0000${load.id}`
      const now = monotonicNow()
      const known = seen.get(key)
      if (known !== undefined && known.state === load.state) return Math.max(0, now - known.since)
      seen.delete(key)
      if (seen.size >= MAX_LOADS) seen.delete(seen.keys().next().value!)
      seen.set(key, { state: load.state, since: now })
      return 0
    }
  }
}

/** One clock per registry for callers that bring none (a test calling `reconcileLoad` again and again). */
const defaults = new WeakMap<object, LoadClock>()

/** The clock of `deps`, or the one this process keeps for its registry. */
export function loadClockOf (deps: { readonly clock?: LoadClock | undefined, readonly registry: object }): LoadClock {
  if (deps.clock !== undefined) return deps.clock
  let clock = defaults.get(deps.registry)
  if (clock === undefined) {
    clock = createLoadClock()
    defaults.set(deps.registry, clock)
  }
  return clock
}
