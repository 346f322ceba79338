import type { MsgHdrs } from 'nats'
import { BatchHeaders, STREAM_NAME_PATTERN, type LoadRecord, type LoadState } from '@sisporta/contracts'
import { BOOKKEEPING } from '@sisporta/db'
import type { ReconcileDeps } from './deps.js'

/** What the reconciler reads of a dead letter (its headers; see the persister's settle.ts). */
export interface DeadLetter {
  /** The letter's sequence in the dead-letter stream: what `sisporta dlq show N` takes. */
  readonly seq: number
  readonly stream: string
  readonly loadId: number
  readonly batch: number
  /** Why the persister gave the batch up (`Sisporta-Reason`). */
  readonly reason: string
}

/** States of a load that still waits for batches: a dead-lettered one means it can never be applied. */
const WAITING: readonly LoadState[] = Object.freeze(['open', 'sealed'])

/**
 * A dead letter's stream, load and batch from its headers; `undefined` for a message that does
 * not name them (forged or corrupt: nothing to act on).
 *
 * @example
 * readDeadLetter(17, msg.headers) // { seq: 17, stream: 'customers', loadId: 42, batch: 3, reason: '…' }
 */
export function readDeadLetter (seq: number, headers: MsgHdrs | undefined): DeadLetter | undefined {
  const stream = headers?.get(BatchHeaders.Stream) ?? ''
  const loadId = Number(headers?.get(BatchHeaders.Load) ?? '')
  const batch = Number(headers?.get(BatchHeaders.Batch) ?? '')
  if (!STREAM_NAME_PATTERN.test(stream) || !Number.isSafeInteger(loadId) || loadId < 1 || !Number.isSafeInteger(batch) || batch < 0) return undefined
  const reason = headers?.get(BatchHeaders.Reason) ?? ''
  return { seq, stream, loadId, batch, reason: reason === '' ? 'no reason recorded' : reason }
}

/** The `failed` reason of a load one of whose batches was dead-lettered: the letter, why, and how to look at it. */
export function deadLetterReason (letter: DeadLetter): string {
  return `batch ${letter.batch} was dead-lettered as #${letter.seq}: ${letter.reason}. ` +
    `Inspect it with \`sisporta dlq show ${letter.seq}\`; fix the cause, then \`sisporta dlq replay ${letter.seq}\` (applied into this failed load) or run the next load (it carries these rows again). Nothing deleted`
}

/**
 * Fails the load a dead-lettered batch belongs to, at once, while it is still `open` or `sealed`:
 * without that batch it can never be applied, so it can never delete, and waiting for
 * SISPORTA_APPLY_TIMEOUT (or the open timeout) would only keep `extract --wait` and the operator
 * from knowing. The reason names the dead letter and `sisporta dlq show N`.
 *
 * Left alone: a letter whose load the registry does not vouch for (unknown, forged), a load that
 * ended already (abandoned, failed, discarded… — the persister dead-letters late batches of
 * those too), and a letter whose batch the bookkeeping shows applied (a stale letter: the batch
 * made it after all). Compare-and-set: a load that moved on meanwhile is not touched.
 *
 * @returns the failed load, or `undefined` when nothing was changed.
 *
 * @example
 * await failDeadLetteredLoad(deps, { seq: 17, stream: 'customers', loadId: 42, batch: 3, reason: 'city refused' })
 */
export async function failDeadLetteredLoad (deps: Pick<ReconcileDeps, 'registry' | 'db' | 'metrics' | 'log'>, letter: DeadLetter): Promise<LoadRecord | undefined> {
  const log = deps.log.child({ stream: letter.stream, loadId: letter.loadId, batch: letter.batch, deadLetter: letter.seq })
  const verdict = await deps.registry.check(letter.stream, letter.loadId)
  if (verdict.status !== 'trusted' || !WAITING.includes(verdict.entry.load.state)) {
    log.debug({ verdict: verdict.status === 'trusted' ? verdict.entry.load.state : verdict.status }, 'dead letter of a load that is not waiting for batches: nothing to fail')
    return undefined
  }
  const booked = await deps.db.selectFrom(BOOKKEEPING.batches).select('batch_no')
    .where('stream', '=', letter.stream).where('load_id', '=', letter.loadId).where('batch_no', '=', letter.batch)
    .executeTakeFirst()
  if (booked !== undefined) {
    log.info('dead letter of a batch that was applied after all: its load goes on')
    return undefined
  }
  let from: LoadState | undefined
  const reason = deadLetterReason(letter)
  const { load, changed } = await deps.registry.transition(letter.stream, letter.loadId, (current) => {
    if (!WAITING.includes(current.state)) return undefined
    from = current.state
    return { ...current, state: 'failed', reason }
  })
  if (!changed || from === undefined) return undefined
  deps.metrics?.transitions.inc({ stream: letter.stream, from, to: 'failed' })
  log.warn({ from, to: 'failed', reason }, 'load failed: one of its batches was dead-lettered')
  return load
}
