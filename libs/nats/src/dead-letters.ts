import { AckPolicy, DeliverPolicy, headers as natsHeaders, type NatsConnection, type StoredMsg } from 'nats'
import { BatchHeaders, STREAM_NAME_PATTERN, type BusNames, type LoadRecord, type LoadState } from '@sisporta/contracts'
import type { LoadRegistry } from './load-registry.js'

/**
 * The operator's dead-letter tools, shared by the CLI (`sisporta dlq …`) and the web console:
 * list, show, replay and drop the batches (or rows of batches) the persisters gave up on.
 * See docs/dead-letters.md.
 */

/** One dead letter as its headers describe it. */
export interface DeadLetterSummary {
  /** Its sequence in the dead-letter stream: the number operators type (`dlq show 17`). */
  readonly seq: number
  readonly stream: string
  readonly loadId: number
  readonly batch: number
  /** Rows in the letter. */
  readonly rows: number
  /** Rows of the whole batch, when the letter holds only some of them (bisection applied the rest). */
  readonly batchRows?: number
  /** Rows of the batch that were applied (bisection). */
  readonly applied?: number
  /** The offending rows' keys (bisection; cut to fit a header). */
  readonly keys?: readonly Record<string, unknown>[]
  /** The column MySQL named. */
  readonly column?: string
  readonly reason: string
  readonly deliveries: number
  /** When it was dead-lettered (ISO 8601). */
  readonly time: string
}

/** A dead letter with its body: a batch body `{ columns, rows }`. */
export interface DeadLetter extends DeadLetterSummary {
  readonly body: unknown
}

/** Which letters: a stream's, a load's (ids are per stream; a load id alone matches any stream's). */
export interface DeadLetterFilter {
  readonly stream?: string
  readonly loadId?: number
}

export interface DeadLetterPage {
  readonly letters: DeadLetterSummary[]
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: number
}

/** What became of one letter a replay or drop was asked for. */
export type LetterOutcome =
  | { readonly seq: number, readonly outcome: 'replayed' | 'dropped', readonly letter: DeadLetterSummary }
  | { readonly seq: number, readonly outcome: 'refused', readonly code: string, readonly reason: string, readonly letter?: DeadLetterSummary }

/** The letters an action is about: numbers, or every letter matching a filter (`{}`: all). */
export type LetterSelection = { readonly seqs: readonly number[] } | { readonly filter: DeadLetterFilter }

export interface DeadLetterDeps {
  readonly nc: NatsConnection
  readonly names: BusNames
}

/** Load states a replay is applied into (the persister's rule too: services/persister/src/admit-batch.ts). */
export const REPLAYABLE_LOAD_STATES: readonly LoadState[] = Object.freeze(['open', 'sealed', 'failed', 'abandoned'])
/** States of a newer full load whose rows are all in the target: replaying an older letter could only bring back deleted rows. */
const CARRIES_ALL_ROWS: readonly LoadState[] = Object.freeze(['applied', 'held', 'approved', 'reconciled'])
/** Letters one page lists at most. */
export const MAX_PAGE = 1000

/**
 * Lists dead letters, oldest first, one page at a time, reading headers only through an
 * ephemeral pull consumer filtered on the stream's dead-letter subject (deleted afterwards) —
 * never one request per sequence number, so a large or sparse dead-letter stream costs what it
 * holds, bodies not included.
 *
 * @example
 * const { letters, next } = await listDeadLetters({ nc, names }, { stream: 'customers' }, { limit: 100 })
 */
export async function listDeadLetters (deps: DeadLetterDeps, filter: DeadLetterFilter = {}, page: { after?: number, limit?: number } = {}): Promise<DeadLetterPage> {
  const { nc, names } = deps
  const limit = Math.max(1, Math.min(page.limit ?? MAX_PAGE, MAX_PAGE))
  if (filter.stream !== undefined && !STREAM_NAME_PATTERN.test(filter.stream)) return { letters: [] }
  const letters: DeadLetterSummary[] = []
  const jsm = await nc.jetstreamManager()
  const js = nc.jetstream()
  let start = (page.after ?? 0) + 1
  for (;;) {
    // An ephemeral pull consumer of our own (not an ordered one): its num_pending says exactly how
    // many letters lie ahead, so a fetch asks for no more than exist and never waits for expiry.
    const info = await jsm.consumers.add(names.dlqStream, {
      filter_subject: filter.stream === undefined ? names.dlqSubjects : names.dlqSubject(filter.stream),
      headers_only: true,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
      ack_policy: AckPolicy.None,
      inactive_threshold: 60_000_000_000,
      mem_storage: true
    })
    try {
      const pending = info.num_pending
      if (pending === 0) return { letters }
      const want = Math.min(pending, limit - letters.length + 1, MAX_PAGE + 1)
      const consumer = await js.consumers.get(names.dlqStream, info.name)
      const messages = await consumer.fetch({ max_messages: want, expires: 10_000 })
      let read = 0
      let last = start - 1
      for await (const msg of messages) {
        read++
        last = msg.info.streamSequence
        const letter = summarise(last, msg.headers, new Date(Math.floor(msg.info.timestampNanos / 1e6)))
        if (matches(letter, filter)) {
          if (letters.length === limit) return { letters, next: letters.at(-1)!.seq }
          letters.push(letter)
        }
        if (read === want) break
      }
      if (read === 0) return { letters }
      start = last + 1
    } finally {
      await jsm.consumers.delete(names.dlqStream, info.name).catch(() => false)
    }
  }
}

