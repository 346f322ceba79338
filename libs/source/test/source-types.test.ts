/**
 * Type checks before a load, one body for every engine with a local server (as Kysely's tests
 * do): describe refuses a source column whose type cannot hold what the stream declares
 * (`SIS_SRC_TYPE`, exit code 2) — naming stream, column, source type and declared type — for
 * tables and for a query's result columns alike, with precision, scale and length pinned at their
 * boundaries. The engines' rule tables without a server: at the end.
 */
import t from 'tap'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import type { SourceDialect } from '../src/index.js'
import { mysqlTypeProblem } from '../src/mysql/mysql-types.js'
import type { MysqlColumnInfo } from '../src/mysql/mysql-values.js'
import { postgresTypeProblem } from '../src/postgres/postgres-types.js'
import type { PostgresColumnInfo } from '../src/postgres/postgres-values.js'
import { ENGINES, escapePattern, setUpOrderLines, type Engine } from './engines.js'
import { stream } from './fixtures.js'

/** How each engine's catalogue spells the `kinds` table's types. */
const KINDS_TYPES: Record<string, { readonly big: string, readonly ratio: string, readonly day: string, readonly body: string }> = {
  postgres: { big: 'bigint', ratio: 'double precision', day: 'date', body: 'text' },
  mysql: { big: 'bigint(20)', ratio: 'double', day: 'date', body: 'text' }
}

/** `Order Lines` (doc varchar(20), line int, qty decimal(12,3), note varchar(40)) and `kinds`, with a dialect. */
async function setUp (t: Parameters<typeof setUpOrderLines>[0], engine: Engine): Promise<SourceDialect> {
  const { db, dialect } = await setUpOrderLines(t, engine)
  await db.exec('CREATE TABLE kinds (id INT NOT NULL PRIMARY KEY, big BIGINT, ratio DOUBLE PRECISION, day DATE, body TEXT)')
  await db.exec("INSERT INTO kinds VALUES (1, 9007199254740993, 0.5, '2024-02-29', 'x')")
  return dialect
}

/** A stream of `table` keyed on `key`, with `column` mapped as `mapped` besides the key. */
function mapping (table: string, key: ColumnMapping, mapped: ColumnMapping[], name = 'typed'): StreamConfig {
  return stream({ name, source: { table }, key: [key.name], columns: [key, ...mapped] })
}

const LINES_KEY: ColumnMapping = { name: 'document', from: 'doc', type: 'string' }
const KINDS_KEY: ColumnMapping = { name: 'id', from: 'id', type: 'int' }

