import mssql from 'mssql'
import t from 'tap'
import type { ColumnMapping, WireType } from '@sisporta/contracts'
import { ConversionFailure } from '../src/wire-convert.js'
import { driverTypeName, type MssqlColumnMetadataLike } from '../src/mssql/mssql-driver.js'
import { renderSelectColumn, renderVariantText } from '../src/mssql/mssql-sql.js'
import {
  MSSQL_WIRE_TYPES, expectedDriverTypes, mssqlColumnInfo, mssqlKeyProblem, mssqlReadForm, mssqlTypeProblem, type MssqlColumnInfo
} from '../src/mssql/mssql-types.js'
import {
  createMssqlKeyParameter, createMssqlValueConverter, sqlDateTimeToWire, sqlDecimalToWire
} from '../src/mssql/mssql-values.js'

// Without a server: values in the shapes the mssql driver (tedious) produces for the select list
// the dialect sends, with the result metadata the driver reports for them.

/** Column facts as the catalogue reports them (sys.columns: max_length in bytes, precision, scale). */
function info (type: string, c: { maxLength?: number, precision?: number, scale?: number, collation?: string } = {}): MssqlColumnInfo {
  return mssqlColumnInfo({ type, maxLength: c.maxLength ?? 0, precision: c.precision ?? 0, scale: c.scale ?? 0, nullable: true, collation: c.collation ?? null })
}

/** Result metadata as mssql builds it from tedious' column metadata (`result.columns[0][i]`). */
function meta (type: object, c: { length?: number, precision?: number, scale?: number } = {}): MssqlColumnMetadataLike {
  return { index: 0, name: 'c', length: c.length ?? 0, type, ...(c.precision === undefined ? {} : { precision: c.precision }), ...(c.scale === undefined ? {} : { scale: c.scale }), nullable: true }
}

const column = (type: WireType, extra: Partial<ColumnMapping> = {}): ColumnMapping => ({ name: 'c', from: 'C', type, ...extra })

const EMOJI = 'Olá, São Paulo — ação «ü» 🚀👩🏽‍💻 中文'

t.test('mssql values – catalogue numbers become column facts', async (t) => {
  t.match(info('nvarchar', { maxLength: 80, collation: 'Latin1_General_CI_AS' }), { dataType: 'nvarchar', columnType: 'nvarchar(40)', length: 40, collation: 'Latin1_General_CI_AS' })
  t.match(info('nvarchar', { maxLength: -1 }), { columnType: 'nvarchar(max)', length: -1 })
  t.match(info('varchar', { maxLength: 20 }), { columnType: 'varchar(20)', length: 20 })
  t.match(info('char', { maxLength: 3 }), { columnType: 'char(3)', length: 3 })
  t.match(info('ntext', { maxLength: 16 }), { columnType: 'ntext', length: -1 })
  t.match(info('binary', { maxLength: 16 }), { columnType: 'binary(16)', length: 16 })
  t.match(info('decimal', { precision: 19, scale: 4 }), { columnType: 'decimal(19,4)', precision: 19, scale: 4 })
  t.match(info('money', { precision: 19, scale: 4 }), { columnType: 'money', precision: 19, scale: 4 })
  t.match(info('smallmoney'), { columnType: 'smallmoney', precision: 10, scale: 4 })
  t.match(info('datetime2', { precision: 27, scale: 7 }), { columnType: 'datetime2(7)', scale: 7 })
  t.match(info('datetimeoffset', { scale: 3 }), { columnType: 'datetimeoffset(3)', scale: 3 })
  t.match(info('timestamp', { maxLength: 8 }), { dataType: 'rowversion', columnType: 'rowversion', length: 8 })
  t.match(info('int', { precision: 10 }), { dataType: 'int', columnType: 'int' })
  t.notOk('collation' in info('int'), 'no collation for a number')
})

