import { readFileSync } from 'node:fs'
import { credsAuthenticator, nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator, type Authenticator, type TlsOptions } from 'nats'
import { BusError } from './errors.js'

/**
 * How to authenticate to NATS and whether to use TLS, besides credentials in the URL: the shape
 * of `settings.nats` (libs/config), one field per environment variable. Files are paths.
 */
export interface BusSecurity {
  readonly user: string | undefined
  readonly password: string | undefined
  readonly token: string | undefined
  readonly credsFile: string | undefined
  readonly nkeySeedFile: string | undefined
  readonly tlsCa: string | undefined
  readonly tlsCert: string | undefined
  readonly tlsKey: string | undefined
}

/** No credentials, no TLS files: a local NATS without authorization. */
export const NO_BUS_SECURITY: BusSecurity = Object.freeze({
  user: undefined,
  password: undefined,
  token: undefined,
  credsFile: undefined,
  nkeySeedFile: undefined,
  tlsCa: undefined,
  tlsCert: undefined,
  tlsKey: undefined
})

export type BusAuthKind = 'none' | 'user' | 'token' | 'nkey' | 'creds'

/** What a connection is, safe to log: never a password, token, seed or JWT. */
export interface BusConnectionDescription {
  /** The servers without credentials, e.g. `tls://nats.internal:4222`. */
  readonly servers: string
  readonly auth: BusAuthKind
  /** The user name, for `user` authentication (a name, not a secret). */
  readonly user?: string
  readonly tls: boolean
}

/** The nats.js `ConnectionOptions` that carry the connection's security, and how to log it. */
export interface BusConnectOptions {
  /** `host:port` of each server: credentials never reach nats.js's server list (nor its errors). */
  readonly servers: string[]
  readonly authenticator?: Authenticator
  readonly tls?: TlsOptions
  readonly description: BusConnectionDescription
}

/** The environment variable behind each setting: errors name it, never its value. */
const VAR = Object.freeze({
  url: 'SISPORTA_NATS_URL',
  user: 'SISPORTA_NATS_USER',
  password: 'SISPORTA_NATS_PASSWORD',
  token: 'SISPORTA_NATS_TOKEN',
  credsFile: 'SISPORTA_NATS_CREDS',
  nkeySeedFile: 'SISPORTA_NATS_NKEY',
  tlsCa: 'SISPORTA_NATS_TLS_CA',
  tlsCert: 'SISPORTA_NATS_TLS_CERT',
  tlsKey: 'SISPORTA_NATS_TLS_KEY'
} as const)

type UrlCredentials = { readonly user: string, readonly pass: string } | { readonly token: string }

interface ParsedServers {
  readonly servers: string[]
  readonly redacted: string[]
  readonly credentials: UrlCredentials | undefined
  readonly tls: boolean
}

type ReadFile = (path: string) => Buffer

/**
 * Translates sisporta's NATS settings into nats.js connection options: credentials from the URL
 * (`nats://user:pass@host`, `nats://token@host`, percent-encoded) or from exactly one of
 * user + password, token, creds file or nkey seed file; TLS when a URL is `tls://` or a TLS file
 * is set (a CA alone: TLS verifying the server against it; certificate + key: mutual TLS). Every
 * file is read and checked here, so a bad setting stops the process at start with a coded error
 * naming the variable (exit 2) instead of failing each connection attempt later.
 *
 * @example
 * const o = busConnectOptions('tls://sisporta-gateway:s3cret@nats:4222', settings.nats)
 * o.servers      // ['nats:4222']
 * o.description  // { servers: 'tls://nats:4222', auth: 'user', user: 'sisporta-gateway', tls: true }
 */
export function busConnectOptions (url: string, security: BusSecurity, readFile: ReadFile = readFileSync): BusConnectOptions {
  const parsed = parseServers(url)
  const auth = authenticatorOf(parsed.credentials, security, readFile)
  const tls = tlsOf(parsed.tls, security, readFile)
  const description: BusConnectionDescription = {
    servers: parsed.redacted.join(','),
    auth: auth.kind,
    ...(auth.user !== undefined ? { user: auth.user } : {}),
    tls: tls !== undefined
  }
  return {
    servers: parsed.servers,
    ...(auth.authenticator !== undefined ? { authenticator: auth.authenticator } : {}),
    ...(tls !== undefined ? { tls } : {}),
    description
  }
}

