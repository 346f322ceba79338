import { readFileSync } from 'node:fs'
import { createSigner } from 'fast-jwt'
import { readSettings } from '@sisporta/config'
import type { Command } from './command.js'
import { UsageError } from '../usage-error.js'

const TTL = /^([1-9][0-9]*)(s|m|h|d)$/

/** A PEM given inline or as a path to a file. */
export function readPem (value: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8')
}

/**
 * `sisporta token issue --stream NAME… [--ttl 1h] [--subject NAME]`: prints a JWT the gateway
 * accepts for those streams. Signed with SISPORTA_JWT_PRIVATE_KEY (RS256/ES256) when set,
 * otherwise with SISPORTA_JWT_SECRET (HS256).
 */
export const tokenCommand: Command = {
  options: {
    stream: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '1h' },
    subject: { type: 'string', default: 'extractor' }
  },
  async run (values, positionals) {
    if (positionals[0] !== 'issue') throw new UsageError('usage: sisporta token issue --stream NAME... [--ttl 1h] [--subject NAME]')
    const streams = (values.stream as string[] | undefined) ?? []
    if (streams.length === 0) throw new UsageError('token issue: give at least one --stream NAME (or --stream \'*\' for every stream)')
    for (const s of streams) {
      if (s !== '*' && !/^[a-z][a-z0-9_]*$/.test(s)) throw new UsageError(`token issue: '${s}' is not a stream name`)
    }
    const ttl = String(values.ttl)
    const m = TTL.exec(ttl)
    if (m === null) throw new UsageError(`token issue: --ttl '${ttl}' must look like 30m, 12h or 30d`)
    const settings = readSettings()
    process.stdout.write(`${issueToken(settings, { streams, subject: String(values.subject), ttl })}\n`)
    return 0
  }
}

/** Signs a token scoped to `streams`. */
export function issueToken (keys: { jwtSecret?: string, jwtPrivateKey?: string }, claims: { streams: string[], subject: string, ttl: string }): string {
  const m = TTL.exec(claims.ttl)
  if (m === null) throw new UsageError(`ttl '${claims.ttl}' must look like 30m, 12h or 30d`)
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
  let sign
  if (keys.jwtPrivateKey !== undefined && keys.jwtPrivateKey !== '') {
    const key = readPem(keys.jwtPrivateKey)
    sign = createSigner({ key, algorithm: key.includes('EC PRIVATE') ? 'ES256' : 'RS256', expiresIn: ms })
  } else if (keys.jwtSecret !== undefined && keys.jwtSecret !== '') {
    sign = createSigner({ key: keys.jwtSecret, algorithm: 'HS256', expiresIn: ms })
  } else {
    throw new UsageError('token issue: set SISPORTA_JWT_SECRET (or SISPORTA_JWT_PRIVATE_KEY) to the key the gateway verifies with')
  }
  return sign({ sub: claims.subject, streams: claims.streams })
}
