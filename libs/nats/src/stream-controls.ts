import { type KV, type KvEntry, type NatsConnection } from 'nats'
import { MAX_CONTROL_BY, MAX_PAUSE_REASON, STREAM_NAME_PATTERN, streamControlProblem, verifyReportProblem, type BusNames, type StreamControl, type SyncRequest, type VerifyReportRecord } from '@sisporta/contracts'
import { BusError, isRevisionConflict } from './errors.js'
import { newestKey } from './load-registry.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const SEQ_KEY = 'seq'

/** Key of a stream's control record (operators write it; the gateway reads it). */
export function controlKey (stream: string): string {
  return `control.${stream}`
}

/** Key of a stream's latest verify report (the gateway writes it; operators read it). */
export function verifyReportKey (stream: string): string {
  return `verify.${stream}`
}

/**
 * A stream's controls as a reader acts on them. `malformed` says why the stored record could not
 * be read: such a stream is treated as **paused** (fail-safe: only the operator's identity may
 * write `control.*`, so a bad record is corruption or tampering, and a pause only stops new
 * loads — it never deletes anything — while acting on a half-read "resumed" could load a stream
 * an operator stopped on purpose). `sisporta streams resume NAME` (or `pause`) rewrites it.
 */
export type StreamControlState = StreamControl & { readonly malformed?: string }

/** What a change did: the record as stored afterwards, and whether this call changed it. */
export interface ControlChange {
  readonly control: StreamControlState
  readonly changed: boolean
}

export interface StreamControlsOptions {
  /** Told about every malformed control record read (logs: warn); `key` is the KV key. */
  readonly onMalformed?: (key: string, problem: string) => void
}

/**
 * Pause / resume and "sync now" per stream, kept in the load registry bucket under
 * `control.<stream>` (see `StreamControlSchema`), every change by compare-and-set so that two
 * operators (CLI, console) never overwrite each other.
 *
 * @example
 * const controls = await StreamControls.bind(nc, busNames('sisporta'))
 * await controls.pause('products', { by: 'alice', reason: 'ERP maintenance until 14:00' })
 * const c = await controls.get('products')   // { stream: 'products', paused: true, pausedBy: 'alice', … }
 * await controls.resume('products', { by: 'alice' })
 * await controls.requestSync('products', { by: 'alice' })
 */
export class StreamControls {
  readonly #kv: KV
  readonly #options: StreamControlsOptions

  private constructor (kv: KV, options: StreamControlsOptions) {
    this.#kv = kv
    this.#options = options
  }

  /** Binds to the (already provisioned) registry bucket. */
  static async bind (nc: NatsConnection, names: BusNames, options: StreamControlsOptions = {}): Promise<StreamControls> {
    const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
    return new StreamControls(kv, options)
  }

  /**
   * The stream's controls: `{ stream, paused: false }` when it has no record; a malformed
   * record is reported (`onMalformed`) and read as paused (see {@link StreamControlState}).
   * One KV get.
   *
   * @example
   * if ((await controls.get('products')).paused) throw new Error(describePause(control))
   */
  async get (stream: string): Promise<StreamControlState> {
    checkStream(stream)
    const { control } = await this.#read(stream)
    return control
  }