interface Case {
  readonly name: string
  readonly source: MssqlColumnInfo
  readonly type: WireType
  /** The select-list expression the dialect sends for this column. */
  readonly select: string
  /** What the driver reports for that expression. */
  readonly driver: MssqlColumnMetadataLike
  readonly values: readonly [unknown, unknown][]
  /** More of the column's mapping (`fraction: truncate`). */
  readonly mapping?: Partial<ColumnMapping>
}

/** Read as stored: the driver reports the column's own type. */
const native = (type: object, length: number): Pick<Case, 'select' | 'driver'> => ({ select: 's.[C]', driver: meta(type, { length }) })
/** Read as text SQL Server writes (`expression AS [C]`): the driver reports a varchar of `length`. */
const asText = (expression: string, length: number): Pick<Case, 'select' | 'driver'> => ({ select: `${expression} AS [C]`, driver: meta(mssql.VarChar, { length }) })
const DECIMAL_TEXT = asText('CONVERT(varchar(64), s.[C])', 64)
const MONEY_TEXT = asText('CONVERT(varchar(64), s.[C], 2)', 64)
const BIGINT_TEXT = asText('CONVERT(varchar(20), s.[C])', 20)
const DATETIME_TEXT = asText('CONVERT(varchar(27), s.[C], 121)', 27)
const DATE_TEXT = asText('CONVERT(varchar(10), s.[C], 23)', 10)
const UNICODE_TEXT = { select: 'CONVERT(nvarchar(max), s.[C]) AS [C]', driver: meta(mssql.NVarChar, { length: 0xffff }) }

