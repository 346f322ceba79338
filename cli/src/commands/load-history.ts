import { LOAD_STATES, isSuccessfulLoad, loadEndedAt, type LoadRecord, type LoadState } from '@sisporta/contracts'
import { UsageError } from '../usage-error.js'

/** How many loads `loads list` shows unless `--limit` says otherwise. */
export const DEFAULT_LIST_LIMIT = 20

/** What `loads list` keeps: states, since when, how many (the newest), which stream. */
export interface LoadFilter {
  readonly states?: readonly LoadState[] | undefined
  /** Loads opened at or after this time (ms since the epoch). */
  readonly since?: number | undefined
  readonly limit: number
  readonly stream?: string | undefined
}

/**
 * `--state` values, repeated or comma-separated, checked against the lifecycle's states.
 *
 * @example
 * parseStates(['failed,abandoned', 'held']) // ['failed', 'abandoned', 'held']
 */
export function parseStates (raw: readonly string[] | undefined): LoadState[] | undefined {
  if (raw === undefined || raw.length === 0) return undefined
  const states = raw.flatMap((r) => r.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  for (const state of states) {
    if (!(LOAD_STATES as readonly string[]).includes(state)) throw new UsageError(`loads list: --state '${state}' is not a load state (one of ${LOAD_STATES.join(', ')})`)
  }
  return [...new Set(states)] as LoadState[]
}

const AGO = /^([1-9][0-9]{0,6})(m|h|d|w)$/
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const

/**
 * `--since`: a duration back from `now` (`90m`, `24h`, `7d`, `2w`) or an ISO date or date-time
 * (`2026-11-30`, `2026-11-30T08:00:00Z`); returns ms since the epoch.
 *
 * @example
 * parseSince('24h', Date.parse('2026-12-02T00:00:00Z')) // Date.parse('2026-12-01T00:00:00Z')
 */
export function parseSince (raw: string | undefined, now: number): number | undefined {
  if (raw === undefined) return undefined
  const m = AGO.exec(raw)
  if (m !== null) return now - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : NaN
  if (!Number.isFinite(at)) throw new UsageError(`loads list: --since '${raw}' must be a duration back from now (90m, 24h, 7d, 2w) or an ISO date (2026-11-30, 2026-11-30T08:00:00Z)`)
  return at
}

/**
 * `--limit`: a whole number of at least 1 (default {@link DEFAULT_LIST_LIMIT}).
 *
 * @example
 * parseLimit('5') // 5
 */
export function parseLimit (raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIST_LIMIT
  const n = Number(raw)
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`loads list: --limit '${raw}' must be a whole number of at least 1`)
  return n
}

/**
 * The loads `loads list` shows: those of the stream and states asked for, opened at or after
 * `since`, the newest `limit` of them, oldest first (the registry's order).
 *
 * @example
 * filterLoads(await registry.list(), { states: ['failed'], since: Date.now() - 86_400_000, limit: 20 })
 */
export function filterLoads (loads: readonly LoadRecord[], filter: LoadFilter): LoadRecord[] {
  const kept = loads.filter((load) =>
    (filter.stream === undefined || load.stream === filter.stream) &&
    (filter.states === undefined || filter.states.includes(load.state)) &&
    (filter.since === undefined || Date.parse(load.openedAt) >= filter.since))
  return [...kept].sort((a, b) => a.id - b.id).slice(-filter.limit)
}

/** A load's start, end (once final) and how long it took (or has been running, at `now`). */
export interface LoadTiming {
  readonly startedAt: string
  readonly endedAt: string | undefined
  readonly durationMs: number
}

/**
 * @example
 * loadTiming(load, Date.now()) // { startedAt: '…', endedAt: '…', durationMs: 8123 }
 */
export function loadTiming (load: LoadRecord, now: number): LoadTiming {
  const endedAt = loadEndedAt(load)
  const end = endedAt === undefined ? now : Date.parse(endedAt)
  return { startedAt: load.openedAt, endedAt, durationMs: Math.max(0, end - Date.parse(load.openedAt)) }
}

/**
 * A duration for people: `850ms`, `12s`, `3m 05s`, `3h 12m`, `2d 4h`.
 *
 * @example
 * formatDuration(11_520_000) // '3h 12m'
 */
export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/**
 * A stream's last success: the newest load that reached the end its mode aims for (a reconciled
 * full load, an applied incremental one), when it ended and how long ago.
 *
 * @example
 * lastSuccess(loads, Date.now()) // { load, at: '2026-12-02T07:31:00.000Z', ageMs: 11_520_000, age: '3h 12m ago' }
 */
export function lastSuccess (loads: readonly LoadRecord[], now: number): { load: LoadRecord, at: string, ageMs: number, age: string } | undefined {
  let newest: LoadRecord | undefined
  for (const load of loads) if (isSuccessfulLoad(load) && (newest === undefined || load.id > newest.id)) newest = load
  if (newest === undefined) return undefined
  const at = loadEndedAt(newest) ?? newest.updatedAt
  const ageMs = Math.max(0, now - Date.parse(at))
  return { load: newest, at, ageMs, age: `${formatDuration(ageMs)} ago` }
}