function parseServers (url: string): ParsedServers {
  const entries = url.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (entries.length === 0) throw configError('SIS_BUS_URL', `${VAR.url} is empty: give the NATS server, e.g. nats://nats:4222`)
  const servers: string[] = []
  const redacted: string[] = []
  let credentials: UrlCredentials | undefined
  let tls = false
  for (const entry of entries) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `nats://${entry}`
    let u: URL
    try {
      u = new URL(withScheme)
    } catch {
      // the entry may hold a password: say which variable, not what it holds
      throw configError('SIS_BUS_URL', `${VAR.url} holds an entry that is not a URL (nats://host:4222 or tls://host:4222; percent-encode special characters in credentials)`)
    }
    const scheme = u.protocol.slice(0, -1).toLowerCase()
    if (scheme !== 'nats' && scheme !== 'tls') throw configError('SIS_BUS_URL', `${VAR.url}: scheme '${scheme}://' is not supported, use nats:// or tls://`)
    if (u.hostname === '') throw configError('SIS_BUS_URL', `${VAR.url} holds an entry without a host`)
    if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') {
      throw configError('SIS_BUS_URL', `${VAR.url}: a NATS URL has no path or query (nats://host:4222)`)
    }
    if (scheme === 'tls') tls = true
    const server = `${u.hostname}:${u.port === '' ? '4222' : u.port}`
    servers.push(server)
    redacted.push(`${scheme}://${server}`)
    const found = userinfoOf(withScheme)
    if (found === undefined) continue
    if (credentials !== undefined && !sameCredentials(credentials, found)) {
      throw configError('SIS_BUS_AUTH_CONFLICT', `${VAR.url} lists servers with different credentials: one identity per process, give the same credentials (or none) on every server`)
    }
    credentials = found
  }
  return { servers, redacted, credentials, tls }
}