for (const engine of ENGINES) {
  const lines = engine.orderLinesTypes
  const kinds = KINDS_TYPES[engine.name]!

  t.test(`describe types – ${engine.name}: a varchar mapped to int fails before any page is read, exit 2, naming stream, column and both types`, async (t) => {
    const dialect = await setUp(t, engine)
    const s = mapping('Order Lines', LINES_KEY, [{ name: 'note_no', from: 'note', type: 'int' }], 'order_notes')
    const err = await dialect.describe(s).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_TYPE', exitCode: 2, stream: 'order_notes', column: 'note_no' })
    t.match((err as Error).message, new RegExp(`^stream 'order_notes', column 'note_no' \\(from note ${escapePattern(lines.note)} to int\\): ` +
      `source type ${escapePattern(lines.note)} cannot be read as int without loss; it maps to string, json, uuid$`))
    await t.rejects(dialect.readPage(s, undefined, 10), { code: 'SIS_SRC_TYPE', column: 'note_no' }, 'readPage describes first: no page is read')
  })

  t.test(`describe types – ${engine.name}: declared precision, scale and length pinned at their boundaries`, async (t) => {
    const dialect = await setUp(t, engine)
    const fits = async (key: ColumnMapping, table: string, column: ColumnMapping): Promise<void> => {
      const d = await dialect.describe(mapping(table, key, [column])).then((d) => d, (e: unknown) => e as Error)
      t.notOk(d instanceof Error, `${column.from} → ${JSON.stringify(column)} fits`, { error: (d as Error).message })
    }
    const refused = async (key: ColumnMapping, table: string, column: ColumnMapping, reason: string): Promise<void> => {
      await t.rejects(dialect.describe(mapping(table, key, [column])),
        { code: 'SIS_SRC_TYPE', exitCode: 2, column: column.name, message: new RegExp(`column '${column.name}' \\(from ${column.from} .+ to ${column.type}\\): .*${reason}`) },
        `${column.from} ↛ ${JSON.stringify(column)}`)
    }
    const qty = escapePattern(lines.qty)
    await fits(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'decimal', precision: 12, scale: 3 })
    await fits(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'decimal', precision: 13, scale: 4 })
    await fits(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'decimal' })
    await refused(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'decimal', precision: 11, scale: 3 },
      `${qty} needs the declared decimal to hold 9 digits before the point and 3 after; declared precision 11, scale 3 does not`)
    await refused(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'decimal', precision: 12, scale: 2 },
      `${qty} needs the declared decimal to hold 9 digits before the point and 3 after; declared precision 12, scale 2 does not`)
    await refused(LINES_KEY, 'Order Lines', { name: 'q', from: 'qty', type: 'int' }, `${qty} holds values a int cannot`)
    await fits({ ...LINES_KEY, length: 20 }, 'Order Lines', { name: 'n', from: 'note', type: 'string', length: 40 })
    await refused(LINES_KEY, 'Order Lines', { name: 'doc_copy', from: 'doc', type: 'string', length: 19 },
      `${escapePattern(lines.doc)} holds up to 20 characters; the declared length 19 is shorter`)
    await refused(LINES_KEY, 'Order Lines', { name: 'n', from: 'note', type: 'string', length: 39 }, `holds up to 40 characters; the declared length 39 is shorter`)
    await fits(LINES_KEY, 'Order Lines', { name: 'l', from: 'line', type: 'decimal', precision: 10, scale: 0 })
    await refused(LINES_KEY, 'Order Lines', { name: 'l', from: 'line', type: 'decimal', precision: 9, scale: 0 }, 'needs the declared decimal to hold 10 digits before the point')
    await fits(KINDS_KEY, 'kinds', { name: 'b', from: 'big', type: 'bigint' })
    await refused(KINDS_KEY, 'kinds', { name: 'b', from: 'big', type: 'int' },
      `source type ${escapePattern(kinds.big)} cannot be read as int without loss; it maps to bigint, decimal, bool, string`)
    await fits(KINDS_KEY, 'kinds', { name: 'r', from: 'ratio', type: 'float' })
    await refused(KINDS_KEY, 'kinds', { name: 'r', from: 'ratio', type: 'decimal' }, `source type ${kinds.ratio} cannot be read as decimal without loss; it maps to float, string`)
    await fits(KINDS_KEY, 'kinds', { name: 'd', from: 'day', type: 'datetime' })
    await refused(KINDS_KEY, 'kinds', { name: 'd', from: 'day', type: 'int' }, 'source type date cannot be read as int without loss; it maps to date, datetime, string')
    await refused(KINDS_KEY, 'kinds', { name: 'x', from: 'body', type: 'binary' }, 'source type text cannot be read as binary without loss')
    if (engine.name === 'mysql') {
      await refused(KINDS_KEY, 'kinds', { name: 'x', from: 'body', type: 'string', length: 100 }, 'text holds up to 65535 characters; the declared length 100 is shorter')
    } else {
      // PostgreSQL's text states no maximum: a declared length is checked value by value instead
      await fits(KINDS_KEY, 'kinds', { name: 'x', from: 'body', type: 'string', length: 100 })
    }
  })

  t.test(`describe types – ${engine.name}: every column that does not fit is named in one error`, async (t) => {
    const dialect = await setUp(t, engine)
    const s = mapping('kinds', KINDS_KEY, [{ name: 'b', from: 'big', type: 'int' }, { name: 'r', from: 'ratio', type: 'float' }, { name: 'd', from: 'day', type: 'bool' }])
    const err = await dialect.describe(s).then(() => undefined, (e: unknown) => e as Error)
    t.match(err, { code: 'SIS_SRC_TYPE', column: 'b' })
    t.match(err?.message, new RegExp(`^stream 'typed', column 'b' \\(from big ${escapePattern(kinds.big)} to int\\): .*; column 'd' \\(from day date to bool\\): source type date cannot be read as bool`))
    t.notMatch(err?.message, /column 'r'/, 'the column that fits is not named')
  })

  t.test(`describe types – ${engine.name}: a query stream's result columns are checked too`, async (t) => {
    const dialect = await setUp(t, engine)
    const query = (columns: ColumnMapping[]): StreamConfig => stream({
      name: 'q_lines',
      source: { query: `SELECT l.doc AS document, l.note, CAST(l.qty * 2 AS DECIMAL(13,3)) AS twice FROM ${engine.q('Order Lines')} l` },
      key: ['document'],
      columns: [{ name: 'document', from: 'document', type: 'string', length: 20 }, ...columns]
    })
    t.ok(await dialect.describe(query([{ name: 'twice', from: 'twice', type: 'decimal', precision: 13, scale: 3 }, { name: 'note', from: 'note', type: 'string', length: 40 }])), 'types that fit')
    await t.rejects(dialect.describe(query([{ name: 'note', from: 'note', type: 'int' }])),
      { code: 'SIS_SRC_TYPE', column: 'note', message: /^stream 'q_lines', column 'note' \(from note .+ to int\): source type .+ cannot be read as int without loss/ })
    await t.rejects(dialect.describe(query([{ name: 'twice', from: 'twice', type: 'decimal', precision: 12, scale: 3 }])),
      { code: 'SIS_SRC_TYPE', column: 'twice', message: /\(13,3\) needs the declared decimal to hold 10 digits before the point and 3 after/ })
    await t.rejects(dialect.describe(query([{ name: 'note', from: 'note', type: 'string', length: 39 }])),
      { code: 'SIS_SRC_TYPE', column: 'note', message: /holds up to 40 characters; the declared length 39 is shorter/ }, 'the result column\'s length counts')
  })
}

