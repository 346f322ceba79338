/**
 * SQL Server connection settings from the two forms an ERP administrator has at hand: a URL
 * (`mssql://reader:secret@erp-db:1433/ERP?encrypt=true`) or the ADO.NET connection string that
 * SSMS, .NET apps and ODBC dialogs use (`Server=erp-db,1433;Database=ERP;User Id=reader;…`).
 * Pure: no driver here, so every rule is unit-tested. Errors name the bad parameter and never
 * print the password.
 */
import { parse as parseConnectionString } from '@tediousjs/connection-string'
import { SourceError } from '../errors.js'

/** What a `mssql://` URL or an ADO.NET connection string says, checked and normalised. */
export interface MssqlConnectionSettings {
  /** Host name or address (`localhost` for ADO's `.` and `(local)`). */
  readonly server: string
  /** TCP port; absent when a named instance is reached through the SQL Server Browser. */
  readonly port?: number
  /** Named instance (`Server=host\INSTANCE`); ignored by the driver when a port is given. */
  readonly instanceName?: string
  /** Database to read; absent: the login's default database. */
  readonly database?: string
  readonly user?: string
  readonly password?: string
  /** Windows domain: NTLM authentication (`User Id=CORP\reader` or `?domain=CORP`). */
  readonly domain?: string
  /** TLS: `true` (default) requires it; `'strict'` is TDS 8.0; `false` only encrypts the login. */
  readonly encrypt: boolean | 'strict'
  /** Accept any server certificate (self-signed): only on a network you trust. Default false. */
  readonly trustServerCertificate: boolean
  /** The name the server certificate carries, when it differs from `server` (e.g. connecting by IP). */
  readonly hostNameInCertificate?: string
  /** Availability-group listener across subnets: try all its addresses in parallel. */
  readonly multiSubnetFailover: boolean
  /** Application name the server shows in sessions and traces. Default `sisporta`. */
  readonly appName?: string
  /** Pool size (overrides the dialect option `poolSize`). */
  readonly poolMax?: number
  /** Connect timeout in milliseconds. */
  readonly connectTimeoutMs?: number
  /** Per-statement timeout in milliseconds. */
  readonly requestTimeoutMs?: number
}

const DEFAULT_PORT = 1433
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

/**
 * Whether `text` is an ADO.NET-style connection string (`Key=Value;…`) rather than a URL: it has
 * no `scheme://` prefix and starts with a keyword and `=`. (Any such text is parsed as one, so an
 * incomplete string gets a connection-string error that never echoes its password.)
 *
 * @example
 * isMssqlConnectionString('Server=erp,1433;Database=ERP;User Id=r;Password=p') // true
 * isMssqlConnectionString('mssql://r:p@erp/ERP') // false
 */
export function isMssqlConnectionString (text: string): boolean {
  return !SCHEME.test(text) && /^\s*[a-z][a-z _]*=/i.test(text)
}

/**
 * Parses a `mssql://` / `sqlserver://` URL or an ADO.NET connection string.
 *
 * URL query parameters (names ignore case): `encrypt` (true, false, strict),
 * `trustServerCertificate`, `hostNameInCertificate`, `instanceName`, `applicationIntent`
 * (ReadOnly only), `multiSubnetFailover`, `appName`, `domain`, `poolMax`, `connectTimeout` and
 * `requestTimeout` (milliseconds). Connection-string keywords: those of SqlClient (`Server`,
 * `Data Source`, `Database`, `Initial Catalog`, `User Id`, `Password`, `Encrypt`,
 * `TrustServerCertificate`, `Connect Timeout` and `Command Timeout` in seconds, `Max Pool Size`,
 * `ApplicationIntent`, `MultiSubnetFailover`, `HostNameInCertificate`, `Application Name`, …);
 * pooling and session keywords that do not apply to a read-only reader are accepted and ignored.
 *
 * @example
 * parseMssqlUrl('Server=tcp:erp-db,1433;Database=ERP;User Id=reader;Password=s3cret;TrustServerCertificate=True')
 * // { server: 'erp-db', port: 1433, database: 'ERP', user: 'reader', password: 's3cret', encrypt: true, trustServerCertificate: true, … }
 */
export function parseMssqlUrl (text: string): MssqlConnectionSettings {
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    if (!isMssqlConnectionString(text)) {
      throw new SourceError('SIS_SRC_URL', 'the SQL Server source is neither a mssql:// URL nor a connection string with Server=…')
    }
    return Object.freeze(fromConnectionString(text))
  }
  if (scheme !== 'mssql' && scheme !== 'sqlserver') {
    throw new SourceError('SIS_SRC_URL', `not a SQL Server URL: ${redactMssqlUrl(text)}`)
  }
  return Object.freeze(fromUrl(text))
}

