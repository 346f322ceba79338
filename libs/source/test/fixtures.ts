import { randomBytes } from 'node:crypto'
import mysql, { type Connection } from 'mysql2/promise'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'

const HOST = '127.0.0.1'
const PORT = 3306

export interface SourceDatabase {
  readonly name: string
  /** A source URL pointing at the database. */
  readonly url: string
  /** A writable connection for the test's own set-up (the dialect under test only reads). */
  readonly admin: Connection
}

/**
 * Creates `sisporta_src_<random>` on the local MariaDB and drops it when the test ends.
 */
export async function createSourceDatabase (t: { teardown (fn: () => unknown): void }): Promise<SourceDatabase> {
  const name = `sisporta_src_${randomBytes(5).toString('hex')}`
  const admin = await mysql.createConnection({ host: HOST, port: PORT, user: 'root', multipleStatements: true, charset: 'utf8mb4_unicode_ci' })
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  await admin.query(`USE \`${name}\``)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await admin.end()
  })
  return { name, url: `mysql://root@${HOST}:${PORT}/${name}`, admin }
}

/** A validated-looking stream config, frozen like the config loader's. */
export function stream (s: {
  name?: string
  source: StreamConfig['source']
  key: string[]
  columns: ColumnMapping[]
}): StreamConfig {
  return Object.freeze({
    name: s.name ?? 'items',
    source: Object.freeze({ ...s.source }),
    target: Object.freeze({ table: s.name ?? 'items', key: Object.freeze([...s.key]) }),
    columns: Object.freeze(s.columns.map((c) => Object.freeze({ ...c }))),
    deletes: 'hard' as const,
    maxDeleteRatio: 0.2
  })
}
