import { sql, type Kysely } from 'kysely'
import type { SisportaDatabase } from './schema.js'

/**
 * What kind of MySQL server a pool talks to, as far as sisporta's SQL differs between them.
 *
 * `rowAlias`: the server takes `INSERT … VALUES (…) AS alias ON DUPLICATE KEY UPDATE
 * col = alias.col` (MySQL 8.0.19+). There `VALUES(col)` is deprecated (8.0.20+: warning 1287 on
 * every upsert, and a statement with warnings costs a `SHOW WARNINGS` round trip), so sisporta
 * uses the alias. MariaDB has no row alias and keeps `VALUES()`; so does MySQL before 8.0.19
 * (5.7 is past its end of life but still works) and any server whose version cannot be read.
 */
export interface ServerFlavour {
  readonly server: 'mariadb' | 'mysql'
  /** `SELECT VERSION()` as the server answered. */
  readonly version: string
  readonly rowAlias: boolean
}

/**
 * The flavour a `SELECT VERSION()` answer means.
 *
 * @example
 * flavourOfVersion('10.11.19-MariaDB') // { server: 'mariadb', version: '10.11.19-MariaDB', rowAlias: false }
 * flavourOfVersion('8.4.3')            // { server: 'mysql', version: '8.4.3', rowAlias: true }
 * flavourOfVersion('5.7.44-log')       // { server: 'mysql', version: '5.7.44-log', rowAlias: false }
 */
export function flavourOfVersion (version: string): ServerFlavour {
  if (/mariadb/i.test(version)) return Object.freeze({ server: 'mariadb', version, rowAlias: false })
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim())
  const [major, minor, patch] = m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])]
  const rowAlias = major > 8 || (major === 8 && (minor > 0 || patch >= 19))
  return Object.freeze({ server: 'mysql', version, rowAlias })
}

const known = new WeakMap<object, Promise<ServerFlavour>>()

/**
 * The flavour of the server behind `db`, asked once per pool (`SELECT VERSION()`) and then
 * remembered; a failed question is not remembered, the next call asks again.
 *
 * @example
 * const flavour = await serverFlavour(db) // { server: 'mysql', version: '8.0.36', rowAlias: true }
 */
export async function serverFlavour (db: Kysely<SisportaDatabase>): Promise<ServerFlavour> {
  let flavour = known.get(db)
  if (flavour === undefined) {
    flavour = sql<{ v: string }>`SELECT VERSION() AS v`.execute(db).then(({ rows }) => flavourOfVersion(String(rows[0]?.v ?? '')))
    known.set(db, flavour)
    flavour.catch(() => { if (known.get(db) === flavour) known.delete(db) })
  }
  return await flavour
}
