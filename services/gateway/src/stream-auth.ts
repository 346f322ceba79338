import fastifyJwt, { type FastifyJWTOptions, type TokenOrHeader } from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { TokenClaimsSchema, type SisportaConfig, type TokenClaims } from '@sisporta/contracts'
import type { ResolvedAuth } from './auth-options.js'
import { GatewayError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims of the request's token (ingestion routes only). */
    tokenClaims: TokenClaims | null
  }
}

const checkClaims = TypeCompiler.Compile(TokenClaimsSchema)

/**
 * Authentication and authorisation of the ingestion routes, as an `onRequest` hook of the
 * context it is called in (never global: `/healthz`, `/readyz` and `/metrics` stay open).
 * Runs before the body is read, so a refused request costs no parsing:
 *
 * - no / malformed / badly signed / expired token → 401 with the reason;
 * - token without `sub` or `streams` → 401;
 * - `streams` claim not covering the stream (`*` covers all) → 403;
 * - stream not in the config file → 404.
 */
export async function useStreamAuth (app: FastifyInstance, options: { auth: ResolvedAuth, config: SisportaConfig }): Promise<void> {
  await app.register(fastifyJwt, jwtOptions(options.auth))
  app.decorateRequest('tokenClaims', null)
  app.addHook('onRequest', async (request) => {
    const claims = await verifyToken(request)
    request.tokenClaims = claims
    const stream = (request.params as { stream?: string } | undefined)?.stream
    if (stream === undefined) return
    if (!claims.streams.includes('*') && !claims.streams.includes(stream)) {
      throw new GatewayError('SIS_GW_STREAM_FORBIDDEN', `token of '${claims.sub}' is not allowed to load stream '${stream}'`)
    }
    if (options.config.stream(stream) === undefined) {
      throw new GatewayError('SIS_GW_STREAM_UNKNOWN', `stream '${stream}' is not configured on this gateway`)
    }
  })
}

async function verifyToken (request: FastifyRequest): Promise<TokenClaims> {
  let payload: unknown
  try {
    payload = await request.jwtVerify()
  } catch (err) {
    throw tokenError(err)
  }
  if (!checkClaims.Check(payload)) {
    const first = checkClaims.Errors(payload).First()
    throw new GatewayError('SIS_GW_TOKEN_CLAIMS', `the token's claims are not a sisporta token's (${first === undefined ? 'invalid' : `${first.path.slice(1) || 'payload'}: ${first.message}`}); expected {sub, streams: [...]}`)
  }
  return payload
}

function tokenError (err: unknown): GatewayError {
  const e = err as { code?: string, message?: string }
  switch (e.code) {
    case 'FST_JWT_NO_AUTHORIZATION_IN_HEADER':
      return new GatewayError('SIS_GW_TOKEN_MISSING', 'no bearer token: send Authorization: Bearer <jwt>', { cause: err })
    case 'FST_JWT_BAD_REQUEST':
      return new GatewayError('SIS_GW_TOKEN_MISSING', 'malformed Authorization header: expected Authorization: Bearer <jwt>', { cause: err })
    case 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED':
      return new GatewayError('SIS_GW_TOKEN_EXPIRED', 'the token has expired', { cause: err })
  }
  // fast-jwt's reasons (bad signature, algorithm not allowed, not yet active, malformed) say
  // what is wrong with the token without revealing anything about the key.
  const known = typeof e.code === 'string' && (e.code.startsWith('FST_JWT_') || e.code.startsWith('FAST_JWT_'))
  return new GatewayError('SIS_GW_TOKEN_INVALID', known ? `invalid token: ${(e.message ?? '').replace(/^Authorization token is invalid: /, '')}` : 'invalid token', { cause: err })
}

/**
 * @fastify/jwt options for the configured keys. With both a secret and a public key, the key
 * is chosen by the token's algorithm family, so a public key is never used as an HMAC secret
 * (the classic algorithm-confusion attack), and each key only verifies its own algorithms.
 */
function jwtOptions (auth: ResolvedAuth): FastifyJWTOptions {
  const verify = {
    algorithms: auth.algorithms,
    clockTolerance: auth.clockToleranceMs,
    // An extractor sends thousands of batches with one token: verify its signature once.
    cache: 1000
  }
  if (auth.secret !== undefined && auth.publicKey !== undefined) {
    const { secret, publicKey } = auth
    return {
      secret: async (_request: FastifyRequest, token: TokenOrHeader) => {
        const alg = 'header' in token ? token.header.alg : token.alg
        return typeof alg === 'string' && alg.startsWith('HS') ? secret : publicKey
      },
      decode: { complete: true },
      verify
    }
  }
  if (auth.publicKey !== undefined) return { secret: { public: auth.publicKey }, verify }
  return { secret: auth.secret!, verify }
}
