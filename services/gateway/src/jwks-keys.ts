import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createVerifier } from 'fast-jwt'
import { MIN_HMAC_SECRET_BYTES } from '@sisporta/contracts'
import type { Logger } from '@sisporta/observability'
import { GatewayError, type GatewayErrorCode } from './errors.js'

/** A JWT signature algorithm, as fast-jwt names it (`none` is never one). */
export type Algorithm = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

/**
 * One key the gateway verifies tokens with. Its `algorithms` are fixed by the key itself (its
 * `alg`, else its type and curve), never by the token: an HMAC key only verifies HS*, an RSA
 * key only RS… and PS…, so a public key can never be misused as an HMAC secret.
 */
export interface VerificationKey {
  /** The JWKS `kid`; undefined for SISPORTA_JWT_SECRET / SISPORTA_JWT_PUBLIC_KEY. */
  readonly kid: string | undefined
  /** How replies and logs name the key: `key 'k1'` or the setting it came from. */
  readonly name: string
  readonly algorithms: readonly Algorithm[]
  /** PEM (SPKI) of a public key, or the raw bytes of an HMAC secret. */
  readonly material: string | Buffer
  /** Tells a changed key from an unchanged one across JWKS reloads; never logged. */
  readonly fingerprint: string
}

/** The keys of a JWKS file as read once, with the file's identity at that moment. */
export interface JwksSnapshot {
  readonly file: string
  readonly keys: ReadonlyMap<string, VerificationKey>
  /** SHA-256 of the file's text: a reload only happens when it changes. */
  readonly digest: string
}

// RFC 7518 §3.2: an HMAC key at least as long as the hash output.
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 }
const RSA_ALGORITHMS: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGORITHM_BY_CURVE: Record<string, Algorithm> = { 'P-256': 'ES256', prime256v1: 'ES256', 'P-384': 'ES384', secp384r1: 'ES384', 'P-521': 'ES512', secp521r1: 'ES512' }
/** RFC 7518 §3.3: RSA keys of 2048 bits or more. */
const MIN_RSA_BITS = 2048
const KID = /^[\x21-\x7e]{1,128}$/

/**
 * The HMAC algorithms a secret of this length may verify (HS384 needs 48 bytes, HS512 64);
 * throws `code` when the secret is shorter than {@link MIN_HMAC_SECRET_BYTES}.
 *
 * @example
 * hmacAlgorithms(randomBytes(32), 'SISPORTA_JWT_SECRET', 'SIS_GW_JWT_SECRET_WEAK') // ['HS256']
 */
export function hmacAlgorithms (secret: Buffer, what: string, code: GatewayErrorCode): Algorithm[] {
  if (secret.length < MIN_HMAC_SECRET_BYTES) {
    // The length is safe to say; the secret itself never appears in a message.
    throw new GatewayError(code, `${what} is ${secret.length} bytes long; an HMAC secret must have at least ${MIN_HMAC_SECRET_BYTES} random bytes (e.g. openssl rand -base64 48)`)
  }
  return (['HS256', 'HS384', 'HS512'] as const).filter((alg) => secret.length >= HMAC_MIN_BYTES[alg]!)
}

/**
 * The algorithms a public key may verify, from its type and curve; throws `code` for a key
 * type JWT does not sign with, or an RSA key under 2048 bits.
 *
 * @example
 * publicKeyAlgorithms(createPublicKey(pem), 'SISPORTA_JWT_PUBLIC_KEY', 'SIS_GW_JWT_KEY') // ['ES256']
 */
export function publicKeyAlgorithms (key: KeyObject, what: string, code: GatewayErrorCode): Algorithm[] {
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'rsa':
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) throw new GatewayError(code, `${what} is a ${details.modulusLength ?? '?'}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`)
      return RSA_ALGORITHMS
    case 'ec': {
      const alg = EC_ALGORITHM_BY_CURVE[details.namedCurve ?? '']
      if (alg === undefined) throw new GatewayError(code, `${what} is an EC key on curve ${details.namedCurve ?? '?'}; expected P-256, P-384 or P-521`)
      return [alg]
    }
    case 'ed25519':
    case 'ed448':
      return ['EdDSA']
  }
  throw new GatewayError(code, `${what} is a ${key.asymmetricKeyType ?? 'unknown'} key; expected RSA, EC (P-256/384/521) or Ed25519`)
}