const CASES: Case[] = [
  { name: 'decimal(19,4) read as text keeps every digit', source: info('decimal', { precision: 19, scale: 4 }), type: 'decimal', ...DECIMAL_TEXT,
    values: [['123456789012345.6789', '123456789012345.6789'], ['-0.0100', '-0.0100'], ['0.0000', '0.0000']] },
  { name: 'numeric(38,10): 38 digits, and the .5 SQL Server may write', source: info('numeric', { precision: 38, scale: 10 }), type: 'decimal', ...DECIMAL_TEXT,
    values: [['-9999999999999999999999999999.9999999999', '-9999999999999999999999999999.9999999999'], ['.5000000000', '0.5000000000'], ['-.5000000000', '-0.5000000000']] },
  { name: 'money with style 2: four decimals, no rounding to cents', source: info('money'), type: 'decimal', ...MONEY_TEXT,
    values: [['922337203685477.5807', '922337203685477.5807'], ['-922337203685477.5808', '-922337203685477.5808'], ['4235.9819', '4235.9819']] },
  { name: 'smallmoney', source: info('smallmoney'), type: 'decimal', ...MONEY_TEXT,
    values: [['-214748.3648', '-214748.3648']] },
  { name: 'bigint beyond 2^53 as text', source: info('bigint'), type: 'bigint', ...BIGINT_TEXT,
    values: [['9007199254740993', '9007199254740993'], ['-9223372036854775808', '-9223372036854775808'], ['9223372036854775807', '9223372036854775807']] },
  { name: 'decimal(18,0) as bigint', source: info('decimal', { precision: 18, scale: 0 }), type: 'bigint', ...DECIMAL_TEXT,
    values: [['999999999999999999', '999999999999999999']] },
  { name: 'decimal(9,0) as int', source: info('decimal', { precision: 9, scale: 0 }), type: 'int', ...DECIMAL_TEXT,
    values: [['-123456789', -123456789]] },
  { name: 'int, smallint, tinyint as numbers', source: info('int'), type: 'int', ...native(mssql.Int, 4),
    values: [[2147483647, 2147483647], [-2147483648, -2147483648], [0, 0]] },
  { name: 'tinyint as int', source: info('tinyint'), type: 'int', ...native(mssql.TinyInt, 1),
    values: [[255, 255]] },
  { name: 'int as bigint and decimal', source: info('int'), type: 'bigint', ...native(mssql.Int, 4),
    values: [[-7, '-7']] },
  { name: 'tinyint 0/1 as bool', source: info('tinyint'), type: 'bool', ...native(mssql.TinyInt, 1),
    values: [[1, true], [0, false]] },
  { name: 'bit as bool', source: info('bit'), type: 'bool', ...native(mssql.Bit, 1),
    values: [[true, true], [false, false]] },
  { name: 'bit as int', source: info('bit'), type: 'int', ...native(mssql.Bit, 1),
    values: [[true, 1], [false, 0]] },
  { name: 'nvarchar: accents, emoji (surrogate pairs, ZWJ sequences), CJK', source: info('nvarchar', { maxLength: 200, collation: 'Latin1_General_100_CI_AS_SC' }), type: 'string', ...native(mssql.NVarChar, 200),
    values: [[EMOJI, EMOJI], ['', ''], ['  padded  ', '  padded  ']] },
  { name: 'varchar with a code-page collation, decoded by the driver', source: info('varchar', { maxLength: 40, collation: 'SQL_Latin1_General_CP1_CI_AS' }), type: 'string', ...native(mssql.VarChar, 40),
    values: [['ação €', 'ação €']] },
  { name: 'nchar keeps its padding', source: info('nchar', { maxLength: 10 }), type: 'string', ...native(mssql.NChar, 10),
    values: [['AB   ', 'AB   ']] },
  { name: 'datetime (1/300 s) as text is exact', source: info('datetime'), type: 'datetime', ...DATETIME_TEXT,
    values: [['2024-02-29 23:59:59.997', '2024-02-29T23:59:59.997'], ['1753-01-01 00:00:00.000', '1753-01-01T00:00:00.000'], ['2024-01-01 10:00:00.003', '2024-01-01T10:00:00.003']] },
  { name: 'smalldatetime', source: info('smalldatetime'), type: 'datetime', ...DATETIME_TEXT,
    values: [['2024-01-01 10:30:00.000', '2024-01-01T10:30:00.000'], ['2079-06-06 23:59:00', '2079-06-06T23:59:00']] },
  { name: 'datetime2(7) with fraction: truncate: the 7th digit cut, never rounded', source: info('datetime2', { scale: 7 }), type: 'datetime', ...DATETIME_TEXT, mapping: { fraction: 'truncate' },
    values: [['2024-02-29 23:59:59.1234560', '2024-02-29T23:59:59.123456'], ['0001-01-01 00:00:00.0000000', '0001-01-01T00:00:00.000000'], ['9999-12-31 23:59:59.9999999', '9999-12-31T23:59:59.999999'], ['2024-02-29 23:59:59.0000005', '2024-02-29T23:59:59.000000']] },
  { name: 'datetime2(0) and (3)', source: info('datetime2', { scale: 3 }), type: 'datetime', ...DATETIME_TEXT,
    values: [['2024-01-02 03:04:05.120', '2024-01-02T03:04:05.120'], ['2024-01-02 03:04:05', '2024-01-02T03:04:05']] },
  { name: 'datetime2(7) as string keeps all seven digits', source: info('datetime2', { scale: 7 }), type: 'string', ...DATETIME_TEXT,
    values: [['2024-02-29 23:59:59.1234567', '2024-02-29 23:59:59.1234567']] },
  { name: 'date', source: info('date'), type: 'date', ...DATE_TEXT,
    values: [['2024-02-29', '2024-02-29'], ['0001-01-01', '0001-01-01']] },
  { name: 'date as datetime', source: info('date'), type: 'datetime', ...DATE_TEXT,
    values: [['2024-02-29', '2024-02-29T00:00:00']] },
  { name: 'time(7) as string', source: info('time', { scale: 7 }), type: 'string', ...asText('CONVERT(varchar(16), s.[C], 121)', 16),
    values: [['23:59:59.1234567', '23:59:59.1234567']] },
  { name: 'datetimeoffset as datetime: the UTC wall clock', source: info('datetimeoffset', { scale: 7 }), type: 'datetime', ...asText("CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(s.[C], '+00:00')), 121)", 27), mapping: { fraction: 'truncate' },
    values: [['2024-01-01 08:00:00.1234560', '2024-01-01T08:00:00.123456'], ['2024-01-01 08:00:00.9999999', '2024-01-01T08:00:00.999999']] },
  { name: 'datetimeoffset as string keeps its offset', source: info('datetimeoffset', { scale: 7 }), type: 'string', ...asText('CONVERT(varchar(34), s.[C], 121)', 34),
    values: [['2024-01-01 10:00:00.1234567 +02:00', '2024-01-01 10:00:00.1234567 +02:00']] },
  { name: 'uniqueidentifier, upper-case from the driver, lower-case on the wire', source: info('uniqueidentifier'), type: 'uuid', ...native(mssql.UniqueIdentifier, 16),
    values: [['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']] },
  { name: 'uniqueidentifier as string is the wire uuid too', source: info('uniqueidentifier'), type: 'string', ...native(mssql.UniqueIdentifier, 16),
    values: [['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11']] },
  { name: 'varbinary as base64', source: info('varbinary', { maxLength: 16 }), type: 'binary', ...native(mssql.VarBinary, 16),
    values: [[Buffer.from([0x00, 0xff, 0x10]), 'AP8Q'], [Buffer.alloc(0), '']] },
  { name: 'image as base64', source: info('image', { maxLength: 16 }), type: 'binary', ...native(mssql.Image, 2147483647),
    values: [[Buffer.from('deadbeef00', 'hex'), '3q2+7wA=']] },
  { name: 'binary(16) as uuid in stored byte order', source: info('binary', { maxLength: 16 }), type: 'uuid', ...native(mssql.Binary, 16),
    values: [[Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a13', 'hex'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13']] },
  { name: 'rowversion as binary', source: info('timestamp', { maxLength: 8 }), type: 'binary', ...native(mssql.Binary, 8),
    values: [[Buffer.from('00000000000007d1', 'hex'), 'AAAAAAAAB9E=']] },
  { name: 'rowversion as bigint', source: info('timestamp', { maxLength: 8 }), type: 'bigint', ...asText('CONVERT(varchar(20), CONVERT(bigint, s.[C]))', 20),
    values: [['2001', '2001']] },
  { name: 'real as its shortest single-precision value', source: info('real'), type: 'float', ...native(mssql.Real, 4),
    values: [[Math.fround(0.1), 0.1], [Math.fround(3.14159), 3.14159], [-1.5, -1.5]] },
  { name: 'float', source: info('float'), type: 'float', ...native(mssql.Float, 8),
    values: [[0.1, 0.1], [1e300, 1e300]] },
  { name: 'xml as string', source: info('xml', { maxLength: -1 }), type: 'string', ...UNICODE_TEXT,
    values: [['<pedido id="1"><item>ç🚀</item></pedido>', '<pedido id="1"><item>ç🚀</item></pedido>']] },
  { name: 'sql_variant as string', source: info('sql_variant', { maxLength: 8016 }), type: 'string', select: `${renderVariantText('s.[C]')} AS [C]`, driver: UNICODE_TEXT.driver,
    values: [['42', '42']] },
  { name: 'nvarchar(max) holding JSON', source: info('nvarchar', { maxLength: -1 }), type: 'json', ...native(mssql.NVarChar, 0xffff),
    values: [['{"a": [1, 2.5], "s": "🚀"}', { a: [1, 2.5], s: '🚀' }]] },
  { name: 'char(36) holding a uuid', source: info('char', { maxLength: 36 }), type: 'uuid', ...native(mssql.Char, 36),
    values: [['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']] }
]

