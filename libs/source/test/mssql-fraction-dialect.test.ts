import mssql from 'mssql'
import t from 'tap'
import type { ColumnMapping } from '@sisporta/contracts'
import { MssqlDialect, type MssqlColumnMetadataLike, type MssqlPoolLike, type MssqlResultLike } from '../src/index.js'
import { DATABASE_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL } from '../src/mssql/mssql-sql.js'
import { stream } from './fixtures.js'

// The dialect's side of `fraction: truncate` (issue 12, defect 4), without a server: describe
// refuses datetime2(7) / datetimeoffset(7) read as datetime unless the column opts in; a load
// reads the text SQL Server writes, hands out the values cut to the microsecond and logs the
// number cut once, after its last page (a page shorter than asked for). The fake answers the
// catalogue's statements it knows and every other check (write access, silent filters) with no
// row; pages come from a queue.

const COLUMNS = [
  ['Id', 'int', 4, 10, 0, false, null],
  ['Criado', 'datetime2', 8, 27, 7, true, null],
  ['Quando', 'datetimeoffset', 10, 34, 7, true, null]
]

class Fake implements MssqlPoolLike {
  /** A page statement's answer: its rows, or an error it fails with. */
  readonly pages: Array<MssqlResultLike | Error>
  readonly sent: string[] = []
  readonly database: unknown[]
  readonly columns: unknown[][]
  constructor (pages: Array<MssqlResultLike | Error>, { database = ['ERP', 'ON', false, 'READ_WRITE', '16.0.4135.4', 'reader', 'reader'], columns = COLUMNS }: { database?: unknown[], columns?: unknown[][] } = {}) {
    this.pages = pages
    this.database = database
    this.columns = columns
  }
  async connect (): Promise<void> {}
  async close (): Promise<void> {}
  request (): ReturnType<MssqlPoolLike['request']> {
    const answer = (sql: string): MssqlResultLike => {
      const rows = (recordset: unknown[][]): MssqlResultLike => ({ recordset, columns: [[]] })
      switch (sql) {
        case DATABASE_SQL: return rows([this.database])
        case FIND_OBJECT_SQL: return rows([['dbo', 'Pedidos', 'U ', 7]])
        case TABLE_COLUMNS_SQL: return rows(this.columns)
        case UNIQUE_INDEXES_SQL: return rows([[1, 'PK_Pedidos', true, 'Id']])
      }
      if (sql.startsWith('SET TRANSACTION')) {
        this.sent.push(sql)
        const next = this.pages.shift() ?? rows([])
        if (next instanceof Error) throw next
        return next
      }
      return rows([])
    }
    return { arrayRowMode: false, input () {}, async query (sql) { return answer(sql) } }
  }
}

const meta = (name: string, type: object, length: number): MssqlColumnMetadataLike => ({ index: 0, name, length, type, nullable: true })
const page = (recordset: unknown[][]): MssqlResultLike => ({ recordset, columns: [[meta('Id', mssql.Int, 4), meta('Criado', mssql.VarChar, 27), meta('Quando', mssql.VarChar, 27)]] })

const orders = (extra: Partial<ColumnMapping> = {}) => stream({
  name: 'orders',
  source: { table: 'dbo.Pedidos' },
  key: ['id'],
  columns: [
    { name: 'id', from: 'Id', type: 'int' },
    { name: 'created', from: 'Criado', type: 'datetime', ...extra },
    { name: 'at', from: 'Quando', type: 'datetime', ...extra }
  ]
})

function logSink () {
  const lines: Array<{ level: string, fields: object, message: string }> = []
  const at = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields, message }) }
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn') } }
}

t.test('fraction (dialect) – describe refuses datetime2(7) and datetimeoffset(7) as datetime without fraction: truncate', async (t) => {
  const dialect = new MssqlDialect(new Fake([]))
  await t.rejects(dialect.describe(orders()), {
    code: 'SIS_SRC_TYPE',
    stream: 'orders',
    column: 'created',
    message: /^stream 'orders', column 'created' \(from Criado datetime2\(7\) to datetime\): .*add fraction: truncate.*; column 'at' \(from Quando datetimeoffset\(7\) to datetime\): /
  })
  await t.rejects(dialect.readPage(orders(), undefined, 2), { code: 'SIS_SRC_TYPE' }, 'and so does the first page, before any row is read')
})

