import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SisportaConfig, TokenClaims } from '@sisporta/contracts'
import type { ResolvedAuth } from './auth-options.js'
import { GatewayError } from './errors.js'
import { createTokenVerifier } from './token-verifier.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims of the request's token (ingestion routes only). */
    tokenClaims: TokenClaims | null
  }
}

const BEARER = /^Bearer +([^ ]+) *$/i

/**
 * Authentication and authorisation of the ingestion routes, as an `onRequest` hook of the
 * context it is called in (never global: `/healthz`, `/readyz` and `/metrics` stay open).
 * Runs before the body is read, so a refused request costs no parsing:
 *
 * - no / malformed / badly signed / expired / not-yet-valid token, unknown `kid`, wrong
 *   `iss` or `aud`, too long a lifetime → 401 with the reason (see `createTokenVerifier`);
 * - token without `sub`, `streams`, `exp` or `iat` → 401 naming the claim;
 * - `streams` claim not naming the stream exactly (`*` covers all) → 403;
 * - stream not in the config file → 404.
 */
export async function useStreamAuth (app: FastifyInstance, options: { auth: ResolvedAuth, config: SisportaConfig }): Promise<void> {
  const verify = createTokenVerifier(options.auth, app.log)
  if (options.auth.jwks !== undefined) {
    app.log.info({ jwks: options.auth.jwks.file, kids: [...options.auth.jwks.keys.keys()] }, 'JWKS keys loaded')
  }
  app.decorateRequest('tokenClaims', null)
  app.addHook('onRequest', async (request) => {
    const claims = await verify(bearerToken(request))
    request.tokenClaims = claims
    const stream = (request.params as { stream?: string } | undefined)?.stream
    if (stream === undefined) return
    // Exact names only: a token for `prod` must not reach `products`.
    if (!claims.streams.includes('*') && !claims.streams.includes(stream)) {
      throw new GatewayError('SIS_GW_STREAM_FORBIDDEN', `token of '${claims.sub}' is not allowed to load stream '${stream}'`)
    }
    if (options.config.stream(stream) === undefined) {
      throw new GatewayError('SIS_GW_STREAM_UNKNOWN', `stream '${stream}' is not configured on this gateway`)
    }
  })
}

function bearerToken (request: FastifyRequest): string {
  const header = request.headers.authorization
  if (header === undefined || header === '') {
    throw new GatewayError('SIS_GW_TOKEN_MISSING', 'no bearer token: send Authorization: Bearer <jwt>')
  }
  const m = BEARER.exec(header)
  if (m === null) throw new GatewayError('SIS_GW_TOKEN_MISSING', 'malformed Authorization header: expected Authorization: Bearer <jwt>')
  return m[1]!
}
