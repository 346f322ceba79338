import type { LoadCheck } from '@sisporta/nats'
import type { LoadMode, LoadState } from '@sisporta/contracts'
import { PersistError } from './errors.js'

/** The part of the load registry the persister reads (a `LoadRegistry` has it). */
export interface LoadLookup {
  check(stream: string, id: number): Promise<LoadCheck>
}

/** What a batch message claims about its load (from its headers). */
export interface BatchClaim {
  readonly stream: string
  readonly loadId: number
  readonly batch: number
  readonly mode: LoadMode
  /** `Sisporta-Replay`: the dead letter the batch replays, when it is a replay. */
  readonly replay?: number
}

/** States in which a load still takes batches: open (being sent) and sealed (being applied). */
const APPLYING: readonly LoadState[] = Object.freeze(['open', 'sealed'])

/**
 * States in which a load takes a REPLAYED dead letter (`Sisporta-Replay`): those that still take
 * batches, and those that ended without ever deleting anything because batches were missing —
 * `failed` (a dead-lettered batch fails its load at once) and `abandoned` (never sealed). Their
 * rows are the source's rows as the load read them; the load-stamp guard keeps any row a newer
 * load wrote, and a failed or abandoned load never reconciles, so a replay writes rows and
 * deletes nothing. Never `discarded` (an operator refused the load), `superseded` (a newer full
 * load carries the rows) nor a load that applied (its batches are all booked: nothing is missing).
 */
const REPLAYABLE: readonly LoadState[] = Object.freeze(['open', 'sealed', 'failed', 'abandoned'])

/**
 * Decides whether a batch may touch the target at all. The bus is a boundary like the HTTP API:
 * a message on the batch subject is data from the network, so before writing anything the
 * persister asks the registry about the batch's load and refuses (throws a `PersistError`) when
 *
 * - the load is unknown, or its id is above the registry's sequence (`SIS_PERSIST_LOAD_UNKNOWN`,
 *   transient: a replica of the registry may lag behind the gateway by moments, so the batch is
 *   redelivered a few times before it is dead-lettered);
 * - the registry's record is untrusted: not opened through a gateway, malformed, … (`SIS_PERSIST_LOAD_UNTRUSTED`);
 * - the load is neither open nor sealed, or its mode is not the batch's (`SIS_PERSIST_LOAD_STATE`);
 * - for a replayed dead letter (`claim.replay`, header `Sisporta-Replay`, which only the
 *   operator's NATS identity can publish: the gateway never copies a client's header onto the
 *   bus), the load is not open, sealed, failed or abandoned (`SIS_PERSIST_REPLAY_REFUSED`).
 *
 * So a batch forged straight onto the bus with an invented (huge) load id is never applied, and
 * its rows can never carry a stamp later loads cannot correct. A redelivered batch of a load that
 * has moved on (applied, reconciled) is refused here too; the caller first checks whether it was
 * applied already, in which case it is a plain duplicate.
 *
 * @example
 * await admitBatch(registry, { stream: 'products', loadId: 42, batch: 0, mode: 'full' }) // throws, or resolves: go on
 */
export async function admitBatch (registry: LoadLookup, claim: BatchClaim): Promise<void> {
  const where = `batch ${claim.batch} of load ${claim.loadId} (stream '${claim.stream}')`
  const verdict = await registry.check(claim.stream, claim.loadId)
  switch (verdict.status) {
    case 'unknown':
      throw new PersistError('SIS_PERSIST_LOAD_UNKNOWN', `${where}: ${verdict.reason}`, { transient: true })
    case 'untrusted':
      if (verdict.retryable) throw new PersistError('SIS_PERSIST_LOAD_UNKNOWN', `${where}: ${verdict.reason}`, { transient: true })
      throw new PersistError('SIS_PERSIST_LOAD_UNTRUSTED', `${where}: the registry's record of the load is not trusted: ${verdict.reason}`)
    case 'trusted': {
      const load = verdict.entry.load
      if (claim.replay !== undefined) {
        if (!REPLAYABLE.includes(load.state)) {
          throw new PersistError('SIS_PERSIST_REPLAY_REFUSED', `${where}, replaying dead letter #${claim.replay}: the load is ${load.state}; a replay is applied only into a load that is ${REPLAYABLE.join(', ')}`)
        }
      } else if (!APPLYING.includes(load.state)) {
        throw new PersistError('SIS_PERSIST_LOAD_STATE', `${where}: the load is ${load.state}; only batches of open or sealed loads are applied`)
      }
      if (load.mode !== claim.mode) {
        throw new PersistError('SIS_PERSIST_LOAD_STATE', `${where}: the batch says ${claim.mode}, the load is ${load.mode}`)
      }
    }
  }
}