t.test('fraction (dialect) – a load hands out values cut to the microsecond and logs the count once, after its last page', async (t) => {
  const sink = logSink()
  const fake = new Fake([
    page([[1, '2024-12-31 23:59:59.9999999', '2024-12-31 21:59:59.1234560'], [2, '2024-01-01 00:00:00.0000001', null]]),
    page([[3, '2024-01-01 00:00:00.1234560', '2024-01-01 00:00:00.0000005']])
  ])
  const dialect = new MssqlDialect(fake, { log: sink.log })
  const s = orders({ fraction: 'truncate' })
  await dialect.describe(s)
  t.same(await dialect.readPage(s, undefined, 2), [[1, '2024-12-31T23:59:59.999999', '2024-12-31T21:59:59.123456'], [2, '2024-01-01T00:00:00.000000', null]])
  t.same(sink.lines.filter((l) => l.level === 'warn'), [], 'nothing logged before the last page')
  t.same(await dialect.readPage(s, [2], 2), [[3, '2024-01-01T00:00:00.123456', '2024-01-01T00:00:00.000000']])
  t.same(sink.lines.filter((l) => l.level === 'warn').map((l) => l.fields), [
    { stream: 'orders', column: 'created', from: 'Criado', truncated: 2 },
    { stream: 'orders', column: 'at', from: 'Quando', truncated: 1 }
  ], 'one warning per column, with the load\'s count')
  t.match(fake.sent[0], /CONVERT\(varchar\(27\), s\.\[Criado\], 121\) AS \[Criado\], CONVERT\(varchar\(27\), CONVERT\(datetime2\(7\), SWITCHOFFSET\(s\.\[Quando\], '\+00:00'\)\), 121\) AS \[Quando\]/, 'all seven digits are read, the cut is exact text')
  // the next load (described again) counts from zero
  fake.pages.push(page([[4, '2024-01-01 00:00:00.0000009', null]]))
  await dialect.describe(s)
  await dialect.readPage(s, undefined, 2)
  t.same(sink.lines.filter((l) => l.level === 'warn').map((l) => (l.fields as { truncated: number }).truncated), [2, 1, 1])
})

t.test('fraction (dialect) – valuesChanged: the load\'s count over every page handed out, from zero at describe and at a first page', async (t) => {
  const fake = new Fake([
    page([[1, '2024-12-31 23:59:59.9999999', '2024-12-31 21:59:59.1234560'], [2, '2024-01-01 00:00:00.0000001', null]]),
    page([[3, '2024-01-01 00:00:00.1234560', '2024-01-01 00:00:00.0000005']])
  ])
  const dialect = new MssqlDialect(fake)
  const s = orders({ fraction: 'truncate' })
  t.same(dialect.valuesChanged(s), { truncatedFractions: 0 }, 'a stream never read')
  await dialect.describe(s)
  await dialect.readPage(s, undefined, 2)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 2 }, 'so far')
  await dialect.readPage(s, [2], 2)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 3 }, 'the whole load, all columns together, still there after the last page')
  t.same(dialect.valuesChanged(orders({ fraction: 'truncate' })), { truncatedFractions: 0 }, 'per stream')

  fake.pages.push(page([[4, '2024-01-01 00:00:00.0000009', '2024-01-01 00:00:00.0000009']]))
  await dialect.readPage(s, undefined, 2)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 2 }, 'a next load (not described again) counts from its first page')
  await dialect.describe(s)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 0 }, 'describe starts a load too')
})

t.test('fraction (dialect) – valuesChanged: a page read in steps (LOB columns, locking READ COMMITTED) that fails half-way is not counted twice when read again', async (t) => {
  const noSnapshot = ['ERP', 'OFF', false, 'READ_WRITE', '16.0.4135.4', 'reader', 'reader']
  const withNote = [...COLUMNS, ['Nota', 'nvarchar', -1, 0, 0, true, null]]
  const step = (from: number, n: number): MssqlResultLike => ({
    recordset: Array.from({ length: n }, (_, i) => [from + i, '2024-01-01 00:00:00.0000001', null, 'nota']),
    columns: [[]]
  })
  const fake = new Fake([step(1, 2), step(3, 1000), new Error('Connection lost - read ECONNRESET'), step(3, 1000), step(1003, 200)], { database: noSnapshot, columns: withNote })
  const dialect = new MssqlDialect(fake)
  const s = stream({
    name: 'orders',
    source: { table: 'dbo.Pedidos' },
    key: ['id'],
    columns: [
      { name: 'id', from: 'Id', type: 'int' },
      { name: 'created', from: 'Criado', type: 'datetime', fraction: 'truncate' },
      { name: 'at', from: 'Quando', type: 'datetime', fraction: 'truncate' },
      { name: 'note', from: 'Nota', type: 'string' }
    ]
  })
  await dialect.describe(s)
  t.equal((await dialect.readPage(s, undefined, 2)).length, 2)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 2 })
  await t.rejects(dialect.readPage(s, [2], 1500), /ECONNRESET/, 'the second step of the page fails')
  t.same(dialect.valuesChanged(s), { truncatedFractions: 2 }, 'the first step\'s 1000 rows are not counted: the page is read again')
  t.equal((await dialect.readPage(s, [2], 1500)).length, 1200)
  t.same(dialect.valuesChanged(s), { truncatedFractions: 1202 }, 'every row handed out, once')
  t.equal(fake.sent.length, 5, 'the page was read in steps of at most 1000 rows')
})