  /** Every stream that has a control record, by name (one listing of `control.*` keys, then a get each). */
  async list (): Promise<StreamControlState[]> {
    const streams: string[] = []
    for await (const key of await this.#kv.keys(controlKey('*'))) streams.push(key.slice('control.'.length))
    const controls = await Promise.all(streams.filter((s) => STREAM_NAME_PATTERN.test(s)).map(async (s) => (await this.#read(s)).control))
    return controls.sort((a, b) => a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0)
  }

  /**
   * Pauses a stream: the gateway opens no new load of it until it is resumed; a load already
   * open finishes. Pausing a paused stream changes nothing (`changed: false`: who paused it and
   * why stay as they were). A malformed record is replaced.
   */
  async pause (stream: string, input: { by: string, reason?: string | undefined }): Promise<ControlChange> {
    const by = checkBy(input.by)
    const reason = input.reason === undefined || input.reason.trim() === '' ? undefined : input.reason.trim()
    if (reason !== undefined && reason.length > MAX_PAUSE_REASON) throw new BusError('SIS_BUS_CONTROL_INVALID', `the pause reason is ${reason.length} characters long; at most ${MAX_PAUSE_REASON}`, { exitCode: 2 })
    return await this.#change(stream, (current) => {
      if (current !== undefined && current.paused) return undefined
      const next: StreamControl = { ...withoutPauseFields(current ?? { stream, paused: false }), paused: true, pausedBy: by, pausedAt: new Date().toISOString() }
      if (reason !== undefined) next.reason = reason
      return next
    })
  }

  /** Lifts a pause (a stream that is not paused stays as it is: `changed: false`). A malformed record is replaced. */
  async resume (stream: string, input: { by: string }): Promise<ControlChange> {
    const by = checkBy(input.by)
    return await this.#change(stream, (current, malformed) => {
      if (malformed === undefined && (current === undefined || !current.paused)) return undefined
      return { ...withoutPauseFields(current ?? { stream, paused: false }), paused: false, resumedBy: by, resumedAt: new Date().toISOString() }
    })
  }

