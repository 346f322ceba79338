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
  /**
   * Microsoft Entra ID instead of a SQL or Windows login (`Authentication=Active Directory …`);
   * absent: SQL Server authentication (or NTLM with `domain`). For a service principal `user` is
   * its application (client) id and `password` its secret.
   */
  readonly entra?: MssqlEntraAuthentication
  /**
   * TLS: `true` (default) requires it; `'strict'` is TDS 8.0 (TLS before anything else);
   * `false` never starts TLS (tedious): the login with its password and every row cross the
   * network in clear, so `false` is refused unless plaintext is allowed ({@link checkMssqlEncryption}).
   */
  readonly encrypt: boolean | 'strict'
  /** Accept any server certificate (self-signed): only on a network you trust. Default false. */
  readonly trustServerCertificate: boolean
  /** The name the server certificate carries, when it differs from `server` (e.g. connecting by IP). */
  readonly hostNameInCertificate?: string
  /** Availability-group listener across subnets: try all its addresses in parallel. */
  readonly multiSubnetFailover: boolean
  /**
   * `ApplicationIntent=ReadOnly` (default true): a listener with read-only routing sends the
   * session to a readable secondary. `ApplicationIntent=ReadWrite` turns it off, for a primary
   * whose `ALLOW_CONNECTIONS = READ_WRITE` refuses read-only sessions (error 978); sisporta
   * still only reads and still refuses a login that could write.
   */
  readonly readOnlyIntent: boolean
  /** Application name the server shows in sessions and traces. Default `sisporta`. */
  readonly appName?: string
  /** Pool size (overrides the dialect option `poolSize`). */
  readonly poolMax?: number
  /** Connect timeout in milliseconds. */
  readonly connectTimeoutMs?: number
  /** Per-statement timeout in milliseconds. */
  readonly requestTimeoutMs?: number
}

/**
 * Microsoft Entra ID authentication, one of the driver's (tedious) types:
 * `service-principal` (`azure-active-directory-service-principal-secret`: client id, secret and
 * tenant), `managed-identity` (`azure-active-directory-msi-vm`, optional client id of a
 * user-assigned identity) and `default` (`azure-active-directory-default`: `DefaultAzureCredential`,
 * which reads `AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`, workload identity,
 * managed identity, …).
 */
export interface MssqlEntraAuthentication {
  readonly type: 'service-principal' | 'managed-identity' | 'default'
  /** Directory (tenant) id: required by the driver for a service principal. */
  readonly tenantId?: string
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
 * (ReadOnly, ReadWrite), `multiSubnetFailover`, `appName`, `domain`, `poolMax`, `connectTimeout` and
 * `requestTimeout` (milliseconds), `authentication` and `tenantId`. Connection-string keywords:
 * those of SqlClient (`Server`, `Data Source`, `Database`, `Initial Catalog`, `User Id`,
 * `Password`, `Encrypt`, `TrustServerCertificate`, `Connect Timeout` and `Command Timeout` in
 * seconds, `Max Pool Size`, `ApplicationIntent`, `MultiSubnetFailover`, `HostNameInCertificate`,
 * `Application Name`, `Authentication`, …) and `Tenant Id` (the driver needs a service
 * principal's tenant); pooling and session keywords that do not apply to a read-only reader are
 * accepted and ignored. `encrypt=false` is parsed here and refused by {@link checkMssqlEncryption}.
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
  'multiSubnetFailover', 'appName', 'domain', 'poolMax', 'connectTimeout', 'requestTimeout', 'authentication', 'tenantId'
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
    multiSubnetFailover: false,
    readOnlyIntent: true
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
  let authentication: [what: string, value: string] | undefined
  let tenantId: [what: string, value: string] | undefined
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
      case 'applicationIntent': settings.readOnlyIntent = readOnlyIntent(what, value); break
      case 'multiSubnetFailover': settings.multiSubnetFailover = booleanValue(what, value); break
      case 'appName': settings.appName = textValue(what, value); break
      case 'domain': settings.domain = textValue(what, value); break
      case 'authentication': authentication = [what, value]; break
      case 'tenantId': tenantId = [what, textValue(what, value)]; break
      case 'poolMax': settings.poolMax = integerValue(what, value, 1, 100, ''); break
      case 'connectTimeout': settings.connectTimeoutMs = integerValue(what, value, 1, 3_600_000, ' milliseconds'); break
      case 'requestTimeout': settings.requestTimeoutMs = integerValue(what, value, 1, 86_400_000, ' milliseconds'); break
    }
  }
  setAuthentication(settings, authentication, tenantId)
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
  tenantid: 'tenantId',
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
      throw new SourceError('SIS_SRC_URL', `connection string: unknown keyword '${key}' (known: Server, Database, User Id, Password, Encrypt, TrustServerCertificate, HostNameInCertificate, Connect Timeout, Command Timeout, ApplicationIntent, Application Name, MultiSubnetFailover, Max Pool Size, Authentication, Tenant Id)`)
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
    multiSubnetFailover: false,
    readOnlyIntent: true
  }
  const what = (name: string): string => `connection string: keyword '${get(name)![0]}'`
  const integratedSecurity = get('integratedSecurity')
  if (integratedSecurity !== undefined && !/^(?:false|no)$/i.test(integratedSecurity[1])) {
    throw new SourceError('SIS_SRC_URL', `${what('integratedSecurity')}: Windows integrated security needs the Windows identity of the process, which the driver cannot use; give User Id=DOMAIN\\user and Password (NTLM), or a SQL Server login`)
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
      case 'applicationIntent': settings.readOnlyIntent = readOnlyIntent(what(name), value); break
      case 'multiSubnetFailover': settings.multiSubnetFailover = booleanValue(what(name), value); break
      case 'appName': settings.appName = textValue(what(name), value); break
      case 'poolMax': settings.poolMax = integerValue(what(name), value, 1, 100, ''); break
      case 'connectTimeout': settings.connectTimeoutMs = integerValue(what(name), value, 1, 3600, ' seconds') * 1000; break
      case 'commandTimeout': settings.requestTimeoutMs = integerValue(what(name), value, 1, 86_400, ' seconds') * 1000; break
    }
  }
  const authentication = get('authentication')
  const tenantId = get('tenantId')
  setAuthentication(settings, authentication === undefined ? undefined : [what('authentication'), authentication[1]],
    tenantId === undefined ? undefined : [what('tenantId'), textValue(what('tenantId'), tenantId[1])])
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

