import { setTimeout as sleep } from 'node:timers/promises'
import { type KV, type KvEntry, type NatsConnection } from 'nats'
import { loadRecordProblem, openRecordProblem, type BusNames, type LoadMode, type LoadRecord, type LoadState, type OpenRecord } from '@sisporta/contracts'
import { BusError, isRevisionConflict } from './errors.js'

/** Which state may follow which. Anything else is a bug or a race lost, and is refused. */
const NEXT: Readonly<Record<LoadState, readonly LoadState[]>> = Object.freeze({
  open: ['sealed', 'abandoned', 'discarded', 'failed'],
  sealed: ['applied', 'failed', 'discarded'],
  applied: ['reconciled', 'held', 'superseded', 'failed', 'discarded'],
  held: ['approved', 'discarded', 'superseded'],
  approved: ['reconciled', 'superseded', 'failed'],
  reconciled: [],
  failed: [],
  abandoned: [],
  discarded: [],
  superseded: []
})

export function canTransition (from: LoadState, to: LoadState): boolean {
  return NEXT[from].includes(to)
}

export interface LoadEntry {
  readonly load: LoadRecord
  /** KV revision, for compare-and-set. */
  readonly revision: number
}

/**
 * What the registry can say about one load, once its record has been checked:
 * - `trusted`: a well-formed record under its own key, with an id the sequence handed out and
 *   the open record the gateway wrote when it opened the load;
 * - `unknown`: no record (yet), and why: none at all, or an id the sequence never reached;
 * - `untrusted`: a record that fails one of those checks — forged, corrupt, or (`retryable`)
 *   not yet explainable by what this reader sees (a replica lagging behind the sequence).
 */
export type LoadCheck =
  | { readonly status: 'trusted', readonly entry: LoadEntry }
  | { readonly status: 'unknown', readonly reason: string }
  | { readonly status: 'untrusted', readonly reason: string, readonly retryable: boolean }

export interface LoadRegistryOptions {
  /** Told about every record refused as untrusted (metrics, logs); `key` is the KV key. */
  readonly onUntrusted?: (key: string, reason: string) => void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const SEQ_KEY = 'seq'
/** Open records are immutable: this many are remembered once checked. */
const OPEN_CACHE_SIZE = 50_000
/** A watch gives a record that cannot be explained yet this many more looks before skipping it. */
const WATCH_RETRIES = 5

/** Key of a load's state record (gateway, reconciler and operators write it). */
export function loadKey (stream: string, id: number): string {
  return `load.${stream}.${id}`
}

/** Key of a load's open record (the gateway alone writes it, once). */
export function openKey (stream: string, id: number): string {
  return `open.${stream}.${id}`
}

/**
 * Key of the id of the newest load opened for a stream (the gateway alone writes it, by
 * compare-and-set): how the gateway keeps one open load per stream without listing every load.
 */
export function newestKey (stream: string): string {
  return `newest.${stream}`
}

/** What {@link LoadRegistry.claimNewest} found: the load this one replaced, or a newer one that got there first. */
export interface NewestClaim {
  /** The stream's newest load before this one: the one to abandon if it is still open. */
  readonly previous?: number
  /** A newer load of the stream claimed first (two opens racing): this one is the one to abandon. */
  readonly newer?: number
}

/**
 * The load registry: one JetStream KV entry per load (`load.<stream>.<id>`), updated only by
 * compare-and-set, so concurrent gateways and reconcilers never overwrite each other's state
 * changes. Load ids come from one sequence (`seq`), so they increase per stream (and globally).
 *
 * The bus is a trust boundary: every record read is checked before anyone acts on it. Opening a
 * load also writes an immutable open record (`open.<stream>.<id>`) under a key only the
 * gateway's NATS identity may write (deploy/nats); a load record without its open record, with an
 * id the sequence never reached, under another load's key, or malformed, is `untrusted`: it is
 * never returned as a load, so a forged `approved` record deletes nothing and a forged huge load
 * id supersedes nothing.
 *
 * @example
 * const registry = await LoadRegistry.bind(nc, busNames('sisporta'))
 * const load = await registry.openLoad({ stream: 'products', mode: 'full', openedBy: 'erp-extractor' })
 * await registry.transition('products', load.id, (l) => ({ ...l, state: 'sealed', batches: 3, rows: 2500 }))
 */
export class LoadRegistry {
  readonly #kv: KV
  readonly #options: LoadRegistryOptions
  /** Highest sequence value seen: ids up to it were handed out. */
  #seq = 0
  /** Checked open records by key (immutable, so cached). */
  readonly #opened = new Map<string, OpenRecord>()

