import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { createDecoder, createVerifier, TokenError } from 'fast-jwt'
import { TokenClaimsSchema, type TokenClaims } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import type { ResolvedAuth } from './auth-options.js'
import { GatewayError } from './errors.js'
import { JwksKeys, type Algorithm, type VerificationKey } from './jwks-keys.js'

/** Checks a bearer token and returns its claims; throws a 401 {@link GatewayError} saying why. */
export type TokenVerifier<C = TokenClaims> = (token: string) => Promise<C>

/**
 * Which claims a verified token must carry (step 4 below): the gateway's default is
 * `TokenClaimsSchema` (`sub` and `streams`); the console verifies admin tokens with its own.
 */
export interface ClaimsPolicy {
  readonly schema: TSchema
  /** What a valid payload looks like, for the refusal's message. */
  readonly expected: string
  /** What kind of token this is, for the refusal's message (`a sisporta token`). */
  readonly kind: string
}

const STREAM_CLAIMS: ClaimsPolicy = { schema: TokenClaimsSchema, expected: '{sub, streams: [...], exp, iat}', kind: 'a sisporta token' }

interface DecodedToken {
  header: Record<string, unknown>
  payload: Record<string, unknown>
}

type Verify = (token: string) => unknown

const decode = createDecoder({ complete: true }) as (token: string) => DecodedToken
// Echoing what a token says is fine (it is no secret) as long as it stays short and printable.
const PRINTABLE = /^[\x20-\x7e]{1,64}$/
// Every algorithm some key type verifies; which one a token may use is then up to its key, and
// keys come and go with the JWKS file.
const SIGNATURE_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] satisfies Algorithm[]

/**
 * The gateway's token check (RFC 8725), in this order:
 *
 * 1. decode; the header's `alg` must be a signature algorithm (`none` never is);
 * 2. choose the key: by `kid` from the JWKS file (an unknown kid is refused), else
 *    SISPORTA_JWT_SECRET / SISPORTA_JWT_PUBLIC_KEY; the key fixes the algorithms it verifies,
 *    so an HS256 token can never be checked against a public key;
 * 3. signature, `exp` and `iat` present, `exp` and `nbf` against the clock (± tolerance),
 *    `iss` / `aud` when configured — by fast-jwt, one verifier (and result cache) per key, so a
 *    key removed from the JWKS takes its cached results with it;
 * 4. `iat` not in the future, `exp − iat` within the maximum lifetime, `sub` and `streams`.
 *
 * Replies say what is wrong and never repeat the token. `claims` replaces the claims of step 4
 * (the console's admin tokens); the signature, key and time checks are the same for every token.
 *
 * @example
 * const verify = createTokenVerifier(resolveAuth({ secret }), log)
 * const claims = await verify(bearerToken)   // { sub, streams, exp, iat, … }
 */
