import type { JetStreamManager, NatsConnection } from 'nats'
import { sql, type Kysely } from 'kysely'
import type { BusNames, LoadRecord } from '@sisporta/contracts'
import type { SisportaDatabase } from '@sisporta/db'
import {
  dropDeadLetters, listDeadLetters, replayDeadLetters, showDeadLetter,
  type DeadLetter, type DeadLetterSummary, type LetterOutcome, type LoadRegistry, type StreamControls
} from '@sisporta/nats'
import { ConsoleError } from './errors.js'
import type { ActionResult, ConsoleActions, ConsoleReads, ConsumerLag, DeadLetterDetail, StreamControlView } from './operations.js'

export interface BusOperationsDeps {
  readonly nc: NatsConnection
  readonly names: BusNames
  readonly registry: LoadRegistry
  readonly controls: StreamControls
  /** The target database, for the throughput chart (rows applied per stream); optional. */
  readonly db?: Kysely<SisportaDatabase> | undefined
}

/** Most dead letters one listing reads (headers only). */
export const MAX_LISTED_LETTERS = 500
/** Letters of a listing read with their rows (one JetStream get each); the rest show their keys. */
export const MAX_LETTERS_WITH_ROWS = 20

/**
 * The console's reads and actions against the real bus: the load registry (approve / discard,
 * with the same rules as `sisporta loads`), the stream controls (pause / resume / sync / verify, by
 * compare-and-set) and the dead-letter tools of `@sisporta/nats` (list / show / replay / drop,
 * the same as `sisporta dlq`).
 *
 * @example
 * const { reads, actions } = createBusOperations({ nc, names, registry, controls })
 * await actions.pause('products', 'alice')
 */
