import { NAMESPACE_PATTERN } from '@sisporta/contracts'
import { ConfigError } from './errors.js'

type Env = Record<string, string | undefined>

/**
 * Settings every sisporta process reads from its environment, parsed and checked once at
 * start-up; nothing reads `process.env` after this. Each has a default that works on a
 * developer machine with the local services running.
 */
export interface Settings {
  readonly configFile: string
  readonly namespace: string
  readonly natsUrl: string
  readonly mysqlUrl: string
  readonly sourceUrl: string
  /** Let the extractor read with a login that could write (refused by default). */
  readonly allowWritableLogin: boolean
  readonly gatewayUrl: string
  readonly token: string | undefined
  readonly jwtSecret: string | undefined
  readonly jwtPublicKey: string | undefined
  readonly jwtPrivateKey: string | undefined
  readonly logLevel: string
  /** The process's own port, when set; each service has its own default. */
  readonly httpPort: number | undefined
  readonly httpHost: string
  readonly batchSize: number
  /** Largest batch body the extractor sends, in bytes; pages with long values are split to fit. */
  readonly maxBatchBytes: number
  /** Batches the extractor keeps in flight at once. */
  readonly inFlight: number
  /** Batches one persister replica applies at once (each on its own MySQL connection). */
  readonly persisterConcurrency: number
  /** Deliveries of one batch before it goes to the dead-letter stream. */
  readonly maxDeliver: number
  /** Target rows deleted per statement by the reconciler. */
  readonly deleteChunk: number
  /** Seconds a load may stay open (unsealed) before it is abandoned. */
  readonly openTimeoutSec: number
  /** Seconds a sealed load may wait for all its batches before it fails. */
  readonly applyTimeoutSec: number
  /** Gateway: largest accepted body in bytes (also capped by the NATS server's max_payload). */
  readonly gatewayBodyLimit: number
  /** Gateway: batch requests handled at once (received, checked or awaiting JetStream) before answering 503. */
  readonly gatewayMaxInFlight: number
  /** PEM certificate and key (content or file path); with both set the gateway serves HTTPS. */
  readonly tlsCert: string | undefined
  readonly tlsKey: string | undefined
}

export const DEFAULT_PORTS = Object.freeze({ gateway: 8080, persister: 9101, reconciler: 9102, extractor: 9103 })

/** Reads the settings from an environment (default: `process.env`). */
export function readSettings (env: Env = process.env): Settings {
  const namespace = env.SISPORTA_NAMESPACE ?? 'sisporta'
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new ConfigError('SIS_CFG_ENV', `SISPORTA_NAMESPACE='${namespace}' must match ${NAMESPACE_PATTERN}`)
  }
  if ((env.SISPORTA_TLS_CERT === undefined) !== (env.SISPORTA_TLS_KEY === undefined)) {
    throw new ConfigError('SIS_CFG_ENV', 'set both SISPORTA_TLS_CERT and SISPORTA_TLS_KEY, or neither')
  }
  return Object.freeze({
    configFile: env.SISPORTA_CONFIG ?? './sisporta.yaml',
    namespace,
    natsUrl: env.SISPORTA_NATS_URL ?? 'nats://127.0.0.1:4222',
    mysqlUrl: url(env, 'SISPORTA_MYSQL_URL', 'mysql://root@127.0.0.1:3306/sisporta'),
    sourceUrl: url(env, 'SISPORTA_SOURCE_URL', 'mysql://root@127.0.0.1:3306/erp'),
    allowWritableLogin: bool(env, 'SISPORTA_ALLOW_WRITABLE_LOGIN'),
    gatewayUrl: url(env, 'SISPORTA_GATEWAY_URL', 'http://127.0.0.1:8080'),
    token: env.SISPORTA_TOKEN,
    jwtSecret: env.SISPORTA_JWT_SECRET,
    jwtPublicKey: env.SISPORTA_JWT_PUBLIC_KEY,
    jwtPrivateKey: env.SISPORTA_JWT_PRIVATE_KEY,
    logLevel: env.SISPORTA_LOG_LEVEL ?? 'info',
    httpPort: env.SISPORTA_HTTP_PORT === undefined ? undefined : int(env, 'SISPORTA_HTTP_PORT', 0, 0, 65535),
    httpHost: env.SISPORTA_HTTP_HOST ?? '0.0.0.0',
    batchSize: int(env, 'SISPORTA_BATCH_SIZE', 2000, 1, 50000),
    inFlight: int(env, 'SISPORTA_IN_FLIGHT', 4, 1, 64),
    maxBatchBytes: int(env, 'SISPORTA_MAX_BATCH_BYTES', 960_000, 1024, 64 * 1024 * 1024),
    persisterConcurrency: int(env, 'SISPORTA_PERSISTER_CONCURRENCY', 4, 1, 64),
    maxDeliver: int(env, 'SISPORTA_MAX_DELIVER', 5, 1, 1000),
    deleteChunk: int(env, 'SISPORTA_DELETE_CHUNK', 5000, 1, 1000000),
    openTimeoutSec: int(env, 'SISPORTA_OPEN_TIMEOUT', 6 * 3600, 1, 30 * 86400),
    applyTimeoutSec: int(env, 'SISPORTA_APPLY_TIMEOUT', 3600, 1, 30 * 86400),
    gatewayBodyLimit: int(env, 'SISPORTA_GATEWAY_BODY_LIMIT', 32 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    gatewayMaxInFlight: int(env, 'SISPORTA_GATEWAY_MAX_IN_FLIGHT', 16, 1, 10000),
    tlsCert: env.SISPORTA_TLS_CERT,
    tlsKey: env.SISPORTA_TLS_KEY
  })
}

function int (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('SIS_CFG_ENV', `${name}='${raw}' must be an integer between ${min} and ${max}`)
  }
  return n
}

function bool (env: Env, name: string): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false
  if (raw === 'true' || raw === '1') return true
  throw new ConfigError('SIS_CFG_ENV', `${name}='${raw}' must be true or false`)
}

function url (env: Env, name: string, fallback: string): string {
  const raw = env[name] ?? fallback
  try {
    // ADO-style SQL Server strings (Server=…;Database=…) are not URLs; the source dialect parses them.
    if (!raw.includes('://')) return raw
    new URL(raw) // eslint-disable-line no-new
    return raw
  } catch (err) {
    throw new ConfigError('SIS_CFG_ENV', `${name} is not a valid URL`, { cause: err })
  }
}