export function createTokenVerifier (auth: ResolvedAuth, log: Pick<Logger, 'info' | 'error'>): TokenVerifier
export function createTokenVerifier<C> (auth: ResolvedAuth, log: Pick<Logger, 'info' | 'error'>, claims: ClaimsPolicy): TokenVerifier<C>
export function createTokenVerifier (auth: ResolvedAuth, log: Pick<Logger, 'info' | 'error'>, claims: ClaimsPolicy = STREAM_CLAIMS): TokenVerifier<unknown> {
  const checkClaims = TypeCompiler.Compile(claims.schema)
  const jwks = auth.jwks === undefined ? undefined : new JwksKeys(auth.jwks, { log, checkIntervalMs: auth.jwksCheckIntervalMs })
  const verifiers = new WeakMap<VerificationKey, Verify>()
  const required = ['exp', 'iat', ...(auth.issuer !== undefined ? ['iss'] : []), ...(auth.audience !== undefined ? ['aud'] : [])]

  function verifierFor (key: VerificationKey): Verify {
    let verify = verifiers.get(key)
    if (verify === undefined) {
      verify = createVerifier({
        key: key.material,
        algorithms: [...key.algorithms],
        requiredClaims: required,
        ...(auth.issuer !== undefined ? { allowedIss: auth.issuer } : {}),
        ...(auth.audience !== undefined ? { allowedAud: auth.audience } : {}),
        clockTolerance: auth.clockToleranceMs,
        // An extractor sends thousands of batches with one token: verify its signature once.
        cache: 1000
      }) as Verify
      verifiers.set(key, verify)
    }
    return verify
  }

  async function chooseKey (header: Record<string, unknown>): Promise<VerificationKey> {
    const alg = header.alg
    if (typeof alg !== 'string' || !SIGNATURE_ALGORITHMS.includes(alg)) {
      throw new GatewayError('SIS_GW_TOKEN_INVALID', `invalid token: algorithm ${show(alg)} not allowed (only signed tokens: ${SIGNATURE_ALGORITHMS.join(', ')}, each with a key of its kind)`)
    }
    const kid = header.kid
    let key: VerificationKey | undefined
    if (kid !== undefined) {
      if (typeof kid !== 'string') throw new GatewayError('SIS_GW_TOKEN_KEY_UNKNOWN', 'unknown key id: the token\'s kid header is not a string')
      key = (await jwks?.current())?.get(kid)
      if (key === undefined) {
        throw new GatewayError('SIS_GW_TOKEN_KEY_UNKNOWN', `unknown key id ${show(kid)}: ${jwks === undefined ? 'this gateway has no SISPORTA_JWT_JWKS' : `not in ${jwks.file} (retired, or not yet added)`}`)
      }
    } else {
      if (auth.staticKeys.length === 0) {
        throw new GatewayError('SIS_GW_TOKEN_KEY_UNKNOWN', 'unknown key id: the token has no kid header, and this gateway only verifies by kid (SISPORTA_JWT_JWKS); issue it with token issue --kid')
      }
      key = auth.staticKeys.find((k) => k.algorithms.includes(alg as never)) ?? auth.staticKeys[0]!
    }
    if (!key.algorithms.includes(alg as never)) {
      throw new GatewayError('SIS_GW_TOKEN_INVALID', `invalid token: algorithm ${alg} not allowed for ${key.name} (it verifies ${key.algorithms.join(', ')})`)
    }
    return key
  }

  return async function verifyToken (token: string): Promise<unknown> {
    let decoded: DecodedToken
    try {
      decoded = decode(token)
    } catch (err) {
      throw new GatewayError('SIS_GW_TOKEN_INVALID', `invalid token: ${err instanceof TokenError ? err.message : 'malformed'}`)
    }
    const key = await chooseKey(decoded.header)
    const { payload } = decoded
    try {
      verifierFor(key)(token)
    } catch (err) {
      throw explain(err, payload, key, auth)
    }
    const now = Date.now()
    const { iat, exp } = payload
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new GatewayError('SIS_GW_TOKEN_CLAIMS', 'the token\'s iat claim must be a number (seconds since 1970)')
    if (iat * 1000 > now + auth.clockToleranceMs) {
      throw new GatewayError('SIS_GW_TOKEN_NOT_YET_VALID', `the token was issued in the future: iat ${iso(iat)} (server time ${new Date(now).toISOString()}); check the issuer's clock`)
    }
    const lifetime = (exp as number) - iat
    if (lifetime > auth.maxTtlSec) {
      throw new GatewayError('SIS_GW_TOKEN_LIFETIME', `the token's lifetime ${Math.round(lifetime)} s (exp − iat) exceeds SISPORTA_JWT_MAX_TTL (${auth.maxTtlSec} s): issue a shorter-lived token`)
    }
    if (!checkClaims.Check(payload)) {
      const first = checkClaims.Errors(payload).First()
      throw new GatewayError('SIS_GW_TOKEN_CLAIMS', `the token's claims are not ${claims.kind}'s (${first === undefined ? 'invalid' : `${first.path.slice(1) || 'payload'}: ${first.message}`}); expected ${claims.expected}`)
    }
    return payload
  }
}

/** A fast-jwt refusal as a coded 401 with a reason, from what the (decoded) token says. */
function explain (err: unknown, payload: Record<string, unknown>, key: VerificationKey, auth: ResolvedAuth): GatewayError {
  if (!(err instanceof TokenError)) return new GatewayError('SIS_GW_TOKEN_INVALID', 'invalid token')
  const now = new Date().toISOString()
  switch (err.code) {
    case TokenError.codes.expired:
      return new GatewayError('SIS_GW_TOKEN_EXPIRED', `the token expired at ${iso(payload.exp)} (server time ${now}): issue a new one (sisporta token issue)`)
    case TokenError.codes.inactive:
      return new GatewayError('SIS_GW_TOKEN_NOT_YET_VALID', `the token is not valid before ${iso(payload.nbf)} (server time ${now})`)
    case TokenError.codes.invalidSignature:
    case TokenError.codes.missingSignature:
      return new GatewayError('SIS_GW_TOKEN_INVALID', `invalid token: the signature does not verify with ${key.name}`)
    case TokenError.codes.missingRequiredClaim:
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue: {
      const claim = /^(?:The|None of) (\w+) claim/.exec(err.message)?.[1]
      if (claim === 'iss' && auth.issuer !== undefined) {
        return new GatewayError('SIS_GW_TOKEN_ISSUER', `wrong issuer: expected ${show(auth.issuer)}, the token has ${payload.iss === undefined ? 'none' : show(payload.iss)}`)
      }
      if (claim === 'aud' && auth.audience !== undefined) {
        return new GatewayError('SIS_GW_TOKEN_AUDIENCE', `wrong audience: expected ${show(auth.audience)}, the token has ${payload.aud === undefined ? 'none' : show(payload.aud)}`)
      }
      if (err.code === TokenError.codes.missingRequiredClaim) {
        return new GatewayError('SIS_GW_TOKEN_CLAIMS', `the token has no ${claim ?? 'required'} claim: every token needs exp and iat (RFC 8725); issue one with sisporta token issue`)
      }
      return new GatewayError('SIS_GW_TOKEN_CLAIMS', `the token's claims are unusable: ${err.message}`)
    }
  }
  return new GatewayError('SIS_GW_TOKEN_INVALID', `invalid token: ${err.message}`)
}

function iso (seconds: unknown): string {
  return typeof seconds === 'number' && Number.isFinite(seconds) && Math.abs(seconds) < 8.64e12 ? new Date(seconds * 1000).toISOString() : String(seconds).slice(0, 32)
}

function show (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return PRINTABLE.test(text) ? `'${text}'` : `(${typeof value}, not shown)`
}
