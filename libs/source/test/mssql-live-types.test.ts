import mssql from 'mssql'
import t from 'tap'
import type { StreamConfig } from '@sisporta/contracts'
import type { SourceDialect, WireRow } from '../src/index.js'
import { stream } from './fixtures.js'
import { liveServer, whenMssqlLive, type Teardown } from './mssql-live-setup.js'

// Issue 12, defects 4 and 5, against a real SQL Server (skipped without SISPORTA_TEST_MSSQL_URL,
// like mssql-live.test.ts, with the set-up of mssql-live-setup.ts): datetime2(0/3/7) and
// datetimeoffset(7) filled by SYSDATETIME(), with and without `fraction: truncate`; sql_variant
// of every base type as exact text; and the other common ERP types (smalldatetime, smallmoney,
// real/float, char/nchar padding, text/ntext/image, xml, rowversion, binary(16) as uuid).

const EMOJI = 'Olá, São Paulo — ação «ü» 🚀👩🏽‍💻 中文'
/** Rows of erp.Tempos filled by SYSDATETIME(), each 100 ns apart: most have a non-zero 7th digit. */
const CLOCK_ROWS = 60

interface Live {
  readonly admin: mssql.ConnectionPool
  open (log?: Recorder): SourceDialect
}

interface Recorder {
  readonly lines: Array<{ level: string, fields: Record<string, unknown>, message: string }>
  debug (fields: object, message: string): void
  info (fields: object, message: string): void
  warn (fields: object, message: string): void
}

function recorder (): Recorder {
  const lines: Recorder['lines'] = []
  const at = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields: fields as Record<string, unknown>, message }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn') }
}

