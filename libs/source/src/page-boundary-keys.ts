/**
 * The key checks of a stream whose key no unique index vouches for (a view, a `query:` stream, a
 * table without a unique index on exactly the key columns), decided by the database under the key
 * columns' collations (which may ignore case, accents or trailing spaces), never by JavaScript:
 * - within a page, each row carries `SAME_KEY_COLUMN`, "my key equals the previous row's" (`LAG`);
 * - a next page starts *at* the previous page's last key (`>=`) instead of after it, and each row
 *   carries `AT_AFTER_COLUMN`, "my key equals that key". Exactly one row is the previous page's
 *   last row read again and is dropped; two mean the key repeats across the boundary, which
 *   `> key` paging would have skipped silently.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { WireRow } from './source-dialect.js'
import { describeSourceValue } from './wire-convert.js'

/** The first trailing column of a checked page: true when the row's key equals the previous row's. */
export const SAME_KEY_COLUMN = 'sisporta_same_key'
/** The second, on a next page: true when the row's key equals the `after` key the page starts at. */
export const AT_AFTER_COLUMN = 'sisporta_at_after'

/** The key-check columns of a checked page, one flag per row. */
export interface KeyFlags {
  readonly same: readonly boolean[]
  readonly atAfter: readonly boolean[]
}

/**
 * Removes the trailing key-check columns from the driver's rows (in place) and returns them as
 * flags. `width` is the number of selected stream columns; `startsAtAfter`: the page is a next
 * page, with `AT_AFTER_COLUMN`. A flag is true as the drivers deliver it: MySQL `1`,
 * PostgreSQL's text form `t`; NULL (the first row's `LAG`) is false.
 *
 * @example
 * takeKeyFlags([[3, 0, 1], [4, 0, 0]], 1, true) // { same: [false, false], atAfter: [true, false] }, rows now [[3], [4]]
 */
export function takeKeyFlags (raw: unknown[][], width: number, startsAtAfter: boolean): KeyFlags {
  const yes = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't' || v === 1n
  const same: boolean[] = []
  const atAfter: boolean[] = []
  for (const row of raw) {
    same.push(yes(row[width]))
    atAfter.push(startsAtAfter && yes(row[width + 1]))
    row.length = width
  }
  return { same, atAfter }
}

/**
 * A checked page as handed out: fails with `SIS_SRC_KEY` when the database found two rows with
 * one key — within the page, or straddling it and the page before (two rows equal to the `after`
 * key it starts at) — drops the row of the `after` key itself (the previous page's last row), and
 * keeps at most `limit` rows (a next page is asked for `limit + 1`; when the previous last row is
 * gone, none equals `after` and the extra row waits for the next page).
 *
 * @example
 * const page = checkedPage(stream, keyIndexes, convertRows(stream, conversion, raw), flags, limit, 'MariaDB')
 */
export function checkedPage (stream: StreamConfig, keyIndexes: readonly number[], rows: WireRow[], flags: KeyFlags, limit: number, engine: string): WireRow[] {
  const at = flags.atAfter.filter(Boolean).length
  const repeated = flags.same.findIndex((same, r) => same && r > 0)
  if (repeated > 0 || at > 1) {
    const key = (row: WireRow): string => `{${keyIndexes.map((i) => `${stream.columns[i]!.name}: ${describeSourceValue(row[i])}`).join(', ')}}`
    const r = repeated > 0 ? repeated : flags.atAfter.lastIndexOf(true)
    const boundary = flags.atAfter[r - 1] === true && flags.atAfter[r] === true
    const where = boundary ? ', across a page boundary (one was the last row of the page before)' : ''
    const a = key(rows[r - 1]!)
    const b = key(rows[r]!)
    const keys = a === b ? `the key ${a}` : `the keys ${a} and ${b}, one key as ${engine} compares them (a key column's collation may ignore case, accents or trailing spaces)`
    throw new SourceError('SIS_SRC_KEY',
      `stream '${stream.name}': two source rows have ${keys}${where}; ` +
      `target.key (${stream.target.key.join(', ')}) must identify one row, or pages would skip rows: map a unique key, or make the view or query return one row per key`,
      { stream: stream.name, exitCode: 1 })
  }
  const page = at === 1 ? rows.filter((_, r) => !flags.atAfter[r]) : rows
  return page.length > limit ? page.slice(0, limit) : page
}

