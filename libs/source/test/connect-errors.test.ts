import t from 'tap'
import { inspect } from 'node:util'
import { freeLoopbackPort } from '@sisporta/testkit'
import { createSourceDialect, isSourceError } from '../src/index.js'
import { stream } from './fixtures.js'
import { POSTGRES_SERVER } from './fixtures-pg.js'
import { connectError } from '../src/read-errors.js'
import { POSTGRES_ERRORS } from '../src/postgres/postgres-driver.js'
import { MYSQL_ERRORS } from '../src/mysql/mysql-driver.js'

const PASSWORD = 'src-secret-' + 'w'.repeat(14)
const items = stream({ source: { table: 'items' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
const pgServer = new URL(POSTGRES_SERVER)
const PG = `${pgServer.hostname}:${pgServer.port === '' ? 5432 : pgServer.port}`

/** What `describe` fails with through `url`: the first thing that needs a connection. */
async function failure (url: string): Promise<Error & { code?: string, transient?: boolean, exitCode?: number }> {
  const dialect = createSourceDialect(url, { connectTimeoutMs: 5_000 })
  try {
    const err = await dialect.describe(items).then(() => undefined, (e: unknown) => e)
    if (!isSourceError(err)) throw new Error(`expected a SourceError, got ${inspect(err)}`)
    return err
  } finally {
    await dialect.close()
  }
}

const cases: Array<{ name: string, url: () => Promise<string>, code: 'SIS_SRC_CONNECT', transient: boolean, exitCode: 1 | 2, message: (url: string) => RegExp }> = [
  {
    name: 'MySQL, nothing listening: connection refused, retried',
    url: async () => `mysql://reader:${PASSWORD}@127.0.0.1:${await freeLoopbackPort()}/erp`,
    code: 'SIS_SRC_CONNECT',
    transient: true,
    exitCode: 1,
    message: (url) => new RegExp(`^cannot connect to the source \\(SISPORTA_SOURCE_URL: MySQL/MariaDB at 127\\.0\\.0\\.1:${new URL(url).port} as 'reader', database 'erp'\\): connection refused: nothing listens there — connect ECONNREFUSED 127\\.0\\.0\\.1:${new URL(url).port}$`)
  },
  {
    name: 'MySQL, wrong password: access denied, exit 2',
    url: async () => `mysql://root:${PASSWORD}@127.0.0.1:3306/mysql`,
    code: 'SIS_SRC_CONNECT',
    transient: false,
    exitCode: 2,
    message: () => /^cannot connect to the source \(SISPORTA_SOURCE_URL: MySQL\/MariaDB at 127\.0\.0\.1:3306 as 'root', database 'mysql'\): access denied: wrong user or password — ER_ACCESS_DENIED_ERROR: Access denied for user 'root'/
  },
  {
    name: 'MySQL, unknown database, exit 2',
    url: async () => 'mysql://root@127.0.0.1:3306/sisporta_no_such_source_db',
    code: 'SIS_SRC_CONNECT',
    transient: false,
    exitCode: 2,
    message: () => /\): unknown database — ER_BAD_DB_ERROR: Unknown database 'sisporta_no_such_source_db'$/
  },
  {
    name: 'PostgreSQL, nothing listening: connection refused, retried',
    url: async () => `postgres://reader:${PASSWORD}@127.0.0.1:${await freeLoopbackPort()}/erp`,
    code: 'SIS_SRC_CONNECT',
    transient: true,
    exitCode: 1,
    message: (url) => new RegExp(`^cannot connect to the source \\(SISPORTA_SOURCE_URL: PostgreSQL at 127\\.0\\.0\\.1:${new URL(url).port} as 'reader', database 'erp'\\): connection refused: nothing listens there — `)
  },
  {
    name: 'PostgreSQL, a login the server refuses, exit 2',
    url: async () => `postgres://sisporta_no_such_role:${PASSWORD}@${PG}/postgres`,
    code: 'SIS_SRC_CONNECT',
    transient: false,
    exitCode: 2,
    message: () => /as 'sisporta_no_such_role', database 'postgres'\): (login refused|access denied)[^—]* — .*(SQLSTATE 28000|SQLSTATE 28P01)\)$/
  },
  {
    name: 'PostgreSQL, unknown database, exit 2',
    url: async () => `postgres://postgres:${PASSWORD}@${PG}/sisporta_no_such_source_db`,
    code: 'SIS_SRC_CONNECT',
    transient: false,
    exitCode: 2,
    message: () => /\): (unknown database|access denied: wrong user or password) — .*\(SQLSTATE (3D000|28P01)\)$/
  },
  {
    name: 'SQL Server, nothing listening: connection refused, retried',
    url: async () => `mssql://reader:${PASSWORD}@127.0.0.1:${await freeLoopbackPort()}/ERP`,
    code: 'SIS_SRC_CONNECT',
    transient: true,
    exitCode: 1,
    message: (url) => new RegExp(`^cannot connect to the source \\(SISPORTA_SOURCE_URL: SQL Server at 127\\.0\\.0\\.1:${new URL(url).port} as 'reader', database 'ERP'\\): connection refused: nothing listens there — ESOCKET: Failed to connect`)
  },
  {
    name: 'SQL Server (connection string), a host name that does not resolve: DNS, retried',
    url: async () => `Server=no-such-host.invalid,1433;Database=ERP;User Id=reader;Password=${PASSWORD};`,
    code: 'SIS_SRC_CONNECT',
    transient: true,
    exitCode: 1,
    message: () => /^cannot connect to the source \(SISPORTA_SOURCE_URL: SQL Server at no-such-host\.invalid:1433 as 'reader', database 'ERP'\): host name (not found|lookup failed for now) \(DNS\) — /
  }
]

for (const c of cases) {
  t.test(`source connect errors – ${c.name}: SIS_SRC_CONNECT naming SISPORTA_SOURCE_URL, host:port and the reason, never the password`, async (t) => {
    const url = await c.url()
    const err = await failure(url)
    t.match(err, { code: c.code, transient: c.transient, exitCode: c.exitCode })
    t.match(err.message, c.message(url))
    t.notOk(inspect(err, { depth: 10 }).includes(PASSWORD), 'the password is nowhere in the error, its message or its causes')
  })
}

t.test('source connect errors – should a driver ever repeat the password, the message does not', async (t) => {
  const endpoint = { engine: 'PostgreSQL', address: 'erp:5432', user: 'reader', database: 'erp', password: PASSWORD }
  const err = connectError(Object.assign(new Error(`bad startup packet ${PASSWORD}`), { code: 'ECONNRESET' }), POSTGRES_ERRORS, endpoint)
  t.match(err, { code: 'SIS_SRC_CONNECT', transient: true, message: /^cannot connect to the source \(SISPORTA_SOURCE_URL: PostgreSQL at erp:5432 as 'reader', database 'erp'\): connection reset by the server — ECONNRESET: bad startup packet \*\*\*$/ })
})

t.test('source connect errors – a refused login is never retried, even when the driver marks its connection fatal', async (t) => {
  const denied = Object.assign(new Error("Access denied for user 'reader'@'10.0.0.5' (using password: YES)"), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, fatal: true })
  t.match(connectError(denied, MYSQL_ERRORS), { code: 'SIS_SRC_CONNECT', transient: false, exitCode: 2, message: /^cannot connect to the source \(SISPORTA_SOURCE_URL\): access denied: wrong user or password — / })
})
