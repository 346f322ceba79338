import t, { type Test } from 'tap'
import { inspect } from 'node:util'
import { sql } from 'kysely'
import { DbConnectError, createDb, ensureDatabase, isTransientMysqlError, isUnreachableDatabase, mysqlConnectError } from '@sisporta/db'
import { TEST_MYSQL_SERVER, freeLoopbackPort, randomId } from '@sisporta/testkit'

const PASSWORD = 'db-secret-' + 'z'.repeat(14)
const server = new URL(TEST_MYSQL_SERVER)
const HOST = server.hostname
const PORT = server.port === '' ? 3306 : Number(server.port)
const USER = decodeURIComponent(server.username)

/** What a connection through `url` fails with. */
async function failure (url: string): Promise<unknown> {
  const db = createDb(url, { poolSize: 1 })
  try {
    return await sql`SELECT 1`.execute(db).then(() => undefined, (e: unknown) => e)
  } finally {
    await db.destroy()
  }
}

function assertNoPassword (t: Test, err: unknown): void {
  t.notOk(inspect(err, { depth: 10 }).includes(PASSWORD), 'the password is nowhere in the error, its message or its causes')
}

t.test('db connect errors – nothing listens on the port: SIS_DB_CONNECT naming SISPORTA_MYSQL_URL, host:port and "connection refused", retried (exit 1 once given up)', async (t) => {
  const port = await freeLoopbackPort()
  const err = await failure(`mysql://sisporta:${PASSWORD}@127.0.0.1:${port}/app`)
  t.type(err, DbConnectError)
  t.match(err, { code: 'SIS_DB_CONNECT', exitCode: 1, transient: true })
  t.match((err as Error).message, new RegExp(`^cannot connect to MySQL at 127\\.0\\.0\\.1:${port} as 'sisporta', database 'app' \\(SISPORTA_MYSQL_URL\\): connection refused: nothing listens there — connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\[ECONNREFUSED\\]$`))
  t.ok(isUnreachableDatabase(err), 'a starting service waits for it')
  t.ok(isTransientMysqlError(err), 'a running persister keeps its batches waiting: a connection failure is never the batch\'s fault')
  assertNoPassword(t, err)
})

t.test('db connect errors – a wrong password: SIS_DB_LOGIN "access denied", exit 2, never the password', async (t) => {
  const err = await failure(`mysql://${USER}:${PASSWORD}@${HOST}:${PORT}/mysql`)
  t.match(err, { code: 'SIS_DB_LOGIN', exitCode: 2, transient: false, errno: 1045 })
  t.match((err as Error).message, new RegExp(`^cannot connect to MySQL at ${HOST.replaceAll('.', '\\.')}:${PORT} as '${USER}', database 'mysql' \\(SISPORTA_MYSQL_URL\\): access denied: wrong user or password — Access denied for user '${USER}'@.* \\(using password: YES\\) \\[ER_ACCESS_DENIED_ERROR\\]$`))
  t.notOk(isUnreachableDatabase(err), 'a starting service stops at once: waiting does not fix a password')
  t.ok(isTransientMysqlError(err), 'a running persister does not dead-letter batches for it')
  assertNoPassword(t, err)
})

t.test('db connect errors – an unknown database: SIS_DB_LOGIN "unknown database", exit 2', async (t) => {
  const database = `sisporta_no_such_db_${randomId()}`
  const err = await failure(`${TEST_MYSQL_SERVER}/${database}`)
  t.match(err, { code: 'SIS_DB_LOGIN', exitCode: 2, transient: false, errno: 1049 })
  t.match((err as Error).message, new RegExp(`\\(SISPORTA_MYSQL_URL\\): unknown database \\(\`sisporta migrate\` creates it\\) — Unknown database '${database}' \\[ER_BAD_DB_ERROR\\]$`))
})

t.test('db connect errors – a host name that does not resolve: SIS_DB_CONNECT saying DNS', async (t) => {
  const err = await failure(`mysql://sisporta:${PASSWORD}@no-such-host.invalid:3306/app`)
  t.match(err, { code: 'SIS_DB_CONNECT', exitCode: 1, message: /^cannot connect to MySQL at no-such-host\.invalid:3306 as 'sisporta', database 'app' \(SISPORTA_MYSQL_URL\): host name (not found|lookup failed for now) \(DNS\)/ })
  assertNoPassword(t, err)
})

t.test('db connect errors – ensureDatabase (migrate) says the same, without a database in it', async (t) => {
  const port = await freeLoopbackPort()
  const err = await ensureDatabase(`mysql://sisporta:${PASSWORD}@127.0.0.1:${port}/app`).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_DB_CONNECT', message: new RegExp(`^cannot connect to MySQL at 127\\.0\\.0\\.1:${port} as 'sisporta' \\(SISPORTA_MYSQL_URL\\): connection refused`) })
  assertNoPassword(t, err)
})

t.test('db connect errors – should a driver ever repeat the password, the message does not', async (t) => {
  const endpoint = { host: 'db', port: 3306, user: 'sisporta', database: 'app', password: PASSWORD, setting: 'SISPORTA_MYSQL_URL' }
  const err = mysqlConnectError(Object.assign(new Error(`handshake failed with ${PASSWORD}`), { code: 'ECONNRESET' }), endpoint)
  t.match(err, { code: 'SIS_DB_CONNECT', message: /^cannot connect to MySQL at db:3306 as 'sisporta', database 'app' \(SISPORTA_MYSQL_URL\): connection reset by the server — handshake failed with \*\*\* \[ECONNRESET\]$/ })
})
