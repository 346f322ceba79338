import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { DEFAULT_TOKEN_MAX_TTL_SEC } from '@sisporta/contracts'
import { GatewayError, type GatewayErrorCode } from './errors.js'
import {
  checkedKey, fingerprintOf, hmacAlgorithms, loadJwksFile, publicKeyAlgorithms,
  type Algorithm, type JwksSnapshot, type VerificationKey
} from './jwks-keys.js'

export type { Algorithm } from './jwks-keys.js'

/** Default interval between two looks at the JWKS file for changes. */
export const DEFAULT_JWKS_CHECK_INTERVAL_MS = 5000

/**
 * How the gateway verifies extractor tokens: a shared secret, a public key, a JWKS file of
 * keys chosen by `kid` — any combination — and the claims every token must carry.
 */
export interface GatewayAuthOptions {
  /** HMAC secret (HS256; HS384/HS512 when long enough), at least 32 bytes. */
  readonly secret?: string | undefined
  /** PEM public key, for tokens signed with the matching private key (RS*, PS*, ES*, EdDSA). */
  readonly publicKey?: string | undefined
  /** Path of a JWKS file (`{ "keys": [ … ] }`): tokens with a `kid` header are verified by it. */
  readonly jwksFile?: string | undefined
  /** Required `iss` claim, when set. */
  readonly issuer?: string | undefined
  /** Required `aud` claim (or one of its entries), when set. */
  readonly audience?: string | undefined
  /** Longest accepted `exp − iat`, in seconds (default 30 days). */
  readonly maxTtlSec?: number
  /** Clock skew tolerated when checking `exp`, `nbf` and `iat` (seconds, default 30). */
  readonly clockToleranceSec?: number
  /** How often the JWKS file is looked at for changes, at most (ms, default 5000). */
  readonly jwksCheckIntervalMs?: number
}

/** The checked form of {@link GatewayAuthOptions}, derived once at start-up. */
export interface ResolvedAuth {
  /** Keys for tokens without a `kid`: SISPORTA_JWT_SECRET and/or SISPORTA_JWT_PUBLIC_KEY. */
  readonly staticKeys: readonly VerificationKey[]
  /** The JWKS file as read at start-up; the token verifier follows its changes. */
  readonly jwks: JwksSnapshot | undefined
  /** Every algorithm some configured key verifies (for the start-up log). */
  readonly algorithms: Algorithm[]
  readonly issuer: string | undefined
  readonly audience: string | undefined
  readonly maxTtlSec: number
  readonly clockToleranceMs: number
  readonly jwksCheckIntervalMs: number
}

/** The settings {@link authFromSettings} reads (a subset of `Settings`). */
export interface AuthSettings {
  readonly jwtSecret: string | undefined
  readonly jwtPublicKey: string | undefined
  readonly jwtJwks?: string | undefined
  readonly jwtIssuer?: string | undefined
  readonly jwtAudience?: string | undefined
  readonly jwtMaxTtlSec?: number
}

/**
 * The gateway's auth options from its settings: `SISPORTA_JWT_SECRET`, `SISPORTA_JWT_PUBLIC_KEY`
 * (PEM content, or the path of a PEM file), `SISPORTA_JWT_JWKS`, `SISPORTA_JWT_ISSUER`,
 * `SISPORTA_JWT_AUDIENCE` and `SISPORTA_JWT_MAX_TTL`. {@link resolveAuth} then refuses a
 * gateway without any key (`SIS_GW_AUTH_NOT_CONFIGURED`): it never runs unauthenticated.
 *
 * @example
 * const auth = authFromSettings({ jwtSecret: undefined, jwtPublicKey: '/etc/sisporta/jwt.pub', jwtJwks: '/etc/sisporta/jwks.json' })
 */
export function authFromSettings (settings: AuthSettings): GatewayAuthOptions {
  const publicKey = nonEmpty(settings.jwtPublicKey)
  return {
    secret: nonEmpty(settings.jwtSecret),
    publicKey: publicKey === undefined ? undefined : readPem(publicKey, 'SISPORTA_JWT_PUBLIC_KEY', 'SIS_GW_JWT_KEY'),
    jwksFile: nonEmpty(settings.jwtJwks),
    issuer: nonEmpty(settings.jwtIssuer),
    audience: nonEmpty(settings.jwtAudience),
    maxTtlSec: settings.jwtMaxTtlSec ?? DEFAULT_TOKEN_MAX_TTL_SEC
  }
}

