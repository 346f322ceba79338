import type { LoadRecord, StreamConfig } from '@sisporta/contracts'
import { findLooseKeyColumns, listIgnored } from '@sisporta/db'
import type { Logger } from '@sisporta/observability'
import { countStampedRows, missingRows, type StampedRows } from './count-stamped-rows.js'
import type { ReconcileDeps } from './deps.js'
import { ReconcilerErrorCode } from './errors.js'
import { moveLoad } from './move-load.js'

/**
 * Before a full load deletes anything — and before it is called reconciled at all — checks
 * that every row it sent is in the target (the rule of {@link missingRows}): a target key column
 * that compares loosely (`utf8mb4_unicode_ci`: 'a' = 'A'; PAD SPACE: 'a' = 'a ') merges two
 * source rows into one without any error, and so would a second unique index. Such a load
 * `failed`, with the difference explained and the likely cause, and deletes nothing.
 *
 * Rows proven missing may also mean a newer full load reconciled meanwhile (its deletes reach
 * this load's rows): asked after counting, `supersede` then makes the load `superseded`
 * instead, as it would have been a moment later anyway.
 *
 * @returns `null` when the load may go on; else its outcome (failed, superseded, or undefined when it changed meanwhile).
 *
 * @example
 * const lost = await checkRowsArrived(deps, load, stream, log, () => supersedeIfNewer(deps, load, log))
 * if (lost !== null) return lost
 */
export async function checkRowsArrived (
  deps: ReconcileDeps,
  load: LoadRecord,
  stream: StreamConfig,
  log: Logger,
  supersede: () => Promise<LoadRecord | undefined | null>
): Promise<LoadRecord | undefined | null> {
  const sent = load.appliedRows ?? load.rows ?? 0
  const stamped = await countStampedRows(deps.db, stream.target.table, load.id)
  const missing = missingRows(sent, stamped)
  if (missing === 0) {
    if (stamped.own < sent) {
      log.info({ sent, stamped: stamped.own, newerStamps: stamped.newer }, 'newer loads re-stamped rows of this load: their count cannot prove that every row arrived; going on')
    }
    return null
  }
  const superseded = await supersede()
  if (superseded !== null) return superseded
  const reason = `${difference(sent, stamped, missing)} — ${await likelyCause(deps, stream)}; nothing deleted`
  log.error({ code: ReconcilerErrorCode.RowsLost, sent, stamped: stamped.own, newerStamps: stamped.newer, missing }, reason)
  return await moveLoad(deps, load, 'failed', { reason }, log)
}

/** `the load sent 1000 rows but 998 target rows carry its stamp: 2 source rows were merged into others or lost`. */
function difference (sent: number, stamped: StampedRows, missing: number): string {
  const counted = stamped.newer === 0
    ? `${stamped.own} target row${stamped.own === 1 ? '' : 's'} carry its stamp`
    : `only ${stamped.own + stamped.newer} target rows carry its stamp or a newer load's (${stamped.own} + ${stamped.newer})`
  const lost = missing === 1 ? '1 source row was merged into another or lost' : `${missing} source rows were merged into others or lost`
  return `the load sent ${sent} rows but ${counted}: ${stamped.newer === 0 ? '' : 'at least '}${lost}`
}

/** The key columns' collations when they compare loosely, else where else to look. */
async function likelyCause (deps: ReconcileDeps, stream: StreamConfig): Promise<string> {
  const keys = stream.target.key.filter((key) => stream.columns.find((c) => c.name === key)?.type === 'string')
  const loose = await findLooseKeyColumns(deps.db, stream.target.table, keys)
  if (loose.length === 0) {
    return `the key columns (${stream.target.key.join(', ')}) compare exactly, so look for what else makes two rows one or removes rows: ` +
      'a unique index besides the primary key (an upsert then updates the row that index finds), a trigger, or rows deleted while the load was applied'
  }
  const columns = loose.map((k) => {
    const kind = k.ignores[0] === 'language rules' ? `keys its language rules treat as one (${k.example})` : `keys that differ only in ${k.ignores[0]!} (${k.example})`
    return `e.g. ${kind} under collation ${k.collation} of key column '${k.column}', which ignores ${listIgnored(k.ignores)}`
  })
  return `${columns.join('; ')}. Give the key a binary NO PAD collation (\`sisporta migrate\` prints the ALTER TABLE), then run a full load again`
}