/** `ReadOnly` (the default) or `ReadWrite` (a primary that refuses read-only sessions): whether to send the read-only intent. */
function readOnlyIntent (what: string, value: string): boolean {
  if (/^read\s*only$/i.test(value)) return true
  if (/^read\s*write$/i.test(value)) return false
  throw new SourceError('SIS_SRC_URL', `${what} must be ReadOnly (the default) or ReadWrite, got '${value}'`)
}

/** SqlClient's `Authentication=` values sisporta maps to the driver's types; spaces and case ignored. */
const AUTHENTICATIONS: Readonly<Record<string, MssqlEntraAuthentication['type'] | 'sql'>> = {
  sqlpassword: 'sql',
  activedirectoryserviceprincipal: 'service-principal',
  activedirectorymanagedidentity: 'managed-identity',
  activedirectorymsi: 'managed-identity',
  activedirectorydefault: 'default'
}

/**
 * The `Authentication` keyword (or `?authentication=`) and `Tenant Id` (`?tenantId=`): SQL
 * password by default, or one of the Entra ID types, with the credentials each needs.
 */
function setAuthentication (settings: Mutable<MssqlConnectionSettings>, given: [what: string, value: string] | undefined, tenant: [what: string, value: string] | undefined): void {
  const type = given === undefined ? 'sql' : AUTHENTICATIONS[given[1].replace(/[\s_-]+/g, '').toLowerCase()]
  if (type === undefined) {
    throw new SourceError('SIS_SRC_URL', `${given![0]}: '${given![1]}' is not supported; use SqlPassword (the default), Active Directory Service Principal, Active Directory Managed Identity (or MSI) or Active Directory Default`)
  }
  if (type !== 'service-principal' && tenant !== undefined) {
    throw new SourceError('SIS_SRC_URL', `${tenant[0]}: a tenant is only used with Authentication=Active Directory Service Principal`)
  }
  if (type === 'sql') return
  const what = given![0]
  if (settings.domain !== undefined) {
    throw new SourceError('SIS_SRC_URL', `${what}: '${given![1]}' does not take a Windows domain (${settings.domain}\\…); give the application (client) id as the user`)
  }
  if (type === 'service-principal') {
    if (settings.user === undefined || settings.password === undefined) {
      throw new SourceError('SIS_SRC_URL', `${what}: a service principal needs its application (client) id as the user and its client secret as the password`)
    }
    if (tenant === undefined) {
      throw new SourceError('SIS_SRC_URL', `${what}: a service principal needs its directory (tenant) id: Tenant Id=… (in a URL ?tenantId=…)`)
    }
    settings.entra = Object.freeze({ type, tenantId: tenant[1] })
    return
  }
  if (settings.password !== undefined) {
    throw new SourceError('SIS_SRC_URL', `${what}: '${given![1]}' takes no password (the identity gets its token from Azure); remove the password, and give only the client id of a user-assigned identity as the user`)
  }
  settings.entra = Object.freeze({ type })
}

/**
 * Refuses a connection without TLS (`encrypt=false`, `Encrypt=False/No/0/Optional`) unless the
 * operator allowed it (`SISPORTA_SOURCE_ALLOW_PLAINTEXT=1`): the driver then never starts TLS,
 * so the password and every row read cross the network in clear. Returns whether the connection
 * is in clear (the caller logs a warning once). Throws `SIS_SRC_PLAINTEXT` (exit 2).
 *
 * @example
 * checkMssqlEncryption(parseMssqlUrl('Server=erp;User Id=r;Password=p;Encrypt=False'), false) // throws SIS_SRC_PLAINTEXT
 */
export function checkMssqlEncryption (settings: MssqlConnectionSettings, allowPlaintext: boolean): boolean {
  if (settings.encrypt !== false) return false
  if (allowPlaintext) return true
  const where = settings.port !== undefined ? `${settings.server}:${settings.port}` : `${settings.server}\\${settings.instanceName ?? ''}`
  throw new SourceError('SIS_SRC_PLAINTEXT', `SISPORTA_SOURCE_URL turns encryption off (Encrypt=False, No, 0 or Optional): the driver would then never start TLS with ${where}, so the login's password and every row read would cross the network in clear. Remove it (TLS is on by default; TrustServerCertificate=True accepts the server's self-signed certificate, see docs/sql-server.md §4), or set SISPORTA_SOURCE_ALLOW_PLAINTEXT=1 if the network path is trusted (a VPN or tunnel that encrypts it)`, { exitCode: 2 })
}
