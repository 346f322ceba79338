/**
 * Page retries against the real local servers, one body per engine: while an extract reads
 * pages, the reader's session is killed from another connection (MariaDB `KILL CONNECTION`,
 * PostgreSQL `pg_terminate_backend`) at a moment made certain by a lock — the reader waits on
 * the table lock another connection holds, the test waits until the server shows it waiting,
 * then kills it. The pages go on from the same key, and the rows read are exactly the rows
 * of the table, each once, as SQL lists them (not as the code under test reads them). A
 * permanent error (a column dropped mid-extract) fails at once, unretried.
 */
import mysql from 'mysql2/promise'
import pg from 'pg'
import t from 'tap'
import type { SourceDialect, WireRow } from '../src/source-dialect.js'
import { createMysqlDialect } from '../src/mysql/mysql-dialect.js'
import { createPostgresDialect } from '../src/postgres/postgres-dialect.js'
import { streamPages } from '../src/stream-pages.js'
import { createPostgresSourceDatabase } from './fixtures-pg.js'
import { createSourceDatabase, stream } from './fixtures.js'

const ROWS = 95
const PAGE = 10

const orders = stream({
  name: 'orders',
  source: { table: 'orders' },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'note', from: 'note', type: 'string' }]
})

/** What a body needs of an engine: the table, a lock that makes the reader wait, and the kill. */
interface LiveEngine {
  readonly url: string
  dialect (): SourceDialect
  /** Every row as [id, note], ordered by id, by SQL on a connection of the test's own. */
  rows (): Promise<Array<[number, string]>>
  /** Holds a lock that makes a reader of `orders` wait (on a connection of its own). */
  lock (): Promise<void>
  unlock (): Promise<void>
  /** Waits until the server shows a session waiting on that lock; returns its id. */
  blockedReader (): Promise<number>
  kill (id: number): Promise<void>
  exec (sql: string): Promise<void>
}

const INSERT = `INSERT INTO orders (id, note) VALUES ${Array.from({ length: ROWS }, (_, i) => `(${(i + 1) * 3}, 'note ${i + 1}')`).join(', ')}`

/** Asks `probe` again every 20 ms until it finds something: waiting for an event the server reports, with no deadline of its own. */
async function until<T> (probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const ENGINES: ReadonlyArray<{ name: string, open: (t: { teardown (fn: () => unknown): void }) => Promise<LiveEngine> }> = [
  {
    name: 'mysql',
    async open (t) {
      const db = await createSourceDatabase(t)
      await db.admin.query('CREATE TABLE orders (id int NOT NULL PRIMARY KEY, note varchar(40) NOT NULL)')
      await db.admin.query(INSERT)
      const locker = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: db.name })
      t.teardown(async () => { await locker.end() })
      return {
        url: db.url,
        dialect: () => createMysqlDialect(db.url),
        rows: async () => (await db.admin.query({ sql: 'SELECT id, note FROM orders ORDER BY id', rowsAsArray: true }))[0] as unknown as Array<[number, string]>,
        lock: async () => { await locker.query('LOCK TABLES orders WRITE') },
        unlock: async () => { await locker.query('UNLOCK TABLES') },
        blockedReader: async () => await until(async () => {
          const [found] = await db.admin.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE 'SELECT%' AND ID <> CONNECTION_ID()", [db.name])
          return (found as Array<{ ID: number }>)[0]?.ID
        }),
        kill: async (id) => { await db.admin.query(`KILL CONNECTION ${Number(id)}`) },
        exec: async (sql) => { await db.admin.query(sql) }
      }
    }
  },
  {
    name: 'postgres',
    async open (t) {
      const db = await createPostgresSourceDatabase(t)
      await db.admin.query('CREATE TABLE orders (id int NOT NULL PRIMARY KEY, note varchar(40) NOT NULL)')
      await db.admin.query(INSERT)
      const locker = new pg.Client({ connectionString: db.url })
      await locker.connect()
      t.teardown(async () => { await locker.end() })
      return {
        url: db.url,
        dialect: () => createPostgresDialect(db.url),
        rows: async () => (await db.admin.query({ text: 'SELECT id, note FROM orders ORDER BY id', rowMode: 'array' })).rows as Array<[number, string]>,
        lock: async () => { await locker.query('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE') },
        unlock: async () => { await locker.query('ROLLBACK') },
        blockedReader: async () => await until(async () => {
          const found = await db.admin.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'SELECT%' AND pid <> pg_backend_pid()", [db.name])
          return (found.rows as Array<{ pid: number }>)[0]?.pid
        }),
        kill: async (pid) => { await db.admin.query('SELECT pg_terminate_backend($1)', [pid]) },
        exec: async (sql) => { await db.admin.query(sql) }
      }
    }
  }
]

