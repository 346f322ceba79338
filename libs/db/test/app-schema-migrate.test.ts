import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { createDb, migrate, quoteId } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'

/** An application's own table, as its (Laravel-style) migration created it. */
const INVOICE_LINE = `CREATE TABLE \`InvoiceLine\` (
  \`InvoiceLineId\` INT NOT NULL,
  \`Track Name\` NVARCHAR(200) NOT NULL DEFAULT '' COMMENT 'as sold',
  \`UnitPrice\` DECIMAL(10,2) NOT NULL,
  \`CreatedAt\` DATETIME NULL,
  \`SyncedAt\` TIMESTAMP(3) NULL DEFAULT NULL,
  PRIMARY KEY (\`InvoiceLineId\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

const yaml = (createdAt: string): string => `
streams:
  - name: invoice_lines
    source: { table: InvoiceLine }
    target: { table: InvoiceLine, key: [InvoiceLineId] }
    columns:
      - { name: InvoiceLineId, from: InvoiceLineId, type: int }
      - { name: "Track Name", from: TrackName, type: string, length: 200 }
      - { name: UnitPrice, from: UnitPrice, type: decimal, precision: 10, scale: 2 }
      - { name: CreatedAt, from: CreatedAt, type: datetime${createdAt} }
      - { name: SyncedAt, from: SyncedAt, type: datetime, precision: 3 }
`

t.test('migrate – an application table with DATETIME (no fractions) is accepted once the column declares precision 0', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query(INVOICE_LINE)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  await t.rejects(migrate(db, parseConfig(yaml(''), 'app.yaml', {})), {
    code: 'SIS_DB_TARGET_TYPE',
    message: "stream 'invoice_lines', target table 'InvoiceLine': column 'CreatedAt' is datetime (0 fractional digits) but the stream declares datetime precision 6; values would be rounded or cut. " +
      'If the source never has more than 0 fractional digits, declare `precision: 0` on the column (values with more are then refused); otherwise make the column DATETIME(6)'
  }, 'the default precision (6) refuses DATETIME, naming the fix')
  const [before] = await sql.query('SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', ['InvoiceLine']) as unknown as [{ n: number }[]]
  t.equal(Number(before[0]!.n), 5, 'the refusal changed nothing')
  await t.rejects(migrate(db, parseConfig(yaml(', precision: 1'), 'app.yaml', {})), { code: 'SIS_DB_TARGET_TYPE', message: /'CreatedAt' is datetime \(0 fractional digits\) but the stream declares datetime precision 1/ }, 'one digit more than the column keeps is refused too')

  const report = await migrate(db, parseConfig(yaml(', precision: 0'), 'app.yaml', {}))
  t.same(report.changes, ['added _sisporta_load to InvoiceLine'])
  t.equal(report.warnings.length, 2, 'the NVARCHAR column and the TIMESTAMP one')
  t.match(report.warnings[0], /^table 'InvoiceLine', column 'Track Name' \(stream invoice_lines\) is utf8mb3 \(utf8mb3_general_ci\), not utf8mb4: a character above U\+FFFF \(emoji, rarer CJK: 4 bytes in UTF-8\) is refused and its batch dead-lettered, naming row and column\. To hold any text, run: ALTER TABLE `InvoiceLine` MODIFY `Track Name` varchar\(200\) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'as sold';$/)
  t.match(report.warnings[1], /^table 'InvoiceLine', column 'SyncedAt' \(stream invoice_lines\) is a TIMESTAMP: sisporta writes the ERP's wall clock in the time zone \+00:00, so the column holds it as a UTC instant .* a value outside 1970-01-01 00:00:01 … 2038-01-19 03:14:07 is refused/)
  const [cols] = await sql.query('SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', ['InvoiceLine']) as unknown as [{ c: string, t: string }[]]
  t.same(cols.map((c) => `${c.c} ${c.t}`), ['InvoiceLineId int(11)', 'Track Name varchar(200)', 'UnitPrice decimal(10,2)', 'CreatedAt datetime', 'SyncedAt timestamp(3)', '_sisporta_load bigint(20)'],
    'the application\'s columns are left as they were; only the stamp is added')
  t.same((await migrate(db, parseConfig(yaml(', precision: 0'), 'app.yaml', {}))).changes, [], 'idempotent')
})

t.test('migrate – a TIMESTAMP with fewer fractional digits than declared is refused like a DATETIME', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query(INVOICE_LINE.replace('`SyncedAt` TIMESTAMP(3)', '`SyncedAt` TIMESTAMP'))
  const db = createDb(url)
  t.teardown(() => db.destroy())
  await t.rejects(migrate(db, parseConfig(yaml(', precision: 0'), 'app.yaml', {})), { code: 'SIS_DB_TARGET_TYPE', message: /column 'SyncedAt' is timestamp \(0 fractional digits\) but the stream declares datetime precision 3.*make the column TIMESTAMP\(3\)/ })
})

t.test('migrate – a mapped column spelled in another case is refused with the table\'s spelling', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query(INVOICE_LINE)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  await t.rejects(migrate(db, parseConfig(yaml(', precision: 0').replace('{ name: UnitPrice,', '{ name: unitprice,'), 'app.yaml', {})), {
    code: 'SIS_DB_TARGET_COLUMN', message: "stream 'invoice_lines', target table 'InvoiceLine': column 'unitprice' is spelled 'UnitPrice' in the table; write 'UnitPrice' in the config (sisporta uses names exactly as written)"
  })
})

t.test('migrate – creates tables and columns with any MySQL name, quoted, a datetime with its declared precision', async (t) => {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const config = parseConfig(`
streams:
  - name: odd
    source: { table: odd }
    target: { table: "Sales Order\`s 2024", key: ["Order\`Id", "Line No"] }
    deletes: soft
    columns:
      - { name: "Order\`Id", from: a, type: string, length: 20 }
      - { name: "Line No", from: b, type: int }
      - { name: "Preço Unitário", from: c, type: decimal, precision: 12, scale: 3 }
      - { name: "a$b", from: d, type: datetime, precision: 0 }
      - { name: "When; DROP TABLE x", from: e, type: datetime, precision: 3 }