t.test('describe types – mysql: unsigned integers are held to their range', async (t) => {
  const { db, dialect } = await setUpOrderLines(t, ENGINES.find((e) => e.name === 'mysql')!)
  await db.exec('CREATE TABLE counters (id INT UNSIGNED NOT NULL PRIMARY KEY, hits MEDIUMINT UNSIGNED, total BIGINT UNSIGNED)')
  const s = (columns: ColumnMapping[]): StreamConfig => stream({ name: 'counters', source: { table: 'counters' }, key: ['id'], columns })
  t.ok(await dialect.describe(s([{ name: 'id', from: 'id', type: 'bigint' }, { name: 'hits', from: 'hits', type: 'int' }])), 'int unsigned as bigint, mediumint unsigned as int')
  await t.rejects(dialect.describe(s([{ name: 'id', from: 'id', type: 'int' }])),
    { code: 'SIS_SRC_TYPE', message: /int\(10\) unsigned holds values up to 4294967295, beyond an int/ })
  await t.rejects(dialect.describe(s([{ name: 'id', from: 'id', type: 'bigint' }, { name: 'total', from: 'total', type: 'bigint' }])),
    { code: 'SIS_SRC_TYPE', column: 'total', message: /bigint\(20\) unsigned holds values up to 18446744073709551615, beyond a bigint .*declare it as decimal or string/ })
  t.ok(await dialect.describe(s([{ name: 'id', from: 'id', type: 'bigint' }, { name: 'total', from: 'total', type: 'decimal', precision: 20, scale: 0 }])), 'bigint unsigned as decimal(20,0)')
  await t.rejects(dialect.describe(stream({ name: 'q', source: { query: 'SELECT id, total AS u FROM counters' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'bigint' }, { name: 'u', from: 'u', type: 'bigint' }] })),
    { code: 'SIS_SRC_TYPE', column: 'u', message: /bigint unsigned holds values up to 18446744073709551615/ }, 'a query\'s unsigned result too')
})

t.test('describe types – postgres: a domain is held to its base type\'s precision; varchar without a length to none', async (t) => {
  const { db, dialect } = await setUpOrderLines(t, ENGINES.find((e) => e.name === 'postgres')!)
  await db.exec('CREATE DOMAIN money4 AS numeric(19,4); CREATE TABLE prices (id int PRIMARY KEY, amount money4, label varchar, code char(3))')
  const s = (columns: ColumnMapping[]): StreamConfig => stream({ name: 'prices', source: { table: 'prices' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, ...columns] })
  t.ok(await dialect.describe(s([{ name: 'amount', from: 'amount', type: 'decimal', precision: 19, scale: 4 }, { name: 'label', from: 'label', type: 'string', length: 5 }, { name: 'code', from: 'code', type: 'string', length: 3 }])))
  await t.rejects(dialect.describe(s([{ name: 'amount', from: 'amount', type: 'decimal', precision: 18, scale: 4 }])),
    { code: 'SIS_SRC_TYPE', message: /\(from amount money4 to decimal\): money4 needs the declared decimal to hold 15 digits before the point and 4 after/ })
  await t.rejects(dialect.describe(s([{ name: 'code', from: 'code', type: 'string', length: 2 }])),
    { code: 'SIS_SRC_TYPE', message: /character\(3\) holds up to 3 characters; the declared length 2 is shorter/ })
  await t.rejects(dialect.describe(stream({ name: 'q', source: { query: 'SELECT id, amount::numeric(12,4) AS a FROM prices' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'a', from: 'a', type: 'decimal', precision: 11, scale: 4 }] })),
    { code: 'SIS_SRC_TYPE', column: 'a', message: /numeric\(12,4\) needs the declared decimal to hold 8 digits/ })
})

