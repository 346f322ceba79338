import t from 'tap'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import { convertPage, createRowConversion } from '../src/convert-rows.js'
import type { SourceDescription, SourceLogger, WireRow } from '../src/source-dialect.js'
import { checkColumnTypes } from '../src/type-fit.js'
import { LoadFractionCounts, countCutFractions, createFractionTallies, findCutFractions, reportTruncatedFractions } from '../src/mssql/mssql-fraction.js'
import { mssqlColumnInfo, mssqlTypeProblem, type MssqlColumnInfo } from '../src/mssql/mssql-types.js'
import { createMssqlValueConverter, sqlDateTimeToWireTruncated } from '../src/mssql/mssql-values.js'
import { stream } from './fixtures.js'

// `fraction: truncate` (issue 12, defect 4): datetime2(7) / datetimeoffset(7) read as datetime
// are refused before the load unless the column opts in; then the 7th digit is cut (never
// rounded), the values cut are counted for the rows a page hands out and logged once per load,
// and a declared `precision` below 6 still refuses values with more non-zero digits.

const DT7: MssqlColumnInfo = mssqlColumnInfo({ type: 'datetime2', maxLength: 8, precision: 27, scale: 7, nullable: true })
const INT: MssqlColumnInfo = mssqlColumnInfo({ type: 'int', maxLength: 4, precision: 10, scale: 0, nullable: false })

function orders (created: Partial<ColumnMapping> = {}): StreamConfig {
  return stream({
    name: 'orders',
    source: { table: 'dbo.Pedidos' },
    key: ['id'],
    columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'created', from: 'Criado', type: 'datetime', ...created }]
  })
}

function described (s: StreamConfig): SourceDescription {
  return {
    stream: s.name,
    object: '[dbo].[Pedidos]',
    columns: [
      { name: 'id', from: 'Id', type: 'int', sourceType: 'int', sourceNullable: false },
      { name: 'created', from: 'Criado', type: 'datetime', sourceType: 'datetime2(7)', sourceNullable: true }
    ],
    key: ['Id']
  }
}

/** What the dialect does with one page: find the cut digits, convert, hand out `keep`, count. */
function readPage (s: StreamConfig, raw: unknown[][], keep: (rows: WireRow[]) => WireRow[] = (rows) => rows) {
  const tallies = createFractionTallies(s)
  const conversion = createRowConversion(s, described(s), s.columns.map((c, i) => createMssqlValueConverter(c.type, [INT, DT7][i]!, tallies[i] !== undefined)))
  const page = (rows: unknown[][], handOut = keep): WireRow[] => {
    const cut = findCutFractions(rows, tallies)
    const out = handOut(convertPage(s, conversion, rows))
    if (cut !== undefined) countCutFractions(out, cut, tallies)
    return out
  }
  return { tallies, page, rows: page(raw) }
}

function recorder (): SourceLogger & { lines: Array<[string, object, string]> } {
  const lines: Array<[string, object, string]> = []
  return { lines, debug: (o, m) => { lines.push(['debug', o, m]) }, warn: (o, m) => { lines.push(['warn', o, m]) } }
}

t.test('fraction – describe refuses datetime2(7) as datetime, naming stream, column, type and the fix', async (t) => {
  const s = orders()
  const matched = { description: described(s), columns: [INT, DT7] }
  t.throws(() => checkColumnTypes(s, matched, mssqlTypeProblem), {
    code: 'SIS_SRC_TYPE',
    message: /^stream 'orders', column 'created' \(from Criado datetime2\(7\) to datetime\): datetime2\(7\) keeps 7 fractional-second digits .*SYSDATETIME.* add fraction: truncate .* declare it as string/
  })
  t.doesNotThrow(() => checkColumnTypes(orders({ fraction: 'truncate' }), matched, mssqlTypeProblem))
  t.doesNotThrow(() => checkColumnTypes(orders({ fraction: 'truncate', precision: 3 }), matched, mssqlTypeProblem), 'with a precision too: values are checked one by one')
})

t.test('fraction – the 7th digit is cut, never rounded', async (t) => {
  t.equal(sqlDateTimeToWireTruncated('2024-12-31 23:59:59.9999999'), '2024-12-31T23:59:59.999999', 'not rounded up into the next year')
  t.equal(sqlDateTimeToWireTruncated('2024-02-29 10:00:00.1234565'), '2024-02-29T10:00:00.123456')
  t.equal(sqlDateTimeToWireTruncated('2024-02-29 10:00:00.1234560'), '2024-02-29T10:00:00.123456')
  t.equal(sqlDateTimeToWireTruncated('2024-02-29 10:00:00.123'), '2024-02-29T10:00:00.123', 'fewer digits pass as they are')
  t.throws(() => sqlDateTimeToWireTruncated('2024-02-29 10:00:00.123456x'), /not a valid date-time/)
  t.throws(() => sqlDateTimeToWireTruncated('2024-02-30 10:00:00.1234567'), /not a valid date-time/)
  t.throws(() => createMssqlValueConverter('datetime', DT7)('2024-02-29 10:00:00.1234567'), /7th fractional digit/, 'without the option a 7th digit still fails')
})

