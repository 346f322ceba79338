import { DbError } from './errors.js'

/** Where a pool connects, as messages name it (never with the password). */
export interface MysqlEndpoint {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string | undefined
  /** Only to make sure it never reaches a message. */
  readonly password: string
  /** The setting the URL comes from (`SISPORTA_MYSQL_URL`). */
  readonly setting: string
}

/**
 * A MySQL connection that could not be opened: `SIS_DB_CONNECT` (the server is down or out of
 * reach: retrying may help), `SIS_DB_LOGIN` (the server refused the user, the password or the
 * database) or `SIS_DB_TLS`. The message names the setting, host:port, user and the reason.
 *
 * A connection failure is never the fault of the statement that wanted it, so the error is
 * `fatal`, as mysql2 marks a broken connection: `isTransientMysqlError` treats it as transient,
 * and the persister keeps its batches waiting (its `/readyz` says why) instead of dead-lettering
 * them while the password is wrong.
 */
export class DbConnectError extends DbError {
  /** 2 when a setting must change (login, database, TLS), 1 when the server is out of reach. */
  readonly exitCode: 1 | 2
  /** Whether trying again later may succeed without changing anything here. */
  readonly transient: boolean
  readonly fatal = true
  /** The driver's error number (1045 access denied, 1049 unknown database), when it gave one. */
  readonly errno: number | undefined

  constructor (code: 'SIS_DB_CONNECT' | 'SIS_DB_LOGIN' | 'SIS_DB_TLS', message: string, options: { cause: unknown, transient: boolean, errno: number | undefined }) {
    super(code, message, { cause: options.cause })
    this.name = 'DbConnectError'
    this.transient = options.transient
    this.exitCode = options.transient ? 1 : 2
    this.errno = options.errno
  }
}

/** Node's and mysql2's codes for a server out of reach, in words. */
const UNREACHABLE: Readonly<Record<string, string>> = Object.freeze({
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  PROTOCOL_CONNECTION_LOST: 'connection closed by the server',
  ER_CON_COUNT_ERROR: 'too many connections on the server',
  ER_SERVER_SHUTDOWN: 'the server is shutting down'
})

/** Error numbers of a server that refused the login: user, password, host or database. */
const LOGIN: Readonly<Record<number, string>> = Object.freeze({
  1044: 'access to the database denied for this user',
  1045: 'access denied: wrong user or password',
  1049: 'unknown database (`sisporta migrate` creates it)',
  1130: 'this host may not connect as this user',
  1251: 'the server wants an authentication method the client does not offer',
  1698: 'access denied: wrong user or password'
})

const TLS_CODE = /^(HANDSHAKE_NO_SSL_SUPPORT|HANDSHAKE_SSL_ERROR|ERR_TLS_.*|ERR_SSL_.*|.*CERT.*|UNABLE_TO_.*|SELF_SIGNED.*|DEPTH_ZERO.*|HOSTNAME_MISMATCH)$/

/**
 * Turns mysql2's failure to open a connection into a {@link DbConnectError}; an error of ours
 * (`SIS_DB_SESSION`, …) passes through as it is.
 *
 * @example
 * mysqlConnectError(err, endpoint).message
 * // cannot connect to MySQL at 127.0.0.1:3306 as 'sisporta' (SISPORTA_MYSQL_URL): access denied: wrong user or password — Access denied for user … [ER_ACCESS_DENIED_ERROR]
 */
export function mysqlConnectError (err: unknown, endpoint: MysqlEndpoint): unknown {
  if (err instanceof DbError) return err
  const e = err as { code?: unknown, errno?: unknown, message?: unknown } | null | undefined
  const code = typeof e?.code === 'string' ? e.code : ''
  const errno = typeof e?.errno === 'number' && e.errno > 0 ? e.errno : undefined
  const driver = scrub(`${typeof e?.message === 'string' ? e.message : String(err)}${code !== '' ? ` [${code}]` : ''}`, endpoint.password)
  const where = `MySQL at ${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port} as '${endpoint.user}'${endpoint.database !== undefined ? `, database '${endpoint.database}'` : ''} (${endpoint.setting})`
  const login = errno === undefined ? undefined : LOGIN[errno]
  if (login !== undefined) {
    return new DbConnectError('SIS_DB_LOGIN', `cannot connect to ${where}: ${login} — ${driver}`, { cause: err, transient: false, errno })
  }
  if (TLS_CODE.test(code)) {
    return new DbConnectError('SIS_DB_TLS', `cannot connect to ${where}: TLS failed (the server does not offer it, or its certificate does not verify) — ${driver}`, { cause: err, transient: false, errno })
  }
  const reason = UNREACHABLE[code]
  return new DbConnectError('SIS_DB_CONNECT', `cannot connect to ${where}: ${reason !== undefined ? `${reason} — ` : ''}${driver}`, { cause: err, transient: true, errno })
}

/**
 * True for a connection failure that waiting may fix (the server is down or out of reach);
 * false for a refused login, an unknown database, TLS, and anything that is not a connection failure.
 */
export function isUnreachableDatabase (err: unknown): boolean {
  return err instanceof DbConnectError && err.transient
}

/** No driver message is known to repeat the password; this makes sure (only passwords long enough to be told apart from words). */
function scrub (text: string, password: string): string {
  return password.length >= 4 ? text.replaceAll(password, '***') : text
}
