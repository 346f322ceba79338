/**
 * Checks the engines' value tests (`…-values.test.ts`) share: what every engine delivers alike
 * from its `vals` table, a row of NULLs, and values that do not convert.
 */
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import type { Test } from 'tap'
import type { SourceDialect, WireRow } from '../src/index.js'
import { stream } from './fixtures.js'

/** Accents, emoji (surrogate pairs, a ZWJ sequence) and CJK. */
export const EMOJI = 'Olá, São Paulo — ação «ü» 🚀👩🏽‍💻 中文'
/** 100 KB of characters, 245,760 bytes of UTF-8. */
export const LONG = 'ção🚀'.repeat(20_480)

/**
 * Reads the `vals` table of an engine's value test — rows 1 and 2 full, row 3 NULL but its key
 * `id` — and checks what every engine delivers alike: the columns below hold the same source
 * values in every engine's table (each in the engine's own types), so they arrive as the same
 * wire values. Returns rows 1 and 2 by column for the engine's own checks.
 */
export async function readValueRows (t: Test, dialect: SourceDialect, s: StreamConfig): Promise<Record<string, unknown>[]> {
  const rows = await dialect.readPage(s, undefined, 10)
  t.equal(rows.length, 3)
  const [a, b, nulls] = rowsByColumn(s, rows)
  t.equal(a.money, '123456789012345.6789', 'decimal(19,4) exact')
  t.equal(b.money, '-0.0100', 'decimal(19,4) negative keeps its scale')
  t.equal(a.at6, '2024-02-29T23:59:59.123456', 'date-time(6): microseconds')
  t.equal(b.at6, '2024-01-01T00:00:00.000001')
  t.equal(b.at3, '2024-01-01T00:00:00.001')
  t.equal(a.at0, '1999-12-31T23:59:59', 'date-time without fraction')
  t.equal(b.at0, '2024-01-01T00:00:00')
  t.equal(a.day, '2024-02-29')
  t.equal(b.day, '0001-01-01')
  t.equal(a.txt, EMOJI, 'emoji, accents, CJK')
  t.equal(b.txt, '', 'empty string is not NULL')
  t.equal(a.long_text, LONG, '100 KB text')
  t.equal((a.long_text as string).length, LONG.length)
  t.equal(a.flag_bit, true, 'bit(1) → true')
  t.equal(b.flag_bit, false, 'bit(1) → false')
  t.equal(a.flag_int, true, 'integer 1 → true')
  t.equal(b.flag_int, false, 'integer 0 → false')
  t.equal(a.bytes, Buffer.from([0x00, 0xff, 0x10]).toString('base64'), 'bytes as base64')
  t.equal(b.bytes, '', 'empty bytes')
  t.same(a.doc, { a: [1, 2, { b: 'ç' }], n: 1.5, s: '🚀' }, 'JSON parsed')
  t.same(b.doc, [])
  t.equal(a.uid_bytes, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', 'uuid from 16 bytes, in stored byte order')
  t.equal(a.ratio, 0.1, 'single-precision 0.1 is 0.1, not 0.10000000149011612')
  t.equal(b.ratio, -1.5)
  t.equal(a.ratio_double, 0.1)
  t.equal(b.ratio_double, 1e300)
  t.equal(a.qty, -2147483648)
  t.equal(b.qty, 2147483647)
  t.equal(a.at6_as_text, '2024-02-29 23:59:59.123456', 'a date-time read as string keeps the source text')
  assertNulls(t, s, nulls, 3)
  return [a, b]
}

/** The rows of a page as records by target column name: `row.money`. */
export function rowsByColumn (s: StreamConfig, rows: readonly WireRow[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(s.columns.map((c, j) => [c.name, row[j]])))
}

/** A source row of NULLs but its key `id`: every other column reads as null. */
export function assertNulls (t: Test, s: StreamConfig, nulls: Record<string, unknown>, id: number): void {
  for (const c of s.columns) {
    if (c.name !== 'id') t.equal(nulls[c.name], null, `${c.name}: NULL is null`)
  }
  t.equal(nulls.id, id)
}

/** A source column of table `odd` read as a wire type, and how the error reads. */
export type ValueErrorCase = [column: Omit<ColumnMapping, 'name'>, message: RegExp]

/**
 * Each case reads table `odd` (key `code`, one row `A1`) with the case's column mapped as `value`:
 * the read fails with `SIS_SRC_VALUE`, naming stream, column (target and source, with types),
 * the row's key and the value, and giving the case's reason.
 */
export async function assertValueErrors (t: Test, dialect: SourceDialect, cases: readonly ValueErrorCase[]): Promise<void> {
  for (const [column, message] of cases) {
    const odd = stream({
      name: 'odd_stream',
      source: { table: 'odd' },
      key: ['code'],
      columns: [{ name: 'code', from: 'code', type: 'string' }, { name: 'value', ...column }]
    })
    const err = await dialect.readPage(odd, undefined, 10).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_VALUE', stream: 'odd_stream', column: 'value' }, `${column.from} as ${column.type}`)
    t.match((err as Error).message, /^stream 'odd_stream', column 'value' \(from \w+ .+ to \w+\), row \{code: 'A1'\}: /)
    t.match((err as Error).message, message)
  }
}
