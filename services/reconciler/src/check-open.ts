import type { LoadRecord } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { moveLoad } from './move-load.js'

/**
 * An open load that was not sealed within `openTimeoutSec` of being opened becomes
 * `abandoned`. It deletes nothing: an unsealed load is partial by definition.
 *
 * @returns the abandoned load, or `undefined` while it may still be sealed.
 */
export async function checkOpen (deps: ReconcileDeps, load: LoadRecord, log: Logger): Promise<LoadRecord | undefined> {
  const now = deps.now?.() ?? Date.now()
  const openedAt = Date.parse(load.openedAt)
  if (now - openedAt < deps.settings.openTimeoutSec * 1000) return undefined
  return await moveLoad(deps, load, 'abandoned', {
    reason: `not sealed within ${deps.settings.openTimeoutSec} s of being opened (SISPORTA_OPEN_TIMEOUT); nothing deleted`
  }, log)
}
