import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The local PostgreSQL server (trust authentication); SISPORTA_TEST_POSTGRES_SERVER overrides it, as in @sisporta/testkit. */
export const POSTGRES_SERVER = process.env.SISPORTA_TEST_POSTGRES_SERVER ?? 'postgres://postgres@127.0.0.1:5432'

export interface PostgresSourceDatabase {
  readonly name: string
  /** A source URL pointing at the database. */
  readonly url: string
  /** A writable client for the test's own set-up (the dialect under test only reads). */
  readonly admin: pg.Client
}

/**
 * Creates `sisporta_src_<random>` on the local PostgreSQL (through the `postgres` database) and
 * drops it when the test ends, with FORCE: a dialect's pooled connections never keep it alive.
 */
export async function createPostgresSourceDatabase (t: { teardown (fn: () => unknown): void }): Promise<PostgresSourceDatabase> {
  const name = `sisporta_src_${randomBytes(5).toString('hex')}`
  const server = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` })
  await server.connect()
  await server.query(`CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`)
  const url = `${POSTGRES_SERVER}/${name}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  t.teardown(async () => {
    await admin.end().catch(() => {})
    await server.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await server.end()
  })
  return { name, url, admin }
}