/** Credentials of a URL, read from its raw text: `user:` and `user` differ (the latter is a token). */
function userinfoOf (withScheme: string): UrlCredentials | undefined {
  const authority = withScheme.slice(withScheme.indexOf('://') + 3).split(/[/?#]/)[0] ?? ''
  const at = authority.lastIndexOf('@')
  if (at < 0) return undefined
  const info = authority.slice(0, at)
  const colon = info.indexOf(':')
  try {
    if (colon < 0) {
      const token = decodeURIComponent(info)
      if (token === '') throw configError('SIS_BUS_URL', `${VAR.url} has an '@' but no credentials before it`)
      return { token }
    }
    const user = decodeURIComponent(info.slice(0, colon))
    if (user === '') throw configError('SIS_BUS_URL', `${VAR.url} has a password but no user name`)
    return { user, pass: decodeURIComponent(info.slice(colon + 1)) }
  } catch (err) {
    if (err instanceof BusError) throw err
    throw configError('SIS_BUS_URL', `${VAR.url}: the credentials are not correctly percent-encoded`)
  }
}

function sameCredentials (a: UrlCredentials, b: UrlCredentials): boolean {
  if ('token' in a || 'token' in b) return 'token' in a && 'token' in b && a.token === b.token
  return a.user === b.user && a.pass === b.pass
}

interface ChosenAuth {
  readonly kind: BusAuthKind
  readonly user?: string
  readonly authenticator?: Authenticator
}

function authenticatorOf (fromUrl: UrlCredentials | undefined, s: BusSecurity, readFile: ReadFile): ChosenAuth {
  if ((s.user === undefined) !== (s.password === undefined)) {
    throw configError('SIS_BUS_AUTH_INCOMPLETE', `${VAR.user} and ${VAR.password} go together: set both, or neither`)
  }
  const given = [
    fromUrl !== undefined ? `credentials in ${VAR.url}` : undefined,
    s.user !== undefined ? `${VAR.user}/${VAR.password}` : undefined,
    s.token !== undefined ? VAR.token : undefined,
    s.credsFile !== undefined ? VAR.credsFile : undefined,
    s.nkeySeedFile !== undefined ? VAR.nkeySeedFile : undefined
  ].filter((g): g is string => g !== undefined)
  if (given.length > 1) {
    throw configError('SIS_BUS_AUTH_CONFLICT', `NATS credentials are given ${given.length} ways (${given.join(', ')}): a process has one identity, set exactly one`)
  }
  if (fromUrl !== undefined) {
    return 'token' in fromUrl
      ? { kind: 'token', authenticator: tokenAuthenticator(fromUrl.token) }
      : { kind: 'user', user: fromUrl.user, authenticator: usernamePasswordAuthenticator(fromUrl.user, fromUrl.pass) }
  }
  if (s.user !== undefined && s.password !== undefined) {
    return { kind: 'user', user: s.user, authenticator: usernamePasswordAuthenticator(s.user, s.password) }
  }
  if (s.token !== undefined) return { kind: 'token', authenticator: tokenAuthenticator(s.token) }
  if (s.credsFile !== undefined) {
    const authenticator = credsAuthenticator(readSecretFile(s.credsFile, VAR.credsFile, readFile))
    // Parse and sign once now: a broken file is a start-up error, not a connection that keeps failing.
    checkAuthenticator(authenticator, VAR.credsFile, 'a NATS creds file (a user JWT and its nkey seed, as `nsc generate creds` writes)')
    return { kind: 'creds', authenticator }
  }
  if (s.nkeySeedFile !== undefined) {
    const text = new TextDecoder().decode(readSecretFile(s.nkeySeedFile, VAR.nkeySeedFile, readFile)).trim()
    const authenticator = nkeyAuthenticator(new TextEncoder().encode(text))
    checkAuthenticator(authenticator, VAR.nkeySeedFile, 'an nkey seed (SU…, as `nk -gen user` writes)')
    return { kind: 'nkey', authenticator }
  }
  return { kind: 'none' }
}

function checkAuthenticator (authenticator: Authenticator, variable: string, what: string): void {
  let auth: { sig?: unknown } | undefined
  try {
    auth = authenticator('sisporta-start-up-check') as { sig?: unknown } | undefined
  } catch {
    // no cause: the parser's error could quote the file
    throw configError('SIS_BUS_FILE', `${variable} does not hold ${what}`)
  }
  if (typeof auth?.sig !== 'string' || auth.sig === '') throw configError('SIS_BUS_FILE', `${variable} does not hold ${what}`)
}

function tlsOf (tlsUrl: boolean, s: BusSecurity, readFile: ReadFile): TlsOptions | undefined {
  if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
    throw configError('SIS_BUS_AUTH_INCOMPLETE', `${VAR.tlsCert} and ${VAR.tlsKey} go together (a client certificate and its key): set both, or neither`)
  }
  if (!tlsUrl && s.tlsCa === undefined && s.tlsCert === undefined) return undefined
  const tls: TlsOptions = {}
  // Contents, not paths: nats.js would read the files at every connection attempt, and fail there.
  if (s.tlsCa !== undefined) tls.ca = readPem(s.tlsCa, VAR.tlsCa, 'CERTIFICATE', readFile)
  if (s.tlsCert !== undefined && s.tlsKey !== undefined) {
    tls.cert = readPem(s.tlsCert, VAR.tlsCert, 'CERTIFICATE', readFile)
    tls.key = readPem(s.tlsKey, VAR.tlsKey, 'PRIVATE KEY', readFile)
  }
  return tls
}

function readPem (path: string, variable: string, label: string, readFile: ReadFile): string {
  const text = new TextDecoder().decode(readSecretFile(path, variable, readFile))
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) throw configError('SIS_BUS_FILE', `${variable} does not hold a PEM ${label.toLowerCase()}`)
  return text
}

function readSecretFile (path: string, variable: string, readFile: ReadFile): Uint8Array {
  let bytes: Buffer
  try {
    bytes = readFile(path)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    throw configError('SIS_BUS_FILE', `${variable} names a file that cannot be read${typeof code === 'string' ? ` (${code})` : ''}`)
  }
  if (bytes.length === 0) throw configError('SIS_BUS_FILE', `${variable} names an empty file`)
  return new Uint8Array(bytes)
}

function configError (code: `SIS_BUS_${string}`, message: string): BusError {
  return new BusError(code, message, { exitCode: 2 })
}