  /**
   * Asks for a load of the stream now ("sync now"): it stays pending until the stream has a load
   * opened after it (see {@link pendingSync}); a newer request replaces an older one. A paused
   * stream keeps its request until it is resumed. Refused (`SIS_BUS_CONTROL_MALFORMED`) on a
   * malformed record: pause or resume the stream first, which rewrites it.
   */
  async requestSync (stream: string, input: { by: string }): Promise<ControlChange> {
    const by = checkBy(input.by)
    // the sequence before the request: every load opened from now on has a higher id
    const afterLoad = await this.#sequence() ?? 0
    return await this.#change(stream, (current, malformed) => {
      if (malformed !== undefined) {
        throw new BusError('SIS_BUS_CONTROL_MALFORMED', `the control record of stream '${stream}' is malformed (${malformed}): run \`sisporta streams resume ${stream}\` or \`pause ${stream}\` to rewrite it, then ask again`)
      }
      return { ...(current ?? { stream, paused: false }), syncRequestedAt: new Date().toISOString(), syncRequestedBy: by, syncAfterLoad: afterLoad }
    })
  }

  /**
   * The stream's pending "sync now" request, paused or not, or `undefined`: pending while the
   * stream's newest load (`newest.<stream>`, which only the gateway writes) has an id at or below
   * the sequence at the time of the request. A newest id above the sequence was never handed
   * out by a gateway and is ignored.
   *
   * @example
   * await controls.pendingSync('products') // { stream: 'products', requestedAt: '2026-…', requestedBy: 'alice' }
   */
  async pendingSync (stream: string, known?: StreamControlState): Promise<SyncRequest | undefined> {
    const control = known ?? await this.get(stream)
    if (control.malformed !== undefined || control.syncRequestedAt === undefined || control.syncRequestedBy === undefined || control.syncAfterLoad === undefined) return undefined
    const newest = await this.#newest(stream)
    if (newest !== undefined && newest > control.syncAfterLoad) return undefined
    return { stream, requestedAt: control.syncRequestedAt, requestedBy: control.syncRequestedBy }
  }

  /**
   * Asks the extractor daemon to verify the stream now (the comparison of `sisporta verify`; it
   * writes nothing to the target): pending until the gateway stores a report for it (see
   * {@link pendingVerify}); a newer request replaces an older one. Refused
   * (`SIS_BUS_CONTROL_MALFORMED`) on a malformed record, as a sync request is.
   */
  async requestVerify (stream: string, input: { by: string }): Promise<ControlChange> {
    const by = checkBy(input.by)
    return await this.#change(stream, (current, malformed) => {
      if (malformed !== undefined) {
        throw new BusError('SIS_BUS_CONTROL_MALFORMED', `the control record of stream '${stream}' is malformed (${malformed}): run \`sisporta streams resume ${stream}\` or \`pause ${stream}\` to rewrite it, then ask again`)
      }
      return { ...(current ?? { stream, paused: false }), verifyRequestedAt: new Date().toISOString(), verifyRequestedBy: by }
    })
  }

  /**
   * The stream's pending verify request (`kind: 'verify'`), paused or not, or `undefined`:
   * pending while the stream's stored report (`verify.<stream>`) does not answer it — its
   * `requestedAt` is not the request's `verifyRequestedAt`. Strings compared, no clock.
   */
  async pendingVerify (stream: string, known?: StreamControlState): Promise<SyncRequest | undefined> {
    const control = known ?? await this.get(stream)
    if (control.malformed !== undefined || control.verifyRequestedAt === undefined || control.verifyRequestedBy === undefined) return undefined
    const report = await this.verifyReport(stream)
    if (report !== undefined && report.requestedAt === control.verifyRequestedAt) return undefined
    return { stream, kind: 'verify', requestedAt: control.verifyRequestedAt, requestedBy: control.verifyRequestedBy }
  }

  /**
   * The stream's latest verify report, or `undefined` when there is none or it is malformed
   * (reported through `onMalformed`: a request it should answer then stays pending). One KV get.
   */
  async verifyReport (stream: string): Promise<VerifyReportRecord | undefined> {
    checkStream(stream)
    const key = verifyReportKey(stream)
    const entry = await this.#kv.get(key)
    if (entry === null || entry.operation !== 'PUT') return undefined
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(entry.value))
    } catch {
      this.#options.onMalformed?.(key, 'not JSON')
      return undefined
    }
    const problem = verifyReportProblem(value) ?? ((value as VerifyReportRecord).stream === stream ? undefined : `the record under ${key} is about stream '${(value as VerifyReportRecord).stream}'`)
    if (problem === undefined) return value as VerifyReportRecord
    this.#options.onMalformed?.(key, problem)
    return undefined
  }

  /**
   * Stores a verify report as the stream's latest (the gateway does, for a pending request only:
   * its NATS identity may write `verify.>` and nothing else of the operators'). Checked first.
   */
  async storeVerifyReport (report: VerifyReportRecord): Promise<void> {
    checkStream(report.stream)
    const problem = verifyReportProblem(report)
    if (problem !== undefined) throw new BusError('SIS_BUS_CONTROL_INVALID', `the verify report of stream '${report.stream}' is malformed (${problem})`)
    await this.#kv.put(verifyReportKey(report.stream), encoder.encode(JSON.stringify(report)))
  }

  /**
   * The requests an extractor should serve now, among `streams`: pending and not paused (a paused
   * stream's request waits for its resume). Loads only (no `kind`, as before verify requests),
   * unless `verify`: then pending verify requests too (`kind: 'verify'`), after the stream's load. One KV get per stream, and two more per stream with
   * a request — never a listing, which the gateway's NATS identity may not do.
   */
  async syncRequestsToServe (streams: readonly string[], options: { verify?: boolean } = {}): Promise<SyncRequest[]> {
    const found = await Promise.all(streams.map(async (stream) => {
      const control = await this.get(stream)
      if (control.paused) return []
      const load = control.syncRequestedAt === undefined ? undefined : await this.pendingSync(stream, control)
      const verify = options.verify !== true || control.verifyRequestedAt === undefined ? undefined : await this.pendingVerify(stream, control)
      return [load === undefined || options.verify !== true ? load : { ...load, kind: 'load' as const }, verify]
    }))
    return found.flat().filter((r): r is SyncRequest => r !== undefined)
  }

  /** The stored record, checked, and the KV entry it came from (`null`: the key was never written). */
  async #read (stream: string): Promise<{ control: StreamControlState, entry: KvEntry | null }> {
    const key = controlKey(stream)
    const entry = await this.#kv.get(key)
    if (entry === null || entry.operation !== 'PUT') return { control: { stream, paused: false }, entry }
    const problem = recordProblem(stream, entry)
    if (problem === undefined) return { control: JSON.parse(decoder.decode(entry.value)) as StreamControl, entry }
    this.#options.onMalformed?.(key, problem)
    return { control: { stream, paused: true, malformed: problem }, entry }
  }

  /**
   * Compare-and-set: `change` gets the well-formed current record (`undefined` when there is
   * none, or it is malformed, with the problem), and returns the new one or `undefined` for no change.
   */
  async #change (stream: string, change: (current: StreamControl | undefined, malformed: string | undefined) => StreamControl | undefined): Promise<ControlChange> {
    checkStream(stream)
    for (let attempt = 0; attempt < 50; attempt++) {
      const { control, entry } = await this.#read(stream)
      const current = entry === null || entry.operation !== 'PUT' || control.malformed !== undefined ? undefined : control
      const next = change(current, control.malformed)
      if (next === undefined) return { control, changed: false }
      const problem = streamControlProblem(next)
      if (problem !== undefined) throw new BusError('SIS_BUS_CONTROL_INVALID', `stream '${stream}': the control record would be malformed (${problem})`, { exitCode: 2 })
      try {
        // a deleted key's marker has a revision too: update on it, create only on a key never written
        if (entry === null) await this.#kv.create(controlKey(stream), encoder.encode(JSON.stringify(next)))
        else await this.#kv.update(controlKey(stream), encoder.encode(JSON.stringify(next)), entry.revision)
        return { control: next, changed: true }
      } catch (err) {
        if (!isRevisionConflict(err)) throw err
      }
    }
    throw new BusError('SIS_BUS_CONTENTION', `stream '${stream}': its controls changed concurrently too many times; retry`)
  }

  /** The registry's load id sequence, or `undefined` before the first load. */
  async #sequence (): Promise<number | undefined> {
    const entry = await this.#kv.get(SEQ_KEY)
    return entry === null || entry.operation !== 'PUT' ? undefined : parseId(decoder.decode(entry.value))
  }

  /** The id of the stream's newest load, when the sequence vouches for it. */
  async #newest (stream: string): Promise<number | undefined> {
    const entry = await this.#kv.get(newestKey(stream))
    const id = entry === null || entry.operation !== 'PUT' ? undefined : parseId(decoder.decode(entry.value))
    if (id === undefined) return undefined
    const seq = await this.#sequence()
    return seq !== undefined && id <= seq ? id : undefined
  }
}

