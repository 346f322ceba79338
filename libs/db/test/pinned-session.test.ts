import { createServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { sql } from 'kysely'
import { createConnection } from 'mysql2'
import { createDb, isTransientMysqlError } from '@sisporta/db'
import { eventually, testDatabase } from '@sisporta/testkit'
import { PINNED_SESSION, PIN_SESSION_SQL, verifySession, type SessionConnection } from '../src/pinned-session.js'

t.test('db session – every connection is utf8mb4 with a binary collation, strict and UTC, and its text is sent as UTF-8', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  const { rows } = await sql<Record<string, string>>`SELECT @@character_set_client AS client, @@character_set_connection AS conn, @@character_set_results AS results,
    @@collation_connection AS collation, @@sql_mode AS mode, @@time_zone AS zone, HEX('é😀') AS text, HEX(${'ção'}) AS param`.execute(db)
  t.same(rows[0], {
    client: 'utf8mb4',
    conn: 'utf8mb4',
    results: 'utf8mb4',
    collation: 'utf8mb4_bin',
    mode: PINNED_SESSION.sql_mode,
    zone: '+00:00',
    text: 'C3A9F09F9880', // the statement's own text arrived as UTF-8 and was read as utf8mb4
    param: 'C3A7C3A36F' // a parameter mysql2 escaped into the text likewise
  })
})

/** A real mysql2 connection (callback API, as the pool hands them out), closed at teardown. */
async function rawConnection (t: { teardown(fn: () => unknown): void }, url: string): Promise<SessionConnection> {
  const connection = createConnection({ uri: url, charset: 'utf8mb4_bin' })
  t.teardown(() => connection.end())
  const connection2 = connection as unknown as SessionConnection
  await new Promise<void>((resolve, reject) => connection2.query(PIN_SESSION_SQL, [], (err) => err ? reject(err) : resolve()))
  return connection2
}

async function run (connection: SessionConnection, statement: string): Promise<void> {
  await new Promise<void>((resolve, reject) => connection.query(statement, [], (err) => err ? reject(err) : resolve()))
}

t.test('db session – the check refuses a session that differs in any pinned setting, naming it and its value', async (t) => {
  const { url } = await testDatabase(t)
  const pinned = await rawConnection(t, url)
  await t.resolves(verifySession(pinned), 'the pinned session passes')
  // each case changes one setting after the pin, as a server or proxy could
  const cases: [string, RegExp][] = [
    ['SET character_set_client = latin1', /@@character_set_client is 'latin1', expected 'utf8mb4'/],
    ['SET character_set_connection = gbk', /@@character_set_connection is 'gbk', expected 'utf8mb4'/],
    ['SET character_set_results = NULL', /@@character_set_results is NULL, expected 'utf8mb4'/],
    ['SET collation_connection = utf8mb4_general_ci', /@@collation_connection is 'utf8mb4_general_ci', expected 'utf8mb4_bin'/],
    ["SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')", /@@sql_mode is '[A-Z_,]*NO_BACKSLASH_ESCAPES[A-Z_,]*', expected 'STRICT_ALL_TABLES,/],
    ["SET sql_mode = 'NO_ENGINE_SUBSTITUTION'", /@@sql_mode is 'NO_ENGINE_SUBSTITUTION'/],
    ["SET time_zone = '+02:00'", /@@time_zone is '\+02:00', expected '\+00:00'/],
    ['SET sql_notes = 0', /@@sql_notes is '0', expected '1'/]
  ]
  for (const [change, message] of cases) {
    const connection = await rawConnection(t, url)
    await run(connection, change)
    await t.rejects(verifySession(connection), { code: 'SIS_DB_SESSION', message }, change)
  }
})

t.test('db session – the pin records notes even where the session started without them', async (t) => {
  const { url } = await testDatabase(t)
  const connection = createConnection({ uri: url, charset: 'utf8mb4_bin' })
  t.teardown(() => connection.end())
  const session = connection as unknown as SessionConnection
  // as a server started with --sql-notes=0, or an init_connect, would leave it
  await run(session, 'SET sql_notes = 0')
  await run(session, 'CREATE TEMPORARY TABLE q (qty DECIMAL(12,1))')
  const noteCount = async (): Promise<number> => await new Promise((resolve, reject) => session.query("INSERT INTO q VALUES ('3.125')", [], (err, result) => err ? reject(err) : resolve((result as { warningStatus: number }).warningStatus)))
  t.equal(await noteCount(), 0, 'without sql_notes a rounding leaves no trace at all')
  await run(session, PIN_SESSION_SQL)
  await t.resolves(verifySession(session), 'the pinned session passes')
  t.equal(await noteCount(), 1, 'pinned: the rounding note is recorded')
})

/**
 * A TCP proxy in front of the local MariaDB that passes everything through, except that it
 * rewrites the text of COM_QUERY packets with `rewrite` — as a pooling proxy that keeps its own
 * idea of the session might. Counts the client connections open through it.
 */
async function rewritingProxy (t: { teardown(fn: () => unknown): void }, rewrite: (statement: string) => string): Promise<{ port: number, open: () => number }> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    const upstream = connectTcp(3306, '127.0.0.1')
    upstream.pipe(client)
    let pending = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3)
        if (pending.length < 4 + length) break
        let packet = pending.subarray(0, 4 + length)
        pending = pending.subarray(4 + length)
        // a command (sequence 0) of type COM_QUERY (0x03)
        if (packet[3] === 0 && packet[4] === 0x03) {
          const text = Buffer.from(rewrite(packet.subarray(5).toString('utf8')), 'utf8')
          packet = Buffer.alloc(5 + text.length)
          packet.writeUIntLE(1 + text.length, 0, 3)
          packet[3] = 0
          packet[4] = 0x03
          text.copy(packet, 5)
        }
        upstream.write(packet)
      }
    })
    const close = (): void => { sockets.delete(client); client.destroy(); upstream.destroy() }
    client.on('close', close)
    client.on('error', close)
    upstream.on('close', close)
    upstream.on('error', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size }
}