t.test('mssql values – every type, as the driver delivers it, arrives exactly in the wire format', async (t) => {
  for (const c of CASES) {
    t.test(c.name, async (t) => {
      t.equal(mssqlTypeProblem(column(c.type, c.mapping), c.source), undefined, `${c.source.columnType} may be read as ${c.type}`)
      const read = mssqlReadForm(c.type, c.source)
      t.equal(renderSelectColumn('s', { column: 'C', read }), c.select, 'select-list expression')
      const expected = expectedDriverTypes(read, c.source)
      if (expected !== undefined) t.ok(expected.includes(driverTypeName(c.driver)!), `the driver's ${driverTypeName(c.driver)} is what ${read} produces`)
      const toWire = createMssqlValueConverter(c.type, c.source, c.mapping?.fraction === 'truncate')
      for (const [value, wire] of c.values) t.same(toWire(value), wire, `${Buffer.isBuffer(value) ? `0x${value.toString('hex')}` : JSON.stringify(value)} → ${JSON.stringify(wire)}`)
    })
  }
})

t.test('mssql values – values that cannot convert without loss fail with the reason', async (t) => {
  const fails = (type: WireType, source: MssqlColumnInfo, value: unknown, reason: RegExp): void => {
    t.throws(() => createMssqlValueConverter(type, source)(value), reason)
    t.throws(() => createMssqlValueConverter(type, source)(value), ConversionFailure)
  }
  fails('datetime', info('datetime2', { scale: 7 }), '2024-02-29 23:59:59.1234567', /7th fractional digit .* never rounds/)
  fails('string', info('nvarchar', { maxLength: 20 }), 'a\ud83db', /unpaired UTF-16 surrogate/)
  fails('bool', info('tinyint'), 2, /neither 0 nor 1/)
  fails('int', info('decimal', { precision: 9, scale: 0 }), '2147483648', /32-bit/)
  fails('bigint', info('bigint'), '12a', /not an integer/)
  fails('decimal', info('decimal', { precision: 19, scale: 4 }), '1E+5', /not a decimal/)
  fails('decimal', info('money'), 12.5, /unexpected|12.5/)
  fails('datetime', info('datetime'), new Date(0), /unexpected Date/)
  fails('date', info('date'), '2023-02-29', /not a valid date/)
  fails('uuid', info('binary', { maxLength: 16 }), Buffer.alloc(15), /15 bytes/)
  fails('json', info('nvarchar', { maxLength: -1 }), '{"id": 9007199254740993}', /cannot hold exactly/)
  fails('binary', info('varbinary', { maxLength: 4 }), 'text', /unexpected string/)
  t.equal(sqlDecimalToWire('-0.0100'), '-0.0100')
  t.throws(() => sqlDecimalToWire('.'), /not a decimal/)
  t.throws(() => sqlDecimalToWire('-'), /not a decimal/)
  t.equal(sqlDateTimeToWire('2024-01-01T00:00:00'), '2024-01-01T00:00:00')
  t.throws(() => sqlDateTimeToWire('2024-13-01 00:00:00'), /not a valid date-time/)
})

