import type { LoadRecord } from '@sisporta/contracts'

/**
 * One human line about a load, for `extract --wait`, `loads list`, `loads show` and the demo.
 *
 * @example
 * describeLoad({ id: 7, stream: 'orders', mode: 'full', state: 'sealed', rows: 120, batches: 1, truncatedFractions: 12, … })
 * // 'load 7 · stream orders · full · sealed · 120 rows in 1 batches · 12 datetime values cut to the microsecond (fraction: truncate)'
 */
export function describeLoad (load: LoadRecord): string {
  const parts = [`load ${load.id}`, `stream ${load.stream}`, load.reload === 'diff' ? `${load.mode} (diffed)` : load.mode, load.state]
  if (load.comparedRows !== undefined) parts.push(`${load.comparedRows} rows compared in ${load.comparedRanges ?? 0} ranges (${load.equalRanges ?? 0} equal)`)
  if (load.rows !== undefined) parts.push(`${load.rows} rows${load.reload === 'diff' ? ' sent' : ''} in ${load.batches ?? 0} batches`)
  if (load.truncatedFractions !== undefined && load.truncatedFractions > 0) {
    parts.push(`${load.truncatedFractions} datetime value${load.truncatedFractions === 1 ? '' : 's'} cut to the microsecond (fraction: truncate)`)
  }
  if (load.deletedRows !== undefined) parts.push(`${load.deletedRows} deleted`)
  if (load.state === 'held' && load.absentRows !== undefined) parts.push(`would delete ${load.absentRows} of ${load.tableRows ?? '?'}`)
  return parts.join(' · ')
}

/** The message `extract --wait` fails with when the delete guard holds a load. */
export function heldMessage (load: LoadRecord): string {
  const absent = load.absentRows ?? 0
  const total = load.tableRows ?? 0
  const pct = total === 0 ? '' : ` (${(100 * absent / total).toFixed(1)}%)`
  return `load ${load.id} of stream '${load.stream}' is held: it would delete ${absent} of ${total} rows${pct}, more than the stream's maxDeleteRatio allows. ` +
    `Check the source, then approve it with \`sisporta loads approve ${load.id}\` or discard it with \`sisporta loads discard ${load.id}\`.`
}
