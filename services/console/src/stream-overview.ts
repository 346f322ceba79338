import type { LoadRecord } from '@sisporta/contracts'
import type { StreamControlView } from './operations.js'

/** One row of the overview: a stream's freshness, loads, lag, dead letters and controls. */
export interface StreamOverview {
  readonly name: string
  readonly target: string
  readonly deletes: string
  /** The newest reconciled load: the data in the target is as fresh as its opening. */
  readonly lastReconciled?: { readonly id: number, readonly openedAt: string, readonly reconciledAt: string, readonly rows?: number | undefined } | undefined
  /** Seconds since the newest reconciled load was opened (`undefined`: never reconciled). */
  readonly ageSec?: number | undefined
  /** The newest load, whatever its state. */
  readonly latest?: LoadRecord | undefined
  readonly held: number
  readonly queuedBatches: number
  readonly deadLetters: number
  readonly control: StreamControlView
  /** Seconds since the last verify report was stored (`undefined`: none). */
  readonly verifyAgeSec?: number | undefined
}

export interface OverviewInput {
  readonly streams: ReadonlyArray<{ name: string, target: { table: string }, deletes: string }>
  /** Every load, any order. */
  readonly loads: readonly LoadRecord[]
  readonly controls: ReadonlyMap<string, StreamControlView>
  readonly queued: ReadonlyMap<string, number>
  readonly deadLetters: ReadonlyMap<string, number>
  readonly now: Date
}

const NOT_PAUSED: StreamControlView = { paused: false, syncPending: false }

/**
 * The overview's rows, one per configured stream, from what the bus said. Freshness is measured
 * from when the newest reconciled load was *opened* (its rows were read from the source then),
 * not from when it finished.
 *
 * @example
 * streamOverview({ streams: config.streams, loads, controls, queued, deadLetters, now: new Date() })
 */
export function streamOverview (input: OverviewInput): StreamOverview[] {
  return input.streams.map((stream) => {
    const loads = input.loads.filter((l) => l.stream === stream.name).sort((a, b) => a.id - b.id)
    const reconciled = loads.filter((l) => l.state === 'reconciled').at(-1)
    const ageSec = reconciled === undefined ? undefined : Math.max(0, Math.round((input.now.getTime() - Date.parse(reconciled.openedAt)) / 1000))
    return {
      name: stream.name,
      target: stream.target.table,
      deletes: stream.deletes,
      lastReconciled: reconciled === undefined
        ? undefined
        : { id: reconciled.id, openedAt: reconciled.openedAt, reconciledAt: reconciled.reconciledAt ?? reconciled.updatedAt, rows: rowsAfter(reconciled, stream.deletes) },
      ageSec,
      latest: loads.at(-1),
      held: loads.filter((l) => l.state === 'held').length,
      queuedBatches: input.queued.get(stream.name) ?? 0,
      deadLetters: input.deadLetters.get(stream.name) ?? 0,
      control: input.controls.get(stream.name) ?? NOT_PAUSED,
      verifyAgeSec: ageOf(input.controls.get(stream.name)?.lastVerify?.reportedAt, input.now)
    }
  })
}

function ageOf (at: string | undefined, now: Date): number | undefined {
  return at === undefined ? undefined : Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000))
}

/**
 * Live rows in the target after a reconciled load: the rows it counted, less those it deleted
 * (a soft delete keeps the row, marked).
 */
function rowsAfter (load: LoadRecord, deletes: string): number | undefined {
  if (load.tableRows === undefined) return undefined
  return deletes === 'hard' ? Math.max(0, load.tableRows - (load.deletedRows ?? 0)) : load.tableRows
}

/**
 * A duration for people: `42 s`, `5 min`, `3 h 20 min`, `2 d 4 h`.
 *
 * @example
 * humanAge(4000) // '1 h 6 min'
 */
export function humanAge (sec: number): string {
  if (sec < 90) return `${Math.round(sec)} s`
  if (sec < 3600) return `${Math.round(sec / 60)} min`
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`
  return `${Math.floor(sec / 86400)} d ${Math.round((sec % 86400) / 3600)} h`
}

/** Seconds between two ISO times, or `undefined` when one is missing. */
export function secondsBetween (from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined
  const d = (Date.parse(to) - Date.parse(from)) / 1000
  return Number.isFinite(d) ? Math.max(0, d) : undefined
}
