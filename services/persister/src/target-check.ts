import type { Kysely, QueryExecutorProvider } from 'kysely'
import type { StreamConfig } from '@sisporta/contracts'
import { checkTargetColumns, describeMismatches, readTargetColumns, type SisportaDatabase, type TargetColumns } from '@sisporta/db'
import { PersistError } from './errors.js'

/**
 * Whether each stream's target table can hold every value the stream declares
 * (`checkTargetColumns`: decimal digits, fractional seconds, lengths, integer ranges…), as one
 * persister process sees it through one pool. Some losses leave no trace MySQL reports — a
 * DATETIME(3) drops the last three digits of `…00.123456` without even a note, a CHAR drops
 * trailing blanks — so the table itself is checked, not only what MySQL says about a statement:
 *
 * - {@link TargetCheck.ensure} in a batch's transaction before its upserts, read once per stream
 *   and kept: a table that cannot hold the stream is refused before a row is written to it (and
 *   a redelivered batch, found booked already, is a duplicate whatever became of the table);
 * - {@link TargetCheck.verify} inside the transaction, after the upserts: the upsert holds the
 *   table's metadata lock until commit, so the definition read then is the one the rows went
 *   into, whatever `ALTER TABLE` ran since the stream was first checked;
 * - {@link TargetCheck.forget} after a failure, so that the next batch checks again before
 *   writing (and a schema error is explained by the check).
 */
export class TargetCheck {
  readonly #checked = new Map<StreamConfig, Promise<TargetColumns>>()

  /**
   * The stream's target columns, once they were found able to hold every value of the stream;
   * read through `db` (the batch's transaction: no second connection) on the stream's first
   * use — concurrent batches share the read — and again after {@link forget}. Rejects with
   * `SIS_PERSIST_TARGET_TYPE` naming stream, table, column and both types; a refusal is not
   * kept, so a table fixed meanwhile is accepted by the next batch.
   *
   * @example
   * await targetCheck(db).ensure(trx, stream, 'batch 3 of load 42')
   */
  async ensure (db: QueryExecutorProvider, stream: StreamConfig, what: string): Promise<TargetColumns> {
    let checked = this.#checked.get(stream)
    if (checked === undefined) {
      checked = this.#read(db, stream, what)
      this.#checked.set(stream, checked)
      checked.catch(() => { if (this.#checked.get(stream) === checked) this.#checked.delete(stream) })
    }
    return await checked
  }

  /**
   * Reads and checks the target again through `trx` (after the batch's upserts: see the class
   * comment); rejects like {@link ensure}.
   *
   * @example
   * await targetCheck(db).verify(trx, stream, 'batch 3 of load 42')
   */
  async verify (trx: QueryExecutorProvider, stream: StreamConfig, what: string): Promise<TargetColumns> {
    return await this.#read(trx, stream, what)
  }

  /** Forgets what was found about the stream's target: the next {@link ensure} reads it again. */
  forget (stream: StreamConfig): void {
    this.#checked.delete(stream)
  }

  async #read (db: QueryExecutorProvider, stream: StreamConfig, what: string): Promise<TargetColumns> {
    const columns = await readTargetColumns(db, stream.target.table)
    if (columns.size === 0) {
      throw new PersistError('SIS_PERSIST_TARGET_TYPE', `${what}: stream '${stream.name}', target table '${stream.target.table}' does not exist (run \`sisporta migrate\`); nothing of the batch is stored`)
    }
    const mismatches = checkTargetColumns(stream, columns, { stamps: true })
    if (mismatches.length > 0) {
      throw new PersistError('SIS_PERSIST_TARGET_TYPE', `${what}: the target cannot hold every value of the stream, nothing of the batch is stored: ${describeMismatches(stream, mismatches)}`)
    }
    return columns
  }
}

const checks = new WeakMap<Kysely<SisportaDatabase>, TargetCheck>()

/**
 * The {@link TargetCheck} of a pool: one per persister process and database handle.
 *
 * @example
 * await targetCheck(db).ensure(trx, stream, 'batch 0 of load 7')
 */
export function targetCheck (db: Kysely<SisportaDatabase>): TargetCheck {
  let check = checks.get(db)
  if (check === undefined) {
    check = new TargetCheck()
    checks.set(db, check)
  }
  return check
}
