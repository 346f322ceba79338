import type { QueryExecutorProvider } from 'kysely'
import type { StreamConfig } from '@sisporta/contracts'
import { describeDataWarning, readTargetColumns, type StatementWarning } from '@sisporta/db'
import { PersistError } from './errors.js'
import { rowOfStatement } from './statement-row.js'

/**
 * The permanent failure of a batch whose upsert made MySQL store a value other than the one
 * sent — or say something sisporta cannot vouch for: `SIS_PERSIST_VALUE_CHANGED` naming the
 * batch's row and the column with its type, saying what happened to the value, and quoting the
 * warning. Reads the column's type through `trx` (the transaction still holds the table's
 * metadata lock: the type is the one the value met).
 *
 * @example
 * throw await changedValueError(trx, stream, 'batch 0 of load 7', { level: 'Note', code: 1265, message: "Data truncated for column 'qty' at row 3" }, 0)
 * // SIS_PERSIST_VALUE_CHANGED: batch 0 of load 7 (stream 'orders'): row 2, column 'qty' (decimal(12,1)): the value would be rounded or truncated
 * //   to fit the column — MySQL Note 1265: Data truncated for column 'qty'. Nothing of the batch is stored.
 */
export async function changedValueError (trx: QueryExecutorProvider, stream: StreamConfig, what: string, warning: StatementWarning, first: number): Promise<PersistError> {
  const at = rowOfStatement(warning.message, first)
  let where = ''
  if (at !== undefined) {
    const type = await readTargetColumns(trx, stream.target.table).then((columns) => columns.get(at.column)?.COLUMN_TYPE, () => undefined)
    where = `row ${at.row}, column '${at.column}'${type === undefined ? '' : ` (${type})`}: `
  }
  const meaning = describeDataWarning(warning) ?? 'a warning not known to be harmless: the values stored cannot be vouched for'
  return new PersistError('SIS_PERSIST_VALUE_CHANGED', `${what} (stream '${stream.name}'): ${where}${meaning} — MySQL ${warning.level} ${warning.code}: ${at?.text ?? warning.message}. ` +
    'Nothing of the batch is stored.')
}
