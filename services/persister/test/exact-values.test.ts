import t from 'tap'
import { sql } from 'kysely'
import { createDb, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'
import { applyBatch } from '../src/index.js'
import { ITEM_COLUMNS, config, itemRow, items, shorts } from './helpers.js'

type Sql = Awaited<ReturnType<typeof testDatabase>>['sql']

/**
 * A database with the helpers' tables, and a log of every row an upsert tried to write to
 * `items` or `shorts`: a MyISAM table filled by BEFORE INSERT triggers, which a rollback does not
 * empty — so a test tells "refused before anything was written" from "written, then rolled back".
 */
async function setup (t: Parameters<typeof testDatabase>[0]) {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  await sql.query('CREATE TABLE attempts (tbl VARCHAR(10), id INT) ENGINE=MyISAM')
  for (const table of ['items', 'shorts']) {
    await sql.query(`CREATE TRIGGER ${table}_attempt BEFORE INSERT ON ${table} FOR EACH ROW INSERT INTO attempts VALUES ('${table}', NEW.id)`)
  }
  const rows = async (query: string): Promise<Record<string, unknown>[]> => (await sql.query(query) as unknown as [Record<string, unknown>[]])[0]
  const attempts = async (): Promise<number> => Number((await rows('SELECT COUNT(*) AS n FROM attempts'))[0]!.n)
  const booked = async (): Promise<unknown[]> => (await rows('SELECT stream, load_id, batch_no FROM sisporta_batches ORDER BY stream, load_id, batch_no')).map((r) => `${String(r.stream)}/${String(r.load_id)}/${String(r.batch_no)}`)
  return { url, db, sql: sql as Sql, rows, attempts, booked }
}

t.test('exact values – a decimal the target would round (a note, not an error) fails the batch naming row, column and the rounding; nothing is stored', async (t) => {
  const s = await setup(t)
  t.equal((await applyBatch(s.db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1), itemRow(2), itemRow(3)] } })).status, 'applied', 'the stream was used: its target checked')
  // someone narrows the column while the persister runs (MariaDB rounds the stored 1.2500 to 1.3 itself)
  await s.sql.query('ALTER TABLE items MODIFY price DECIMAL(19,1) NULL')
  const before = await s.rows('SELECT * FROM items ORDER BY id')
  const attempts = await s.attempts()
  const rows = [itemRow(4), itemRow(5), itemRow(6), itemRow(1, 'renamed')].map((r, i) => { r[5] = ['4.5', '5.5', '6.125', '1.5'][i]; return r })
  await t.rejects(applyBatch(s.db, items, { loadId: 2, batch: 1, mode: 'full', body: { columns: ITEM_COLUMNS, rows } }, { maxRows: 2 }), {
    code: 'SIS_PERSIST_VALUE_CHANGED',
    message: "batch 1 of load 2 (stream 'items'): row 2, column 'price' (decimal(19,1)): the value would be rounded or truncated to fit the column — MySQL Note 1265: Data truncated for column 'price'. Nothing of the batch is stored."
  }, 'row 2 of the batch is row 1 of its second statement')
  t.ok(await s.attempts() > attempts, 'MariaDB took the statement (its note is the only trace)…')
  t.same(await s.rows('SELECT * FROM items ORDER BY id'), before, '…and nothing of the batch is stored: not the rounded row, not the good rows, not the first statement')
  t.same(await s.booked(), ['items/1/0'], 'the batch is not booked')
})

