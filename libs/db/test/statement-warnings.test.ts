import t from 'tap'
import { CompiledQuery, Kysely, MysqlDialect, sql } from 'kysely'
import { createPool } from 'mysql2'
import { collectWarnings, createDb, exactPoolOptions, warningKind } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'

/** How many SHOW WARNINGS this session has run (the pool has one connection: the same session as the statements). */
async function showWarningsRun (db: Kysely<unknown>): Promise<number> {
  const { rows } = await sql<{ Value: string }>`SHOW SESSION STATUS LIKE 'Com_show_warnings'`.execute(db)
  return Number(rows[0]!.Value)
}

t.test('statement warnings – a rounding note is read on the statement\'s own connection, and only when the statement reported one', async (t) => {
  const { url, sql: admin } = await testDatabase(t)
  await admin.query('CREATE TABLE q (id INT PRIMARY KEY, qty DECIMAL(12,1), label VARCHAR(5))')
  const db = createDb(url, { poolSize: 1 }) as unknown as Kysely<unknown>
  t.teardown(() => db.destroy())

  const before = await showWarningsRun(db)
  const clean = await collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("INSERT INTO q (id, qty) VALUES (1, '3.1'), (2, '4')")))
  t.same(clean.warnings, [], 'values the column holds: no warning')
  t.equal(Number(clean.result.numAffectedRows), 2, 'the statement\'s own result is kept')
  t.equal(await showWarningsRun(db), before, 'no SHOW WARNINGS when the OK packet reported none (no extra round trip)')

  const rounded = await collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("INSERT INTO q (id, qty) VALUES (3, '3.1'), (4, '3.125') ON DUPLICATE KEY UPDATE qty = VALUES(qty)")))
  t.same(rounded.warnings, [{ level: 'Note', code: 1265, message: "Data truncated for column 'qty' at row 2" }], 'MariaDB only notes the rounding, even in strict mode')
  t.equal(warningKind(rounded.warnings[0]!), 'data')
  t.equal(await showWarningsRun(db), before + 1, 'one SHOW WARNINGS for the statement that reported one')
  const [stored] = await admin.query('SELECT qty FROM q WHERE id = 4') as unknown as [{ qty: string }[]]
  t.same(stored, [{ qty: '3.1' }], 'what MariaDB does with it unguarded: 3.125 stored as 3.1 (the caller must roll back)')

  // trailing blanks beyond a VARCHAR's length: also only a note
  const blanks = await collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("INSERT INTO q (id, label) VALUES (5, 'abcde   ')")))
  t.same(blanks.warnings.map((w) => [w.level, w.code]), [['Note', 1265]], 'a string cut to the column: a note')

  // outside collectWarnings the connection is plain mysql2: nothing is read
  await db.executeQuery(CompiledQuery.raw("INSERT INTO q (id, qty) VALUES (6, '1.25')"))
  t.equal(await showWarningsRun(db), before + 2, 'statements outside collectWarnings never pay for it')
})

t.test('statement warnings – errors stay errors; harmless and unknown warnings are told apart', async (t) => {
  const { url, sql: admin } = await testDatabase(t)
  await admin.query('CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(5))')
  const db = createDb(url, { poolSize: 1 }) as unknown as Kysely<unknown>
  t.teardown(() => db.destroy())
  // SIGNAL with SQLSTATE class 01 raises a warning and the statement succeeds (MariaDB runs it outside stored programs too)
  const deprecated = await collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("SIGNAL SQLSTATE '01000' SET MYSQL_ERRNO = 1287, MESSAGE_TEXT = 'this syntax is deprecated (test)'")))
  t.same(deprecated.warnings, [{ level: 'Warning', code: 1287, message: 'this syntax is deprecated (test)' }])
  t.equal(warningKind(deprecated.warnings[0]!), 'harmless', 'a deprecation says nothing about values')
  const other = await collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("SIGNAL SQLSTATE '01000' SET MESSAGE_TEXT = 'something nobody classified (test)'")))
  t.same(other.warnings, [{ level: 'Warning', code: 1642, message: 'something nobody classified (test)' }])
  t.equal(warningKind(other.warnings[0]!), 'unknown', 'a warning in neither list is not assumed harmless')
  await t.rejects(collectWarnings(async () => await db.executeQuery(CompiledQuery.raw("INSERT INTO w VALUES (3, 'too long')"))), { code: 'ER_DATA_TOO_LONG', message: /Data too long for column 'v'/ }, 'strict mode: a value too long is an error, as before')
})

t.test('statement warnings – a statement that ran outside createDb\'s pool cannot be vouched for', async (t) => {
  const { url } = await testDatabase(t)
  const plain = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: createPool({ ...exactPoolOptions(url), connectionLimit: 1 }) }) })
  t.teardown(() => plain.destroy())
  await t.rejects(collectWarnings(async () => await plain.executeQuery(CompiledQuery.raw('DO 1'))), { code: 'SIS_DB_WARNINGS_UNSEEN' })
})
