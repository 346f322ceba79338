/**
 * `fraction: truncate` on a SQL Server datetime2(7) / datetimeoffset(7) column read as `datetime`:
 * the 7th fractional digit (100 ns) that the wire's microseconds cannot carry is cut from the
 * text SQL Server wrote, never rounded (`sqlDateTimeToWireTruncated`). The rows handed out whose
 * cut digit was not zero are counted per stream and column, and logged once when the load's last
 * page has been read; their total per load goes into the load record (`LoadFractionCounts`).
 */
import type { StreamConfig } from '@sisporta/contracts'
import type { SourceLogger, WireRow } from '../source-dialect.js'

/** Values of one column whose non-zero 7th digit was cut, since the stream was described or last reported. */
export interface TruncatedFractions {
  count: number
}

type Tallies = readonly (TruncatedFractions | undefined)[]

/** One tally per stream column: a fresh one for each `fraction: truncate` datetime column, undefined for the others. */
export function createFractionTallies (stream: StreamConfig): Tallies {
  return stream.columns.map((c) => c.type === 'datetime' && c.fraction === 'truncate' ? { count: 0 } : undefined)
}

/**
 * The driver's rows (before conversion, as `CONVERT(varchar(27), …, 121)` wrote them) whose
 * `fraction: truncate` columns have a non-zero 7th fractional digit, with those columns' indexes;
 * undefined when the stream has no such column. Rows are converted in place and a page hands out
 * some of them (a page starting at the previous page's last key drops that row, read again), so
 * they are counted by identity once the page is final (`countCutFractions`).
 */
export function findCutFractions (raw: readonly unknown[][], tallies: Tallies): Map<unknown[], number[]> | undefined {
  let found: Map<unknown[], number[]> | undefined
  tallies.forEach((tally, c) => {
    if (tally === undefined) return
    found ??= new Map()
    for (const row of raw) {
      const v = row[c]
      if (typeof v === 'string' && v.length === 27 && v.charCodeAt(19) === 46 /* . */ && v.charCodeAt(26) !== 48 /* 0 */) {
        const columns = found.get(row)
        if (columns === undefined) found.set(row, [c])
        else columns.push(c)
      }
    }
  })
  return found
}

/**
 * Adds the cut digits of the rows a page hands out (the same row arrays `findCutFractions` saw) to the tallies.
 *
 * @returns how many values of these rows were cut (what the page adds to the load's count).
 */
export function countCutFractions (rows: readonly WireRow[], cut: ReadonlyMap<unknown[], readonly number[]>, tallies: Tallies): number {
  let added = 0
  if (cut.size === 0) return added
  for (const row of rows) {
    for (const c of cut.get(row) ?? []) {
      tallies[c]!.count++
      added++
    }
  }
  return added
}

/**
 * The values cut per stream over its current load, all columns together: what the extractor
 * puts in the seal (`SourceDialect.valuesChanged`, the load record's `truncatedFractions`).
 * Kept apart from the per-column tallies, which live with the prepared stream and are dropped
 * when a failed read makes the dialect describe the stream again mid-load.
 *
 * @example
 * const counts = new LoadFractionCounts()
 * counts.start(stream)      // describe, or a load's first page
 * counts.add(stream, 3)     // a page handed out 3 cut values
 * counts.of(stream)         // 3
 */
export class LoadFractionCounts {
  readonly #counts = new WeakMap<StreamConfig, number>()

  /** A new load of the stream: counts from zero. */
  start (stream: StreamConfig): void {
    this.#counts.set(stream, 0)
  }

  add (stream: StreamConfig, cut: number): void {
    if (cut !== 0) this.#counts.set(stream, this.of(stream) + cut)
  }

  /** Sets the count back, e.g. to what it was before a page that failed half-way and will be read again. */
  set (stream: StreamConfig, count: number): void {
    this.#counts.set(stream, count)
  }

  /** Values cut since the stream's load started; 0 for a stream never read. */
  of (stream: StreamConfig): number {
    return this.#counts.get(stream) ?? 0
  }
}

/**
 * Logs the load's counts (a warning naming stream, column and count when a value was cut; a debug
 * line when none was) and starts them again from zero. Call once, after the last page of a load.
 */
export function reportTruncatedFractions (stream: StreamConfig, tallies: Tallies, log: SourceLogger | undefined): void {
  tallies.forEach((tally, i) => {
    if (tally === undefined) return
    const column = stream.columns[i]!
    const fields = { stream: stream.name, column: column.name, from: column.from, truncated: tally.count }
    if (tally.count > 0) {
      log?.warn(fields, `stream '${stream.name}', column '${column.name}' (from ${column.from}): ${tally.count} value${tally.count === 1 ? '' : 's'} had a non-zero 7th fractional digit (100 ns), cut to the microsecond as fraction: truncate asks`)
    } else {
      log?.debug(fields, `stream '${stream.name}', column '${column.name}': no non-zero 7th fractional digit to cut in this load`)
    }
    tally.count = 0
  })
}