/**
 * Checks the auth options and works out which algorithms each key may verify. Throws, with
 * exit code 2: `SIS_GW_AUTH_NOT_CONFIGURED` (no key at all), `SIS_GW_JWT_SECRET_WEAK` (a secret
 * under 32 bytes), `SIS_GW_JWT_KEY` (an unusable public key), `SIS_GW_JWKS` (an unreadable or
 * malformed JWKS file, naming the file and the key's index).
 *
 * @example
 * const auth = resolveAuth({ secret: process.env.SECRET, issuer: 'sisporta' })
 */
export function resolveAuth (options: GatewayAuthOptions): ResolvedAuth {
  const secret = nonEmpty(options.secret)
  const publicKey = nonEmpty(options.publicKey)
  const jwksFile = nonEmpty(options.jwksFile)
  if (secret === undefined && publicKey === undefined && jwksFile === undefined) {
    throw new GatewayError('SIS_GW_AUTH_NOT_CONFIGURED', 'set SISPORTA_JWT_SECRET (HS256), SISPORTA_JWT_PUBLIC_KEY (RS256/ES256/EdDSA) or SISPORTA_JWT_JWKS: the gateway does not accept unauthenticated batches')
  }
  const staticKeys: VerificationKey[] = []
  if (secret !== undefined) {
    const material = Buffer.from(secret, 'utf8')
    const algorithms = hmacAlgorithms(material, 'SISPORTA_JWT_SECRET', 'SIS_GW_JWT_SECRET_WEAK')
    staticKeys.push(checkedKey({ kid: undefined, name: 'SISPORTA_JWT_SECRET', algorithms, material, fingerprint: fingerprintOf(algorithms, material) }, 'SISPORTA_JWT_SECRET', 'SIS_GW_JWT_SECRET_WEAK'))
  }
  if (publicKey !== undefined) {
    let key: KeyObject
    try {
      key = createPublicKey(publicKey)
    } catch (err) {
      throw new GatewayError('SIS_GW_JWT_KEY', `SISPORTA_JWT_PUBLIC_KEY is not a usable PEM public key: ${(err as Error).message}`, { cause: err })
    }
    const algorithms = publicKeyAlgorithms(key, 'SISPORTA_JWT_PUBLIC_KEY', 'SIS_GW_JWT_KEY')
    const material = key.export({ type: 'spki', format: 'pem' }).toString()
    staticKeys.push(checkedKey({ kid: undefined, name: 'SISPORTA_JWT_PUBLIC_KEY', algorithms, material, fingerprint: fingerprintOf(algorithms, material) }, 'SISPORTA_JWT_PUBLIC_KEY', 'SIS_GW_JWT_KEY'))
  }
  const jwks = jwksFile === undefined ? undefined : loadJwksFile(jwksFile)
  const algorithms = [...new Set([...staticKeys, ...(jwks?.keys.values() ?? [])].flatMap((k) => k.algorithms))]
  if (algorithms.length === 0) {
    throw new GatewayError('SIS_GW_AUTH_NOT_CONFIGURED', `${jwksFile ?? 'the JWKS file'} holds no key, and neither SISPORTA_JWT_SECRET nor SISPORTA_JWT_PUBLIC_KEY is set: no token could ever be verified`)
  }
  return Object.freeze({
    staticKeys,
    jwks,
    algorithms,
    issuer: nonEmpty(options.issuer),
    audience: nonEmpty(options.audience),
    maxTtlSec: options.maxTtlSec ?? DEFAULT_TOKEN_MAX_TTL_SEC,
    clockToleranceMs: (options.clockToleranceSec ?? 30) * 1000,
    jwksCheckIntervalMs: options.jwksCheckIntervalMs ?? DEFAULT_JWKS_CHECK_INTERVAL_MS
  })
}

/**
 * PEM content as given, or read from the file it names. Keys pasted into a single-line
 * environment variable often arrive with literal `\n`; those are turned back into newlines.
 */
export function readPem (value: string | Buffer, what: string, code: GatewayErrorCode): string {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : value
  if (text.trimStart().startsWith('-----BEGIN')) {
    return text.includes('\n') ? text : text.replaceAll('\\n', '\n')
  }
  let content: string
  try {
    content = readFileSync(text, 'utf8')
  } catch (err) {
    throw new GatewayError(code, `${what} is neither PEM content nor a readable file (${(err as Error).message})`, { cause: err })
  }
  if (!content.trimStart().startsWith('-----BEGIN')) throw new GatewayError(code, `${what}: ${text} does not hold a PEM block`)
  return content
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