t.test('mssql types – each source type maps only to the wire types that hold it', async (t) => {
  const ok = (type: WireType, source: MssqlColumnInfo, extra: Partial<ColumnMapping> = {}): void => {
    t.equal(mssqlTypeProblem(column(type, extra), source), undefined, `${source.columnType} → ${type} ${JSON.stringify(extra)}`)
  }
  const no = (type: WireType, source: MssqlColumnInfo, reason: RegExp, extra: Partial<ColumnMapping> = {}): void => {
    t.match(mssqlTypeProblem(column(type, extra), source), reason, `${source.columnType} ↛ ${type} ${JSON.stringify(extra)}`)
  }
  ok('decimal', info('decimal', { precision: 19, scale: 4 }))
  ok('decimal', info('decimal', { precision: 19, scale: 4 }), { precision: 19, scale: 4 })
  ok('decimal', info('numeric', { precision: 38, scale: 10 }))
  no('decimal', info('decimal', { precision: 19, scale: 4 }), /15 digits before the point and 4 after; declared precision 10, scale 2/, { precision: 10, scale: 2 })
  no('decimal', info('numeric', { precision: 38, scale: 12 }), /the default decimal\(38,10\) does not \(declare precision ≥ 38 and scale ≥ 12\)/)
  no('decimal', info('decimal', { precision: 38, scale: 0 }), /38 digits before the point/)
  ok('decimal', info('money'), { precision: 19, scale: 4 })
  no('decimal', info('money'), /15 digits before the point and 4 after/, { precision: 18, scale: 4 })
  ok('decimal', info('int'))
  ok('decimal', info('bigint'), { precision: 19, scale: 0 })
  ok('int', info('int'))
  ok('bigint', info('int'))
  ok('bigint', info('bigint'))
  no('int', info('bigint'), /bigint cannot be read as int without loss; it maps to bigint, decimal, string/)
  no('float', info('bigint'), /cannot be read as float/)
  no('int', info('decimal', { precision: 10, scale: 0 }), /p ≤ 9/)
  no('bigint', info('decimal', { precision: 18, scale: 2 }), /declare it as decimal/)
  no('decimal', info('float'), /float cannot be read as decimal/)
  no('datetime', info('datetime2', { scale: 7 }), /datetime2\(7\) keeps 7 fractional-second digits .* add fraction: truncate .* or declare it as string/)
  no('datetime', info('datetimeoffset', { scale: 7 }), /datetimeoffset\(7\) keeps 7 fractional-second digits/)
  ok('datetime', info('datetime2', { scale: 7 }), { fraction: 'truncate' })
  ok('datetime', info('datetimeoffset', { scale: 7 }), { fraction: 'truncate' })
  ok('datetime', info('datetime2', { scale: 6 }))
  ok('datetime', info('datetimeoffset', { scale: 3 }))
  ok('string', info('datetime2', { scale: 7 }))
  no('date', info('datetime2', { scale: 7 }), /datetime2\(7\) cannot be read as date/)
  no('datetime', info('time', { scale: 7 }), /time\(7\) cannot be read as datetime/)
  ok('string', info('nvarchar', { maxLength: 80 }), { length: 40 })
  no('string', info('nvarchar', { maxLength: 200 }), /nvarchar\(100\) holds up to 100 characters; the declared length 50 is shorter/, { length: 50 })
  no('string', info('nvarchar', { maxLength: -1 }), /nvarchar\(max\) holds up to about 2\^30 characters/, { length: 4000 })
  no('binary', info('varbinary', { maxLength: 32 }), /32 bytes; the declared length 16/, { length: 16 })
  ok('uuid', info('binary', { maxLength: 16 }))
  no('uuid', info('varbinary', { maxLength: 16 }), /exactly 16 bytes: binary\(16\), not varbinary\(16\)/)
  ok('string', info('xml', { maxLength: -1 }))
  no('json', info('xml', { maxLength: -1 }), /xml cannot be read as json/)
  no('int', info('sql_variant'), /sql_variant cannot be read as int/)
  no('string', info('geography', { maxLength: -1 }), /geography is not supported; convert it in a query/)
  no('string', info('hierarchyid', { maxLength: 892 }), /not supported/)
  t.same(MSSQL_WIRE_TYPES.bit, ['bool', 'int'])
})