/**
 * The source URL or connection string with its password masked, for messages and logs.
 *
 * @example
 * redactMssqlUrl('Server=erp;User Id=r;Password=s3cret;') // 'Server=erp;User Id=r;Password=***;'
 */
export function redactMssqlUrl (text: string): string {
  if (SCHEME.test(text)) return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
  // quoted values may hold ';' — mask up to the matching quote, else up to the next ';'
  return text.replace(/((?:^|;)\s*(?:password|pwd)\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|\{(?:[^}]|\}\})*\}|[^;]*)/gi, '$1***')
}

// ---------------------------------------------------------------------------------------------
// mssql:// URLs

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const URL_PARAMETERS = [
  'encrypt', 'trustServerCertificate', 'hostNameInCertificate', 'instanceName', 'applicationIntent',
  'multiSubnetFailover', 'appName', 'domain', 'poolMax', 'connectTimeout', 'requestTimeout'
] as const

function fromUrl (text: string): Mutable<MssqlConnectionSettings> {
  let u: URL
  try {
    u = new URL(text)
  } catch (cause) {
    // a backslash (host\INSTANCE) is not allowed in a URL's host
    const hint = text.includes('\\') ? '; name an instance with ?instanceName=…' : ''
    throw new SourceError('SIS_SRC_URL', `the source URL is not a valid URL: ${redactMssqlUrl(text)}${hint}`, { cause })
  }
  const settings: Mutable<MssqlConnectionSettings> = {
    server: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    encrypt: true,
    trustServerCertificate: false,
    multiSubnetFailover: false
  }
  if (settings.server === '') throw new SourceError('SIS_SRC_URL', `the source URL names no host: ${redactMssqlUrl(text)}`)
  if (u.port !== '') settings.port = Number(u.port)
  const database = decode(u.pathname.replace(/^\//, ''), 'database')
  if (database.includes('/')) throw new SourceError('SIS_SRC_URL', `source URL: the path must be just the database name, got '${database}'`)
  if (database !== '') settings.database = database
  setUser(settings, decode(u.username, 'user name'))
  const password = decode(u.password, 'password')
  if (password !== '') settings.password = password
  const seen = new Set<string>()
  for (const [given, value] of u.searchParams) {
    const name = URL_PARAMETERS.find((p) => p.toLowerCase() === given.toLowerCase())
    if (name === undefined) {
      throw new SourceError('SIS_SRC_URL', `source URL: unknown parameter '${given}' (known: ${URL_PARAMETERS.join(', ')})`)
    }
    if (seen.has(name)) throw new SourceError('SIS_SRC_URL', `source URL: parameter '${given}' is given twice`)
    seen.add(name)
    const what = `source URL: parameter '${given}'`
    switch (name) {
      case 'encrypt': settings.encrypt = encryptValue(what, value); break
      case 'trustServerCertificate': settings.trustServerCertificate = booleanValue(what, value); break
      case 'hostNameInCertificate': settings.hostNameInCertificate = textValue(what, value); break
      case 'instanceName': settings.instanceName = textValue(what, value); break
      case 'applicationIntent': readOnlyIntent(what, value); break
      case 'multiSubnetFailover': settings.multiSubnetFailover = booleanValue(what, value); break
      case 'appName': settings.appName = textValue(what, value); break
      case 'domain': settings.domain = textValue(what, value); break
      case 'poolMax': settings.poolMax = integerValue(what, value, 1, 100, ''); break
      case 'connectTimeout': settings.connectTimeoutMs = integerValue(what, value, 1, 3_600_000, ' milliseconds'); break
      case 'requestTimeout': settings.requestTimeoutMs = integerValue(what, value, 1, 86_400_000, ' milliseconds'); break
    }
  }
  return withDefaultPort(settings)
}

function decode (part: string, what: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new SourceError('SIS_SRC_URL', `source URL: the ${what} is not valid percent-encoding`)
  }
}

// ---------------------------------------------------------------------------------------------
// ADO.NET connection strings

/** Keywords by their normalised spelling (lower case, no spaces or underscores). */
const KEYWORDS: Readonly<Record<string, string>> = {
  server: 'server',
  datasource: 'server',
  address: 'server',
  addr: 'server',
  networkaddress: 'server',
  database: 'database',
  initialcatalog: 'database',
  userid: 'user',
  uid: 'user',
  user: 'user',
  password: 'password',
  pwd: 'password',
  encrypt: 'encrypt',
  trustservercertificate: 'trustServerCertificate',
  hostnameincertificate: 'hostNameInCertificate',
  connecttimeout: 'connectTimeout',
  connectiontimeout: 'connectTimeout',
  timeout: 'connectTimeout',
  commandtimeout: 'commandTimeout',
  applicationintent: 'applicationIntent',
  applicationname: 'appName',
  app: 'appName',
  multisubnetfailover: 'multiSubnetFailover',
  maxpoolsize: 'poolMax',
  integratedsecurity: 'integratedSecurity',
  trustedconnection: 'integratedSecurity',
  authentication: 'authentication',
  networklibrary: 'networkLibrary',
  net: 'networkLibrary'
}

/** Pooling and session keywords a read-only reader has no use for: accepted, ignored. */
const IGNORED = new Set([
  'minpoolsize', 'pooling', 'persistsecurityinfo', 'multipleactiveresultsets', 'packetsize', 'workstationid', 'wsid',
  'connectretrycount', 'connectretryinterval', 'loadbalancetimeout', 'connectionlifetime', 'enlist', 'poolblockingperiod',
  'currentlanguage', 'language', 'typesystemversion', 'transactionbinding', 'ipaddresspreference', 'serverspn',
  'replication', 'columnencryptionsetting'
])

/** Keywords that ask for something the driver or sisporta cannot do, with the reason. */
const REFUSED: Readonly<Record<string, string>> = {
  attachdbfilename: 'sisporta reads a database the server already has attached',
  userinstance: 'user instances (SQL Server Express) are not supported',
  failoverpartner: 'database mirroring failover is not supported; use an availability-group listener',
  contextconnection: 'context connections exist only inside SQL Server'
}

function fromConnectionString (text: string): Mutable<MssqlConnectionSettings> {
  const entries = new Map<string, [given: string, value: string]>()
  for (const [key, value] of parseConnectionString(text)) {
    const normal = key.replace(/[\s_]+/g, '').toLowerCase()
    if (IGNORED.has(normal)) continue
    const refused = REFUSED[normal]
    if (refused !== undefined) throw new SourceError('SIS_SRC_URL', `connection string: keyword '${key}': ${refused}`)
    const name = Object.hasOwn(KEYWORDS, normal) ? KEYWORDS[normal] : undefined
    if (name === undefined) {
      throw new SourceError('SIS_SRC_URL', `connection string: unknown keyword '${key}' (known: Server, Database, User Id, Password, Encrypt, TrustServerCertificate, HostNameInCertificate, Connect Timeout, Command Timeout, ApplicationIntent, Application Name, MultiSubnetFailover, Max Pool Size)`)
    }
    // SqlClient keeps the last of repeated keywords, whatever their spelling
    entries.set(name, [key, value.trim()])
  }
  const get = (name: string): [string, string] | undefined => entries.get(name)
  const server = get('server')
  if (server === undefined || server[1] === '') throw new SourceError('SIS_SRC_URL', 'connection string: Server (or Data Source) is missing')
  const settings: Mutable<MssqlConnectionSettings> = {
    ...parseServer(server),
    encrypt: true,
    trustServerCertificate: false,
    multiSubnetFailover: false
  }
  const what = (name: string): string => `connection string: keyword '${get(name)![0]}'`
  const integratedSecurity = get('integratedSecurity')
  if (integratedSecurity !== undefined && !/^(?:false|no)$/i.test(integratedSecurity[1])) {
    throw new SourceError('SIS_SRC_URL', `${what('integratedSecurity')}: Windows integrated security needs the Windows identity of the process, which the driver cannot use; give User Id=DOMAIN\\user and Password (NTLM), or a SQL Server login`)
  }
  const authentication = get('authentication')
  if (authentication !== undefined && !/^(?:sql\s*password)$/i.test(authentication[1])) {
    throw new SourceError('SIS_SRC_URL', `${what('authentication')}: only SqlPassword is supported, got '${authentication[1]}'`)
  }
  const library = get('networkLibrary')
  if (library !== undefined && !/^dbmssocn$/i.test(library[1])) {
    throw new SourceError('SIS_SRC_URL', `${what('networkLibrary')}: only TCP (dbmssocn) is supported, got '${library[1]}'`)
  }
  const database = get('database')
  if (database !== undefined && database[1] !== '') settings.database = database[1]
  const user = get('user')
  if (user !== undefined) setUser(settings, user[1])
  const password = get('password')
  // the value is never echoed: it is the password
  if (password !== undefined && password[1] !== '') settings.password = password[1]
  for (const name of entries.keys()) {
    const value = entries.get(name)![1]
    switch (name) {
      case 'encrypt': settings.encrypt = encryptValue(what(name), value); break
      case 'trustServerCertificate': settings.trustServerCertificate = booleanValue(what(name), value); break
      case 'hostNameInCertificate': settings.hostNameInCertificate = textValue(what(name), value); break
      case 'applicationIntent': readOnlyIntent(what(name), value); break
      case 'multiSubnetFailover': settings.multiSubnetFailover = booleanValue(what(name), value); break
      case 'appName': settings.appName = textValue(what(name), value); break
      case 'poolMax': settings.poolMax = integerValue(what(name), value, 1, 100, ''); break
      case 'connectTimeout': settings.connectTimeoutMs = integerValue(what(name), value, 1, 3600, ' seconds') * 1000; break
      case 'commandTimeout': settings.requestTimeoutMs = integerValue(what(name), value, 1, 86_400, ' seconds') * 1000; break
    }
  }
  return withDefaultPort(settings)
}

/** `Server=` value: `[tcp:]host[\instance][,port]`, `.` and `(local)` for this machine. */
function parseServer ([key, value]: [string, string]): Pick<Mutable<MssqlConnectionSettings>, 'server' | 'port' | 'instanceName'> {
  let rest = value
  const protocol = /^([a-z]+):/i.exec(rest)
  if (protocol !== null) {
    if (protocol[1]!.toLowerCase() !== 'tcp') {
      throw new SourceError('SIS_SRC_URL', `connection string: keyword '${key}': only TCP connections are supported, not '${protocol[1]}:'`)
    }
    rest = rest.slice(protocol[0].length)
  }
  let port: number | undefined
  const comma = rest.lastIndexOf(',')
  if (comma >= 0) {
    port = integerValue(`connection string: keyword '${key}': the port`, rest.slice(comma + 1).trim(), 1, 65535, '')
    rest = rest.slice(0, comma).trim()
  }
  let instanceName: string | undefined
  const slash = rest.indexOf('\\')
  if (slash >= 0) {
    instanceName = rest.slice(slash + 1).trim()
    rest = rest.slice(0, slash).trim()
    if (instanceName === '') throw new SourceError('SIS_SRC_URL', `connection string: keyword '${key}': the instance name after '\\' is empty`)
  }
  if (/^\(localdb\)$/i.test(rest)) throw new SourceError('SIS_SRC_URL', `connection string: keyword '${key}': LocalDB is not reachable over TCP`)
  const server = rest === '.' || /^\(local\)$/i.test(rest) ? 'localhost' : rest.replace(/^\[(.*)\]$/, '$1')
  if (server === '') throw new SourceError('SIS_SRC_URL', `connection string: keyword '${key}' names no host`)
  return { server, ...(port === undefined ? {} : { port }), ...(instanceName === undefined ? {} : { instanceName }) }
}

// ---------------------------------------------------------------------------------------------
// shared value rules

/** `DOMAIN\user` means NTLM with that domain. */
function setUser (settings: Mutable<MssqlConnectionSettings>, user: string): void {
  if (user === '') return
  const slash = user.indexOf('\\')
  if (slash > 0) {
    settings.domain = user.slice(0, slash)
    settings.user = user.slice(slash + 1)
  } else {
    settings.user = user
  }
}

/** A port given with an instance name wins, as in SqlClient: the Browser lookup is skipped. */
function withDefaultPort (settings: Mutable<MssqlConnectionSettings>): Mutable<MssqlConnectionSettings> {
  if (settings.port === undefined && settings.instanceName === undefined) settings.port = DEFAULT_PORT
  if (settings.port !== undefined && settings.instanceName !== undefined) delete settings.instanceName
  return settings
}

function booleanValue (what: string, value: string): boolean {
  if (/^(?:true|yes|1)$/i.test(value)) return true
  if (/^(?:false|no|0)$/i.test(value)) return false
  throw new SourceError('SIS_SRC_URL', `${what} must be true or false, got '${value}'`)
}

function encryptValue (what: string, value: string): boolean | 'strict' {
  if (/^strict$/i.test(value)) return 'strict'
  if (/^(?:true|yes|1|mandatory)$/i.test(value)) return true
  if (/^(?:false|no|0|optional)$/i.test(value)) return false
  throw new SourceError('SIS_SRC_URL', `${what} must be true, false or strict, got '${value}'`)
}

function integerValue (what: string, value: string, min: number, max: number, unit: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new SourceError('SIS_SRC_URL', `${what} must be a whole number from ${min} to ${max}${unit}, got '${value}'`)
  }
  return n
}

function textValue (what: string, value: string): string {
  if (value.trim() === '') throw new SourceError('SIS_SRC_URL', `${what} is empty`)
  return value.trim()
}

/** sisporta always connects with ApplicationIntent=ReadOnly; saying so is fine, asking otherwise is not. */
function readOnlyIntent (what: string, value: string): void {
  if (!/^read\s*only$/i.test(value)) {
    throw new SourceError('SIS_SRC_URL', `${what}: sisporta always connects with ApplicationIntent=ReadOnly, got '${value}'`)
  }
}
