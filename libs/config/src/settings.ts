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
  /** How to authenticate to NATS and whether to use TLS (besides credentials in `natsUrl`). */
  readonly nats: NatsSecuritySettings
  /** The target database; no default outside the demo (see {@link requireSetting}). */
  readonly mysqlUrl: string | undefined
  /** The source database; no default outside the demo. */
  readonly sourceUrl: string | undefined
  /** Let the extractor read with a login that could write (refused by default). */
  readonly allowWritableLogin: boolean
  /** Attempts at one source page (the first included) before a transient failure fails the load. */
  readonly sourceReadAttempts: number
  /** Let the extractor connect to a SQL Server source without TLS when the source URL asks (refused by default). */
  readonly allowSourcePlaintext: boolean
  readonly gatewayUrl: string
  readonly token: string | undefined
  readonly jwtSecret: string | undefined
  readonly jwtPublicKey: string | undefined
  readonly jwtPrivateKey: string | undefined
  /** JWKS file (JSON `{ keys: [...] }`): several verification keys at once, chosen by `kid`. */
  readonly jwtJwks: string | undefined
  /** Required `iss` of tokens (the gateway checks it, `token issue` sets it) when set. */
  readonly jwtIssuer: string | undefined
  /** Required `aud` of tokens when set. */
  readonly jwtAudience: string | undefined
  /** Longest lifetime (`exp` − `iat`) a token may have, in seconds (default 30 days). */
  readonly jwtMaxTtlSec: number
  readonly logLevel: string
  /** The process's own port, when set; each service has its own default. */
  readonly httpPort: number | undefined
  readonly httpHost: string
  /** When set, `/metrics` is served on this port only (not on `httpPort`). */
  readonly metricsPort: number | undefined
  /** Let the extractor send its token over plain http:// to a host that is not loopback. */
  readonly allowInsecureGateway: boolean
  readonly batchSize: number
  /** Largest batch body the extractor sends, in bytes; pages with long values are split to fit. */
  readonly maxBatchBytes: number
  /** Batches the extractor keeps in flight at once (and key ranges being compared, in a diffed load). */
  readonly inFlight: number
  /** A diffed load: source rows per compared key range. */
  readonly compareRows: number
  /** Seconds the gateway waits for a persister to compare one key range. */
  readonly compareTimeoutSec: number
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
  /**
   * Reconciler: seconds after which a load in a final state leaves the load registry and its
   * batch ledger rows are deleted (0: keep every load forever).
   */
  readonly loadRetentionSec: number
  /** Reconciler: the newest loads of each stream kept whatever their age (at least 1). */
  readonly loadRetentionKeep: number
  /** Reconciler: seconds between two retention sweeps. */
  readonly retentionIntervalSec: number
  /** Longest a dead letter is kept, in seconds, set when the dead-letter stream is created (0: forever). */
  readonly dlqMaxAgeSec: number
  /** Most bytes of dead letters kept, set when the dead-letter stream is created (0: no limit); a full stream refuses new letters. */
  readonly dlqMaxBytes: number
  /** Replicas of the JetStream streams and the registry bucket when they are created: 1, 3 or 5. */
  readonly jetstreamReplicas: number
  /** Seconds a persister has to apply a batch before it is redelivered (the consumer's ack_wait when it is created). */
  readonly ackWaitSec: number
  /** Reconciler: seconds between two reads of the operator metrics (consumer lag, dead letters, loads). */
  readonly operatorMetricsIntervalSec: number
  /** Extractor daemon: seconds between two questions to the gateway for "sync now" requests. */
  readonly syncPollIntervalSec: number
  /** Gateway: largest accepted body in bytes (also capped by the NATS server's max_payload). */
  readonly gatewayBodyLimit: number
  /** Gateway: batch requests handled at once (received, checked or awaiting JetStream) before answering 503. */
  readonly gatewayMaxInFlight: number
  /** Gateway: batch requests one token subject may have in progress at once (its share of `gatewayMaxInFlight`). */
  readonly gatewayMaxInFlightPerToken: number
  /** Gateway: seconds a request body may take to arrive before the request is answered 408 and its slot freed. */
  readonly gatewayBodyTimeoutSec: number
  /** PEM certificate and key (content or file path); with both set the gateway serves HTTPS. */
  readonly tlsCert: string | undefined
  readonly tlsKey: string | undefined
  /**
   * TEST HOOK, off by default (SISPORTA_TEST_PAUSE_BEFORE_ACK): the persister holds the first
   * batch with this number after its commit and before its ack, so that a fault test can kill it
   * in exactly that window. Never set in production.
   */
  readonly testPauseBeforeAck: number | undefined
}