`, 'odd.yaml', {})
  t.same((await migrate(db, config)).changes, ['created table Sales Order`s 2024 (stream odd)'])
  const [cols] = await sql.query('SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, COLUMN_KEY AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', ['Sales Order`s 2024']) as unknown as [{ c: string, t: string, k: string }[]]
  t.same(cols.map((c) => `${c.c}|${c.t}|${c.k}`), [
    'Order`Id|varchar(20)|PRI', 'Line No|int(11)|PRI', 'Preço Unitário|decimal(12,3)|', 'a$b|datetime|', 'When; DROP TABLE x|datetime(3)|', '_sisporta_load|bigint(20)|MUL', '_sisporta_deleted_at|datetime(6)|MUL'
  ], 'every name exactly as configured; DATETIME(0) is MySQL\'s plain DATETIME')
  t.same((await migrate(db, config)).changes, [], 'and found again by the same names')
})

t.test('quoteId – backticks doubled; a name the config refuses never reaches SQL', async (t) => {
  t.equal(quoteId('InvoiceLine'), '`InvoiceLine`')
  t.equal(quoteId('we`ird'), '`we``ird`')
  t.equal(quoteId('x`; DROP TABLE t; --'), '`x``; DROP TABLE t; --`')
  t.throws(() => quoteId('a\u0000b'), { code: 'SIS_DB_IDENTIFIER', message: /"a\\u0000b" is not a MySQL name sisporta writes: it has a control character/ })
  t.throws(() => quoteId(''), { code: 'SIS_DB_IDENTIFIER' })
  t.throws(() => quoteId('Name '), { code: 'SIS_DB_IDENTIFIER' })
})
