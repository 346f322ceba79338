import type { LoadRecord, StreamConfig } from '@sisporta/contracts'
import type { ForeignKeyFailure } from '@sisporta/db'
import type { Logger } from '@sisporta/observability'
import type { ReconcileDeps } from './deps.js'
import { moveLoad } from './move-load.js'

/**
 * Deletes a foreign key refuses: rows a full load would delete that child rows still refer to.
 *
 * When the ERP deletes a parent row (an album) with its children (its tracks), the parent's full
 * load is applied first (the extractor daemon loads parents before children) and its delete is
 * refused while the target's child rows still refer to the parent. The children's own full load,
 * once reconciled, deletes them; then the parent's delete goes through. So a refused delete waits
 * — the load stays `applied` (or `approved`) with a reason saying for which stream — as long as a
 * stream mirroring the child table has not yet reconciled a full load newer than this one. Once
 * each has (their deletes went first) and the rows are still referenced, waiting would be
 * forever: the load is `held` (or, approved, `failed`) with a reason naming the constraint.
 * Child tables no stream mirrors (the application's own) are never waited for.
 */

/** Per registry (so per deployment, in tests too): loads waiting for child streams, `stream.id` → their names. */
const waiting = new WeakMap<object, Map<string, readonly string[]>>()

function waitsOf (deps: ReconcileDeps): Map<string, readonly string[]> {
  let map = waiting.get(deps.registry)
  if (map === undefined) {
    map = new Map()
    waiting.set(deps.registry, map)
  }
  return map
}

/** Streams whose target is the child table of the refusal (any case: MySQL may fold it), or else the declared dependents. */
function childStreams (deps: ReconcileDeps, stream: StreamConfig, fk: ForeignKeyFailure): StreamConfig[] {
  const others = deps.config.streams.filter((s) => s.name !== stream.name)
  if (fk.childTable === undefined) return others.filter((s) => s.dependsOn?.includes(stream.name) === true)
  return others.filter((s) => s.target.table.toLowerCase() === fk.childTable!.toLowerCase())
}

/** The id of the newest reconciled full load of `stream`, or 0. */
async function newestReconciled (deps: ReconcileDeps, stream: string): Promise<number> {
  if (deps.findReconciledLoad !== undefined) return (await deps.findReconciledLoad(stream))?.id ?? 0
  const loads = await deps.registry.list({ stream, states: ['reconciled'] })
  return loads.filter((l) => l.mode === 'full').at(-1)?.id ?? 0
}

/** The child streams that have not reconciled a full load newer than `load`: their deletes may still remove the references. */
async function pendingChildren (deps: ReconcileDeps, load: LoadRecord, children: readonly string[]): Promise<string[]> {
  const pending: string[] = []
  for (const child of children) if (await newestReconciled(deps, child) <= load.id) pending.push(child)
  return pending
}

const quoted = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ')

function constraintText (fk: ForeignKeyFailure): string {
  return fk.constraint === undefined ? fk.description : `constraint '${fk.constraint}' of table '${fk.childTable ?? '?'}': ${fk.description}`
}

/**
 * True while `load` waits for child streams after a refused delete (and none of them has
 * reconciled a newer full load since): nothing to try yet, so no counting and no delete.
 */
export async function waitsForChildren (deps: ReconcileDeps, load: LoadRecord): Promise<boolean> {
  const key = `${load.stream}.${load.id}`
  const children = waitsOf(deps).get(key)
  if (children === undefined) return false
  if ((await pendingChildren(deps, load, children)).length === children.length) return true
  waitsOf(deps).delete(key)
  return false
}

/**
 * What a reconciled load says when its deletes had to wait for child streams (its record
 * carries the waiting reason until then), or nothing.
 */
export function afterWaiting (load: LoadRecord): { reason?: string } {
  return load.reason?.startsWith(WAITING) === true ? { reason: `deletes done after ${load.reason}` } : {}
}

const WAITING = 'waiting for '

/**
 * Decides about a load whose delete a foreign key refused: wait for the child streams (the
 * record's reason says so), or hold it (`applied`) / fail it (`approved`) naming the constraint.
 *
 * @returns the load as changed, or `undefined` when it waits or changed meanwhile.
 */
export async function onReferencedRows (deps: ReconcileDeps, load: LoadRecord, stream: StreamConfig, fk: ForeignKeyFailure, deletedRows: number, log: Logger): Promise<LoadRecord | undefined> {
  const children = childStreams(deps, stream, fk).map((s) => s.name)
  const pending = await pendingChildren(deps, load, children)
  const key = `${load.stream}.${load.id}`
  if (pending.length > 0) {
    waitsOf(deps).set(key, pending)
    const reason = `${WAITING}stream${pending.length > 1 ? 's' : ''} ${quoted(pending)} to reconcile a full load newer than this one, whose deletes go first: ` +
      `rows this load deletes are still referred to (${constraintText(fk)})`
    if (load.reason !== reason) {
      // same state, new reason: what `sisporta loads show` tells the operator meanwhile
      await deps.registry.transition(load.stream, load.id, (current) => current.state === load.state ? { ...current, reason } : undefined)
      log.info({ waitingFor: pending, constraint: fk.constraint, deletedRows }, 'deletes refused by a foreign key: waiting for the child streams\' deletes')
    }
    return undefined
  }
  waitsOf(deps).delete(key)
  const after = children.length > 0
    ? `even after stream${children.length > 1 ? 's' : ''} ${quoted(children)} reconciled a newer full load (the source still has child rows of rows it deleted, or that stream keeps deleted rows: deletes soft or none)`
    : 'by a table no stream of this config mirrors (delete those rows there, or give the constraint ON DELETE CASCADE / SET NULL)'
  const reason = `cannot delete: rows this load deletes are still referred to (${constraintText(fk)}), ${after}; ` +
    (load.state === 'applied'
      ? `${deletedRows > 0 ? `${deletedRows} rows deleted so far; ` : ''}approve with \`sisporta loads approve ${load.id}\` once they are gone, or discard with \`sisporta loads discard ${load.id}\``
      : `${deletedRows} rows deleted; the next full load tries again`)
  return await moveLoad(deps, load, load.state === 'applied' ? 'held' : 'failed', { reason, deletedRows }, log)
}