/**
 * NATS authentication and TLS, each from its own environment variable. Files are paths;
 * secrets are never logged. Credentials in `SISPORTA_NATS_URL` (`nats://user:pass@host`) work too.
 */
export interface NatsSecuritySettings {
  /** SISPORTA_NATS_USER / SISPORTA_NATS_PASSWORD */
  readonly user: string | undefined
  readonly password: string | undefined
  /** SISPORTA_NATS_TOKEN */
  readonly token: string | undefined
  /** SISPORTA_NATS_CREDS: a `.creds` file (user JWT + nkey seed). */
  readonly credsFile: string | undefined
  /** SISPORTA_NATS_NKEY: a file holding an nkey seed (`SU…`). */
  readonly nkeySeedFile: string | undefined
  /** SISPORTA_NATS_TLS_CA / _TLS_CERT / _TLS_KEY: PEM files; with a CA alone, TLS with server verification. */
  readonly tlsCa: string | undefined
  readonly tlsCert: string | undefined
  readonly tlsKey: string | undefined
}

export const DEFAULT_PORTS = Object.freeze({ gateway: 8080, persister: 9101, reconciler: 9102, extractor: 9103, console: 9104 })

/**
 * The V8 old-space cap in MB of every service (`sisporta gateway|persister|reconciler|extractor|
 * console`), the one value the images, the chart and a service started by hand share: with it a
 * service's RSS stays under 200 MB and flat whatever the table size (BENCHMARKS.md); without it
 * V8 sizes its heap from the machine's memory and collects lazily (the gateway reached 256 MB
 * RSS at 1M rows). `SISPORTA_HEAP_MB` changes it; see {@link heapCapMb}.
 */
export const DEFAULT_HEAP_MB = 128

/**
 * The heap cap a service runs with: `SISPORTA_HEAP_MB` (0 = leave V8's default), else
 * {@link DEFAULT_HEAP_MB}. A value from 1 to 15 is refused (`SIS_CFG_ENV`): too small to start.
 *
 * @example
 * heapCapMb({}) // 128
 * heapCapMb({ SISPORTA_HEAP_MB: '0' }) // 0: no cap
 */
export function heapCapMb (env: Env = process.env): number {
  const mb = int(env, 'SISPORTA_HEAP_MB', DEFAULT_HEAP_MB, 0, 1_048_576)
  if (mb > 0 && mb < 16) throw new ConfigError('SIS_CFG_ENV', `SISPORTA_HEAP_MB='${env.SISPORTA_HEAP_MB ?? ''}' is too small: 0 (no cap) or at least 16`)
  return mb
}

