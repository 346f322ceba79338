import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { checkTargetColumns, createDb, describeMismatches, migrate, readTargetColumns } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'

// Pairs of target columns per rule: the first holds every value the stream declares, the others
// do not (or differ in a way MySQL would change values silently).
const TABLE = `CREATE TABLE t (
  k VARCHAR(255) NOT NULL PRIMARY KEY,
  dec_ok DECIMAL(20,5), dec_scale DECIMAL(19,3), dec_int DECIMAL(18,4), dec_double DOUBLE,
  int_ok INT, int_bigint BIGINT, int_dec DECIMAL(10,0), int_small SMALLINT, int_unsigned INT UNSIGNED, int_dec9 DECIMAL(9,0),
  big_ok BIGINT, big_dec DECIMAL(19,0), big_int INT, big_unsigned BIGINT UNSIGNED,
  bool_ok TINYINT(1), bool_bit BIT(1), bool_text VARCHAR(1),
  float_ok DOUBLE, float_float FLOAT,
  date_ok DATE, date_datetime DATETIME,
  dt_ok DATETIME(6), dt_ts TIMESTAMP(6) NULL, dt3_ok DATETIME(3), dt_3 DATETIME(3), dt_0 DATETIME, dt_date DATE,
  uuid_ok CHAR(36), uuid_short VARCHAR(35),
  str_ok VARCHAR(40), str_mb3 VARCHAR(40) CHARACTER SET utf8mb3, str_text TEXT, str_long LONGTEXT,
  str_short VARCHAR(39), str_char CHAR(40), str_enum ENUM('a', 'b'), str_text_small TEXT, str_unbounded MEDIUMTEXT,
  bin_ok VARBINARY(16), bin_long LONGBLOB, bin_binary BINARY(16), bin_short VARBINARY(15), bin_blob BLOB,
  json_ok JSON, json_longtext LONGTEXT, json_text TEXT,
  spelled INT
) DEFAULT CHARSET=utf8mb4`

const col = (name: string, type: string, extra = ''): string => `      - { name: ${name}, from: ${name}, type: ${type}${extra} }`
const CONFIG = `
streams:
  - name: wide
    source: { table: t }
    target: { table: t, key: [k] }
    columns:
${[
  col('k', 'string'),
  ...['dec_ok', 'dec_scale', 'dec_int', 'dec_double'].map((c) => col(c, 'decimal', ', precision: 19, scale: 4')),
  ...['int_ok', 'int_bigint', 'int_dec', 'int_small', 'int_unsigned', 'int_dec9'].map((c) => col(c, 'int')),
  ...['big_ok', 'big_dec', 'big_int', 'big_unsigned'].map((c) => col(c, 'bigint')),
  ...['bool_ok', 'bool_bit', 'bool_text'].map((c) => col(c, 'bool')),
  ...['float_ok', 'float_float'].map((c) => col(c, 'float')),
  ...['date_ok', 'date_datetime'].map((c) => col(c, 'date')),
  ...['dt_ok', 'dt_ts', 'dt_3', 'dt_0', 'dt_date'].map((c) => col(c, 'datetime')),
  col('dt3_ok', 'datetime', ', precision: 3'),
  ...['uuid_ok', 'uuid_short'].map((c) => col(c, 'uuid')),
  ...['str_ok', 'str_mb3', 'str_short', 'str_char'].map((c) => col(c, 'string', ', length: 40')),
  col('str_text', 'string', ', length: 16383'),
  col('str_text_small', 'string', ', length: 16384'),
  ...['str_long', 'str_unbounded', 'str_enum'].map((c) => col(c, 'string')),
  ...['bin_ok', 'bin_binary', 'bin_short'].map((c) => col(c, 'binary', ', length: 16')),
  ...['bin_long', 'bin_blob'].map((c) => col(c, 'binary')),
  ...['json_ok', 'json_longtext', 'json_text'].map((c) => col(c, 'json')),
  col('Spelled', 'int'),
  col('missing', 'int')
].join('\n')}
`

