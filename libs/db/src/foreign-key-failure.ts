import { MysqlErrno } from './errors.js'

/** A statement MySQL refused because of a foreign key, as its error message describes it. */
export interface ForeignKeyFailure {
  /**
   * `missing-parent`: a row written refers to a parent row that does not exist (an insert or an
   * update of the child). `still-referenced`: a row deleted (or its key updated) is still
   * referred to by a child row.
   */
  readonly kind: 'missing-parent' | 'still-referenced'
  readonly errno: number
  /** The constraint's name, and the child table it belongs to (the one with the foreign key). */
  readonly constraint?: string
  readonly childTable?: string
  /** The child's columns and the parent table and columns they refer to, as MySQL wrote them (quoted). */
  readonly columns?: string
  readonly parentTable?: string
  readonly parentColumns?: string
  /** `CONSTRAINT `x` FOREIGN KEY (`a`) REFERENCES `p` (`b`)` (or MySQL's whole message when it gives no details). */
  readonly description: string
}

const NAME = '`((?:[^`]|``)*)`'
// "… a foreign key constraint fails (`db`.`Track`, CONSTRAINT `FK` FOREIGN KEY (`AlbumId`) REFERENCES `Album` (`AlbumId`))"
const DETAILS = new RegExp(`\\(${NAME}\\.${NAME}, (CONSTRAINT ${NAME} FOREIGN KEY \\((.*)\\) REFERENCES ${NAME} \\((.*)\\))\\)$`, 's')

const unquote = (name: string): string => name.replaceAll('``', '`')

/**
 * Reads a MySQL / MariaDB foreign key error (1451/1452, or 1216/1217 without details): which
 * constraint, which child table, which columns. `undefined` for any other error.
 *
 * @example
 * foreignKeyFailure(err)
 * // { kind: 'missing-parent', constraint: 'FK_TrackAlbumId', childTable: 'Track', parentTable: 'Album', … }
 */
export function foreignKeyFailure (err: unknown): ForeignKeyFailure | undefined {
  const e = err as { errno?: unknown, message?: unknown } | undefined
  if (typeof e?.errno !== 'number' || typeof e.message !== 'string') return undefined
  let kind: ForeignKeyFailure['kind']
  if (e.errno === MysqlErrno.NoReferencedRow2 || e.errno === MysqlErrno.NoReferencedRow) kind = 'missing-parent'
  else if (e.errno === MysqlErrno.RowIsReferenced2 || e.errno === MysqlErrno.RowIsReferenced) kind = 'still-referenced'
  else return undefined
  const m = DETAILS.exec(e.message)
  if (m === null) return { kind, errno: e.errno, description: e.message }
  return {
    kind,
    errno: e.errno,
    childTable: unquote(m[2]!),
    constraint: unquote(m[4]!),
    columns: m[5]!,
    parentTable: unquote(m[6]!),
    parentColumns: m[7]!,
    description: m[3]!
  }
}
