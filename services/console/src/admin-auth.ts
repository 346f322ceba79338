import { ADMIN_SCOPE, AdminClaimsSchema, type AdminClaims } from '@sisporta/contracts'
import { createTokenVerifier, type ResolvedAuth } from '@sisporta/gateway'
import type { Logger } from '@sisporta/observability'
import { ConsoleError } from './errors.js'

/** Name of the cookie holding the operator's token (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'sisporta_console'
/** Longest token the login form and the cookie take (a JWT is far shorter). */
export const MAX_TOKEN_LENGTH = 8192

const BEARER = /^Bearer +([^ ]+) *$/i
const ADMIN_CLAIMS = { schema: AdminClaimsSchema, expected: `{sub, scope: '${ADMIN_SCOPE}', exp, iat}`, kind: 'a sisporta admin token' }

/** Checks an operator's token: valid (the gateway's checks) and admin-scoped. */
export type AdminVerifier = (token: string) => Promise<AdminClaims>

/**
 * The console's token check: the gateway's verifier (signature, key, `exp`/`nbf`/`iat`, `iss`,
 * `aud`, lifetime — the same settings and the same codes, `SIS_GW_TOKEN_*`), then the admin
 * scope: an extractor's stream token is refused with `SIS_CONSOLE_NOT_ADMIN`.
 *
 * @example
 * const verify = createAdminVerifier(resolveAuth(authFromSettings(settings)), log)
 * const claims = await verify(token) // { sub: 'admin', scope: 'sisporta:admin', exp, iat, … }
 */
export function createAdminVerifier (auth: ResolvedAuth, log: Pick<Logger, 'info' | 'error'>): AdminVerifier {
  const verify = createTokenVerifier<AdminClaims>(auth, log, ADMIN_CLAIMS)
  return async (token) => {
    const claims = await verify(token)
    if (!hasAdminScope(claims.scope)) {
      throw new ConsoleError('SIS_CONSOLE_NOT_ADMIN', `the token of '${claims.sub}' is not an admin token (no '${ADMIN_SCOPE}' scope${claims.streams === undefined ? '' : '; it is a stream token for the gateway'}): issue one with sisporta token issue --admin`)
    }
    return claims
  }
}

/** True when an OAuth-style, space-separated `scope` claim names the admin scope. */
export function hasAdminScope (scope: string | undefined): boolean {
  return scope !== undefined && scope.split(' ').includes(ADMIN_SCOPE)
}

/** Where a request's token came from: a bearer header (API clients) or the session cookie (browsers). */
export interface PresentedToken {
  readonly token: string
  readonly via: 'bearer' | 'cookie'
}

/**
 * The token a request presents: `Authorization: Bearer` first, else the session cookie; or
 * `undefined`. A malformed Authorization header is refused rather than ignored.
 */
export function presentedToken (headers: { authorization?: string | undefined, cookie?: string | undefined }): PresentedToken | undefined {
  const header = headers.authorization
  if (header !== undefined && header !== '') {
    const m = BEARER.exec(header)
    if (m === null) throw new ConsoleError('SIS_CONSOLE_UNAUTHENTICATED', 'malformed Authorization header: expected Authorization: Bearer <jwt>')
    return { token: m[1]!, via: 'bearer' }
  }
  const cookie = readCookie(headers.cookie, SESSION_COOKIE)
  return cookie === undefined || cookie === '' ? undefined : { token: cookie, via: 'cookie' }
}

/** One cookie's value from a Cookie header. */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    const value = part.slice(eq + 1).trim()
    return value.length > MAX_TOKEN_LENGTH ? undefined : value
  }
  return undefined
}

/**
 * The Set-Cookie value of a session: HttpOnly (scripts never read the token), SameSite=Strict
 * (no other site's page sends it), Secure over https, expiring with the token.
 *
 * @example
 * reply.header('set-cookie', sessionCookie(token, { maxAgeSec: 3600, secure: false }))
 */
export function sessionCookie (token: string, options: { maxAgeSec: number, secure: boolean }): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(options.maxAgeSec))}${options.secure ? '; Secure' : ''}`
}

/** The Set-Cookie value that removes the session. */
export function clearedCookie (secure: boolean): string {
  return sessionCookie('', { maxAgeSec: 0, secure })
}

/**
 * CSRF check of a state-changing request: its `Origin` (or, without one, its `Referer`) must
 * name the host the request was sent to. A browser always sends `Origin` on a cross-site POST,
 * and a page elsewhere cannot forge it.
 *
 * @example
 * sameOrigin({ host: 'console:9104', origin: 'http://console:9104' }) // true
 * sameOrigin({ host: 'console:9104', origin: 'https://evil.example' }) // false
 */
export function sameOrigin (headers: { host?: string | undefined, origin?: string | undefined, referer?: string | undefined }): boolean {
  const host = headers.host
  if (host === undefined || host === '') return false
  const from = headers.origin !== undefined && headers.origin !== '' && headers.origin !== 'null' ? headers.origin : headers.referer
  if (from === undefined || from === '') return false
  try {
    return new URL(from).host === host.toLowerCase()
  } catch {
    return false
  }
}