t.test('exact values – trailing blanks cut by a narrowed column are only a note: the batch fails; the next one is refused before writing', async (t) => {
  const s = await setup(t)
  await applyBatch(s.db, shorts, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await s.sql.query('ALTER TABLE shorts MODIFY label VARCHAR(5) NULL')
  await t.rejects(applyBatch(s.db, shorts, { loadId: 2, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[1, 'abcde   ']] } }), {
    code: 'SIS_PERSIST_VALUE_CHANGED',
    message: /^batch 0 of load 2 \(stream 'shorts'\): row 0, column 'label' \(varchar\(5\)\): the value would be rounded or truncated to fit the column — MySQL Note 1265: Data truncated for column 'label'\./
  })
  t.same(await s.rows('SELECT id, label FROM shorts'), [{ id: 1, label: 'one' }], 'the row keeps its value')
  // the failure made the persister forget the stream's check: the next batch is refused before writing
  const attempts = await s.attempts()
  await t.rejects(applyBatch(s.db, shorts, { loadId: 2, batch: 1, mode: 'full', body: { columns: ['id', 'label'], rows: [[2, 'abcdefgh']] } }), {
    code: 'SIS_PERSIST_TARGET_TYPE',
    message: "batch 1 of load 2: the target cannot hold every value of the stream, nothing of the batch is stored: stream 'shorts', target table 'shorts': column 'label' is varchar(5) but the stream declares string of any length; " +
      'it holds 5 characters at most. Declare `length: 5` if the source never has more (longer values are then refused), or widen the column'
  })
  t.equal(await s.attempts(), attempts, 'refused before any statement reached the table')
  t.same(await s.booked(), ['shorts/1/0'])
})

t.test('exact values – fractional seconds a DATETIME(3) would drop without a word: refused on first use, before anything is written', async (t) => {
  const s = await setup(t)
  await s.sql.query('ALTER TABLE items MODIFY changed DATETIME(3) NULL')
  await t.rejects(applyBatch(s.db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1)] } }), {
    code: 'SIS_PERSIST_TARGET_TYPE',
    message: "batch 0 of load 1: the target cannot hold every value of the stream, nothing of the batch is stored: stream 'items', target table 'items': " +
      "column 'changed' is datetime(3) (3 fractional digits) but the stream declares datetime precision 6; values would be rounded or cut."
  })
  t.equal(await s.attempts(), 0, 'no statement reached the table')
  t.same(await s.rows('SELECT COUNT(*) AS n FROM items'), [{ n: 0 }])
  t.same(await s.booked(), [])
  // a refusal is not remembered: once the table is fixed, the next batch goes in
  await s.sql.query('ALTER TABLE items MODIFY changed DATETIME(6) NULL')
  t.equal((await applyBatch(s.db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1)] } })).status, 'applied')
  t.same(await s.rows('SELECT changed FROM items'), [{ changed: '2024-01-01 08:00:00.000001' }])
})

t.test('exact values – a column narrowed between two batches (no error, no note from MySQL) is caught inside the next batch\'s transaction', async (t) => {
  const s = await setup(t)
  t.equal((await applyBatch(s.db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1), itemRow(2)] } })).status, 'applied')
  await s.sql.query('ALTER TABLE items MODIFY changed DATETIME(3) NULL')
  const before = await s.rows('SELECT id, changed, _sisporta_load FROM items ORDER BY id')
  const attempts = await s.attempts()
  const row = itemRow(1)
  row[9] = '2024-05-05T10:00:00.123456'
  await t.rejects(applyBatch(s.db, items, { loadId: 2, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [row] } }), {
    code: 'SIS_PERSIST_TARGET_TYPE',
    message: /^batch 0 of load 2: .*column 'changed' is datetime\(3\) \(3 fractional digits\) but the stream declares datetime precision 6/
  })
  t.ok(await s.attempts() > attempts, 'the upsert ran (the stream was checked already, and MariaDB said nothing)…')
  t.same(await s.rows('SELECT id, changed, _sisporta_load FROM items ORDER BY id'), before, '…and was rolled back: 10:00:00.123 was never stored')
  t.same(await s.booked(), ['items/1/0'])
})

t.test('exact values – a batch redelivered after its commit is a duplicate, whatever became of the table since', async (t) => {
  const s = await setup(t)
  const batch = { loadId: 1, batch: 0, mode: 'full' as const, body: { columns: ITEM_COLUMNS, rows: [itemRow(1)] } }
  t.equal((await applyBatch(s.db, items, batch)).status, 'applied')
  await s.sql.query('ALTER TABLE items MODIFY changed DATETIME(3) NULL')
  const fresh = createDb(s.url, { poolSize: 1 }) // a restarted persister: the stream is new to it
  t.teardown(() => fresh.destroy())
  t.same(await applyBatch(fresh, items, batch), { status: 'duplicate', rows: 1, statements: 0 }, 'acknowledged as applied, not dead-lettered as "nothing stored"')
  await t.rejects(applyBatch(fresh, items, { ...batch, batch: 1 }), { code: 'SIS_PERSIST_TARGET_TYPE' }, 'while a new batch is refused')
})