/**
 * Every letter matching `filter`, all pages.
 *
 * @example
 * const all = await allDeadLetters({ nc, names }, { loadId: 42 })
 */
export async function allDeadLetters (deps: DeadLetterDeps, filter: DeadLetterFilter = {}): Promise<DeadLetterSummary[]> {
  const letters: DeadLetterSummary[] = []
  let after: number | undefined
  for (;;) {
    const page = await listDeadLetters(deps, filter, { ...(after !== undefined ? { after } : {}), limit: MAX_PAGE })
    letters.push(...page.letters)
    if (page.next === undefined) return letters
    after = page.next
  }
}

/**
 * One letter with its body, or `undefined` when there is no letter with that number.
 *
 * @example
 * const letter = await showDeadLetter({ nc, names }, 17) // { seq: 17, keys: [{ sku: 'A1' }], column: 'name', body: { columns, rows } … }
 */
export async function showDeadLetter (deps: DeadLetterDeps, seq: number): Promise<DeadLetter | undefined> {
  const msg = await getLetter(deps, seq)
  if (msg === undefined) return undefined
  let body: unknown
  try {
    body = msg.json()
  } catch {
    body = new TextDecoder().decode(msg.data)
  }
  return { ...summarise(seq, msg.header, msg.time), body }
}

/**
 * Replays letters: each is published again on its stream's batch subject, with its batch
 * headers and `Sisporta-Replay: <seq>`, and deleted from the dead-letter stream once JetStream
 * stored the replay. The persister applies a replay into its load while that load is open,
 * sealed, failed or abandoned, as a part of its batch with its own ledger identity (so a batch
 * whose good rows bisection applied is completed, and a replay published twice is applied once);
 * the load-stamp guard keeps every row a newer load wrote, and a failed load never deletes.
 *
 * Refused, per letter, with why (nothing published, the letter kept): no such letter; a letter
 * without stream, load and batch; its load unknown, untrusted, or in another state (discarded:
 * an operator said no; superseded or applied: nothing is missing); or a NEWER full load of the
 * stream already applied — it carries the stream's rows, and the letter's older rows could only
 * bring back rows deleted at the source since (drop the letter).
 *
 * @example
 * const outcomes = await replayDeadLetters({ nc, names, registry }, { filter: { stream: 'customers' } })
 * // [{ seq: 3, outcome: 'replayed', letter }, { seq: 4, outcome: 'refused', code: 'SIS_BUS_DLQ_REPLAY_REFUSED', reason: '…' }]
 */
export async function replayDeadLetters (deps: DeadLetterDeps & { registry: LoadRegistry }, selection: LetterSelection): Promise<LetterOutcome[]> {
  const { nc, names, registry } = deps
  const newestFull = new Map<string, LoadRecord | undefined>()
  const jsm = await nc.jetstreamManager()
  const outcomes: LetterOutcome[] = []
  for (const seq of await selected(deps, selection)) {
    const msg = await getLetter(deps, seq)
    if (msg === undefined) {
      outcomes.push({ seq, outcome: 'refused', code: 'SIS_BUS_DLQ_UNKNOWN', reason: `no dead letter #${seq} in ${names.dlqStream}` })
      continue
    }
    const letter = summarise(seq, msg.header, msg.time)
    const refuse = (reason: string): void => { outcomes.push({ seq, outcome: 'refused', code: 'SIS_BUS_DLQ_REPLAY_REFUSED', reason, letter }) }
    if (!STREAM_NAME_PATTERN.test(letter.stream) || !Number.isSafeInteger(letter.loadId) || letter.loadId < 1 || !Number.isSafeInteger(letter.batch) || letter.batch < 0) {
      refuse('the letter does not name a stream, load and batch (forged or corrupt): it can only be dropped')
      continue
    }
    const verdict = await registry.check(letter.stream, letter.loadId)
    if (verdict.status !== 'trusted') {
      refuse(`load ${letter.loadId} of stream '${letter.stream}' is ${verdict.status} in the registry (${verdict.reason}): the persister would refuse the batch`)
      continue
    }
    const load = verdict.entry.load
    if (!REPLAYABLE_LOAD_STATES.includes(load.state)) {
      refuse(`load ${load.id} of stream '${load.stream}' is ${load.state}: ${WHY_NOT[load.state] ?? 'a replay is applied only into an open, sealed, failed or abandoned load'}`)
      continue
    }
    if (!newestFull.has(load.stream)) {
      const carrying = (await registry.list({ stream: load.stream, states: CARRIES_ALL_ROWS })).filter((l) => l.mode === 'full')
      newestFull.set(load.stream, carrying.at(-1))
    }
    const newer = newestFull.get(load.stream)
    if (newer !== undefined && newer.id > load.id) {
      refuse(`a newer full load of stream '${load.stream}' (load ${newer.id}, ${newer.state}) already carries the stream's rows; replaying load ${load.id}'s older rows could bring back rows deleted at the source since. Drop the letter (sisporta dlq drop ${seq})`)
      continue
    }
    const h = natsHeaders()
    for (const key of [BatchHeaders.Stream, BatchHeaders.Load, BatchHeaders.Batch, BatchHeaders.Mode, BatchHeaders.Rows, BatchHeaders.BatchRows]) {
      const value = msg.header.get(key)
      if (value !== '') h.set(key, value)
    }
    h.set(BatchHeaders.Replay, String(seq))
    // its own de-duplication id: the original's may still be inside JetStream's window, and a
    // replay published twice (a crash before the letter was deleted) is stored once
    await nc.jetstream().publish(names.batchSubject(letter.stream), msg.data, { headers: h, msgID: `${letter.stream}.${letter.loadId}.${letter.batch}.replay-${seq}`, expect: { streamName: names.batchStream } })
    await jsm.streams.deleteMessage(names.dlqStream, seq).catch(() => false)
    outcomes.push({ seq, outcome: 'replayed', letter })
  }
  return outcomes
}