export function createBusOperations (deps: BusOperationsDeps): { reads: ConsoleReads, actions: ConsoleActions } {
  const { nc, names, registry, controls } = deps
  let jsmPromise: Promise<JetStreamManager> | undefined
  const jsm = async (): Promise<JetStreamManager> => await (jsmPromise ??= nc.jetstreamManager())

  const reads: ConsoleReads = {
    loads: async () => await registry.list(),
    consumer: async (): Promise<ConsumerLag> => {
      const info = await (await jsm()).consumers.info(names.batchStream, names.persisterConsumer)
      return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered, waiting: info.num_waiting }
    },
    queuedBatches: async () => {
      const info = await (await jsm()).streams.info(names.batchStream, { subjects_filter: names.batchSubjects })
      return bySubjectPrefix(info.state.subjects, `${names.namespace}.batch.`)
    },
    deadLetterCounts: async () => {
      const info = await (await jsm()).streams.info(names.dlqStream, { subjects_filter: names.dlqSubjects })
      return bySubjectPrefix(info.state.subjects, `${names.namespace}.dlq.`)
    },
    controls: async (streams) => {
      const views = new Map<string, StreamControlView>()
      await Promise.all(streams.map(async (stream) => {
        const c = await controls.get(stream)
        const [pending, verifyPending, lastVerify] = await Promise.all([controls.pendingSync(stream, c), controls.pendingVerify(stream, c), controls.verifyReport(stream)])
        views.set(stream, {
          paused: c.paused,
          pausedBy: c.pausedBy,
          pausedAt: c.pausedAt,
          reason: c.reason,
          malformed: c.malformed,
          syncRequestedAt: c.syncRequestedAt,
          syncRequestedBy: c.syncRequestedBy,
          syncPending: pending !== undefined,
          verifyRequestedAt: c.verifyRequestedAt,
          verifyRequestedBy: c.verifyRequestedBy,
          verifyPending: verifyPending !== undefined,
          lastVerify
        })
      }))
      return views
    },
    deadLetters: async (stream) => await Promise.all((await letters(stream)).map(async (summary, i) => {
      // rows of the first letters only: a page of hundreds of batches helps nobody
      const letter = i < MAX_LETTERS_WITH_ROWS ? await showDeadLetter({ nc, names }, summary.seq) : undefined
      return letter === undefined ? { ...summary, columns: [], rowValues: [] } : detail(letter)
    })),
    deadLetter: async (seq) => {
      const letter = await showDeadLetter({ nc, names }, seq)
      return letter === undefined ? undefined : detail(letter)
    },
    ...(deps.db === undefined
      ? {}
      : {
          appliedRows: async () => {
            const { rows } = await sql<{ stream: string, n: string | number }>`SELECT stream, SUM(row_count) AS n FROM sisporta_batches GROUP BY stream`.execute(deps.db!)
            return new Map(rows.map((r) => [r.stream, Number(r.n)]))
          }
        })
  }

  /** The letters (of a stream), oldest first, at most {@link MAX_LISTED_LETTERS}: their headers only. */
  async function letters (stream: string | undefined): Promise<DeadLetterSummary[]> {
    const page = await listDeadLetters({ nc, names }, stream === undefined ? {} : { stream }, { limit: MAX_LISTED_LETTERS })
    return page.letters
  }

  async function decide (loadId: number, action: 'approve' | 'discard', by: string): Promise<ActionResult> {
    const entry = await registry.find(loadId)
    if (entry === undefined) throw new ConsoleError('SIS_CONSOLE_NOT_FOUND', `load ${loadId} does not exist in namespace '${names.namespace}'`)
    const { load } = await registry.transition(entry.load.stream, loadId, (current: LoadRecord) => {
      if (action === 'approve') {
        if (current.state !== 'held') throw new ConsoleError('SIS_CONSOLE_CONFLICT', `load ${loadId} is ${current.state}; only a held load can be approved`)
        return { ...current, state: 'approved', approvedBy: by }
      }
      if (!['held', 'open', 'sealed', 'applied'].includes(current.state)) throw new ConsoleError('SIS_CONSOLE_CONFLICT', `load ${loadId} is ${current.state}; it cannot be discarded any more`)
      return { ...current, state: 'discarded', discardedBy: by, reason: `discarded by ${by}` }
    })
    return { message: `load ${loadId} of stream '${load.stream}' ${action === 'approve' ? 'approved: the reconciler applies its deletes' : 'discarded: it deletes nothing'}` }
  }

  const actions: ConsoleActions = {
    pause: async (stream, by, reason) => {
      const { changed } = await controls.pause(stream, { by, reason })
      return { message: changed ? `stream '${stream}' paused: the gateway opens no new load of it` : `stream '${stream}' was already paused` }
    },
    resume: async (stream, by) => {
      const { changed } = await controls.resume(stream, { by })
      return { message: changed ? `stream '${stream}' resumed` : `stream '${stream}' was not paused` }
    },
    requestSync: async (stream, by) => {
      await controls.requestSync(stream, { by })
      return { message: `sync of '${stream}' requested: the extractor daemon opens a load on its next look` }
    },
    requestVerify: async (stream, by) => {
      await controls.requestVerify(stream, { by })
      return { message: `verify of '${stream}' requested: the extractor daemon compares the source with the target on its next look, and reports here` }
    },
    approve: async (loadId, by) => await decide(loadId, 'approve', by),
    discard: async (loadId, by) => await decide(loadId, 'discard', by),
    replayLetter: async (seq) => {
      const [outcome] = await replayDeadLetters({ nc, names, registry }, { seqs: [seq] })
      return { message: `dead letter #${seq}${about(only(outcome!))} replayed into its load` }
    },
    dropLetter: async (seq) => {
      const [outcome] = await dropDeadLetters({ nc, names }, { seqs: [seq] })
      return { message: `dead letter #${seq}${about(only(outcome!))} dropped` }
    },
    replayAll: async (stream) => {
      const seqs = (await letters(stream)).map((l) => l.seq)
      const outcomes = await replayDeadLetters({ nc, names, registry }, { seqs })
      const replayed = outcomes.filter((o) => o.outcome === 'replayed').length
      const refused = outcomes.filter((o) => o.outcome === 'refused')
      return {
        message: `${replayed} dead letter(s) replayed` +
          (refused.length > 0 ? `; ${refused.length} kept: ${refused.slice(0, 3).map((o) => `#${o.seq}: ${o.outcome === 'refused' ? o.reason : ''}`).join('; ')}${refused.length > 3 ? '; …' : ''}` : '')
      }
    }
  }
  return { reads, actions }
}

/** The one outcome of a single-letter action, or the refusal as a coded console error. */
function only (outcome: LetterOutcome): LetterOutcome & { outcome: 'replayed' | 'dropped' } {
  if (outcome.outcome !== 'refused') return outcome
  throw new ConsoleError(outcome.code === 'SIS_BUS_DLQ_UNKNOWN' ? 'SIS_CONSOLE_NOT_FOUND' : 'SIS_CONSOLE_CONFLICT', `dead letter #${outcome.seq} was kept: ${outcome.reason}`)
}

function about (outcome: { letter: { stream: string, loadId: number, batch: number } }): string {
  const l = outcome.letter
  return ` (stream ${l.stream}, load ${l.loadId}, batch ${l.batch})`
}

function detail (letter: DeadLetter): DeadLetterDetail {
  const { body, ...summary } = letter
  let columns: string[] = []
  let rowValues: unknown[][] = []
  // data from the network: shown (escaped) as found, never trusted to have a shape
  const batch = body as { columns?: unknown, rows?: unknown } | null
  if (typeof batch === 'object' && batch !== null) {
    if (Array.isArray(batch.columns)) columns = batch.columns.map(String)
    if (Array.isArray(batch.rows)) rowValues = batch.rows.filter(Array.isArray) as unknown[][]
  }
  return { ...summary, columns, rowValues }
}

function bySubjectPrefix (subjects: Record<string, number> | undefined, prefix: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const [subject, n] of Object.entries(subjects ?? {})) {
    if (subject.startsWith(prefix)) counts.set(subject.slice(prefix.length), n)
  }
  return counts
}