/** Warnings of the retry, as objects. */
function warnings (): { log: { warn: (obj: object, msg: string) => void }, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return { log: { warn: (obj, msg) => lines.push({ ...(obj as Record<string, unknown>), msg }) }, lines }
}

for (const { name, open } of ENGINES) {
  t.test(`page retry (${name}) – the reader's session killed mid-extract: the pages go on from the same key, every row exactly once`, async (t) => {
    const live = await open(t)
    const dialect = live.dialect()
    t.teardown(async () => { await dialect.close() })
    const { log, lines } = warnings()
    // a short base delay keeps the test quick; the wait is not what is tested
    const pages = streamPages(dialect, orders, PAGE, { readAhead: false, retry: { log, baseDelayMs: 50 } })[Symbol.asyncIterator]()
    const read: WireRow[] = []
    for (let p = 0; p < 3; p++) {
      const step = await pages.next()
      t.notOk(step.done)
      read.push(...step.value as WireRow[])
    }
    // the next page waits on the lock; once the server shows it waiting, its session is killed
    await live.lock()
    let unlocked = false
    try {
      const next = pages.next()
      const reader = await live.blockedReader()
      await live.kill(reader)
      await live.unlock()
      unlocked = true
      const step = await next
      t.notOk(step.done)
      read.push(...step.value as WireRow[])
    } finally {
      if (!unlocked) await live.unlock()
    }
    for (;;) {
      const step = await pages.next()
      if (step.done === true) break
      read.push(...step.value)
    }
    const expected = await live.rows()
    t.equal(expected.length, ROWS)
    t.same(read, expected.map(([id, note]) => [Number(id), note]), 'the rows SQL lists, each once, in key order')
    t.equal(new Set(read.map((r) => r[0])).size, read.length, 'no key twice')
    t.ok(lines.length >= 1, 'the failed page was retried')
    t.match(lines[0], { stream: 'orders', after: ['90'], attempt: 1, attempts: 5, code: /^SIS_SRC_(READ|CONNECT)$/, msg: /retrying the page after key \{id: 90\}/ })
    t.comment(`retried after: ${String(lines[0]?.reason)}`)
  })

  t.test(`page retry (${name}) – a permanent error mid-extract fails at once, unretried`, async (t) => {
    const live = await open(t)
    const real = live.dialect()
    t.teardown(async () => { await real.close() })
    const asked: unknown[] = []
    const dialect: SourceDialect = {
      engine: real.engine,
      describe: async (s) => await real.describe(s),
      estimateRows: async (s) => await real.estimateRows(s),
      close: async () => { await real.close() },
      readPage: async (s, after, limit) => {
        asked.push(after?.[0])
        return await real.readPage(s, after, limit)
      }
    }
    const { log, lines } = warnings()
    const pages = streamPages(dialect, orders, PAGE, { readAhead: false, retry: { log, baseDelayMs: 50 } })[Symbol.asyncIterator]()
    t.notOk((await pages.next()).done)
    await live.exec('ALTER TABLE orders DROP COLUMN note')
    const err = await pages.next().then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_READ', transient: false, stream: 'orders', message: /^stream 'orders': could not read a page: .*note/ })
    t.same(asked, [undefined, 30], 'the failing page was asked for once')
    t.equal(lines.length, 0, 'no retry logged')
  })
}
