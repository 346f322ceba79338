import { createPrivateKey, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSigner } from 'fast-jwt'
import { readSettings } from '@sisporta/config'
import {
  ADMIN_SCOPE, DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER, DEFAULT_TOKEN_MAX_TTL_SEC, MIN_HMAC_SECRET_BYTES
} from '@sisporta/contracts'
import type { Command } from './command.js'
import { UsageError } from '../usage-error.js'

const TTL = /^([1-9][0-9]{0,9})(s|m|h|d)$/
const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86400 } as const
// The gateway's rule for a JWKS `kid`: what is accepted here can be found there.
const KID = /^[\x21-\x7e]{1,128}$/
const USAGE = 'usage: sisporta token issue (--stream NAME... | --admin) [--ttl 1h] [--subject NAME] [--kid ID]'

/** The signing key and claim policy, as in `Settings` (a subset of it). */
export interface TokenKeys {
  /** HMAC secret (HS256), at least 32 bytes; used when no private key is given. */
  readonly jwtSecret?: string | undefined
  /** PEM private key (content or file): RS256, ES256/384/512 or EdDSA by its type. */
  readonly jwtPrivateKey?: string | undefined
  /** `iss` to write (default `sisporta`). */
  readonly jwtIssuer?: string | undefined
  /** `aud` to write (default `sisporta-gateway`). */
  readonly jwtAudience?: string | undefined
  /** Longest `--ttl` allowed, in seconds (default 30 days). */
  readonly jwtMaxTtlSec?: number | undefined
}

/** What the token grants and for how long. */
export interface TokenRequest {
  /** Streams the gateway lets it load; may be empty for an admin-only token. */
  readonly streams: readonly string[]
  /**
   * Adds `scope: 'sisporta:admin'`: the token opens the operator console. Without `streams` the
   * gateway refuses it (its claims must name streams), so a console token cannot load data.
   */
  readonly admin?: boolean | undefined
  readonly subject: string
  /** `30m`, `12h`, `30d`… at most `jwtMaxTtlSec`. */
  readonly ttl: string
  /** Key id written in the header, so a gateway with a JWKS finds the key by it. */
  readonly kid?: string | undefined
}

/** A PEM given inline or as a path to a file. */
export function readPem (value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8')
}

/**
 * `sisporta token issue --stream NAME… [--admin] [--ttl 1h] [--subject NAME] [--kid ID]`: prints a
 * JWT the gateway accepts for those streams; with `--admin`, one that opens the console. Signed with SISPORTA_JWT_PRIVATE_KEY when set, otherwise
 * with SISPORTA_JWT_SECRET (HS256).
 */
export const tokenCommand: Command = {
  options: {
    stream: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '1h' },
    subject: { type: 'string' },
    kid: { type: 'string' },
    admin: { type: 'boolean', default: false }
  },
  async run (values, positionals) {
    if (positionals[0] !== 'issue' || positionals.length > 1) throw new UsageError(USAGE)
    const streams = (values.stream as string[] | undefined) ?? []
    const admin = values.admin === true
    if (streams.length === 0 && !admin) throw new UsageError('token issue: give at least one --stream NAME (or --stream \'*\' for every stream), or --admin for a console token')
    for (const s of streams) {
      if (s !== '*' && !/^[a-z][a-z0-9_]*$/.test(s)) throw new UsageError(`token issue: '${s}' is not a stream name`)
    }
    const settings = readSettings()
    const kid = values.kid as string | undefined
    const subject = typeof values.subject === 'string' ? values.subject : admin ? 'admin' : 'extractor'
    process.stdout.write(`${issueToken(settings, { streams, admin, subject, ttl: String(values.ttl), kid })}\n`)
    return 0
  }
}

/**
 * Signs a token scoped to `streams`, as RFC 8725 asks: `iss`, `aud`, `iat`, `exp` and a random
 * `jti` always, `kid` in the header when given. Refuses (`SIS_CLI_USAGE`, exit 2) a TTL over
 * `jwtMaxTtlSec` — the gateway would refuse the token — and an HMAC secret under 32 bytes.
 *
 * @example
 * const token = issueToken(settings, { streams: ['products'], subject: 'erp-1', ttl: '7d', kid: '2025-01' })
 */