  private constructor (kv: KV, options: LoadRegistryOptions) {
    this.#kv = kv
    this.#options = options
  }

  /** Binds to the (already provisioned) bucket. */
  static async bind (nc: NatsConnection, names: BusNames, options: LoadRegistryOptions = {}): Promise<LoadRegistry> {
    const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
    return new LoadRegistry(kv, options)
  }

  /**
   * Allocates the next load id and records the load as `open`: first its open record (the
   * gateway's proof of the authenticated open), then the load record. A crash between the two
   * leaves an open record without a load, which nothing reads.
   */
  async openLoad (input: { stream: string, mode: LoadMode, openedBy?: string, reload?: 'diff' }): Promise<LoadRecord> {
    const id = await this.#nextId()
    const now = new Date().toISOString()
    const opened: OpenRecord = { id, stream: input.stream, mode: input.mode, openedAt: now }
    if (input.openedBy !== undefined) opened.openedBy = input.openedBy
    if (input.reload !== undefined) opened.reload = input.reload
    await this.#kv.create(openKey(input.stream, id), encoder.encode(JSON.stringify(opened)))
    this.#remember(openKey(input.stream, id), opened)
    const load: LoadRecord = { id, stream: input.stream, mode: input.mode, state: 'open', openedAt: now, updatedAt: now }
    if (input.openedBy !== undefined) load.openedBy = input.openedBy
    if (input.reload !== undefined) load.reload = input.reload
    await this.#kv.create(loadKey(input.stream, id), encoder.encode(JSON.stringify(load)))
    return load
  }