/** A database `sisporta_ty_<random>` with the tables below and a reader login with SELECT on schema erp; dropped at teardown. */
async function setUp (t: Teardown): Promise<Live> {
  const live = await liveServer(t, { database: 'sisporta_ty_', login: 'sisporta_ty_' })
  const { admin, reader: { name: login, url: readerUrl } } = live
  await admin.request().batch('CREATE SCHEMA erp')
  await admin.request().batch(`CREATE TABLE erp.Tempos (Id int NOT NULL PRIMARY KEY,
    D0 datetime2(0) NULL, D3 datetime2(3) NULL, D7 datetime2 NULL, O7 datetimeoffset NULL, T7 time NULL, Sd smalldatetime NULL)`)
  await admin.request().batch(`DECLARE @now datetime2(7) = SYSDATETIME(), @i int = 1;
    WHILE @i <= ${CLOCK_ROWS} BEGIN
      INSERT INTO erp.Tempos (Id, D0, D3, D7, O7, T7, Sd) VALUES (@i, @now, @now, DATEADD(nanosecond, 100 * @i, @now), SYSDATETIMEOFFSET(), CONVERT(time(7), DATEADD(nanosecond, 100 * @i, @now)), @now);
      SET @i += 1
    END;
    INSERT INTO erp.Tempos (Id, D0, D3, D7, O7, T7, Sd) VALUES
      (1001, '2024-12-31T23:59:59', '2024-12-31T23:59:59.999', '2024-12-31T23:59:59.9999999', '2024-12-31T23:59:59.9999999+02:00', '23:59:59.9999999', '2024-02-29T23:59:00'),
      (1002, NULL, NULL, '2024-01-01T10:00:00.1230000', NULL, NULL, NULL),
      (1003, NULL, NULL, '2024-01-01T10:00:00.1230009', NULL, NULL, NULL)`)
  await admin.request().batch('CREATE TABLE erp.Variantes (Id int NOT NULL PRIMARY KEY, V sql_variant NULL)')
  await admin.request().input('emoji', mssql.NVarChar(100), EMOJI).query(`INSERT INTO erp.Variantes (Id, V) VALUES
    (1, CONVERT(int, -2147483648)), (2, CONVERT(bigint, 9223372036854775807)), (3, CONVERT(smallint, -32768)), (4, CONVERT(tinyint, 255)), (5, CONVERT(bit, 1)),
    (6, CONVERT(decimal(38,10), '-1234567890123456789012345678.0123456789')), (7, CONVERT(numeric(9,3), '0.500')),
    (8, CONVERT(money, '922337203685477.5807')), (9, CONVERT(smallmoney, '-214748.3648')),
    (10, CONVERT(float, 0.1)), (11, CONVERT(float, 1e300)), (12, CONVERT(real, 0.1)), (13, CONVERT(float, -2.2250738585072014e-308)),
    (14, CONVERT(datetime, '2024-02-29T23:59:59.997')), (15, CONVERT(smalldatetime, '2024-02-29T23:59:00')),
    (16, CONVERT(datetime2(7), '2024-02-29T23:59:59.1234567')), (17, CONVERT(datetime2(0), '2024-02-29T23:59:59')),
    (18, CONVERT(datetimeoffset(7), '2024-01-01T10:00:00.1234567+02:00')), (19, CONVERT(date, '0001-01-01')), (20, CONVERT(time(7), '23:59:59.1234567')),
    (21, CONVERT(char(5), 'ab')), (22, CONVERT(varchar(10), 'ação')), (23, CONVERT(nchar(5), N'ç')), (24, CONVERT(nvarchar(100), @emoji)),
    (25, CONVERT(binary(4), 0x00FF10AB)), (26, CONVERT(varbinary(10), 0x0102)), (27, CONVERT(uniqueidentifier, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11')),
    (28, NULL)`)
  await admin.request().batch(`CREATE TABLE erp.Outros (Id int NOT NULL PRIMARY KEY, Sm smallmoney NULL, R real NULL, F float NULL, C char(5) NULL, NC nchar(5) NULL,
    Tx text NULL, NTx ntext NULL, Img image NULL, X xml NULL, Rv rowversion, B16 binary(16) NULL)`)
  await admin.request().input('emoji', mssql.NVarChar(100), EMOJI).query(`INSERT INTO erp.Outros (Id, Sm, R, F, C, NC, Tx, NTx, Img, X, B16) VALUES
    (1, -214748.3648, 0.1, 0.1, 'ab', N'çã', 'ação', @emoji, 0x00FF10, N'<a b="1">ç🚀</a>', 0x00112233445566778899AABBCCDDEEFF),
    (2, 214748.3647, 16777217, 1e308, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
  await admin.request().batch(`CREATE USER [${login}] FOR LOGIN [${login}]; GRANT SELECT ON SCHEMA::erp TO [${login}]`)
  return {
    admin,
    open: (log) => live.open(readerUrl, log === undefined ? {} : { log })
  }
}

/** Every row of a stream keyed by its first column (an int), `size` rows a page, as the extractor reads a load. */
async function readAll (dialect: SourceDialect, s: StreamConfig, size = 7): Promise<WireRow[]> {
  await dialect.describe(s)
  const all: WireRow[] = []
  let after: WireRow | undefined
  for (;;) {
    const rows = await dialect.readPage(s, after === undefined ? undefined : [after[0]!], size)
    all.push(...rows)
    if (rows.length < size) return all
    after = rows[rows.length - 1]
  }
}

const times = (columns: StreamConfig['columns']): StreamConfig => stream({
  name: 'times', source: { table: 'erp.Tempos' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, ...columns]
})

whenMssqlLive('mssql live types', () => {
  t.test('mssql live types – datetime2(7) / datetimeoffset(7) as datetime are refused at describe without fraction: truncate', async (t) => {
    const live = await setUp(t)
    const dialect = live.open()
    await t.rejects(dialect.describe(times([{ name: 'changed', from: 'D7', type: 'datetime' }])),
      { code: 'SIS_SRC_TYPE', message: /stream 'times', column 'changed' \(from D7 datetime2\(7\) to datetime\): .*fraction: truncate/ })
    await t.rejects(dialect.describe(times([{ name: 'at', from: 'O7', type: 'datetime' }])),
      { code: 'SIS_SRC_TYPE', message: /column 'at' \(from O7 datetimeoffset\(7\) to datetime\)/ })
    // datetime2(0) and (3) fit; their values are what SQL Server writes
    const short = await readAll(dialect, times([{ name: 'd0', from: 'D0', type: 'datetime' }, { name: 'd3', from: 'D3', type: 'datetime' }, { name: 'sd', from: 'Sd', type: 'datetime' }]))
    const { recordset } = await live.admin.request().query('SELECT Id, CONVERT(varchar(27), D0, 121) AS d0, CONVERT(varchar(27), D3, 121) AS d3, CONVERT(varchar(27), Sd, 121) AS sd FROM erp.Tempos ORDER BY Id')
    t.equal(short.length, CLOCK_ROWS + 3)
    const wire = (text: string | null): string | null => text === null ? null : text.replace(' ', 'T')
    short.forEach((row, i) => {
      const r = recordset[i] as { Id: number, d0: string | null, d3: string | null, sd: string | null }
      t.same(row, [r.Id, wire(r.d0), wire(r.d3), wire(r.sd)], `row ${r.Id}`)
    })
    const last = short.find((r) => r[0] === 1001)!
    t.same(last, [1001, '2024-12-31T23:59:59', '2024-12-31T23:59:59.999', '2024-02-29T23:59:00.000'])
  })

  t.test('mssql live types – with fraction: truncate the 7th digit is cut, never rounded, and the values cut are logged once per load', async (t) => {
    const live = await setUp(t)
    const log = recorder()
    const dialect = live.open(log)
    const s = times([{ name: 'changed', from: 'D7', type: 'datetime', fraction: 'truncate' }, { name: 'at', from: 'O7', type: 'datetime', fraction: 'truncate' }, { name: 'hour', from: 'T7', type: 'string' }])
    const rows = await readAll(dialect, s)
    const { recordset } = await live.admin.request().query(`SELECT Id,
      LEFT(CONVERT(varchar(27), D7, 121), 26) AS d7, CONVERT(varchar(16), T7, 121) AS t7,
      CASE WHEN RIGHT(CONVERT(varchar(27), D7, 121), 1) <> '0' THEN 1 ELSE 0 END AS cut7,
      CASE WHEN RIGHT(CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(O7, '+00:00')), 121), 1) <> '0' THEN 1 ELSE 0 END AS cutO
      FROM erp.Tempos ORDER BY Id`)
    t.equal(rows.length, CLOCK_ROWS + 3)
    let cutD7 = 0
    let cutO7 = 0
    rows.forEach((row, i) => {
      const r = recordset[i] as { Id: number, d7: string | null, t7: string | null, cut7: number, cutO: number }
      t.same([row[0], row[1], row[3]], [r.Id, r.d7 === null ? null : r.d7.replace(' ', 'T'), r.t7], `row ${r.Id}: cut, not rounded; time(7) as string keeps seven digits`)
      if (r.d7 !== null) cutD7 += r.cut7
      if (row[2] !== null) cutO7 += r.cutO
    })
    t.ok(cutD7 > CLOCK_ROWS / 2, 'SYSDATETIME() values 100 ns apart mostly have a non-zero 7th digit')
    t.same(rows.find((r) => r[0] === 1001), [1001, '2024-12-31T23:59:59.999999', '2024-12-31T21:59:59.999999', '23:59:59.9999999'], 'never rounded into the next year')
    const warnings = log.lines.filter((l) => l.level === 'warn')
    t.same(warnings.map((w) => [w.fields.column, w.fields.truncated]), [['changed', cutD7], ['at', cutO7]].filter(([, n]) => (n as number) > 0), 'one warning per column that had digits cut, once per load')
    t.match(warnings[0]?.message, /stream 'times', column 'changed' \(from D7\): \d+ values? had a non-zero 7th fractional digit/)
    // a second load counts from zero again
    await readAll(dialect, s)
    t.same(log.lines.filter((l) => l.level === 'warn').map((w) => w.fields.truncated).slice(-warnings.length), warnings.map((w) => w.fields.truncated))
  })

  t.test('mssql live types – fraction: truncate cuts only the 7th digit: a declared precision still refuses more digits', async (t) => {
    const live = await setUp(t)
    const dialect = live.open()
    const s = stream({ name: 'times', source: { query: 'SELECT Id, D7 FROM erp.Tempos WHERE Id IN (1002, 1003)' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'changed', from: 'D7', type: 'datetime', precision: 3, fraction: 'truncate' }] })
    t.same(await readAll(dialect, s), [[1002, '2024-01-01T10:00:00.123000'], [1003, '2024-01-01T10:00:00.123000']])
    await live.admin.request().batch("UPDATE erp.Tempos SET D7 = '2024-01-01T10:00:00.1234567' WHERE Id = 1003")
    await t.rejects(readAll(dialect, s), { code: 'SIS_SRC_VALUE', column: 'changed', message: /fractional seconds beyond the column's 3 digits/ })
  })

  t.test('mssql live types – sql_variant arrives as exact text by its base type', async (t) => {
    const live = await setUp(t)
    const dialect = live.open()
    const s = stream({ name: 'variants', source: { table: 'erp.Variantes' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'v', from: 'V', type: 'string' }] })
    const got = new Map((await readAll(dialect, s)).map((r) => [r[0], r[1]]))
    const exact: Record<number, string | null> = {
      1: '-2147483648', 2: '9223372036854775807', 3: '-32768', 4: '255', 5: '1',
      6: '-1234567890123456789012345678.0123456789',
      8: '922337203685477.5807', 9: '-214748.3648',
      14: '2024-02-29 23:59:59.997', 15: '2024-02-29 23:59:00.000',
      16: '2024-02-29 23:59:59.1234567', 17: '2024-02-29 23:59:59.0000000',
      18: '2024-01-01 10:00:00.1234567 +02:00', 19: '0001-01-01', 20: '23:59:59.1234567',
      21: 'ab   ', 22: 'ação', 23: 'ç    ', 24: EMOJI,
      25: '0x00FF10AB', 26: '0x0102', 27: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      28: null
    }
    for (const [id, text] of Object.entries(exact)) t.equal(got.get(Number(id)), text, `sql_variant #${id}`)
    t.match(got.get(7), /^0?\.500$/, 'numeric(9,3) with every digit of its scale')
    // floats: 17 significant digits, the same double (a real widened exactly)
    const float = (id: number): number => Number(got.get(id))
    t.equal(float(10), 0.1, 'float 0.1')
    t.equal(float(11), 1e300, 'float 1e300')
    t.equal(float(12), Math.fround(0.1), 'real 0.1, widened exactly')
    t.equal(float(13), -2.2250738585072014e-308, 'float near the smallest normal')
  })

  t.test('mssql live types – the other common ERP types arrive exactly', async (t) => {
    const live = await setUp(t)
    const dialect = live.open()
    const s = stream({
      name: 'others',
      source: { table: 'erp.Outros' },
      key: ['id'],
      columns: [
        { name: 'id', from: 'Id', type: 'int' },
        { name: 'sm', from: 'Sm', type: 'decimal', precision: 10, scale: 4 },
        { name: 'r', from: 'R', type: 'float' },
        { name: 'f', from: 'F', type: 'float' },
        { name: 'c', from: 'C', type: 'string' },
        { name: 'nc', from: 'NC', type: 'string' },
        { name: 'tx', from: 'Tx', type: 'string' },
        { name: 'ntx', from: 'NTx', type: 'string' },
        { name: 'img', from: 'Img', type: 'binary' },
        { name: 'x', from: 'X', type: 'string' },
        { name: 'rv', from: 'Rv', type: 'binary' },
        { name: 'b16', from: 'B16', type: 'uuid' }
      ]
    })
    const rows = await readAll(dialect, s)
    const { recordset } = await live.admin.request().query('SELECT Id, CONVERT(varchar(20), CONVERT(bigint, Rv)) AS rv FROM erp.Outros ORDER BY Id')
    const rowversion = (i: number): string => {
      const b = Buffer.alloc(8)
      b.writeBigUInt64BE(BigInt((recordset[i] as { rv: string }).rv))
      return b.toString('base64')
    }
    t.same(rows[0], [1, '-214748.3648', 0.1, 0.1, 'ab   ', 'çã   ', 'ação', EMOJI, 'AP8Q', '<a b="1">ç🚀</a>', rowversion(0), '00112233-4455-6677-8899-aabbccddeeff'])
    t.same(rows[1], [2, '214748.3647', 16777216, 1e308, null, null, null, null, null, null, rowversion(1), null])
    const asBigint = stream({ name: 'others', source: { table: 'erp.Outros' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'rv', from: 'Rv', type: 'bigint' }] })
    t.same(await readAll(dialect, asBigint), recordset.map((r) => [(r as { Id: number }).Id, (r as { rv: string }).rv]), 'rowversion as bigint')
  })
})