/**
 * Reads and checks a JWKS file (`{ "keys": [ … ] }`) at start-up. Throws `SIS_GW_JWKS` naming
 * the file and the index of the first bad key: the gateway does not start on a half-usable
 * key set.
 *
 * @example
 * const jwks = loadJwksFile('/etc/sisporta/jwks.json')
 * jwks.keys.get('2024-06')?.algorithms // ['RS256', …]
 */
export function loadJwksFile (file: string, previous?: ReadonlyMap<string, VerificationKey>): JwksSnapshot {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new GatewayError('SIS_GW_JWKS', `SISPORTA_JWT_JWKS: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return { file, keys: parseJwks(text, file, previous), digest: digestOf(text) }
}

/**
 * The verification keys of a JWKS document, by `kid`. Every key needs a unique `kid`; `use`,
 * when present, must be `sig`; asymmetric keys must be public (no `d`); `oct` keys need 32+
 * bytes. A key whose material did not change keeps its object from `previous`, so caches
 * keyed by it survive a reload.
 *
 * @example
 * parseJwks('{"keys":[{"kty":"oct","kid":"a","k":"…43+ base64url chars…"}]}', 'jwks.json')
 */
export function parseJwks (text: string, file: string, previous?: ReadonlyMap<string, VerificationKey>): Map<string, VerificationKey> {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    // V8's message quotes the text around the error, which may be secret (an oct key's "k"):
    // only the position is repeated.
    const where = /position \d+(?: \(line \d+ column \d+\))?/.exec((err as Error).message)?.[0]
    throw new GatewayError('SIS_GW_JWKS', `${file} is not valid JSON${where === undefined ? '' : ` (error at ${where})`}`)
  }
  const keys = (doc as { keys?: unknown } | null)?.keys
  if (typeof doc !== 'object' || doc === null || !Array.isArray(keys)) {
    throw new GatewayError('SIS_GW_JWKS', `${file} is not a JWKS: expected { "keys": [ … ] }`)
  }
  const byKid = new Map<string, VerificationKey>()
  keys.forEach((jwk: unknown, index) => {
    const key = verificationKeyFromJwk(jwk, `${file}: key ${index}`)
    if (byKid.has(key.kid!)) throw new GatewayError('SIS_GW_JWKS', `${file}: key ${index}: kid '${key.kid!}' is used twice`)
    const before = previous?.get(key.kid!)
    byKid.set(key.kid!, before !== undefined && before.fingerprint === key.fingerprint ? before : key)
  })
  return byKid
}

function verificationKeyFromJwk (value: unknown, where: string): VerificationKey {
  const fail = (reason: string): never => { throw new GatewayError('SIS_GW_JWKS', `${where}: ${reason}`) }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object')
  const jwk = value as Record<string, unknown>
  if (typeof jwk.kid !== 'string' || !KID.test(jwk.kid)) return fail('needs a "kid" of 1 to 128 visible ASCII characters (tokens choose their key by it)')
  const kid = jwk.kid
  const at = `${where} ('${kid}')`
  const failAt = (reason: string): never => { throw new GatewayError('SIS_GW_JWKS', `${at}: ${reason}`) }
  if (jwk.use !== undefined && jwk.use !== 'sig') failAt(`"use" is ${brief(jwk.use)}; a verification key has "use": "sig"`)
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) failAt('"key_ops" does not include "verify"')
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string') failAt('"alg" must be a string')

  let algorithms: Algorithm[]
  let material: string | Buffer
  if (jwk.kty === 'oct') {
    if (typeof jwk.k !== 'string' || !/^[A-Za-z0-9_-]+$/.test(jwk.k)) return failAt('an "oct" key needs "k", its secret in base64url')
    material = Buffer.from(jwk.k, 'base64url')
    algorithms = hmacAlgorithms(material, at, 'SIS_GW_JWKS')
  } else if (jwk.kty === 'RSA' || jwk.kty === 'EC' || jwk.kty === 'OKP') {
    // A verification key set is published to every gateway replica: a private key does not belong there.
    if (jwk.d !== undefined) failAt('holds a private key ("d"); put only the public key in the JWKS')
    let key: KeyObject
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    } catch (err) {
      return failAt(`not a usable ${jwk.kty} public key (${(err as Error).message})`)
    }
    algorithms = publicKeyAlgorithms(key, at, 'SIS_GW_JWKS')
    material = key.export({ type: 'spki', format: 'pem' }).toString()
  } else {
    return failAt(`"kty" is ${brief(jwk.kty)}; expected "RSA", "EC", "OKP" or "oct"`)
  }
  if (typeof jwk.alg === 'string') {
    const alg = jwk.alg as Algorithm
    if (!algorithms.includes(alg)) failAt(`"alg" ${brief(jwk.alg)} does not fit this key (it can verify ${algorithms.join(', ')})`)
    // The key's own alg pins it to that one algorithm (RFC 8725 §3.1).
    algorithms = [alg]
  }
  return checkedKey({ kid, name: `key '${kid}'`, algorithms, material, fingerprint: fingerprintOf(algorithms, material) }, at, 'SIS_GW_JWKS')
}

/**
 * A key as fast-jwt will use it: built once here so a key fast-jwt cannot use fails at start,
 * not at the first token.
 */
export function checkedKey (key: VerificationKey, what: string, code: GatewayErrorCode): VerificationKey {
  try {
    createVerifier({ key: key.material, algorithms: [...key.algorithms] })
  } catch (err) {
    throw new GatewayError(code, `${what}: not usable for ${key.algorithms.join(', ')} (${(err as Error).message})`)
  }
  return Object.freeze(key)
}

export function fingerprintOf (algorithms: readonly Algorithm[], material: string | Buffer): string {
  return createHash('sha256').update(algorithms.join(',')).update('\0').update(material).digest('base64url')
}

/** A member's value for a message: short, and never a key's material (only kty/use/alg go here). */
function brief (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

function digestOf (text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/**
 * The live key set of a JWKS file. Kubernetes replaces a mounted Secret's files in place, so
 * the file is read again (at most every `checkIntervalMs`, while tokens are verified) and its
 * keys replaced when its text changed: keys rotate without a restart. Comparing the text
 * rather than the mtime also catches a same-size rewrite within the file system's mtime
 * granularity; the file is a few KB. A file that has become unreadable or malformed is
 * logged once and the previous keys stay in use — a typo must not lock every extractor out.
 *
 * @example
 * const jwks = new JwksKeys(loadJwksFile(file), { log, checkIntervalMs: 5000 })
 * const key = (await jwks.current()).get(kid)
 */
export class JwksKeys {
  readonly file: string
  #keys: ReadonlyMap<string, VerificationKey>
  #digest: string
  #lastFailure: string | undefined
  #checkedAt: number
  #checking: Promise<void> | undefined
  readonly #checkIntervalMs: number
  readonly #log: Pick<Logger, 'info' | 'error'>

  constructor (snapshot: JwksSnapshot, options: { log: Pick<Logger, 'info' | 'error'>, checkIntervalMs: number }) {
    this.file = snapshot.file
    this.#keys = snapshot.keys
    this.#digest = snapshot.digest
    this.#checkedAt = Date.now()
    this.#checkIntervalMs = options.checkIntervalMs
    this.#log = options.log
  }

  /** The keys by `kid`, re-read first when the file changed since the last look. */
  async current (): Promise<ReadonlyMap<string, VerificationKey>> {
    if (Date.now() - this.#checkedAt >= this.#checkIntervalMs) {
      // Concurrent requests share one look at the file.
      this.#checking ??= this.#check().finally(() => { this.#checkedAt = Date.now(); this.#checking = undefined })
      await this.#checking
    }
    return this.#keys
  }

  async #check (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      const reason = `cannot read ${this.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`
      if (this.#lastFailure !== reason) this.#log.error({ jwks: this.file, code: 'SIS_GW_JWKS', reason }, 'JWKS file unusable: the previous keys stay in use')
      this.#lastFailure = reason
      return
    }
    const digest = digestOf(text)
    if (digest === this.#digest) {
      this.#lastFailure = undefined
      return
    }
    if (digest === this.#lastFailure) return
    let keys: Map<string, VerificationKey>
    try {
      keys = parseJwks(text, this.file, this.#keys)
    } catch (err) {
      this.#log.error({ jwks: this.file, code: 'SIS_GW_JWKS', reason: (err as Error).message }, 'JWKS file unusable: the previous keys stay in use')
      this.#lastFailure = digest
      return
    }
    const before = this.#keys
    this.#keys = keys
    this.#digest = digest
    this.#lastFailure = undefined
    const added = [...keys.keys()].filter((kid) => !before.has(kid))
    const removed = [...before.keys()].filter((kid) => !keys.has(kid))
    const replaced = [...keys.keys()].filter((kid) => before.has(kid) && before.get(kid) !== keys.get(kid))
    if (added.length + removed.length + replaced.length > 0) {
      // Key ids only: never key material, nor anything derived from a secret.
      this.#log.info({ jwks: this.file, kids: [...keys.keys()], added, removed, replaced }, 'JWKS keys changed')
    }
  }
}