export function issueToken (keys: TokenKeys, request: TokenRequest): string {
  const m = TTL.exec(request.ttl)
  if (m === null) throw new UsageError(`token issue: --ttl '${request.ttl}' must look like 30m, 12h or 30d`)
  const ttlSec = Number(m[1]) * UNIT_SEC[m[2] as keyof typeof UNIT_SEC]
  const maxTtlSec = keys.jwtMaxTtlSec ?? DEFAULT_TOKEN_MAX_TTL_SEC
  if (ttlSec > maxTtlSec) {
    throw new UsageError(`token issue: --ttl ${request.ttl} (${ttlSec} s) exceeds SISPORTA_JWT_MAX_TTL (${maxTtlSec} s = ${humanDuration(maxTtlSec)}); the gateway would refuse the token`)
  }
  if (request.kid !== undefined && !KID.test(request.kid)) throw new UsageError('token issue: --kid must be 1 to 128 visible ASCII characters')
  const { key, algorithm } = signingKey(keys)
  if (request.streams.length === 0 && request.admin !== true) throw new UsageError('token issue: a token needs --stream NAME or --admin')
  const sign = createSigner({ key, algorithm, expiresIn: ttlSec * 1000, ...(request.kid !== undefined ? { kid: request.kid } : {}) })
  return sign({
    sub: request.subject,
    ...(request.streams.length > 0 ? { streams: [...request.streams] } : {}),
    ...(request.admin === true ? { scope: ADMIN_SCOPE } : {}),
    iss: nonEmpty(keys.jwtIssuer) ?? DEFAULT_TOKEN_ISSUER,
    aud: nonEmpty(keys.jwtAudience) ?? DEFAULT_TOKEN_AUDIENCE,
    jti: randomUUID()
  })
}

type SigningAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

function signingKey (keys: TokenKeys): { key: string, algorithm: SigningAlgorithm } {
  const privateKey = nonEmpty(keys.jwtPrivateKey)
  if (privateKey !== undefined) {
    const key = readPem(privateKey)
    return { key, algorithm: privateKeyAlgorithm(key) }
  }
  const secret = nonEmpty(keys.jwtSecret)
  if (secret === undefined) throw new UsageError('token issue: set SISPORTA_JWT_SECRET (or SISPORTA_JWT_PRIVATE_KEY) to the key the gateway verifies with')
  const bytes = Buffer.byteLength(secret, 'utf8')
  if (bytes < MIN_HMAC_SECRET_BYTES) {
    throw new UsageError(`token issue: SISPORTA_JWT_SECRET is ${bytes} bytes long; it must have at least ${MIN_HMAC_SECRET_BYTES} random bytes (the gateway refuses a shorter one)`)
  }
  return { key: secret, algorithm: 'HS256' }
}

/** The algorithm a private key signs with, from its type and curve (as the gateway expects). */
function privateKeyAlgorithm (pem: string): SigningAlgorithm {
  let type: string | undefined
  let curve: string | undefined
  try {
    const key = createPrivateKey(pem)
    type = key.asymmetricKeyType
    curve = key.asymmetricKeyDetails?.namedCurve
  } catch (err) {
    throw new UsageError(`token issue: SISPORTA_JWT_PRIVATE_KEY is not a usable PEM private key (${(err as Error).message})`)
  }
  if (type === 'rsa') return 'RS256'
  if (type === 'ed25519' || type === 'ed448') return 'EdDSA'
  const ec = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' } as const
  if (type === 'ec' && curve !== undefined && curve in ec) return ec[curve as keyof typeof ec]
  throw new UsageError(`token issue: SISPORTA_JWT_PRIVATE_KEY is a ${type ?? 'unknown'}${curve === undefined ? '' : ` (${curve})`} key; expected RSA, EC P-256/384/521 or Ed25519`)
}

function humanDuration (sec: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (sec % size === 0) return `${sec / size}${unit}`
  }
  return `${sec}s`
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
