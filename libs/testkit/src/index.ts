import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { createConnection, type Connection } from 'mysql2/promise'
import { connect, type NatsConnection } from 'nats'
import pg from 'pg'
import { busNames, type BusNames } from '@sisporta/contracts'
import { deprovisionBus, provisionBus } from '@sisporta/nats'

export const TEST_NATS_URL = process.env.SISPORTA_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
export const TEST_MYSQL_SERVER = process.env.SISPORTA_TEST_MYSQL_SERVER ?? 'mysql://root@127.0.0.1:3306'
export const TEST_POSTGRES_SERVER = process.env.SISPORTA_TEST_POSTGRES_SERVER ?? 'postgres://postgres@127.0.0.1:5432'

/** A short random lower-case id, safe in namespaces, database names and subjects. */
export function randomId (length = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('')
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * A fresh NATS namespace with sisporta's streams, consumer and bucket provisioned; removed at
 * teardown, so tests never see each other's messages.
 */
export async function testBus (t: Teardown, options: { maxDeliver?: number, ackWaitMs?: number } = {}): Promise<{ nc: NatsConnection, names: BusNames, namespace: string }> {
  const namespace = `t_${randomId()}`
  const names = busNames(namespace)
  const nc = await connect({ servers: TEST_NATS_URL, name: `test-${namespace}` })
  await provisionBus(nc, names, { maxDeliver: options.maxDeliver ?? 5, ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}) })
  t.teardown(async () => {
    await deprovisionBus(nc, names).catch(() => {})
    await nc.close()
  })
  return { nc, names, namespace }
}

/**
 * A fresh MySQL database on the local MariaDB, dropped at teardown. `url` is what
 * SISPORTA_MYSQL_URL would be; `sql` is a root connection to it with exact value options.
 */
export async function testDatabase (t: Teardown, prefix = 'sisporta_t'): Promise<{ url: string, database: string, sql: Connection }> {
  const database = `${prefix}_${randomId()}`
  const admin = await createConnection({ uri: TEST_MYSQL_SERVER })
  await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`)
  await admin.end()
  const url = `${TEST_MYSQL_SERVER}/${database}`
  const sql = await createConnection({
    uri: url,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    charset: 'utf8mb4_unicode_ci',
    multipleStatements: true
  })
  t.teardown(async () => {
    await sql.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => {})
    await sql.end().catch(() => {})
  })
  return { url, database, sql }
}

/** A pino destination that keeps every line as parsed JSON (assert on logs as data). */
export function logSink (): { stream: Writable, lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      done()
    }
  })
  return { stream, lines }
}

/** Polls `probe` until it returns a value other than `undefined`, or fails after `timeoutMs` (default two minutes). */
export async function eventually<T> (probe: () => Promise<T | undefined> | T | undefined, options: { timeoutMs?: number, intervalMs?: number, what?: string } = {}): Promise<T> {
  // a generous ceiling: tests wait for events, and a loaded machine is slow, not wrong
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'a condition'}`)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100))
  }
}

/**
 * A fresh PostgreSQL database on the local server, dropped at teardown. `url` is what
 * SISPORTA_SOURCE_URL would be; `sql` is a client connected to it.
 */
export async function testPostgresDatabase (t: Teardown, prefix = 'sisporta_t'): Promise<{ url: string, database: string, sql: pg.Client }> {
  const database = `${prefix}_${randomId()}`
  const admin = new pg.Client({ connectionString: `${TEST_POSTGRES_SERVER}/postgres` })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${database}" ENCODING 'UTF8' TEMPLATE template0`)
  const url = `${TEST_POSTGRES_SERVER}/${database}`
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => {
    await sql.end().catch(() => {})
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {})
    await admin.end().catch(() => {})
  })
  return { url, database, sql }
}

/**
 * A self-signed certificate for 127.0.0.1 / localhost (P-256, one day), made with openssl in a
 * fresh temp dir: `cert.pem` and `key.pem` in `dir`. Undefined when openssl is not installed,
 * so a TLS test can say why it was skipped.
 */
export function selfSignedCertificate (): { dir: string, certFile: string, keyFile: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sisporta-tls-'))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' })
    return { dir, certFile, keyFile }
  } catch {
    return undefined
  }
}

export { privateNatsServer, natsPermissionsFor, permissionedNats, freeLoopbackPort, NATS_SERVER_BIN, NATS_PERMISSIONS_FILE, type PrivateNatsServer, type PermissionedNats, type NatsRole } from './nats-server.js'
export { natsCluster, type NatsCluster, type NatsClusterNode } from './nats-cluster.js'
export { privateMariadb, MARIADBD_BIN, MARIADB_INSTALL_DB_BIN, type PrivateMariadb } from './mariadb-server.js'
