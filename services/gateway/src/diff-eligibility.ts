import type { LoadRecord } from '@sisporta/contracts'
import type { LoadRegistry } from '@sisporta/nats'

/** States in which a load may still write to the target (rows, marks or deletes). */
const STILL_WRITING: ReadonlySet<LoadRecord['state']> = new Set(['open', 'sealed', 'applied', 'held', 'approved'])

export type DiffEligibility = { eligible: true } | { eligible: false, reason: string }

/**
 * Whether a new full load of `stream` may be diffed (docs/reloads.md). A diffed load sends only
 * the rows the target does not already hold as they are, so the target must stay as the
 * comparison saw it until the load is applied: no other load of the stream may still write —
 * none open, sealed, applied, held or approved (an older load still open is abandoned when this
 * one opens, but it is refused here before that: its batches may still be on the bus). And a
 * diff only saves anything where the target is a mirror already: the stream has a reconciled
 * full load. Otherwise the load is opened to send every row, which is always safe.
 *
 * @example
 * await diffEligibility(loads, 'products') // { eligible: false, reason: 'load 41 is sealed' }
 */
export async function diffEligibility (loads: Pick<LoadRegistry, 'list'>, stream: string): Promise<DiffEligibility> {
  const records = await loads.list({ stream })
  const writing = records.find((l) => STILL_WRITING.has(l.state))
  if (writing !== undefined) return { eligible: false, reason: `load ${writing.id} of the stream is ${writing.state} and may still write to the target` }
  if (!records.some((l) => l.mode === 'full' && l.state === 'reconciled')) return { eligible: false, reason: 'the stream has no reconciled full load yet' }
  return { eligible: true }
}