t.test('mssql types – keys must compare exactly in the source', async (t) => {
  t.equal(mssqlKeyProblem('int', info('int')), undefined)
  t.equal(mssqlKeyProblem('string', info('nvarchar', { maxLength: 40 })), undefined)
  t.equal(mssqlKeyProblem('decimal', info('decimal', { precision: 19, scale: 4 })), undefined)
  t.equal(mssqlKeyProblem('datetime', info('datetime2', { scale: 7 })), undefined)
  t.equal(mssqlKeyProblem('uuid', info('uniqueidentifier')), undefined)
  t.match(mssqlKeyProblem('float', info('float')), /float column cannot be a key/)
  t.match(mssqlKeyProblem('string', info('real')), /float column cannot be a key/)
  t.match(mssqlKeyProblem('string', info('nvarchar', { maxLength: -1 })), /nvarchar\(max\) column cannot be a key/)
  t.match(mssqlKeyProblem('string', info('ntext')), /ntext column cannot be a key/)
  t.match(mssqlKeyProblem('datetime', info('datetimeoffset', { scale: 7 })), /datetimeoffset column cannot be a key/)
  t.match(mssqlKeyProblem('binary', info('timestamp', { maxLength: 8 })), /rowversion changes/)
  t.match(mssqlKeyProblem('uuid', info('char', { maxLength: 36 })), /declare it as string/)
  t.match(mssqlKeyProblem('json', info('nvarchar', { maxLength: 100 })), /json column cannot be a key/)
})