/** Reads the settings from an environment (default: `process.env`). */
export function readSettings (env: Env = process.env): Settings {
  const namespace = env.SISPORTA_NAMESPACE ?? 'sisporta'
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new ConfigError('SIS_CFG_ENV', `SISPORTA_NAMESPACE='${namespace}' must match ${NAMESPACE_PATTERN}`)
  }
  if ((env.SISPORTA_TLS_CERT === undefined) !== (env.SISPORTA_TLS_KEY === undefined)) {
    throw new ConfigError('SIS_CFG_ENV', 'set both SISPORTA_TLS_CERT and SISPORTA_TLS_KEY, or neither')
  }
  const gatewayMaxInFlight = int(env, 'SISPORTA_GATEWAY_MAX_IN_FLIGHT', 16, 1, 10000)
  return Object.freeze({
    configFile: env.SISPORTA_CONFIG ?? './sisporta.yaml',
    namespace,
    natsUrl: env.SISPORTA_NATS_URL ?? 'nats://127.0.0.1:4222',
    nats: Object.freeze({
      user: optional(env, 'SISPORTA_NATS_USER'),
      password: optional(env, 'SISPORTA_NATS_PASSWORD'),
      token: optional(env, 'SISPORTA_NATS_TOKEN'),
      credsFile: optional(env, 'SISPORTA_NATS_CREDS'),
      nkeySeedFile: optional(env, 'SISPORTA_NATS_NKEY'),
      tlsCa: optional(env, 'SISPORTA_NATS_TLS_CA'),
      tlsCert: optional(env, 'SISPORTA_NATS_TLS_CERT'),
      tlsKey: optional(env, 'SISPORTA_NATS_TLS_KEY')
    }),
    mysqlUrl: optionalUrl(env, 'SISPORTA_MYSQL_URL'),
    sourceUrl: optionalUrl(env, 'SISPORTA_SOURCE_URL'),
    allowWritableLogin: bool(env, 'SISPORTA_ALLOW_WRITABLE_LOGIN'),
    sourceReadAttempts: int(env, 'SISPORTA_SOURCE_READ_ATTEMPTS', 5, 1, 20),
    allowSourcePlaintext: bool(env, 'SISPORTA_SOURCE_ALLOW_PLAINTEXT'),
    gatewayUrl: url(env, 'SISPORTA_GATEWAY_URL', 'http://127.0.0.1:8080'),
    token: env.SISPORTA_TOKEN,
    jwtSecret: env.SISPORTA_JWT_SECRET,
    jwtPublicKey: env.SISPORTA_JWT_PUBLIC_KEY,
    jwtPrivateKey: env.SISPORTA_JWT_PRIVATE_KEY,
    jwtJwks: optional(env, 'SISPORTA_JWT_JWKS'),
    jwtIssuer: optional(env, 'SISPORTA_JWT_ISSUER'),
    jwtAudience: optional(env, 'SISPORTA_JWT_AUDIENCE'),
    jwtMaxTtlSec: duration(env, 'SISPORTA_JWT_MAX_TTL', 30 * 86400, 60, 366 * 86400),
    logLevel: env.SISPORTA_LOG_LEVEL ?? 'info',
    httpPort: env.SISPORTA_HTTP_PORT === undefined ? undefined : int(env, 'SISPORTA_HTTP_PORT', 0, 0, 65535),
    httpHost: env.SISPORTA_HTTP_HOST ?? '0.0.0.0',
    metricsPort: env.SISPORTA_METRICS_PORT === undefined || env.SISPORTA_METRICS_PORT === '' ? undefined : int(env, 'SISPORTA_METRICS_PORT', 0, 0, 65535),
    allowInsecureGateway: bool(env, 'SISPORTA_ALLOW_INSECURE_GATEWAY'),
    batchSize: int(env, 'SISPORTA_BATCH_SIZE', 2000, 1, 50000),
    inFlight: int(env, 'SISPORTA_IN_FLIGHT', 4, 1, 64),
    compareRows: int(env, 'SISPORTA_COMPARE_ROWS', 5000, 1, 50000),
    compareTimeoutSec: duration(env, 'SISPORTA_COMPARE_TIMEOUT', 90, 1, 120),
    maxBatchBytes: int(env, 'SISPORTA_MAX_BATCH_BYTES', 960_000, 1024, 64 * 1024 * 1024),
    persisterConcurrency: int(env, 'SISPORTA_PERSISTER_CONCURRENCY', 4, 1, 64),
    maxDeliver: int(env, 'SISPORTA_MAX_DELIVER', 5, 1, 1000),
    deleteChunk: int(env, 'SISPORTA_DELETE_CHUNK', 5000, 1, 1000000),
    openTimeoutSec: int(env, 'SISPORTA_OPEN_TIMEOUT', 6 * 3600, 1, 30 * 86400),
    applyTimeoutSec: int(env, 'SISPORTA_APPLY_TIMEOUT', 3600, 1, 30 * 86400),
    loadRetentionSec: durationOrOff(env, 'SISPORTA_LOAD_RETENTION', 30 * 86400, 3600, 3650 * 86400),
    loadRetentionKeep: int(env, 'SISPORTA_LOAD_RETENTION_KEEP', 20, 1, 100000),
    retentionIntervalSec: duration(env, 'SISPORTA_RETENTION_INTERVAL', 3600, 10, 7 * 86400),
    dlqMaxAgeSec: durationOrOff(env, 'SISPORTA_DLQ_MAX_AGE', 30 * 86400, 3600, 3650 * 86400),
    dlqMaxBytes: bytesOrOff(env, 'SISPORTA_DLQ_MAX_BYTES', 1024 ** 3, 1024 ** 2, 1024 ** 5),
    jetstreamReplicas: oneOf(env, 'SISPORTA_JETSTREAM_REPLICAS', 1, [1, 3, 5]),
    ackWaitSec: duration(env, 'SISPORTA_ACK_WAIT', 60, 5, 3600),
    operatorMetricsIntervalSec: duration(env, 'SISPORTA_OPERATOR_METRICS_INTERVAL', 15, 1, 3600),
    syncPollIntervalSec: duration(env, 'SISPORTA_SYNC_POLL_INTERVAL', 15, 1, 3600),
    gatewayBodyLimit: int(env, 'SISPORTA_GATEWAY_BODY_LIMIT', 32 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    gatewayMaxInFlight,
    gatewayMaxInFlightPerToken: int(env, 'SISPORTA_GATEWAY_MAX_IN_FLIGHT_PER_TOKEN', Math.max(1, Math.ceil(gatewayMaxInFlight / 2)), 1, 10000),
    gatewayBodyTimeoutSec: int(env, 'SISPORTA_GATEWAY_BODY_TIMEOUT', 30, 1, 3600),
    tlsCert: env.SISPORTA_TLS_CERT,
    tlsKey: env.SISPORTA_TLS_KEY,
    testPauseBeforeAck: optional(env, 'SISPORTA_TEST_PAUSE_BEFORE_ACK') === undefined ? undefined : int(env, 'SISPORTA_TEST_PAUSE_BEFORE_ACK', 0, 0, 2147483646)
  })
}

