import { randomBytes } from 'node:crypto'
import mssql from 'mssql'
import t from 'tap'
import { createSourceDialect, type SourceDialect, type SourceDialectOptions } from '../src/index.js'
import { mssqlPoolConfig } from '../src/mssql/mssql-driver.js'
import { parseMssqlUrl, type MssqlConnectionSettings } from '../src/mssql/mssql-url.js'

// What the SQL Server live suites (mssql-live*.test.ts) share. No SQL Server can run on the
// development machines (design §6): they run where SISPORTA_TEST_MSSQL_URL points at one with a
// login that may create databases and logins (Bitbucket's SQL Server service container, e.g.
// mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true), and report themselves skipped
// otherwise.

/** SISPORTA_TEST_MSSQL_URL: the admin login's URL; undefined (or '') where no SQL Server runs. */
export const MSSQL_ADMIN_URL = process.env.SISPORTA_TEST_MSSQL_URL

/**
 * Runs `suite` (which registers the file's tests) when SISPORTA_TEST_MSSQL_URL is set and not
 * empty; otherwise registers one skipped test, `<title> – SISPORTA_TEST_MSSQL_URL not set`.
 */
export function whenMssqlLive (title: string, suite: () => void): void {
  if (MSSQL_ADMIN_URL === undefined || MSSQL_ADMIN_URL === '') {
    t.skip(`${title} – SISPORTA_TEST_MSSQL_URL not set`, async () => {})
  } else {
    suite()
  }
}

/** The settings of SISPORTA_TEST_MSSQL_URL; only inside a live suite, where it is set. */
export function adminSettings (): MssqlConnectionSettings {
  return parseMssqlUrl(MSSQL_ADMIN_URL!)
}

/**
 * An mssql:// URL for `user` on `database` of the admin URL's server, with its encrypt,
 * trustServerCertificate and instanceName; `extra` query parameters are added (encrypt and
 * trustServerCertificate among them replace the admin's).
 */
export function mssqlUrl (settings: MssqlConnectionSettings, user: string, password: string, database: string, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ encrypt: String(settings.encrypt), trustServerCertificate: String(settings.trustServerCertificate), ...extra })
  if (settings.instanceName !== undefined) params.set('instanceName', settings.instanceName)
  const host = settings.server.includes(':') ? `[${settings.server}]` : settings.server
  return `mssql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}${settings.port === undefined ? '' : `:${settings.port}`}/${encodeURIComponent(database)}?${params}`
}

/**
 * A connected pool of the admin login, writable (no read-only intent), rows as objects; on
 * `database` when given, else on the admin URL's database; `max` connections when given, else
 * the driver's pool size.
 */
export async function adminPool (settings: MssqlConnectionSettings, database?: string, max?: number): Promise<mssql.ConnectionPool> {
  const config = mssqlPoolConfig(database === undefined ? settings : { ...settings, database }, {})
  const pool = new mssql.ConnectionPool(max === undefined
    ? { ...config, arrayRowMode: false, options: { ...config.options, readOnlyIntent: false } }
    : { ...config, arrayRowMode: false, pool: { ...config.pool, max }, options: { ...config.options, readOnlyIntent: false } })
  return await pool.connect()
}

/** The slice of a tap test the set-up needs. */
export interface Teardown { teardown (fn: () => unknown): void }

/** How `liveServer` makes the test database. */
export interface LiveServerOptions {
  /** The database is `<database><8 hex digits>`. */
  readonly database: string
  /** Makes a login `<login><the same 8 hex digits>` (its user and grants are the file's), as `reader`. */
  readonly login?: string
  /** `CREATE DATABASE … COLLATE <collation>`; the server's default otherwise. */
  readonly collation?: string
  /** `ALLOW_SNAPSHOT_ISOLATION ON` (the dialect reads pages at SNAPSHOT); default true. */
  readonly snapshot?: boolean
  /** Connections of the admin pools; the driver's pool size otherwise. */
  readonly poolMax?: number
}

/** A login made on the server, with a random password, whose default database is the test's. */
export interface LiveLogin {
  readonly name: string
  readonly password: string
  /** Its mssql:// URL on the test database. */
  readonly url: string
}

/** A fresh database on the live server, and what a test needs of it. */
export interface LiveServer {
  readonly settings: MssqlConnectionSettings
  readonly database: string
  /** The admin pool on the server's default database (CREATE/DROP DATABASE and LOGIN). */
  readonly server: mssql.ConnectionPool
  /** The admin pool on the test database, for the file's tables and grants. */
  readonly admin: mssql.ConnectionPool
  /** mssql:// URL of the admin login, on the test database. */
  readonly adminUrl: string
  /** mssql:// URL of `user` on the test database. */
  url (user: string, password: string): string
  /** Makes a login `<prefix><random>` (no user: the file's grants make it), dropped at teardown. */
  createLogin (prefix: string): Promise<LiveLogin>
  /** A dialect, closed before the database and the logins are dropped. */
  open (url: string, options?: SourceDialectOptions): SourceDialect
}

/**
 * Creates the database (and, with `login`, a login on it), an admin pool on it, and at teardown
 * closes the dialects `open` made and the admin pool, drops the database (SINGLE_USER WITH
 * ROLLBACK IMMEDIATE first), then every login made, and closes the server pool.
 */
export async function liveServer (t: Teardown, options: LiveServerOptions & { readonly login: string }): Promise<LiveServer & { readonly reader: LiveLogin }>
export async function liveServer (t: Teardown, options: LiveServerOptions): Promise<LiveServer>
export async function liveServer (t: Teardown, options: LiveServerOptions): Promise<LiveServer & { readonly reader?: LiveLogin }> {
  const settings = adminSettings()
  const id = randomBytes(4).toString('hex')
  const database = `${options.database}${id}`
  const server = await adminPool(settings, undefined, options.poolMax)
  const logins: string[] = []
  const url = (user: string, password: string): string => mssqlUrl(settings, user, password, database)
  const makeLogin = async (name: string): Promise<LiveLogin> => {
    const password = `Ro!${randomBytes(12).toString('hex')}aA1`
    await server.request().batch(`CREATE LOGIN [${name}] WITH PASSWORD = N'${password}', CHECK_POLICY = OFF, DEFAULT_DATABASE = [${database}]`)
    logins.push(name)
    return { name, password, url: url(name, password) }
  }
  await server.request().batch(options.collation === undefined ? `CREATE DATABASE [${database}]` : `CREATE DATABASE [${database}] COLLATE ${options.collation}`)
  if (options.snapshot ?? true) await server.request().batch(`ALTER DATABASE [${database}] SET ALLOW_SNAPSHOT_ISOLATION ON`)
  const reader = options.login === undefined ? undefined : await makeLogin(`${options.login}${id}`)
  const admin = await adminPool(settings, database, options.poolMax)
  const dialects: SourceDialect[] = []
  t.teardown(async () => {
    // a login cannot be dropped while it has sessions
    await Promise.all(dialects.map((d) => d.close()))
    await admin.close()
    await server.request().batch(`ALTER DATABASE [${database}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${database}]`)
    for (const login of logins) await server.request().batch(`DROP LOGIN [${login}]`)
    await server.close()
  })
  return {
    settings,
    database,
    server,
    admin,
    adminUrl: url(settings.user ?? '', settings.password ?? ''),
    url,
    createLogin: async (prefix) => await makeLogin(`${prefix}${randomBytes(4).toString('hex')}`),
    open (url, options = {}) {
      const dialect = createSourceDialect(url, options)
      dialects.push(dialect)
      return dialect
    },
    ...(reader === undefined ? {} : { reader })
  }
}