const my = (dataType: string, columnType = dataType, extra: Partial<MysqlColumnInfo> = {}): MysqlColumnInfo =>
  ({ dataType, columnType, nullable: true, unsigned: /unsigned/.test(columnType), binary: false, ...extra })
const pg = (dataType: string, columnType = dataType, extra: Partial<PostgresColumnInfo> = {}): PostgresColumnInfo =>
  ({ dataType, columnType, nullable: true, category: 'X', ...extra })
const col = (type: ColumnMapping['type'], extra: Partial<ColumnMapping> = {}): ColumnMapping => ({ name: 'c', from: 'C', type, ...extra })

t.test('mysql types – each source type maps only to the wire types that hold it', async (t) => {
  t.equal(mysqlTypeProblem(col('int'), my('tinyint', 'tinyint(4)')), undefined)
  t.equal(mysqlTypeProblem(col('decimal', { precision: 3, scale: 0 }), my('tinyint', 'tinyint(4)')), undefined, 'tinyint: 3 digits')
  t.match(mysqlTypeProblem(col('decimal', { precision: 2, scale: 0 }), my('tinyint', 'tinyint(4)')), /3 digits before the point/)
  t.equal(mysqlTypeProblem(col('decimal', { precision: 8, scale: 0 }), my('mediumint', 'mediumint(8) unsigned')), undefined, 'mediumint unsigned: 16777215, 8 digits')
  t.equal(mysqlTypeProblem(col('int'), my('mediumint', 'mediumint(8) unsigned')), undefined)
  t.match(mysqlTypeProblem(col('int'), my('int', 'int(10) unsigned')), /up to 4294967295, beyond an int/)
  t.equal(mysqlTypeProblem(col('bool'), my('bigint', 'bigint(20)')), undefined, 'bool from any integer: each value must be 0 or 1')
  t.equal(mysqlTypeProblem(col('int'), my('bit', 'bit(31)', { binary: true })), undefined)
  t.match(mysqlTypeProblem(col('int'), my('bit', 'bit(32)', { binary: true })), /bit\(32\) holds values up to 4294967295, beyond an int/)
  t.match(mysqlTypeProblem(col('bigint'), my('bit', 'bit(64)', { binary: true })), /up to 18446744073709551615, beyond a bigint/)
  t.equal(mysqlTypeProblem(col('binary', { length: 2 }), my('bit', 'bit(9)', { binary: true })), undefined, 'bit(9) is 2 bytes')
  t.match(mysqlTypeProblem(col('binary', { length: 1 }), my('bit', 'bit(9)', { binary: true })), /holds up to 2 bytes/)
  t.equal(mysqlTypeProblem(col('int'), my('decimal', 'decimal(9,0)', { precision: 9, scale: 0 })), undefined)
  t.match(mysqlTypeProblem(col('int'), my('decimal', 'decimal(10,0)', { precision: 10, scale: 0 })), /takes decimal\(p,0\) with p ≤ 9/)
  t.equal(mysqlTypeProblem(col('bigint'), my('decimal', 'decimal(18,0)', { precision: 18, scale: 0 })), undefined)
  t.match(mysqlTypeProblem(col('bigint'), my('decimal', 'decimal(18,1)', { precision: 18, scale: 1 })), /takes decimal\(p,0\) with p ≤ 18/)
  t.match(mysqlTypeProblem(col('date'), my('datetime', 'datetime(6)')), /cannot be read as date without loss; it maps to datetime, string/)
  t.match(mysqlTypeProblem(col('float'), my('decimal', 'decimal(5,2)', { precision: 5, scale: 2 })), /cannot be read as float/)
  t.equal(mysqlTypeProblem(col('uuid'), my('binary', 'binary(16)', { binary: true, length: 16 })), undefined)
  t.match(mysqlTypeProblem(col('uuid'), my('varbinary', 'varbinary(16)', { binary: true, length: 16 })), /exactly 16 bytes: binary\(16\), not varbinary\(16\)/)
  t.equal(mysqlTypeProblem(col('binary', { length: 16 }), my('varbinary', 'varbinary(16)', { binary: true, length: 16 })), undefined)
  t.match(mysqlTypeProblem(col('binary', { length: 15 }), my('varbinary', 'varbinary(16)', { binary: true, length: 16 })), /holds up to 16 bytes; the declared length 15 is shorter/)
  t.match(mysqlTypeProblem(col('string'), my('varbinary', 'varbinary(16)', { binary: true, length: 16 })), /maps to binary, uuid/)
  t.equal(mysqlTypeProblem(col('string', { length: 3 }), my('enum', "enum('a','bcd')", { length: 3 })), undefined)
  t.match(mysqlTypeProblem(col('string', { length: 2 }), my('enum', "enum('a','bcd')", { length: 3 })), /holds up to 3 characters/)
  t.equal(mysqlTypeProblem(col('uuid'), my('uuid')), undefined)
  t.equal(mysqlTypeProblem(col('json'), my('longtext', 'longtext', { length: 4294967295 })), undefined, 'MariaDB JSON is longtext')
  t.equal(mysqlTypeProblem(col('date'), my('null')), undefined, 'a NULL literal fits anything')
  t.match(mysqlTypeProblem(col('string'), my('geometry')), /source type geometry is not supported; convert it in a query: stream/)
  t.match(mysqlTypeProblem(col('string'), my('point')), /not supported/)
})

