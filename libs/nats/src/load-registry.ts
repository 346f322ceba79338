import { type KV, type KvEntry, type NatsConnection } from 'nats'
import type { BusNames, LoadMode, LoadRecord, LoadState } from '@sisporta/contracts'
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

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const SEQ_KEY = 'seq'

function keyOf (stream: string, id: number): string {
  return `load.${stream}.${id}`
}

function decode (entry: KvEntry): LoadRecord {
  return JSON.parse(decoder.decode(entry.value)) as LoadRecord
}

/**
 * The load registry: one JetStream KV entry per load (`load.<stream>.<id>`), updated only by
 * compare-and-set, so concurrent gateways and reconcilers never overwrite each other's state
 * changes. Load ids come from one sequence, so they increase per stream (and globally).
 *
 * @example
 * const registry = await LoadRegistry.bind(nc, busNames('sisporta'))
 * const load = await registry.openLoad({ stream: 'products', mode: 'full', openedBy: 'erp-extractor' })
 * await registry.transition('products', load.id, (l) => ({ ...l, state: 'sealed', batches: 3, rows: 2500 }))
 */
export class LoadRegistry {
  readonly #kv: KV

  private constructor (kv: KV) {
    this.#kv = kv
  }

  /** Binds to the (already provisioned) bucket. */
  static async bind (nc: NatsConnection, names: BusNames): Promise<LoadRegistry> {
    const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
    return new LoadRegistry(kv)
  }

  /** Allocates the next load id and records the load as `open`. */
  async openLoad (input: { stream: string, mode: LoadMode, openedBy?: string }): Promise<LoadRecord> {
    const id = await this.#nextId()
    const now = new Date().toISOString()
    const load: LoadRecord = { id, stream: input.stream, mode: input.mode, state: 'open', openedAt: now, updatedAt: now }
    if (input.openedBy !== undefined) load.openedBy = input.openedBy
    await this.#kv.create(keyOf(input.stream, id), encoder.encode(JSON.stringify(load)))
    return load
  }

  async #nextId (): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = await this.#kv.get(SEQ_KEY)
      try {
        if (entry === null || entry.operation !== 'PUT') {
          await this.#kv.create(SEQ_KEY, encoder.encode('1'))
          return 1
        }
        const next = Number(decoder.decode(entry.value)) + 1
        await this.#kv.update(SEQ_KEY, encoder.encode(String(next)), entry.revision)
        return next
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_SEQUENCE', 'could not allocate a load id: too much contention on the sequence')
  }

  async get (stream: string, id: number): Promise<LoadEntry | undefined> {
    const entry = await this.#kv.get(keyOf(stream, id))
    if (entry === null || entry.operation !== 'PUT') return undefined
    return { load: decode(entry), revision: entry.revision }
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
   * record. A state change the lifecycle does not allow throws `SIS_BUS_LOAD_STATE`.
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
      const stored = { ...next, updatedAt: new Date().toISOString() }
      try {
        await this.#kv.update(keyOf(stream, id), encoder.encode(JSON.stringify(stored)), current.revision)
        return { load: stored, changed: true }
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_CONTENTION', `load ${id} of stream '${stream}': too many concurrent changes`)
  }

  /** Every load (of one stream, if given), oldest first. */
  async list (filter: { stream?: string, states?: readonly LoadState[] } = {}): Promise<LoadRecord[]> {
    const keys: string[] = []
    for await (const key of await this.#kv.keys(filter.stream === undefined ? 'load.>' : `load.${filter.stream}.*`)) keys.push(key)
    const loads: LoadRecord[] = []
    for (const key of keys) {
      const entry = await this.#kv.get(key)
      if (entry === null || entry.operation !== 'PUT') continue
      const load = decode(entry)
      if (filter.states === undefined || filter.states.includes(load.state)) loads.push(load)
    }
    return loads.sort((a, b) => a.id - b.id)
  }

  /**
   * Every load's current record, then every change as it happens. The reconciler's view of
   * the world: the registry's updates are the load events.
   */
  async * watch (signal?: AbortSignal): AsyncGenerator<LoadRecord> {
    const iter = await this.#kv.watch({ key: 'load.>', ignoreDeletes: true })
    const stop = (): void => { iter.stop() }
    signal?.addEventListener('abort', stop, { once: true })
    try {
      for await (const entry of iter) {
        if (entry.operation === 'PUT') yield decode(entry)
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      iter.stop()
    }
  }
}