  /**
   * Records load `id` as the newest load opened for `stream` (`newest.<stream>`, compare-and-set;
   * the gateway calls it right after {@link openLoad}). Every opened load is thereby either the
   * newest, or handed to exactly one opener to abandon: the `previous` of the claim that replaced
   * it, or its own opener's when a newer load claimed first (`newer`). So two extractors racing
   * end with one open load. A value no gateway could have written (not an id the sequence handed
   * out) is overwritten.
   *
   * @example
   * const { previous, newer } = await registry.claimNewest('products', 43) // { previous: 42 }
   */
  async claimNewest (stream: string, id: number): Promise<NewestClaim> {
    const key = newestKey(stream)
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = await this.#kv.get(key)
      const current = entry === null || entry.operation !== 'PUT' ? undefined : parseSeq(entry)
      const trusted = current !== undefined && await this.#issued(current) ? current : undefined
      if (trusted === id) return {}
      if (trusted !== undefined && trusted > id) return { newer: trusted }
      try {
        if (entry === null) await this.#kv.create(key, encoder.encode(String(id)))
        else await this.#kv.update(key, encoder.encode(String(id)), entry.revision)
        return trusted === undefined ? {} : { previous: trusted }
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_CONTENTION', `stream '${stream}': too many loads opened at once to record the newest`)
  }

  async #nextId (): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = await this.#kv.get(SEQ_KEY)
      try {
        if (entry === null || entry.operation !== 'PUT') {
          await this.#kv.create(SEQ_KEY, encoder.encode('1'))
          this.#seq = Math.max(this.#seq, 1)
          return 1
        }
        const current = parseSeq(entry)
        if (current === undefined) throw new BusError('SIS_BUS_SEQUENCE', `the load id sequence holds '${decoder.decode(entry.value).slice(0, 40)}', not a load id: repair the registry bucket`)
        const next = current + 1
        await this.#kv.update(SEQ_KEY, encoder.encode(String(next)), entry.revision)
        this.#seq = Math.max(this.#seq, next)
        return next
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_SEQUENCE', 'could not allocate a load id: too much contention on the sequence')
  }

  /**
   * Reads and checks one load: see {@link LoadCheck}. Never throws for what the record says;
   * only for the bus being unreachable.
   *
   * @example
   * const verdict = await registry.check('products', 42)
   * if (verdict.status === 'trusted') console.log(verdict.entry.load.state)
   */
  async check (stream: string, id: number): Promise<LoadCheck> {
    const entry = await this.#kv.get(loadKey(stream, id))
    if (entry === null || entry.operation !== 'PUT') {
      if (!(await this.#issued(id))) return { status: 'unknown', reason: `load id ${id} is above the registry's sequence (${this.#seq}): no gateway opened it` }
      return { status: 'unknown', reason: 'the registry has no such load' }
    }
    return this.#report(entry.key, await this.#verify(entry))
  }

  /**
   * A trusted load, or `undefined` when there is none; an untrusted record throws
   * `SIS_BUS_LOAD_UNTRUSTED` (nobody may act on it).
   */
  async get (stream: string, id: number): Promise<LoadEntry | undefined> {
    const verdict = await this.check(stream, id)
    if (verdict.status === 'trusted') return verdict.entry
    if (verdict.status === 'unknown') return undefined
    throw new BusError('SIS_BUS_LOAD_UNTRUSTED', `load ${id} of stream '${stream}' is not trusted: ${verdict.reason}`)
  }

  /** Finds a load by id alone (operators type `sisporta loads approve 42`). */
  async find (id: number): Promise<LoadEntry | undefined> {
    const keys: string[] = []
    for await (const key of await this.#kv.keys(`load.*.${id}`)) keys.push(key)
    const stream = keys[0]?.split('.')[1]
    return stream === undefined ? undefined : await this.get(stream, id)
  }

  /**
   * Changes a load by compare-and-set: `change` gets the current record and returns the new one
   * (or `undefined` to leave it as it is); on a lost race it is called again with the newer
   * record. A state change the lifecycle does not allow throws `SIS_BUS_LOAD_STATE`; an
   * untrusted record is never changed (`SIS_BUS_LOAD_UNTRUSTED`).
   *
   * @returns the record as stored afterwards, and whether this call changed it.
   */
  async transition (stream: string, id: number, change: (load: LoadRecord) => LoadRecord | undefined): Promise<{ load: LoadRecord, changed: boolean }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.get(stream, id)
      if (current === undefined) throw new BusError('SIS_BUS_LOAD_UNKNOWN', `load ${id} of stream '${stream}' does not exist`)
      const next = change(current.load)
      if (next === undefined) return { load: current.load, changed: false }
      if (next.state !== current.load.state && !canTransition(current.load.state, next.state)) {
        throw new BusError('SIS_BUS_LOAD_STATE', `load ${id} of stream '${stream}' is ${current.load.state}, it cannot become ${next.state}`)
      }
      if (next.id !== id || next.stream !== stream || next.mode !== current.load.mode || next.openedAt !== current.load.openedAt || next.reload !== current.load.reload) {
        throw new BusError('SIS_BUS_LOAD_STATE', `load ${id} of stream '${stream}': a change may not alter its id, stream, mode, reload or opening time`)
      }
      const stored = { ...next, updatedAt: new Date().toISOString() }
      try {
        await this.#kv.update(loadKey(stream, id), encoder.encode(JSON.stringify(stored)), current.revision)
        return { load: stored, changed: true }
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_CONTENTION', `load ${id} of stream '${stream}': too many concurrent changes`)
  }

  /** Every trusted load (of one stream, if given), oldest first; untrusted records are left out (and reported). */
  async list (filter: { stream?: string, states?: readonly LoadState[] } = {}): Promise<LoadRecord[]> {
    const keys: string[] = []
    for await (const key of await this.#kv.keys(filter.stream === undefined ? 'load.>' : `load.${filter.stream}.*`)) keys.push(key)
    const loads: LoadRecord[] = []
    for (const key of keys) {
      const entry = await this.#kv.get(key)
      if (entry === null || entry.operation !== 'PUT') continue
      const verdict = this.#report(key, await this.#verify(entry))
      if (verdict.status !== 'trusted') continue
      const load = verdict.entry.load
      if (filter.states === undefined || filter.states.includes(load.state)) loads.push(load)
    }
    return loads.sort((a, b) => a.id - b.id)
  }

  /**
   * Every trusted load's current record, then every change as it happens. The reconciler's view
   * of the world: the registry's updates are the load events. An untrusted record is skipped
   * (and reported); one that may only be early (a lagging replica) is looked at again a few times first.
   */
  async * watch (signal?: AbortSignal): AsyncGenerator<LoadRecord> {
    const iter = await this.#kv.watch({ key: 'load.>', ignoreDeletes: true })
    const stop = (): void => { iter.stop() }
    signal?.addEventListener('abort', stop, { once: true })
    try {
      for await (const entry of iter) {
        if (entry.operation !== 'PUT') continue
        let verdict = await this.#verify(entry)
        for (let retry = 0; verdict.status === 'untrusted' && verdict.retryable && retry < WATCH_RETRIES && signal?.aborted !== true; retry++) {
          await sleep(200 * (retry + 1))
          verdict = await this.#verify(entry)
        }
        this.#report(entry.key, verdict)
        if (verdict.status === 'trusted') yield verdict.entry.load
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      iter.stop()
    }
  }

  /** The checks of {@link LoadCheck} on one KV entry of a load record. */
  async #verify (entry: KvEntry): Promise<LoadCheck> {
    const key = entry.key
    const [, keyStream = '', keyId = ''] = key.split('.')
    let load: unknown
    try {
      load = JSON.parse(decoder.decode(entry.value))
    } catch {
      return untrusted('the record is not JSON', false)
    }
    const problem = loadRecordProblem(load)
    if (problem !== undefined) return untrusted(`malformed load record (${problem})`, false)
    const record = load as LoadRecord
    if (record.stream !== keyStream || String(record.id) !== keyId) {
      return untrusted(`the record under ${key} describes load ${record.id} of stream '${record.stream}'`, false)
    }
    if (!(await this.#issued(record.id))) {
      return untrusted(`load id ${record.id} is above the registry's sequence (${this.#seq}): no gateway opened it`, true)
    }
    const opened = await this.#openRecord(record.stream, record.id)
    if (typeof opened === 'string') return untrusted(opened, false)
    if (opened.mode !== record.mode || opened.openedAt !== record.openedAt) {
      return untrusted(`the record says ${record.mode} load opened at ${record.openedAt}, the gateway opened a ${opened.mode} load at ${opened.openedAt}`, false)
    }
    // the reconciler's deletes depend on it: a diffed load deletes only what its comparisons marked
    if (opened.reload !== record.reload) {
      return untrusted(`the record says reload ${record.reload ?? 'rows'}, the gateway opened the load with reload ${opened.reload ?? 'rows'}`, false)
    }
    return { status: 'trusted', entry: { load: record, revision: entry.revision } }
  }

  /** True when the sequence has reached `id` (read again only when the cached value is below it). */
  async #issued (id: number): Promise<boolean> {
    if (id <= this.#seq) return true
    const entry = await this.#kv.get(SEQ_KEY)
    const seq = entry === null || entry.operation !== 'PUT' ? undefined : parseSeq(entry)
    if (seq !== undefined) this.#seq = Math.max(this.#seq, seq)
    return id <= this.#seq
  }

  /** The checked open record of a load, or why there is none. */
  async #openRecord (stream: string, id: number): Promise<OpenRecord | string> {
    const key = openKey(stream, id)
    const cached = this.#opened.get(key)
    if (cached !== undefined) return cached
    const entry = await this.#kv.get(key)
    if (entry === null || entry.operation !== 'PUT') return 'no open record: the load did not come through the gateway\'s open path'
    let opened: unknown
    try {
      opened = JSON.parse(decoder.decode(entry.value))
    } catch {
      return 'its open record is not JSON'
    }
    const problem = openRecordProblem(opened)
    if (problem !== undefined) return `malformed open record (${problem})`
    const record = opened as OpenRecord
    if (record.stream !== stream || record.id !== id) return `the open record under ${key} describes load ${record.id} of stream '${record.stream}'`
    this.#remember(key, record)
    return record
  }

  #remember (key: string, record: OpenRecord): void {
    if (this.#opened.size >= OPEN_CACHE_SIZE) this.#opened.delete(this.#opened.keys().next().value!)
    this.#opened.set(key, record)
  }

  /** Tells `onUntrusted` about a verdict that refuses a record; returns the verdict. */
  #report (key: string, verdict: LoadCheck): LoadCheck {
    if (verdict.status === 'untrusted') this.#options.onUntrusted?.(key, verdict.reason)
    return verdict
  }
}

function untrusted (reason: string, retryable: boolean): LoadCheck {
  return { status: 'untrusted', reason, retryable }
}

function parseSeq (entry: KvEntry): number | undefined {
  const text = decoder.decode(entry.value)
  const n = Number(text)
  return /^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(n) ? n : undefined
}