/**
 * Deletes letters for good (the rows they hold are not applied; the next full load of the
 * stream carries them). A number with no letter is refused.
 *
 * @example
 * await dropDeadLetters({ nc, names }, { seqs: [3, 4] }) // [{ seq: 3, outcome: 'dropped', letter }, …]
 */
export async function dropDeadLetters (deps: DeadLetterDeps, selection: LetterSelection): Promise<LetterOutcome[]> {
  const jsm = await deps.nc.jetstreamManager()
  const outcomes: LetterOutcome[] = []
  for (const seq of await selected(deps, selection)) {
    const msg = await getLetter(deps, seq)
    const gone = msg === undefined || !(await jsm.streams.deleteMessage(deps.names.dlqStream, seq).catch(() => false))
    if (gone) outcomes.push({ seq, outcome: 'refused', code: 'SIS_BUS_DLQ_UNKNOWN', reason: `no dead letter #${seq} in ${deps.names.dlqStream}` })
    else outcomes.push({ seq, outcome: 'dropped', letter: summarise(seq, msg.header, msg.time) })
  }
  return outcomes
}

const WHY_NOT: Partial<Record<LoadState, string>> = {
  discarded: 'an operator discarded it; run a new full load (sisporta extract --stream NAME) and drop the letter',
  superseded: 'a newer full load carries these rows; drop the letter',
  applied: 'all its batches are applied, so the letter is stale; drop it',
  held: 'all its batches are applied, so the letter is stale; drop it',
  approved: 'all its batches are applied, so the letter is stale; drop it',
  reconciled: 'all its batches are applied, so the letter is stale; drop it'
}

async function selected (deps: DeadLetterDeps, selection: LetterSelection): Promise<number[]> {
  if ('seqs' in selection) return [...new Set(selection.seqs)]
  return (await allDeadLetters(deps, selection.filter)).map((l) => l.seq)
}

async function getLetter (deps: DeadLetterDeps, seq: number): Promise<StoredMsg | undefined> {
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined
  const jsm = await deps.nc.jetstreamManager()
  return await jsm.streams.getMessage(deps.names.dlqStream, { seq }).catch(() => undefined)
}

function matches (letter: DeadLetterSummary, filter: DeadLetterFilter): boolean {
  return (filter.stream === undefined || letter.stream === filter.stream) && (filter.loadId === undefined || letter.loadId === filter.loadId)
}

function summarise (seq: number, h: { get(name: string): string } | undefined, time: Date): DeadLetterSummary {
  const get = (name: string): string => h?.get(name) ?? ''
  const optional = (name: string): number | undefined => get(name) === '' ? undefined : Number(get(name))
  let keys: Record<string, unknown>[] | undefined
  try {
    const parsed = get(BatchHeaders.Keys) === '' ? undefined : JSON.parse(get(BatchHeaders.Keys)) as unknown
    if (Array.isArray(parsed)) keys = parsed as Record<string, unknown>[]
  } catch {
    // a header that is not JSON names no keys
  }
  const batchRows = optional(BatchHeaders.BatchRows)
  const applied = optional(BatchHeaders.Applied)
  const column = get(BatchHeaders.Column)
  return {
    seq,
    stream: get(BatchHeaders.Stream),
    loadId: Number(get(BatchHeaders.Load)),
    batch: Number(get(BatchHeaders.Batch)),
    rows: Number(get(BatchHeaders.Rows)),
    ...(batchRows !== undefined ? { batchRows } : {}),
    ...(applied !== undefined ? { applied } : {}),
    ...(keys !== undefined ? { keys } : {}),
    ...(column !== '' ? { column } : {}),
    reason: get(BatchHeaders.Reason),
    deliveries: Number(get(BatchHeaders.Deliveries)),
    time: time.toISOString()
  }
}
