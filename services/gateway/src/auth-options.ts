import { createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyJWTOptions } from '@fastify/jwt'
import { GatewayError, type GatewayErrorCode } from './errors.js'

/** A JWT signature algorithm, as fast-jwt (under @fastify/jwt) names it. */
export type Algorithm = NonNullable<NonNullable<FastifyJWTOptions['verify']>['algorithms']>[number]

/** How the gateway verifies extractor tokens: a shared secret, a public key, or both. */
export interface GatewayAuthOptions {
  /** HMAC secret (HS256, HS384, HS512). */
  readonly secret?: string | undefined
  /** PEM public key, for tokens signed with the matching private key (RS*, PS*, ES*, EdDSA). */
  readonly publicKey?: string | undefined
  /** Clock skew tolerated when checking `exp` and `nbf` (seconds, default 30). */
  readonly clockToleranceSec?: number
}

/** What @fastify/jwt needs, derived once from {@link GatewayAuthOptions}. */
export interface ResolvedAuth {
  readonly secret: string | undefined
  readonly publicKey: string | undefined
  readonly algorithms: Algorithm[]
  readonly clockToleranceMs: number
}

const HMAC_ALGORITHMS: Algorithm[] = ['HS256', 'HS384', 'HS512']
const PUBLIC_KEY_ALGORITHMS: Record<string, Algorithm[]> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'rsa-pss': ['PS256', 'PS384', 'PS512'],
  ec: ['ES256', 'ES384', 'ES512'],
  ed25519: ['EdDSA'],
  ed448: ['EdDSA']
}

/**
 * The gateway's auth options from its settings: `SISPORTA_JWT_SECRET` and/or
 * `SISPORTA_JWT_PUBLIC_KEY` (PEM content, or the path of a PEM file). Throws
 * `SIS_GW_AUTH_NOT_CONFIGURED` when neither is set: the gateway never runs unauthenticated.
 *
 * @example
 * const auth = authFromSettings({ jwtSecret: undefined, jwtPublicKey: '/etc/sisporta/jwt.pub' })
 */
export function authFromSettings (settings: { readonly jwtSecret: string | undefined, readonly jwtPublicKey: string | undefined }): GatewayAuthOptions {
  const secret = nonEmpty(settings.jwtSecret)
  const publicKey = nonEmpty(settings.jwtPublicKey)
  return {
    secret,
    publicKey: publicKey === undefined ? undefined : readPem(publicKey, 'SISPORTA_JWT_PUBLIC_KEY', 'SIS_GW_JWT_KEY')
  }
}

/** Checks the auth options and works out which algorithms each key may verify. */
export function resolveAuth (options: GatewayAuthOptions): ResolvedAuth {
  const secret = nonEmpty(options.secret)
  const publicKey = nonEmpty(options.publicKey)
  if (secret === undefined && publicKey === undefined) {
    throw new GatewayError('SIS_GW_AUTH_NOT_CONFIGURED', 'set SISPORTA_JWT_SECRET (HS256) or SISPORTA_JWT_PUBLIC_KEY (RS256/ES256): the gateway does not accept unauthenticated batches')
  }
  const algorithms: Algorithm[] = []
  if (secret !== undefined) algorithms.push(...HMAC_ALGORITHMS)
  if (publicKey !== undefined) {
    let type: string | undefined
    try {
      type = createPublicKey(publicKey).asymmetricKeyType
    } catch (err) {
      throw new GatewayError('SIS_GW_JWT_KEY', `SISPORTA_JWT_PUBLIC_KEY is not a usable PEM public key: ${(err as Error).message}`, { cause: err })
    }
    const forKey = PUBLIC_KEY_ALGORITHMS[type ?? '']
    if (forKey === undefined) throw new GatewayError('SIS_GW_JWT_KEY', `SISPORTA_JWT_PUBLIC_KEY is a ${type ?? 'unknown'} key; expected RSA, EC or Ed25519`)
    algorithms.push(...forKey)
  }
  return { secret, publicKey, algorithms, clockToleranceMs: (options.clockToleranceSec ?? 30) * 1000 }
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