t.test('target columns – a column is accepted only if it holds every value the stream declares', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query(TABLE)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const stream = parseConfig(CONFIG, 'wide.yaml', {}).stream('wide')!
  const mismatches = checkTargetColumns(stream, await readTargetColumns(db, 't'))
  t.same(Object.fromEntries(mismatches.map((m) => [m.column, m.message.replace(/^column '[^']+' /, '')])), {
    dec_scale: 'is decimal(19,3) but the stream declares decimal(19,4); values would be rounded',
    dec_int: 'is decimal(18,4) but the stream declares decimal(19,4); values would be out of range',
    dec_double: 'is double but the stream declares decimal(19,4); values would be converted',
    int_small: 'is smallint(6) but the stream declares int; values would be out of range or converted',
    int_unsigned: 'is int(10) unsigned but the stream declares int; values would be out of range or converted',
    int_dec9: 'is decimal(9,0) but the stream declares int; values would be out of range or converted',
    big_int: 'is int(11) but the stream declares bigint; values would be out of range or converted',
    big_unsigned: 'is bigint(20) unsigned but the stream declares bigint; values would be out of range or converted',
    bool_text: 'is varchar(1) but the stream declares bool; values would be converted',
    float_float: 'is float but the stream declares float; values would lose precision or be converted',
    date_datetime: 'is datetime but the stream declares date; values would be converted',
    dt_3: 'is datetime(3) (3 fractional digits) but the stream declares datetime precision 6; values would be rounded or cut. ' +
      'If the source never has more than 3 fractional digits, declare `precision: 3` on the column (values with more are then refused); otherwise make the column DATETIME(6)',
    dt_0: 'is datetime (0 fractional digits) but the stream declares datetime precision 6; values would be rounded or cut. ' +
      'If the source never has more than 0 fractional digits, declare `precision: 0` on the column (values with more are then refused); otherwise make the column DATETIME(6)',
    dt_date: 'is date but the stream declares datetime(6); values would be converted',
    uuid_short: 'is varchar(35) but the stream declares uuid; values would be truncated or converted',
    str_short: 'is varchar(39) but the stream declares string(40); it holds 39 characters at most. Declare `length: 39` if the source never has more (longer values are then refused), or widen the column',
    str_char: 'is char(40) but the stream declares string(40); CHAR drops the trailing blanks of the values it stores',
    str_text_small: 'is text but the stream declares string(16384); it holds 16383 characters at most. Declare `length: 16383` if the source never has more (longer values are then refused), or widen the column',
    str_unbounded: 'is mediumtext but the stream declares string of any length; it holds 4194303 characters at most. Declare `length: 4194303` if the source never has more (longer values are then refused), or widen the column',
    str_enum: 'is enum(\'a\',\'b\') but the stream declares string of any length; ENUM holds only its listed values',
    bin_binary: 'is binary(16) but the stream declares binary(16); BINARY pads the values it stores with zero bytes',
    bin_short: 'is varbinary(15) but the stream declares binary(16); it holds 15 bytes at most. Declare `length: 15` if the source never has more (longer values are then refused), or widen the column',
    bin_blob: 'is blob but the stream declares binary of any length; it holds 65535 bytes at most. Declare `length: 65535` if the source never has more (longer values are then refused), or widen the column',
    json_text: 'is text but the stream declares json; values would be truncated or converted',
    Spelled: "is spelled 'spelled' in the table; write 'spelled' in the config (sisporta uses names exactly as written)",
    missing: 'does not exist (add it, or let sisporta create the table)'
  }, 'exactly the columns that cannot, each with both types and why (a key string without length: the VARCHAR(255) migrate creates; the character set is not checked)')
  t.same(mismatches.find((m) => m.column === 'dec_scale'), { column: 'dec_scale', declared: 'decimal(19,4)', actual: 'decimal(19,3)', message: "column 'dec_scale' is decimal(19,3) but the stream declares decimal(19,4); values would be rounded" })
  t.match(describeMismatches(stream, mismatches), /^stream 'wide', target table 't': column 'dec_scale' is decimal\(19,3\) .* — column 'dec_int' is/)

  t.same(checkTargetColumns(stream, await readTargetColumns(db, 't'), { stamps: true }).slice(-1).map((m) => m.message),
    ["column '_sisporta_load' does not exist: sisporta stamps every row with its load there (run `sisporta migrate`)"], 'with stamps: sisporta\'s own column too')
})

t.test('target columns – migrate refuses an existing table by the same check, naming every column at once', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query("CREATE TABLE orders (id INT PRIMARY KEY, qty DECIMAL(12,1), note CHAR(20), changed DATETIME(3))")
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const config = parseConfig(`
streams:
  - name: orders
    source: { table: orders }
    target: { table: orders, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: qty, from: qty, type: decimal, precision: 12, scale: 3 }
      - { name: note, from: note, type: string, length: 20 }
      - { name: changed, from: changed, type: datetime }
`, 'orders.yaml', {})
  await t.rejects(migrate(db, config), {
    code: 'SIS_DB_TARGET_TYPE',
    message: /^stream 'orders', target table 'orders': column 'qty' is decimal\(12,1\) but the stream declares decimal\(12,3\); values would be rounded — column 'note' is char\(20\) .*CHAR drops .* — column 'changed' is datetime\(3\) \(3 fractional digits\)/
  })
  const [cols] = await sql.query("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders'") as unknown as [{ n: number }[]]
  t.equal(Number(cols[0]!.n), 4, 'nothing was added to the refused table')
})
