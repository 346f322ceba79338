import type { StreamConfig } from '@sisporta/contracts'
import { foreignKeyFailure } from '@sisporta/db'
import { PersistError, PersistErrorCodes } from './errors.js'

/**
 * A foreign key refusal of an upsert as a permanent `SIS_PERSIST_FOREIGN_KEY` error naming the
 * constraint, the tables and the batch rows of the statement (MySQL does not say which row), so
 * the dead letter tells the operator what to load first. `undefined` for any other error.
 *
 * A missing parent is the usual case: a child stream loaded before its parent (declare
 * `dependsOn` so the extractor daemon loads the parent first), or a child row the ERP inserted
 * between the parent's load and the child's (the next cycle carries both).
 *
 * @example
 * throw foreignKeyViolation(err, stream, { loadId: 7, batch: 0 }, 0, 2000) ?? err
 * // SIS_PERSIST_FOREIGN_KEY: batch 0 of load 7 (stream 'tracks'): one of rows 0–1999 refers to a row missing from table 'Album' (constraint 'FK_TrackAlbumId': …)
 */
export function foreignKeyViolation (err: unknown, stream: StreamConfig, batch: { readonly loadId: number, readonly batch: number }, first: number, end: number): PersistError | undefined {
  const fk = foreignKeyFailure(err)
  if (fk === undefined) return undefined
  const rows = end - first === 1 ? `row ${first}` : `one of rows ${first}–${end - 1}`
  const constraint = fk.constraint === undefined ? fk.description : `constraint '${fk.constraint}': ${fk.description}`
  const what = fk.kind === 'missing-parent'
    ? `${rows} refers to a row missing from table '${fk.parentTable ?? '?'}' (${constraint}); ` +
      'the parent rows must be applied first: declare the parent stream in this stream\'s dependsOn'
    : `${rows} would leave rows of table '${fk.childTable ?? '?'}' referring to a value it changes (${constraint})`
  return new PersistError(PersistErrorCodes.ForeignKey, `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}'): ${what} (MySQL error ${fk.errno})`, { cause: err })
}