t.test('exact values – a value out of a narrowed column\'s range is an error naming row and column; the next batch is refused before writing', async (t) => {
  const s = await setup(t)
  await applyBatch(s.db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'big'], rows: [[1, '1']] } })
  await s.sql.query('ALTER TABLE items MODIFY big INT NULL')
  await t.rejects(applyBatch(s.db, items, { loadId: 2, batch: 0, mode: 'full', body: { columns: ['id', 'big'], rows: [[2, '7'], [3, '3000000000']] } }), {
    code: 'SIS_PERSIST_REJECTED',
    message: /^batch 0 of load 2 \(stream 'items'\): row 1, column 'big': Out of range value for column 'big' \(MySQL error 1264\)$/
  })
  const attempts = await s.attempts()
  await t.rejects(applyBatch(s.db, items, { loadId: 2, batch: 1, mode: 'full', body: { columns: ['id', 'big'], rows: [[4, '8']] } }), {
    code: 'SIS_PERSIST_TARGET_TYPE', message: /column 'big' is int\(11\) but the stream declares bigint; values would be out of range or converted/
  }, 'a batch whose values would fit is refused too: the column cannot hold the stream')
  t.equal(await s.attempts(), attempts, 'refused before writing: the failure made the persister check the table again')
  t.same(await s.rows('SELECT id, big FROM items ORDER BY id'), [{ id: 1, big: 1 }])
})

t.test('exact values – after a schema error the table is checked again and the refusal names what changed; once fixed, batches apply', async (t) => {
  const s = await setup(t)
  await applyBatch(s.db, shorts, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  await s.sql.query('ALTER TABLE shorts RENAME COLUMN label TO title')
  await t.rejects(applyBatch(s.db, shorts, { loadId: 2, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[2, 'two']] } }), {
    code: 'SIS_PERSIST_TARGET_TYPE',
    message: "batch 0 of load 2: the target cannot hold every value of the stream, nothing of the batch is stored: stream 'shorts', target table 'shorts': column 'label' does not exist (add it, or let sisporta create the table)"
  }, 'not MySQL\'s "Unknown column": the check says what the stream needs')
  await s.sql.query('ALTER TABLE shorts RENAME COLUMN title TO label')
  t.equal((await applyBatch(s.db, shorts, { loadId: 2, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[2, 'two']] } })).status, 'applied')
  t.same(await s.rows('SELECT id, label FROM shorts ORDER BY id'), [{ id: 1, label: 'one' }, { id: 2, label: 'two' }])
})

t.test('exact values – warnings MySQL counted but did not list (max_error_count) are not assumed harmless', async (t) => {
  const s = await setup(t)
  const db = createDb(s.url, { poolSize: 1 })
  t.teardown(() => db.destroy())
  await applyBatch(db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'price'], rows: [[1, '1.5']] } })
  await sql`SET SESSION max_error_count = 0`.execute(db) // the pool's one connection lists no warning any more
  // a value with more digits than the stream declares: only a forged or corrupted batch could carry it past the batch check
  await t.rejects(applyBatch(db, items, { loadId: 2, batch: 0, mode: 'full', body: { columns: ['id', 'price'], rows: [[1, '1.12345']] } }), {
    code: 'SIS_PERSIST_VALUE_CHANGED',
    message: "batch 0 of load 2 (stream 'items'): a warning not known to be harmless: the values stored cannot be vouched for — MySQL Warning 0: the statement reported 1 warning(s), SHOW WARNINGS listed 0 (max_error_count). Nothing of the batch is stored."
  })
  t.same(await s.rows('SELECT id, price FROM items'), [{ id: 1, price: '1.5000' }], 'the stored value is the one sent before')
})