t.test('fraction – the values cut are counted for the rows handed out, and logged once per load', async (t) => {
  const s = orders({ fraction: 'truncate' })
  const { tallies, page, rows } = readPage(s, [[1, '2024-01-01 10:00:00.1234567'], [2, '2024-01-01 10:00:00.1234560'], [3, null], [4, '2024-01-01 10:00:00.0000009']])
  t.same(rows.map((r) => r[1]), ['2024-01-01T10:00:00.123456', '2024-01-01T10:00:00.123456', null, '2024-01-01T10:00:00.000000'])
  t.equal(tallies[1]!.count, 2, 'two non-zero 7th digits')
  t.equal(tallies[0], undefined, 'no tally for other columns')
  // a page that starts at the previous page's last key drops that row (read again): not counted twice
  const next = page([[4, '2024-01-01 10:00:00.0000009'], [5, '2024-01-01 10:00:00.5555555']], (rows) => rows.slice(1))
  t.same(next, [[5, '2024-01-01T10:00:00.555555']])
  t.equal(tallies[1]!.count, 3, 'the row read again and dropped is not counted again')
  const log = recorder()
  reportTruncatedFractions(s, tallies, log)
  t.same(log.lines.map(([level, fields]) => [level, fields]), [['warn', { stream: 'orders', column: 'created', from: 'Criado', truncated: 3 }]])
  t.match(log.lines[0]![2], /stream 'orders', column 'created' \(from Criado\): 3 values had a non-zero 7th fractional digit/)
  t.equal(tallies[1]!.count, 0, 'counting starts again for the next load')
  reportTruncatedFractions(s, tallies, log)
  t.equal(log.lines[1]![0], 'debug', 'a load that cut nothing says so at debug level')
})

t.test('fraction – a declared precision below 6 still refuses values with more non-zero digits: truncate cuts only the 7th', async (t) => {
  const s = orders({ fraction: 'truncate', precision: 3 })
  t.same(readPage(s, [[1, '2024-01-01 10:00:00.1230009']]).rows[0], [1, '2024-01-01T10:00:00.123000'])
  t.throws(() => readPage(s, [[1, '2024-01-01 10:00:00.1234567']]), { code: 'SIS_SRC_VALUE', message: /stream 'orders'.*created.*fractional seconds beyond the column's 3 digits/ })
  const zero = orders({ fraction: 'truncate', precision: 0 })
  t.same(readPage(zero, [[1, '2024-01-01 10:00:00.0000001']]).rows[0], [1, '2024-01-01T10:00:00.000000'])
  t.throws(() => readPage(zero, [[1, '2024-01-01 10:00:00.0000010']]), { code: 'SIS_SRC_VALUE' })
})

t.test('fraction – no tallies, no work, for a stream without the option', async (t) => {
  const s = orders()
  t.same(createFractionTallies(s), [undefined, undefined])
  t.equal(findCutFractions([[1, '2024-01-01 10:00:00.1234567']], createFractionTallies(s)), undefined)
})

t.test('fraction – the load\'s count: what each page adds, per stream, from zero when a load starts', async (t) => {
  const s = orders({ fraction: 'truncate' })
  const tallies = createFractionTallies(s)
  const raw = [[1, '2024-01-01 10:00:00.1234567'], [2, '2024-01-01 10:00:00.1234560'], [3, '2024-01-01 10:00:00.0000001']]
  const cut = findCutFractions(raw, tallies)!
  t.equal(countCutFractions(raw as WireRow[], cut, tallies), 2, 'the values this page cut')
  t.equal(countCutFractions([], cut, tallies), 0, 'a page handing out none of them adds nothing')
  const counts = new LoadFractionCounts()
  const other = orders({ fraction: 'truncate' })
  t.equal(counts.of(s), 0, 'nothing read yet')
  counts.start(s)
  counts.add(s, 2)
  counts.add(s, 0)
  counts.add(s, 5)
  counts.add(other, 1)
  t.equal(counts.of(s), 7)
  t.equal(counts.of(other), 1, 'each stream its own')
  counts.set(s, 2)
  t.equal(counts.of(s), 2, 'set back')
  counts.start(s)
  t.equal(counts.of(s), 0, 'a new load')
})