t.test('db session – createDb refuses a connection whose session it cannot pin, writes nothing through it, and closes it', async (t) => {
  const { url, database, sql: admin } = await testDatabase(t)
  await admin.query('CREATE TABLE canary (id INT PRIMARY KEY, label VARCHAR(20))')
  const cases: [string, (statement: string) => string, RegExp][] = [
    ['a proxy that drops the SET', (s) => s === PIN_SESSION_SQL ? 'DO 0' : s, /@@sql_mode is '[^']*', expected/],
    ['a proxy that switches to latin1', (s) => s === PIN_SESSION_SQL ? s.replace('SET NAMES utf8mb4 COLLATE utf8mb4_bin', 'SET NAMES latin1') : s, /@@character_set_client is 'latin1', expected 'utf8mb4'/],
    ['a proxy that keeps ANSI quotes', (s) => s === PIN_SESSION_SQL ? `${s}, SESSION sql_mode = 'ANSI_QUOTES'` : s, /@@sql_mode is 'ANSI_QUOTES', expected/]
  ]
  for (const [what, rewrite, message] of cases) {
    const proxy = await rewritingProxy(t, rewrite)
    const db = createDb(url.replace(':3306/', `:${proxy.port}/`), { poolSize: 1 })
    await t.rejects(sql`INSERT INTO canary VALUES (1, 'written')`.execute(db), { code: 'SIS_DB_SESSION', message }, `${what}: refused`)
    const again = await sql`SELECT 1`.execute(db).then(() => undefined, (err: unknown) => err)
    t.match(again, { code: 'SIS_DB_SESSION' }, `${what}: refused again on the next connection`)
    t.ok(isTransientMysqlError(again), `${what}: retried later (the batch waits), not dead-lettered`)
    await eventually(() => proxy.open() === 0 ? true : undefined, { what: 'the refused connections closed', timeoutMs: 10_000 })
    await db.destroy()
  }
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.canary`) as unknown as [{ n: number }[]]
  t.equal(Number(rows[0]!.n), 0, 'nothing was written')
  // the proxy itself is faithful: the same pool through it without rewriting works
  const plain = await rewritingProxy(t, (s) => s)
  const db = createDb(url.replace(':3306/', `:${plain.port}/`), { poolSize: 1 })
  t.teardown(() => db.destroy())
  await t.resolves(sql`SELECT 1`.execute(db), 'an unaltered session through the same proxy is accepted')
})
