import mssql from 'mssql'
import t from 'tap'
import { createMssqlDialect } from '../src/mssql/mssql-dialect.js'
import type { WireRow } from '../src/source-dialect.js'
import { streamPages } from '../src/stream-pages.js'
import { stream } from './fixtures.js'
import { adminPool, liveServer, whenMssqlLive } from './mssql-live-setup.js'

// Page retries against a real SQL Server, where SISPORTA_TEST_MSSQL_URL points at one with a
// login that may create databases and KILL sessions (Bitbucket's SQL Server service container);
// skipped otherwise, as mssql-live.test.ts (see mssql-live-setup.ts). While an extract reads
// pages, the reader's session is made to wait on a schema lock held by another connection (an
// ALTER TABLE in an open transaction, which blocks readers under every isolation level), then
// KILLed once the server shows it waiting. The pages go on from the same key, every row exactly
// once, as SQL lists them.

const ROWS = 95
const PAGE = 10

const orders = stream({
  name: 'orders',
  source: { table: 'dbo.orders' },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'note', from: 'note', type: 'string' }]
})

/** Asks `probe` again every 50 ms until it finds something: waiting for what the server reports, no deadline of its own. */
async function until<T> (probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

whenMssqlLive('mssql live retry', () => {
  t.test('mssql live retry – the reader\'s session KILLed mid-extract: pages go on from the same key, every row once', async (t) => {
    const live = await liveServer(t, { database: 'sisporta_r_', snapshot: false, poolMax: 4 })
    const { admin } = live
    // one connection, so that the transaction holding the lock stays on it
    const locker = await adminPool(live.settings, live.database, 1)
    const dialect = createMssqlDialect(live.adminUrl, { allowWritableLogin: true })
    // tap runs teardowns last first: these before liveServer's closes the admin pool and drops the database
    t.teardown(async () => {
      await dialect.close()
      await locker.close()
    })
    await admin.request().batch('CREATE TABLE dbo.orders (id int NOT NULL PRIMARY KEY, note nvarchar(40) NOT NULL)')
    await admin.request().batch(`INSERT INTO dbo.orders (id, note) VALUES ${Array.from({ length: ROWS }, (_, i) => `(${(i + 1) * 3}, N'note ${i + 1} ação')`).join(', ')}`)

    const warnings: Array<Record<string, unknown>> = []
    const log = { warn: (obj: object, msg: string) => { warnings.push({ ...(obj as Record<string, unknown>), msg }) } }
    const pages = streamPages(dialect, orders, PAGE, { readAhead: false, retry: { log, baseDelayMs: 100 } })[Symbol.asyncIterator]()
    const read: WireRow[] = []
    for (let p = 0; p < 3; p++) {
      const step = await pages.next()
      t.notOk(step.done)
      read.push(...step.value as WireRow[])
    }

    const tx = new mssql.Transaction(locker)
    await tx.begin()
    let open = true
    try {
      const spid = (await new mssql.Request(tx).query<{ spid: number }>('SELECT @@SPID AS spid')).recordset[0]!.spid
      // Sch-M until the transaction ends: the reader's Sch-S waits under any isolation level
      await new mssql.Request(tx).batch('ALTER TABLE dbo.orders ADD blocker int NULL')
      const next = pages.next()
      const reader = await until(async () => {
        const { recordset } = await admin.request().input('spid', mssql.Int(), spid)
          .query<{ session_id: number }>('SELECT session_id FROM sys.dm_exec_requests WHERE blocking_session_id = @spid')
        return recordset[0]?.session_id
      })
      await admin.request().batch(`KILL ${Number(reader)}`)
      await tx.rollback()
      open = false
      const step = await next
      t.notOk(step.done)
      read.push(...step.value as WireRow[])
    } finally {
      if (open) await tx.rollback()
    }
    for (;;) {
      const step = await pages.next()
      if (step.done === true) break
      read.push(...step.value)
    }

    const { recordset } = await admin.request().query<{ id: number, note: string }>('SELECT id, note FROM dbo.orders ORDER BY id')
    t.equal(recordset.length, ROWS)
    t.same(read, recordset.map((r) => [r.id, r.note]), 'the rows SQL lists, each once, in key order')
    t.ok(warnings.length >= 1, 'the killed page was retried')
    t.match(warnings[0], { stream: 'orders', after: ['90'], attempt: 1, msg: /retrying the page after key \{id: 90\}/ })
    t.comment(`retried after: ${String(warnings[0]?.reason)}`)
  })
})
