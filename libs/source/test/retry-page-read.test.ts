/**
 * Reading a page again after a transient failure: the policy (bounded attempts, backoff with
 * jitter, a warning per retry, a clear failure at the end, permanent errors at once), SQL
 * Server's classification of its errors in the shapes the real driver builds (tedious' and
 * mssql's own error classes, wrapped as mssql wraps them), and a refused login taken for a
 * failover only once the same login has read. The real-server side is in
 * retry-page-read-live.test.ts (MariaDB, PostgreSQL) and mssql-live-retry.test.ts.
 */
import { createRequire } from 'node:module'
import mssql from 'mssql'
import t from 'tap'
import { SourceError } from '../src/errors.js'
import type { KeyValues, SourceDialect, WireRow } from '../src/source-dialect.js'
import { streamPages } from '../src/stream-pages.js'
import { MSSQL_ERRORS, isTransientMssqlError } from '../src/mssql/mssql-driver.js'
import { ReadGuard, connectError } from '../src/read-errors.js'
import { readPageWithRetry, retryDelayMs } from '../src/retry-page-read.js'
import { stream } from './fixtures.js'

// tedious is mssql's dependency, not ours: its classes as mssql loads them
const tedious = createRequire(createRequire(import.meta.url).resolve('mssql'))('tedious') as {
  RequestError: new (message: string, code?: string) => Error & { number?: number, state?: number, class?: number }
  ConnectionError: new (message: string, code?: string, options?: ErrorOptions) => Error & { isTransient?: boolean }
}

const items = stream({
  name: 'orders',
  source: { table: 'orders' },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'note', from: 'note', type: 'string' }]
})

/**
 * A server error as the query path delivers it: tedious' `errorMessage` token (number, state,
 * class, …) on a plain Error as `info`, wrapped in mssql's RequestError (which copies the number).
 */
function serverError (number: number, message: string): Error {
  const info = { number, state: 1, class: 16, message, serverName: 'erp-db', procName: '', lineNumber: 1 }
  return new mssql.RequestError(Object.assign(new Error(message), { info }) as unknown as string, 'EREQUEST')
}

/** A failure of tedious itself during a request (a timeout, the connection closed), wrapped by mssql. */
function requestFailure (message: string, code: string): Error {
  return new mssql.RequestError(new tedious.RequestError(message, code) as unknown as string, 'EREQUEST')
}

/** The socket failing mid-request: tedious hands Node's error to the request, mssql wraps it. */
function socketFailure (code: string, message: string): Error {
  return new mssql.RequestError(Object.assign(new Error(message), { code }) as unknown as string, 'EREQUEST')
}

/** A connection that could not be opened: tedious' ConnectionError in mssql's. */
function connectFailure (message: string, code: string, cause?: Error): Error {
  return new mssql.ConnectionError(new tedious.ConnectionError(message, code, cause === undefined ? undefined : { cause }) as unknown as string)
}

t.test('mssql errors – classified by SQL Server error number in the driver\'s own shapes', async (t) => {
  const transient: Array<[number, string]> = [
    [1205, 'Transaction (Process ID 61) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.'],
    [1222, 'Lock request time out period exceeded.'],
    [596, 'Cannot continue the execution because the session is in the kill state.'],
    [601, 'Could not continue scan with NOLOCK due to data movement.'],
    [3952, "Snapshot isolation transaction failed accessing database 'ERP' because snapshot isolation is not allowed in this database. Use ALTER DATABASE to allow snapshot isolation."],
    [4060, 'Cannot open database "ERP" requested by the login. The login failed.'],
    [4221, "Login to read-secondary failed due to long wait on 'HADR_DATABASE_WAIT_FOR_TRANSITION_TO_VERSIONING'."],
    [40613, "Database 'ERP' on server 'erp-db' is not currently available. Please retry the connection later."],
    [40197, 'The service has encountered an error processing your request. Please try again. Error code 4815.'],
    [40501, 'The service is currently busy. Retry the request after 10 seconds.'],
    [49918, 'Cannot process request. Not enough resources to process request.'],
    [49919, 'Cannot process create or update request. Too many create or update operations in progress for subscription "1".'],
    [49920, 'Cannot process request. Too many operations in progress for subscription "1".']
  ]
  for (const [number, message] of transient) {
    const err = serverError(number, message)
    t.equal((err as { number?: unknown }).number, number, `mssql copies the number ${number}`)
    t.ok(isTransientMssqlError(err), `${number} is transient`)
    t.match(MSSQL_ERRORS.message(err), new RegExp(`^SQL Server error ${number}: `))
  }
  const permanent: Array<[number, string]> = [
    [207, "Invalid column name 'Nota'."],
    [208, "Invalid object name 'erp.Pedidos'."],
    [229, "The SELECT permission was denied on the object 'Pedidos', database 'ERP', schema 'erp'."],
    [8115, 'Arithmetic overflow error converting expression to data type int.'],
    [102, "Incorrect syntax near ')'."],
    [41332, 'Memory optimized tables and natively compiled modules cannot be accessed or created when the session TRANSACTION ISOLATION LEVEL is set to SNAPSHOT.']
  ]
  for (const [number, message] of permanent) t.notOk(isTransientMssqlError(serverError(number, message)), `${number} is not transient`)
})

