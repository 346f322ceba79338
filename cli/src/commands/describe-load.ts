import type { LoadRecord } from '@sisporta/contracts'

/** One human line about a load, for `extract --wait`, `loads list` and the demo. */
export function describeLoad (load: LoadRecord): string {
  const parts = [`load ${load.id}`, `stream ${load.stream}`, load.mode, load.state]
  if (load.rows !== undefined) parts.push(`${load.rows} rows in ${load.batches ?? 0} batches`)
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
