/**
 * The slice of the mssql driver (tedious inside) the SQL Server dialect uses, as structural
 * "subset" types — a `mssql.ConnectionPool` fits them as it is, and a test double is a few lines —
 * the pool built from a source URL or connection string, and error classification.
 */
import mssql from 'mssql'
import { connectError, errorCodes, type DriverErrors, type SourceEndpoint } from '../read-errors.js'
import type { SourceDialectOptions } from '../source-dialect.js'
import type { MssqlParameter, MssqlParameterType } from './mssql-sql.js'
import { checkMssqlEncryption, parseMssqlUrl, type MssqlConnectionSettings } from './mssql-url.js'

/** Result-set column metadata as the driver reports it with `arrayRowMode` (`result.columns[i][j]`). */
export interface MssqlColumnMetadataLike {
  readonly index: number
  readonly name: string
  /** Bytes for character and binary columns. */
  readonly length: number
  /** The mssql type (`mssql.VarChar`, `mssql.Int`, …); its `declaration` is the T-SQL name. */
  readonly type?: unknown
  readonly precision?: number
  readonly scale?: number
  readonly nullable: boolean
}

/** What `request.query` resolves to with `arrayRowMode`: rows as arrays, metadata per result set. */
export interface MssqlResultLike {
  readonly recordset?: readonly unknown[]
  readonly columns?: readonly (readonly MssqlColumnMetadataLike[])[]
}

/** One request: parameters, then one batch run through `sp_executesql`. */
export interface MssqlRequestLike {
  arrayRowMode: boolean
  /** `type` is an mssql type object (`mssql.VarChar(20)`), see `mssqlParameterType`. */
  input (name: string, type: object, value: unknown): unknown
  query (command: string): Promise<MssqlResultLike>
}

/** The pool: `connect()` is idempotent (joins a connect in progress, resolves at once when connected). */
export interface MssqlPoolLike {
  connect (): Promise<unknown>
  request (): MssqlRequestLike
  close (): Promise<void>
  /** Where it connects, for connection errors (never the password in them). */
  readonly endpoint?: SourceEndpoint
}