t.test('mssql errors – timeouts and lost connections are transient, as tedious reports them', async (t) => {
  const timeout = requestFailure('Timeout: Request failed to complete in 60000ms', 'ETIMEOUT')
  t.equal((timeout as { code?: unknown }).code, 'ETIMEOUT', 'mssql keeps tedious\' code')
  t.ok(isTransientMssqlError(timeout), 'request timeout (ETIMEOUT)')
  t.ok(isTransientMssqlError(requestFailure('Connection closed before request completed.', 'ECLOSE')), 'connection closed mid-request (ECLOSE)')
  t.ok(isTransientMssqlError(socketFailure('ECONNRESET', 'read ECONNRESET')), 'socket reset mid-request (ECONNRESET)')
  t.ok(isTransientMssqlError(socketFailure('ECONNRESET', 'socket hang up')), 'server closed the socket (socket hang up)')
  t.ok(isTransientMssqlError(connectFailure('Connection lost - read ECONNRESET', 'ESOCKET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))), 'connection lost (ESOCKET)')
  t.ok(isTransientMssqlError(connectFailure('Failed to connect to erp-db:1433 in 15000ms', 'ETIMEOUT')), 'connect timeout')
  t.ok(isTransientMssqlError(new mssql.ConnectionError('Connection is closed.', 'ECONNCLOSED')), 'pool connection closed (ECONNCLOSED)')
  // a connection error mssql's request saw on the connection's 'error' event: a plain Error whose info is tedious' ConnectionError
  const viaEvent = new mssql.RequestError(Object.assign(new Error('Connection lost - write EPIPE'), { info: new tedious.ConnectionError('Connection lost - write EPIPE', 'ESOCKET') }) as unknown as string, 'EREQUEST')
  t.ok(isTransientMssqlError(viaEvent), 'connection lost, seen through the error event')
  t.notOk(isTransientMssqlError(requestFailure('Canceled.', 'ECANCEL')), 'a cancelled request is not')
})

t.test('mssql errors – ELOGIN is transient only for a failover or a busy service, by its text', async (t) => {
  const failover = connectFailure("Database 'ERP' on server 'erp-db' is not currently available. Please retry the connection later.", 'ELOGIN')
  t.ok(isTransientMssqlError(failover), '40613 as ELOGIN (no number on it)')
  t.ok(isTransientMssqlError(connectFailure("Login to read-secondary failed due to long wait on 'HADR_DATABASE_WAIT_FOR_TRANSITION_TO_VERSIONING'. The replica is not available for login", 'ELOGIN')), '4221 as ELOGIN')
  const marked = new tedious.ConnectionError('The service is currently busy.', 'ELOGIN')
  marked.isTransient = true
  t.ok(isTransientMssqlError(new mssql.ConnectionError(marked as unknown as string)), 'a login error tedious marked transient')
  t.match(connectError(failover, MSSQL_ERRORS), { code: 'SIS_SRC_CONNECT', transient: true, exitCode: 1 }, 'a failover at connect is worth waiting for')
  const wrongPassword = connectFailure("Login failed for user 'reader'.", 'ELOGIN')
  const noDatabase = connectFailure('Cannot open database "ERPX" requested by the login. The login failed.', 'ELOGIN')
  t.notOk(isTransientMssqlError(wrongPassword))
  t.notOk(isTransientMssqlError(noDatabase))
  t.match(connectError(wrongPassword, MSSQL_ERRORS), { transient: false, exitCode: 2, message: /login failed: wrong user or password/ })
  t.match(connectError(noDatabase, MSSQL_ERRORS), { transient: false, exitCode: 2, message: /the database does not exist or this login may not open it/ })
  t.equal(MSSQL_ERRORS.loginReason?.(undefined), undefined, 'no error object: no reason, no crash')
  t.notOk(isTransientMssqlError(undefined))
})

t.test('read guard – a refused login is a failover only after the same login has read', async (t) => {
  const forgotten: string[] = []
  const guard = new ReadGuard(MSSQL_ERRORS, (s) => forgotten.push(s.name))
  const refused = (): Promise<never> => Promise.reject(connectError(connectFailure('Cannot open database "ERP" requested by the login. The login failed.', 'ELOGIN'), MSSQL_ERRORS))
  await t.rejects(guard.run(items, 'read a page', refused), { code: 'SIS_SRC_CONNECT', transient: false, exitCode: 2 }, 'at start: the setting\'s fault')
  await guard.run(items, 'read a page', async () => 'ok')
  await t.rejects(guard.run(items, 'read a page', refused), {
    code: 'SIS_SRC_CONNECT',
    transient: true,
    exitCode: 1,
    message: /the database does not exist .*\(the same login was accepted before: taken for a failover in progress/
  }, 'once it has read: transient')
  t.same(forgotten, ['orders'], 'the stream is prepared again before the next attempt')
  const wrongPassword = connectError(Object.assign(new Error('Access denied for user'), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 }), { message: (e) => String(e), isTransient: () => false })
  const mysqlGuard = new ReadGuard({ message: (e) => String(e), isTransient: () => false }, () => {})
  await mysqlGuard.run(items, 'read a page', async () => 'ok')
  const kept = await mysqlGuard.run(items, 'read a page', () => Promise.reject(wrongPassword)).then(() => undefined, (e: unknown) => e)
  t.equal(kept, wrongPassword, 'an engine without isFailoverLogin keeps it permanent, as it was')
})

/** A reader that fails with the scripted errors first, then returns the page; records each call. */
function flaky (failures: unknown[], page: WireRow[]): { read: () => Promise<WireRow[]>, calls: () => number } {
  let calls = 0
  return {
    read: async () => {
      calls++
      if (calls > 30) throw new Error('read more than 30 times: the retry loops')
      const failure = failures[calls - 1]
      if (failure !== undefined) throw failure
      return page
    },
    calls: () => calls
  }
}

/** The warnings a retry logs, as objects (logs are data). */
function warnings (): { log: { warn: (obj: object, msg: string) => void }, lines: Array<Record<string, unknown> & { msg: string }> } {
  const lines: Array<Record<string, unknown> & { msg: string }> = []
  return { log: { warn: (obj, msg) => lines.push({ ...(obj as Record<string, unknown>), msg }) }, lines }
}

const deadlock = (): SourceError => new SourceError('SIS_SRC_READ', "stream 'orders': could not read a page: SQL Server error 1205: Transaction (Process ID 61) was deadlocked", { stream: 'orders', transient: true })

t.test('retry – a transient failure is read again from the same key, each retry logged with its wait', async (t) => {
  const { log, lines } = warnings()
  const waits: number[] = []
  const reader = flaky([deadlock(), deadlock()], [[42, 'x']])
  const after: KeyValues = [41]
  const rows = await readPageWithRetry(items, after, reader.read, { log, sleep: async (ms) => { waits.push(ms) }, random: () => 0.5, baseDelayMs: 400, maxDelayMs: 1000 })
  t.same(rows, [[42, 'x']])
  t.equal(reader.calls(), 3)
  t.same(waits, [300, 600], 'half the cap plus jitter, doubling')
  t.equal(lines.length, 2)
  t.match(lines[0], { stream: 'orders', after: ['41'], attempt: 1, attempts: 5, delayMs: 300, code: 'SIS_SRC_READ', reason: /SQL Server error 1205/, msg: /retrying the page after key \{id: 41\}/ })
  t.match(lines[1], { attempt: 2, delayMs: 600 })
})

t.test('retry – gives up after the attempts with the stream, the page start, the attempts and the last error', async (t) => {
  const { log, lines } = warnings()
  const last = new SourceError('SIS_SRC_READ', "stream 'orders': could not read a page: ECONNRESET: read ECONNRESET", { stream: 'orders', transient: true })
  const reader = flaky([deadlock(), deadlock(), last, deadlock()], [])
  const err = await readPageWithRetry(items, [7], reader.read, { attempts: 3, log, sleep: async () => {} }).then(() => undefined, (e: unknown) => e)
  t.equal(reader.calls(), 3, 'three attempts, no fourth')
  t.equal(lines.length, 2, 'two retries logged')
  t.match(err, {
    code: 'SIS_SRC_READ',
    stream: 'orders',
    transient: true,
    exitCode: 1,
    message: "stream 'orders': could not read the page after key {id: 7} in 3 attempts; the last error: stream 'orders': could not read a page: ECONNRESET: read ECONNRESET"
  })
  t.equal((err as Error).cause, last)
  const first = await readPageWithRetry(items, undefined, flaky([deadlock()], []).read, { attempts: 1 }).then(() => undefined, (e: unknown) => e)
  t.match(first, { message: /could not read the stream's first page in 1 attempts/ }, 'attempts: 1 never retries')
})

t.test('retry – a permanent error fails at once, unretried and unchanged', async (t) => {
  const { log, lines } = warnings()
  const value = new SourceError('SIS_SRC_VALUE', "stream 'orders', column 'note': cannot convert", { stream: 'orders', column: 'note' })
  const reader = flaky([value], [])
  await t.rejects(readPageWithRetry(items, [1], reader.read, { log, sleep: async () => {} }), value)
  const driverBug = new TypeError('x is not a function')
  await t.rejects(readPageWithRetry(items, [1], flaky([driverBug], []).read, { log, sleep: async () => {} }), driverBug, 'only a SourceError marked transient is retried')
  t.equal(reader.calls(), 1)
  t.equal(lines.length, 0)
})

t.test('retry – delays are bounded, grow, and jitter stays within them', async (t) => {
  for (let retry = 1; retry <= 40; retry++) {
    const cap = Math.min(15_000, 500 * 2 ** (retry - 1))
    t.equal(retryDelayMs(retry, 500, 15_000, () => 0), Math.round(cap / 2))
    t.ok(retryDelayMs(retry, 500, 15_000, () => 0.9999) <= cap)
  }
  t.equal(retryDelayMs(40, 500, 15_000, () => 1), 15_000, 'never above the cap')
  await t.rejects(readPageWithRetry(items, undefined, async () => [], { attempts: 0 }), { code: 'SIS_SRC_ARGUMENT' })
  await t.rejects(readPageWithRetry(items, undefined, async () => [], { attempts: 21 }), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('retry – the signal stops the wait between attempts', async (t) => {
  const controller = new AbortController()
  let failed!: () => void
  const firstFailure = new Promise<void>((resolve) => { failed = resolve })
  const reading = readPageWithRetry(items, undefined, async () => { failed(); throw deadlock() }, { signal: controller.signal, baseDelayMs: 3_600_000, maxDelayMs: 3_600_000 })
  await firstFailure
  controller.abort(new Error('stopping'))
  await t.rejects(reading, { message: 'stopping' }, 'an hour\'s wait ends with the signal')
})

t.test('stream pages – a page that fails transiently is read again from its key: every row once', async (t) => {
  const all: WireRow[] = Array.from({ length: 10 }, (_, i) => [i + 1, `n${i + 1}`])
  const asked: Array<KeyValues | undefined> = []
  let failures = 0
  const dialect: SourceDialect = {
    engine: 'scripted',
    describe: async () => { throw new Error('not used') },
    estimateRows: async () => undefined,
    close: async () => {},
    readPage: async (_s, after, limit) => {
      asked.push(after)
      if (asked.length > 20) throw new Error('asked too often')
      // the page after id 6 fails twice
      if (after?.[0] === 6 && failures < 2) {
        failures++
        throw deadlock()
      }
      const start = after === undefined ? 0 : all.findIndex((r) => r[0] === after[0]) + 1
      return all.slice(start, start + limit)
    }
  }
  const { log, lines } = warnings()
  const rows: WireRow[] = []
  for await (const page of streamPages(dialect, items, 3, { retry: { log, sleep: async () => {} } })) rows.push(...page)
  t.same(rows, all, 'every row once, in order')
  t.same(asked, [undefined, [3], [6], [6], [6], [9]], 'the failed page asked again with the same key')
  t.same(lines.map((l) => l.attempt), [1, 2])
})