/** Where `/metrics` listens when it has a port of its own (`SISPORTA_METRICS_PORT`), else `undefined`. */
export function metricsListen (settings: Pick<Settings, 'metricsPort' | 'httpHost'>): { host: string, port: number } | undefined {
  return settings.metricsPort === undefined ? undefined : { host: settings.httpHost, port: settings.metricsPort }
}

/**
 * What every service passes to the bus provisioning (`provisionBus` of @sisporta/nats): the
 * settings that must be equal across services come from here, one place, so no service
 * provisions with values of its own.
 *
 * @example
 * await provisionBus(nc, names, { ...busProvisioning(settings), log })
 */
export function busProvisioning (settings: Pick<Settings, 'maxDeliver' | 'ackWaitSec' | 'jetstreamReplicas' | 'dlqMaxAgeSec' | 'dlqMaxBytes'>): { maxDeliver: number, ackWaitMs: number, replicas: number, dlqMaxAgeSec: number, dlqMaxBytes: number } {
  return {
    maxDeliver: settings.maxDeliver,
    ackWaitMs: settings.ackWaitSec * 1000,
    replicas: settings.jetstreamReplicas,
    dlqMaxAgeSec: settings.dlqMaxAgeSec,
    dlqMaxBytes: settings.dlqMaxBytes
  }
}

/**
 * A setting that has no default here (the target and source URLs: no process should reach a
 * database as root by accident); throws `SIS_CFG_ENV` naming the variable when it is unset.
 *
 * @example
 * const db = createDb(requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL'))
 */
export function requireSetting (value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new ConfigError('SIS_CFG_ENV', `${name} is not set: give the URL of the database (e.g. mysql://sisporta:…@db:3306/app)`)
  return value
}

function optional (env: Env, name: string): string | undefined {
  const raw = env[name]
  return raw === undefined || raw === '' ? undefined : raw
}

function optionalUrl (env: Env, name: string): string | undefined {
  return optional(env, name) === undefined ? undefined : url(env, name, '')
}

const DURATION = /^([1-9][0-9]*)(s|m|h|d)?$/

/** Seconds, from `3600`, `90s`, `30m`, `12h` or `30d`. */
function duration (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const m = DURATION.exec(raw)
  const n = m === null ? NaN : Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd']
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('SIS_CFG_ENV', `${name}='${raw}' must be a duration (90s, 30m, 12h, 30d) between ${min} s and ${max} s`)
  }
  return n
}

/** Like {@link duration}, and `0` (or `off`) for "no limit", read as 0. */
function durationOrOff (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === '0' || raw === 'off') return 0
  try {
    return duration(env, name, fallback, min, max)
  } catch (err) {
    throw new ConfigError('SIS_CFG_ENV', `${(err as Error).message}, or 0 (off)`)
  }
}

const BYTES = /^([1-9][0-9]*)(B|KiB|MiB|GiB|TiB)?$/

/** Bytes, from `1073741824`, `512MiB` or `1GiB`; `0` (or `off`) for "no limit", read as 0. */
function bytesOrOff (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw === '0' || raw === 'off') return 0
  const m = BYTES.exec(raw)
  const n = m === null ? NaN : Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[(m[2] ?? 'B') as 'B']
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError('SIS_CFG_ENV', `${name}='${raw}' must be a size (bytes, or 512MiB, 1GiB) between ${min} and ${max} bytes, or 0 (off)`)
  }
  return n
}

/** An integer among a few allowed ones. */
function oneOf (env: Env, name: string, fallback: number, allowed: readonly number[]): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!allowed.includes(n)) throw new ConfigError('SIS_CFG_ENV', `${name}='${raw}' must be one of ${allowed.join(', ')}`)
  return n
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