/** Rows (arrays, in select-list order) and column metadata of a statement's first result set. */
export interface MssqlRows {
  readonly rows: unknown[][]
  readonly columns: readonly MssqlColumnMetadataLike[]
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
/**
 * Opening a connection (TCP, TLS, login) may take this long by default: an Azure SQL serverless
 * database resuming from pause, or a multi-subnet listener answering from its far subnet, takes
 * tens of seconds; tedious's own default is 15 s.
 */
const DEFAULT_CONNECT_TIMEOUT_MS = 60_000

/** The driver's (tedious) name of each Entra ID authentication type. */
const ENTRA_TYPES = {
  'service-principal': 'azure-active-directory-service-principal-secret',
  'managed-identity': 'azure-active-directory-msi-vm',
  default: 'azure-active-directory-default'
} as const

/**
 * The mssql pool configuration for parsed settings: `ApplicationIntent=ReadOnly`
 * (`readOnlyIntent`, which an availability group routes to a readable secondary) unless the URL
 * says `ReadWrite`, TLS on unless the URL turns it off, rows as arrays. A domain makes the
 * driver log in with NTLM; Entra ID settings become the driver's `authentication`. Date-times and
 * decimals never reach the driver's JavaScript conversions (they are selected as text), so
 * `useUTC` plays no part.
 *
 * @example
 * mssqlPoolConfig(parseMssqlUrl('mssql://reader:s3cret@erp-db/ERP'), { poolSize: 2 })
 * // { server: 'erp-db', port: 1433, database: 'ERP', options: { readOnlyIntent: true, encrypt: true, … }, … }
 */
export function mssqlPoolConfig (settings: MssqlConnectionSettings, options: SourceDialectOptions): mssql.config {
  return {
    server: settings.server,
    ...(settings.port === undefined ? {} : { port: settings.port }),
    ...(settings.database === undefined ? {} : { database: settings.database }),
    ...(settings.entra === undefined ? credentials(settings) : { authentication: entraAuthentication(settings) }),
    connectionTimeout: settings.connectTimeoutMs ?? options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout: settings.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    arrayRowMode: true,
    // between scheduled loads the source keeps no session of ours for long
    pool: { max: settings.poolMax ?? options.poolSize ?? 2, min: 0, idleTimeoutMillis: 30_000 },
    options: {
      readOnlyIntent: settings.readOnlyIntent,
      encrypt: settings.encrypt,
      trustServerCertificate: settings.trustServerCertificate,
      multiSubnetFailover: settings.multiSubnetFailover,
      appName: settings.appName ?? 'sisporta',
      ...(settings.instanceName === undefined ? {} : { instanceName: settings.instanceName }),
      ...(settings.hostNameInCertificate === undefined ? {} : { serverName: settings.hostNameInCertificate })
    }
  }
}

/** User, password and (NTLM) domain of a SQL Server or Windows login. */
function credentials (settings: MssqlConnectionSettings): Pick<mssql.config, 'user' | 'password' | 'domain'> {
  return {
    ...(settings.user === undefined ? {} : { user: settings.user }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    // a domain switches the driver to NTLM (Windows login with user and password)
    ...(settings.domain === undefined ? {} : { domain: settings.domain })
  }
}

/** The driver's `authentication` for Entra ID: the user is the client id, the password a service principal's secret. */
function entraAuthentication (settings: MssqlConnectionSettings): NonNullable<mssql.config['authentication']> {
  const entra = settings.entra!
  if (entra.type === 'service-principal') {
    return { type: ENTRA_TYPES[entra.type], options: { clientId: settings.user!, clientSecret: settings.password!, tenantId: entra.tenantId! } }
  }
  return { type: ENTRA_TYPES[entra.type], options: settings.user === undefined ? {} : { clientId: settings.user } }
}

/**
 * Creates the mssql pool for a source URL or connection string (no connection until the first
 * read). Refuses a connection without TLS unless `options.allowPlaintext` (then warns once).
 */
export function createMssqlPool (url: string, options: SourceDialectOptions): MssqlPoolLike {
  const settings = parseMssqlUrl(url)
  if (checkMssqlEncryption(settings, options.allowPlaintext === true)) {
    options.log?.warn({ server: settings.server }, 'SISPORTA_SOURCE_ALLOW_PLAINTEXT: the SQL Server connection is not encrypted; the password and every row cross the network in clear')
  }
  const pool = new mssql.ConnectionPool(mssqlPoolConfig(settings, options))
  // a connection that breaks while idle in the pool reports here (unheard, it would end the
  // process); the next read gets a fresh connection or fails with the cause
  pool.on('error', (err: unknown) => options.log?.warn({ err: driverMessage(err) }, 'source connection error'))
  const host = settings.server.includes(':') ? `[${settings.server}]` : settings.server
  return {
    endpoint: {
      engine: 'SQL Server',
      address: settings.port !== undefined ? `${host}:${settings.port}` : settings.instanceName !== undefined ? `${host}\\${settings.instanceName}` : `${host}:1433`,
      user: settings.domain !== undefined && settings.user !== undefined ? `${settings.domain}\\${settings.user}` : settings.user,
      database: settings.database,
      password: settings.password
    },
    connect: async () => await pool.connect(),
    request: () => pool.request(),
    close: async () => { await pool.close() }
  }
}

/** The mssql type object for a parameter type. */
export function mssqlParameterType (type: MssqlParameterType): object {
  switch (type.kind) {
    case 'int': return mssql.Int()
    case 'bit': return mssql.Bit()
    case 'varchar': return mssql.VarChar(type.length === -1 ? mssql.MAX : type.length)
    case 'nvarchar': return mssql.NVarChar(type.length === -1 ? mssql.MAX : type.length)
    case 'varbinary': return mssql.VarBinary(type.length === -1 ? mssql.MAX : type.length)
  }
}

/**
 * Runs one batch with named parameters on a pooled connection and returns its first result set.
 * Failing to connect is `SIS_SRC_CONNECT`; a failing statement passes the driver's error through
 * for the caller to name.
 */
export async function runMssql (pool: MssqlPoolLike, sql: string, params: readonly MssqlParameter[] = []): Promise<MssqlRows> {
  try {
    await pool.connect()
  } catch (cause) {
    throw connectError(cause, MSSQL_ERRORS, pool.endpoint)
  }
  const request = pool.request()
  request.arrayRowMode = true
  for (const p of params) request.input(p.name, mssqlParameterType(p.type), p.value)
  const result = await request.query(sql)
  return { rows: (result.recordset ?? []) as unknown[][], columns: result.columns?.[0] ?? [] }
}

/** The T-SQL name of a column's driver type (`varchar`, `int`, …), undefined when the driver does not say. */
export function driverTypeName (column: MssqlColumnMetadataLike): string | undefined {
  const declaration = (column.type as { declaration?: unknown } | undefined)?.declaration
  return typeof declaration === 'string' ? declaration : undefined
}

/**
 * Codes worth a retry: mssql's and tedious' for a request or connection that broke (`ETIMEOUT`
 * request or connect timeout, `ESOCKET` socket lost, `ECLOSE` connection closed mid-request,
 * `ECONNCLOSED` / `ENOCONN` no connection) and Node's socket errors, which tedious passes on as
 * they are when the socket fails mid-request (`ECONNRESET`, "socket hang up").
 */
const TRANSIENT_CODES = new Set([
  'ETIMEOUT', 'ESOCKET', 'ECLOSE', 'ECONNCLOSED', 'EINSTLOOKUP', 'ENOCONN', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE',
  'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'
])

/**
 * SQL Server error numbers worth a retry: deadlock victim (1205), lock request timeout (1222),
 * lock resources (1204), the session killed (596), a NOLOCK scan meeting data movement (601),
 * snapshot isolation turned off (3952) or still turning on (3956) — the retry plans the stream
 * again, as describe decides — or meeting concurrent DDL (3961), a database not open during
 * failover (4060), a read-only secondary not ready yet (4221), availability-group databases not
 * accessible during failover (976, 983), memory pressure (701, 8645), transport errors (233,
 * 10053, 10054, 10060), and Azure SQL's resource limits, busy service and reconfiguration
 * (10928, 10929, 40143, 40197, 40501, 40613, 49918, 49919, 49920).
 */
const TRANSIENT_NUMBERS = new Set([
  -2, 233, 596, 601, 701, 976, 983, 1204, 1205, 1222, 3952, 3956, 3961, 4060, 4221, 8645, 10053, 10054, 10060,
  10928, 10929, 40143, 40197, 40501, 40613, 49918, 49919, 49920
])

/**
 * A refused login that a failover or a busy Azure SQL gives, by its text: tedious reports the
 * login's server error as `ELOGIN` with the server's message but without its number (and retries
 * 4060, 10928, 10929, 40197, 40501 and 40613 itself first, `maxRetriesOnTransientErrors`).
 * 4221: a readable secondary waiting for row versions; 40613: database not currently available;
 * 40197 / 40501: the service busy or failing over; 49918–49920: not enough resources; 10928 /
 * 10929: resource limit reached; 983: the replica is neither primary nor secondary.
 */
const TRANSIENT_LOGIN_TEXT = /HADR_DATABASE_WAIT_FOR_TRANSITION_TO_VERSIONING|is not currently available|service has encountered an error processing your request|service is currently busy|Cannot process (?:create or update )?request|Resource ID ?: ?\d+|not in the PRIMARY or SECONDARY role/i

/** The SQL Server error number of an error or of what it wraps: mssql copies it, tedious' token has it as `info.number`. */
function errorNumber (e: { number?: unknown, info?: unknown }): number | undefined {
  if (typeof e.number === 'number') return e.number
  const info = e.info as { number?: unknown } | undefined
  return typeof info?.number === 'number' ? info.number : undefined
}

/**
 * Whether an mssql / tedious error may go away on retry: network, timeout, deadlock, failover.
 * Follows what the errors wrap: mssql's `originalError` (tedious' error, or a plain Error whose
 * `info` is tedious' error token or ConnectionError), `cause` (Node's socket error), and the
 * errors of an AggregateError.
 */
export function isTransientMssqlError (err: unknown): boolean {
  const seen = new Set<unknown>()
  const pending: unknown[] = [err]
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.shift()
    if (typeof current !== 'object' || current === null || seen.has(current)) continue
    seen.add(current)
    const e = current as { code?: unknown, number?: unknown, info?: unknown, isTransient?: unknown, message?: unknown, originalError?: unknown, cause?: unknown, errors?: unknown }
    const number = errorNumber(e)
    if (number !== undefined && TRANSIENT_NUMBERS.has(number)) return true
    if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true
    if (isTransientLogin(e)) return true
    pending.push(e.originalError, e.cause, e.info, ...(Array.isArray(e.errors) ? e.errors : []))
  }
  return false
}

/** tedious marks a login error it would retry itself; after its last retry only the text tells. */
function isTransientLogin (e: { code?: unknown, isTransient?: unknown, message?: unknown }): boolean {
  return e.code === 'ELOGIN' && (e.isTransient === true || (typeof e.message === 'string' && TRANSIENT_LOGIN_TEXT.test(e.message)))
}

/** Whether a refused login (`ELOGIN`, anywhere in the chain) may be a failover: see `DriverErrors.isFailoverLogin`. */
export function isMssqlFailoverLogin (err: unknown): boolean {
  return errorCodes(err).includes('ELOGIN')
}

/** The driver's message without its stack, with the SQL Server error number when there is one. */
export function driverMessage (err: unknown): string {
  if (err instanceof Error) {
    const { number, code } = err as { number?: unknown, code?: unknown }
    if (typeof number === 'number') return `SQL Server error ${number}: ${err.message}`
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}

/**
 * A refused login or database, in words: tedious reports both as `ELOGIN` (18456 login failed,
 * 4060 cannot open the database, 18452 a Windows login from an untrusted domain), without the
 * number on the outer error.
 */
export function mssqlLoginReason (err: unknown): string | undefined {
  const e = err as { code?: unknown, number?: unknown, message?: unknown } | null
  const message = typeof e?.message === 'string' ? e.message : ''
  // the database moving or busy (a failover, Azure SQL's limits) is no reason to change the login
  if (typeof e === 'object' && e !== null && (isTransientLogin(e) || isTransientLogin((e as { originalError?: object }).originalError ?? {}))) return undefined
  if (e?.number === 4060 || /cannot open database/i.test(message)) return 'the database does not exist or this login may not open it'
  if (e?.code === 'ELOGIN' || e?.number === 18456 || e?.number === 18452) return 'login failed: wrong user or password, or the login is disabled'
  return undefined
}

/** The mssql driver's errors as the shared read errors name and classify them. */
export const MSSQL_ERRORS: DriverErrors = Object.freeze({ message: driverMessage, isTransient: isTransientMssqlError, loginReason: mssqlLoginReason, isFailoverLogin: isMssqlFailoverLogin })