/** The alias of the `i`-th (0-based) selected column inside a checked page: `sisporta_1`, … */
export function checkedColumnAlias (i: number): string {
  return `sisporta_${i + 1}`
}

/**
 * A checked page's statement around the page itself (`inner`, which selects its `width` columns as
 * `checkedColumnAlias(i)`, then `AT_AFTER_COLUMN` when `atAfter`, in key order with its LIMIT):
 * the same rows in key order plus `SAME_KEY_COLUMN`, compared by the database with `LAG` over
 * the page only (the window never spans the rest of the source). `keyPositions`: the key
 * columns' positions among the selected ones, in key order; `quote`: the engine's identifier
 * quoting. `LAG` needs MySQL 8.0, MariaDB 10.2 or PostgreSQL 8.4.
 *
 * @example
 * buildCheckedPageSql('SELECT `id` AS `sisporta_1` FROM `t` ORDER BY `id` LIMIT ?', 1, [0], (n) => `\`${n}\``, false)
 * // 'SELECT `sisporta_1`, (`sisporta_1` = LAG(`sisporta_1`) OVER (ORDER BY `sisporta_1`)) AS `sisporta_same_key` FROM (SELECT `id` AS `sisporta_1` FROM `t` ORDER BY `id` LIMIT ?) AS p ORDER BY `sisporta_1`'
 */
export function buildCheckedPageSql (inner: string, width: number, keyPositions: readonly number[], quote: (name: string) => string, atAfter: boolean): string {
  if (keyPositions.length === 0 || keyPositions.some((i) => !Number.isInteger(i) || i < 0 || i >= width)) {
    throw new SourceError('SIS_SRC_ARGUMENT', 'a checked page needs its key columns among the selected ones')
  }
  const columns = Array.from({ length: width }, (_, i) => quote(checkedColumnAlias(i)))
  const keys = keyPositions.map((i) => columns[i]!)
  const over = `OVER (ORDER BY ${keys.join(', ')})`
  const same = `(${keys.map((k) => `${k} = LAG(${k}) ${over}`).join(' AND ')}) AS ${quote(SAME_KEY_COLUMN)}`
  const at = atAfter ? `, ${quote(AT_AFTER_COLUMN)}` : ''
  return `SELECT ${columns.join(', ')}, ${same}${at} FROM (${inner}) AS p ORDER BY ${keys.join(', ')}`
}

/**
 * The unique index (or primary key) that vouches for a key: one whose columns are exactly the
 * key's source columns (in any order), given as `[index, column]` rows in index order (a NULL
 * column, a functional part, never matches), and only when no key column allows NULL. Undefined
 * when none does: the stream's pages are then checked (`checkedPage`).
 *
 * @example
 * vouchingIndex(['doc', 'line'], [['PRIMARY', 'doc'], ['PRIMARY', 'line']], false) // 'PRIMARY'
 */
export function vouchingIndex (key: readonly string[], indexColumns: readonly (readonly unknown[])[], keyNullable: boolean, ignoreCase = false): string | undefined {
  if (keyNullable) return undefined
  const fold = (name: string): string => ignoreCase ? name.toLowerCase() : name
  const indexes = new Map<string, Set<string | undefined>>()
  for (const [index, column] of indexColumns) {
    const name = String(index)
    const columns = indexes.get(name) ?? new Set<string | undefined>()
    columns.add(column === null || column === undefined ? undefined : fold(String(column)))
    indexes.set(name, columns)
  }
  const wanted = new Set(key.map(fold))
  for (const [name, columns] of indexes) {
    if (columns.size === wanted.size && [...wanted].every((c) => columns.has(c))) return name
  }
  return undefined
}
