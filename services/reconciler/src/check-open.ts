import type { LoadRecord } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { loadClockOf } from './load-clock.js'
import { moveLoad } from './move-load.js'

/**
 * An open load that was not sealed within `openTimeoutSec` of being opened becomes
 * `abandoned`. It deletes nothing: an unsealed load is partial by definition. The time is
 * measured on the reconciler's monotonic clock from when it first saw the load open (`LoadClock`),
 * never as its own wall clock minus the gateway's `openedAt`: no clock skew makes it early.
 *
 * @returns the abandoned load, or `undefined` while it may still be sealed.
 */
export async function checkOpen (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  if (loadClockOf(deps).elapsedMs(load) < deps.settings.openTimeoutSec * 1000) return undefined
  return await moveLoad(deps, load, 'abandoned', {
    reason: `not sealed within ${deps.settings.openTimeoutSec} s of being opened (SISPORTA_OPEN_TIMEOUT, counted from when the reconciler saw it open); nothing deleted`
  }, log)
}
