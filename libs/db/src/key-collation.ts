/**
 * Target key columns whose collation lets distinct source keys compare equal. Under
 * `utf8mb4_unicode_ci` the keys 'a' and 'A' are one key, under any PAD SPACE collation (MySQL's
 * `utf8mb4_bin` too) 'a' and 'a ' are: the upsert of the second row then updates the first,
 * and two source rows silently become one target row. Only a binary NO PAD collation
 * (`utf8mb4_nopad_bin`, `utf8mb4_0900_bin`) compares keys exactly as the source sent them.
 */
import { sql, type Kysely } from 'kysely'
import type { StreamConfig } from '@sisporta/contracts'

/** A key column whose collation treats some distinct keys as one. */
export interface LooseKeyColumn {
  readonly column: string
  readonly collation: string
  /** What its comparisons ignore: `case`, `accents`, `trailing blanks`, `language rules` (non-binary collations). */
  readonly ignores: readonly string[]
  /** Two keys it treats as one, for messages: `'a' and 'A'`. */
  readonly example: string
}

interface CollatedColumn {
  readonly COLUMN_NAME: string
  readonly CHARACTER_SET_NAME: string
  readonly COLLATION_NAME: string
}

/** Collation and character set names come from information_schema; checked all the same before they reach SQL text. */
const NAME = /^[A-Za-z0-9_]+$/

/** Pairs of keys a loose collation may treat as one, each with what it then ignores. */
const PROBES = [
  { ignores: 'case', a: 'a', b: 'A' },
  { ignores: 'accents', a: 'e', b: 'é' },
  { ignores: 'trailing blanks', a: 'a', b: 'a ' }
] as const

/**
 * The columns among `keyColumns` of `table` (in the connection's database) whose collation is
 * not binary NO PAD, with what their comparisons ignore — found by asking the server to compare
 * sample keys under each collation, so that it holds for MySQL and MariaDB, whatever the
 * collation's name says. Columns without a collation (numbers, dates, binary strings) compare
 * exactly and are never listed.
 *
 * @example
 * await findLooseKeyColumns(db, 'products', ['sku'])
 * // [{ column: 'sku', collation: 'utf8mb4_unicode_ci', ignores: ['case', 'accents', 'trailing blanks'], example: "'a' and 'A'" }]
 */
export async function findLooseKeyColumns (db: Kysely<any>, table: string, keyColumns: readonly string[]): Promise<LooseKeyColumn[]> {
  if (keyColumns.length === 0) return []
  const { rows } = await sql<CollatedColumn>`SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND COLLATION_NAME IS NOT NULL`.execute(db)
  const loose: LooseKeyColumn[] = []
  for (const column of keyColumns) {
    const info = rows.find((r) => r.COLUMN_NAME === column)
    if (info === undefined || !NAME.test(info.COLLATION_NAME) || !NAME.test(info.CHARACTER_SET_NAME)) continue
    const equal = await probe(db, info.CHARACTER_SET_NAME, info.COLLATION_NAME)
    const ignores: string[] = PROBES.filter((_, i) => equal[i]).map((p) => p.ignores)
    // a linguistic collation equates other spellings too (ß and ss, ignorable characters), even when case- and accent-sensitive
    if (!isBinary(info.COLLATION_NAME)) ignores.push('language rules')
    if (ignores.length === 0) continue
    const first = PROBES.find((_, i) => equal[i])
    loose.push({ column, collation: info.COLLATION_NAME, ignores, example: first === undefined ? "'ss' and 'ß'" : `'${first.a}' and '${first.b}'` })
  }
  return loose
}

/** Whether each probe's two keys compare equal under `collation`. */
async function probe (db: Kysely<any>, charset: string, collation: string): Promise<boolean[]> {
  const pairs = PROBES.map((p, i) =>
    sql`(CONVERT(${p.a} USING ${sql.raw(charset)}) COLLATE ${sql.raw(collation)} = CONVERT(${p.b} USING ${sql.raw(charset)}) COLLATE ${sql.raw(collation)}) AS ${sql.ref(`p${i}`)}`)
  const { rows } = await sql<Record<string, number | string | null>>`SELECT ${sql.join(pairs)}`.execute(db)
  return PROBES.map((_, i) => Number(rows[0]?.[`p${i}`]) === 1)
}

function isBinary (collation: string): boolean {
  return collation === 'binary' || collation.endsWith('_bin')
}

/** `case, accents and trailing blanks`. */
export function listIgnored (ignores: readonly string[]): string {
  return ignores.length <= 1 ? ignores.join('') : `${ignores.slice(0, -1).join(', ')} and ${ignores.at(-1)!}`
}

/**
 * `migrate`'s warnings about a stream's `string` key columns whose collation is not binary NO
 * PAD (uuid keys are canonical lower-case text, other types have no collation): table, column,
 * collation, what it ignores, and `alter(column)`, the statement that makes the column compare
 * exactly. A warning, not a refusal: the source's keys may never differ only so (a
 * case-insensitive ERP, say), and the reconciler fails a load whose rows did merge.
 *
 * @example
 * warnings.push(...await keyCollationWarnings(db, stream, (column) => `ALTER TABLE … MODIFY \`${column}\` … COLLATE utf8mb4_nopad_bin …;`))
 */
export async function keyCollationWarnings (db: Kysely<any>, stream: StreamConfig, alter: (column: string) => string): Promise<string[]> {
  const keys = stream.target.key.filter((key) => stream.columns.find((c) => c.name === key)?.type === 'string')
  const loose = await findLooseKeyColumns(db, stream.target.table, keys)
  return loose.map((k) =>
    `table '${stream.target.table}', key column '${k.column}' (stream ${stream.name}) has collation ${k.collation}, which ignores ${listIgnored(k.ignores)}: ` +
    `source keys that differ only so (${k.example}) become one target row, and a full load that sends both fails before deleting anything. ` +
    `To keep such keys apart (then load the stream again), give the column a binary NO PAD collation: ${alter(k.column)}`)
}