/**
 * The refusal an operator or extractor reads: who paused the stream, when, why, and how to resume it.
 *
 * @example
 * describePause({ stream: 'products', paused: true, pausedBy: 'alice', pausedAt: '2026-12-02T10:00:00.000Z', reason: 'ERP upgrade' })
 * // "stream 'products' is paused (by alice at 2026-12-02T10:00:00.000Z: ERP upgrade): no new load opens until `sisporta streams resume products`"
 */
export function describePause (control: StreamControlState): string {
  const resume = `\`sisporta streams resume ${control.stream}\``
  if (control.malformed !== undefined) {
    return `stream '${control.stream}' is treated as paused: its control record (${controlKey(control.stream)} in the registry) is malformed (${control.malformed}); check who wrote it, then ${resume} rewrites it`
  }
  const why = control.reason === undefined ? '' : `: ${control.reason}`
  return `stream '${control.stream}' is paused (by ${control.pausedBy ?? '?'} at ${control.pausedAt ?? '?'}${why}): no new load opens until ${resume}`
}

function recordProblem (stream: string, entry: KvEntry): string | undefined {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(entry.value))
  } catch {
    return 'not JSON'
  }
  const problem = streamControlProblem(value)
  if (problem !== undefined) return problem
  const named = (value as StreamControl).stream
  return named === stream ? undefined : `the record under ${entry.key} is about stream '${named}'`
}

function withoutPauseFields (control: StreamControl): StreamControl {
  const { pausedBy: _by, pausedAt: _at, reason: _reason, resumedBy: _rby, resumedAt: _rat, ...rest } = control
  return rest
}

function checkStream (stream: string): void {
  if (!STREAM_NAME_PATTERN.test(stream)) throw new BusError('SIS_BUS_CONTROL_INVALID', `'${stream.slice(0, 80)}' is not a stream name (${String(STREAM_NAME_PATTERN)})`, { exitCode: 2 })
}

function checkBy (by: string): string {
  const trimmed = by.trim()
  if (trimmed === '' || trimmed.length > MAX_CONTROL_BY) throw new BusError('SIS_BUS_CONTROL_INVALID', `who acts must be named in 1 to ${MAX_CONTROL_BY} characters`, { exitCode: 2 })
  return trimmed
}

function parseId (text: string): number | undefined {
  const n = Number(text)
  return /^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(n) ? n : undefined
}