t.test('mssql values – key parameters go back in the column type, exact', async (t) => {
  const key = (type: WireType, source: MssqlColumnInfo): ReturnType<typeof createMssqlKeyParameter> => createMssqlKeyParameter(type, source)
  const big = key('bigint', info('bigint'))
  t.same(big.compare, { kind: 'convert', type: { name: 'bigint' } })
  t.same(big.type, { kind: 'varchar', length: 20 })
  t.equal(big.toParameter('9007199254740993'), '9007199254740993', 'as text: no double in between')
  const dec = key('decimal', info('decimal', { precision: 38, scale: 10 }))
  t.same(dec.compare, { kind: 'convert', type: { name: 'decimal', precision: 38, scale: 10 } })
  t.same(dec.type, { kind: 'varchar', length: 64 })
  t.same(key('decimal', info('money')).compare, { kind: 'convert', type: { name: 'money' } })
  const at = key('datetime', info('datetime2', { scale: 7 }))
  t.same(at.compare, { kind: 'convert', type: { name: 'datetime2', scale: 7 }, style: 121 })
  t.equal(at.toParameter('2024-01-01T10:00:00.123456'), '2024-01-01 10:00:00.123456')
  t.same(key('datetime', info('datetime')).compare, { kind: 'convert', type: { name: 'datetime' }, style: 121 })
  const day = key('datetime', info('date'))
  t.same(day.compare, { kind: 'convert', type: { name: 'date' }, style: 23 })
  t.equal(day.toParameter('2024-02-29T00:00:00'), '2024-02-29')
  t.same(key('uuid', info('uniqueidentifier')).compare, { kind: 'convert', type: { name: 'uniqueidentifier' } })
  const n = key('string', info('nvarchar', { maxLength: 80 }))
  t.same([n.compare, n.type, n.toParameter('ação')], [{ kind: 'plain' }, { kind: 'nvarchar', length: 40 }, 'ação'], 'nvarchar key: nvarchar parameter')
  const v = key('string', info('varchar', { maxLength: 20 }))
  t.same([v.compare, v.type], [{ kind: 'plain' }, { kind: 'varchar', length: 20 }], 'varchar key: varchar parameter, so the index is seeked, not converted')
  const i = key('bool', info('tinyint'))
  t.same([i.type, i.toParameter(true), i.toParameter(false)], [{ kind: 'int' }, 1, 0])
  t.same(key('int', info('int')).toParameter(42), 42)
  t.same([key('bool', info('bit')).type, key('bool', info('bit')).toParameter(true)], [{ kind: 'bit' }, true])
  const b = key('uuid', info('binary', { maxLength: 16 }))
  t.same([b.type, b.toParameter('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13')], [{ kind: 'varbinary', length: 16 }, Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a13', 'hex')])
  t.same(key('binary', info('varbinary', { maxLength: 8 })).toParameter('AP8Q'), Buffer.from([0, 255, 16]))
})