t.test('postgres types – each source type maps only to the wire types that hold it', async (t) => {
  t.equal(postgresTypeProblem(col('int'), pg('int2', 'smallint')), undefined)
  t.match(postgresTypeProblem(col('int'), pg('int8', 'bigint')), /bigint cannot be read as int without loss; it maps to bigint, decimal, bool, string/)
  t.match(postgresTypeProblem(col('int'), pg('oid')), /oid cannot be read as int without loss; it maps to bigint, decimal, string/)
  t.equal(postgresTypeProblem(col('bigint'), pg('oid')), undefined)
  t.equal(postgresTypeProblem(col('decimal', { precision: 19, scale: 0 }), pg('int8', 'bigint')), undefined, 'bigint: 19 digits')
  t.match(postgresTypeProblem(col('decimal', { precision: 18, scale: 0 }), pg('int8', 'bigint')), /19 digits before the point/)
  t.equal(postgresTypeProblem(col('decimal', { precision: 65, scale: 30 }), pg('numeric')), undefined, 'a bare numeric states no digits: checked value by value')
  t.match(postgresTypeProblem(col('bigint'), pg('numeric')), /numeric holds values a bigint cannot/, 'but never as an integer')
  t.equal(postgresTypeProblem(col('decimal', { precision: 5, scale: 5 }), pg('numeric', 'numeric(3,5)', { precision: 3, scale: 5 })), undefined, 'scale above precision: 0.00ddd')
  t.match(postgresTypeProblem(col('decimal', { precision: 4, scale: 0 }), pg('numeric', 'numeric(2,-3)', { precision: 2, scale: -3 })), /5 digits before the point and 0 after/, 'negative scale: dd000')
  t.equal(postgresTypeProblem(col('int'), pg('bit', 'bit(31)', { length: 31 })), undefined)
  t.match(postgresTypeProblem(col('int'), pg('bit', 'bit(32)', { length: 32 })), /beyond an int/)
  t.match(postgresTypeProblem(col('bigint'), pg('varbit', 'bit varying')), /bit varying holds values of any size, beyond a bigint/)
  t.equal(postgresTypeProblem(col('string', { length: 63 }), pg('name', 'name', { length: 63 })), undefined)
  t.match(postgresTypeProblem(col('string', { length: 62 }), pg('name', 'name', { length: 63 })), /holds up to 63 characters/)
  t.equal(postgresTypeProblem(col('binary', { length: 4 }), pg('bytea')), undefined, 'bytea states no length: checked value by value')
  t.equal(postgresTypeProblem(col('datetime'), pg('timestamptz', 'timestamp with time zone')), undefined)
  t.match(postgresTypeProblem(col('float'), pg('numeric', 'numeric(19,4)', { precision: 19, scale: 4 })), /cannot be read as float without loss/)
  t.match(postgresTypeProblem(col('int'), pg('bool', 'boolean')), /maps to bool, string/)
  t.match(postgresTypeProblem(col('decimal'), pg('money')), /maps to string/, 'money is text in the session\'s locale')
  t.equal(postgresTypeProblem(col('json'), pg('_int4', 'integer[]', { category: 'A' })), undefined)
  t.match(postgresTypeProblem(col('string'), pg('_int4', 'integer[]', { category: 'A' })), /integer\[\] cannot be read as string without loss; it maps to json/)
  t.equal(postgresTypeProblem(col('string'), pg('mood', 'mood', { category: 'E' })), undefined, 'an enum as its text')
  t.match(postgresTypeProblem(col('int'), pg('mood', 'mood', { category: 'E' })), /maps to string/)
  t.equal(postgresTypeProblem(col('string'), pg('inet')), undefined, 'any other type as its text')
  t.match(postgresTypeProblem(col('string'), pg('type 99999', 'type 99999')), /not supported/)
})
