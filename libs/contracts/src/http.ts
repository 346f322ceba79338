import { Type, type Static } from '@sinclair/typebox'
import { LOAD_MODES, RELOAD_KINDS, LoadRecordSchema, MAX_LOAD_BATCHES, MAX_LOAD_ID, MAX_LOAD_ROWS, MAX_LOAD_VALUES } from './load.js'

/** Route prefix of the ingestion API. */
export const API_PREFIX = '/v1'

export const StreamParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' })
})
export const LoadParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  loadId: Type.Integer({ minimum: 1, maximum: MAX_LOAD_ID })
})
export const BatchParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  loadId: Type.Integer({ minimum: 1, maximum: MAX_LOAD_ID }),
  batch: Type.Integer({ minimum: 0, maximum: MAX_LOAD_BATCHES - 1 })
})

/** `POST /v1/streams/:stream/loads` */
export const OpenLoadBodySchema = Type.Object({
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  /**
   * A full load the extractor would like diffed (docs/reloads.md). The gateway opens it diffed
   * only when the stream has a reconciled full load and no other load that may still write
   * (open, sealed, applied, held, approved); otherwise as `rows`. The load record says which.
   */
  reload: Type.Optional(Type.Union(RELOAD_KINDS.map((k) => Type.Literal(k))))
}, { additionalProperties: false })

/**
 * `POST /v1/streams/:stream/loads/:loadId/batches/:batch` — also the payload of the batch
 * message on the bus, byte for byte. Rows are arrays in the order of `columns` (target column
 * names); each value is in the canonical wire format of its column's type.
 */
export const BatchBodySchema = Type.Object({
  columns: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1024 }),
  rows: Type.Array(Type.Array(Type.Unknown()), { minItems: 1 })
}, { additionalProperties: false })

/** `POST /v1/streams/:stream/loads/:loadId/seal` */
export const SealBodySchema = Type.Object({
  /** Number of batches posted: they are numbered 0..batches-1. */
  batches: Type.Integer({ minimum: 0, maximum: MAX_LOAD_BATCHES }),
  /** Total rows over all batches (each batch holds at least one). */
  rows: Type.Integer({ minimum: 0, maximum: MAX_LOAD_ROWS }),
  /**
   * Datetime values the source cut to the microsecond, as their column's `fraction: truncate`
   * asks (SQL Server datetime2(7) / datetimeoffset(7)); absent means none. Kept in the load record.
   */
  truncatedFractions: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOAD_VALUES })),
  /** A diffed load: source rows and key ranges compared, and ranges found equal. */
  comparedRows: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOAD_ROWS })),
  comparedRanges: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOAD_ROWS })),
  equalRanges: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOAD_ROWS }))
}, { additionalProperties: false })

/** Most source rows one comparison may hash (its request stays far under NATS's max_payload). */
export const MAX_COMPARE_ROWS = 50_000
/** Most target keys a comparison reply names (counts are always exact). */
export const MAX_COMPARE_KEYS = 1000

/**
 * `POST /v1/streams/:stream/loads/:loadId/compare` (a diffed load) and
 * `POST /v1/streams/:stream/compare` (`sisporta verify`: compares only, changes nothing).
 * One key range of the source, `lo` < key ≤ `hi` in key order (`null`: unbounded), and the
 * row hashes of its rows in key order: {@link ROW_HASH_BYTES} bytes each, base64.
 */
export const CompareBodySchema = Type.Object({
  lo: Type.Union([Type.Null(), Type.Array(Type.Unknown(), { minItems: 1, maxItems: 16 })]),
  hi: Type.Union([Type.Null(), Type.Array(Type.Unknown(), { minItems: 1, maxItems: 16 })]),
  hashes: Type.String({ maxLength: Math.ceil(MAX_COMPARE_ROWS * 8 / 3) * 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' })
}, { additionalProperties: false })

/**
 * The comparison of one range: which source rows (their positions in the request) the target
 * does not hold as they are, and the target's rows of the range that no source row matched
 * (changed, or absent from the source). In a diffed load those target rows are marked with the
 * negative load id (`_sisporta_load = −id`): rows the load then sends carry its id again, and
 * the rows still marked when the load is applied are its deletes.
 */
export const CompareReplySchema = Type.Object({
  /** Positions (0-based, ascending) of the source rows to send. */
  send: Type.Array(Type.Integer({ minimum: 0 })),
  /** Live target rows in the range. */
  targetRows: Type.Integer({ minimum: 0 }),
  /** Target rows in the range that no source row matched. */
  unmatched: Type.Integer({ minimum: 0 }),
  /** Keys of the first {@link MAX_COMPARE_KEYS} unmatched target rows, as wire values. */
  unmatchedKeys: Type.Array(Type.Array(Type.Unknown())),
  /** Target rows marked with the load (0 for `verify`). */
  marked: Type.Integer({ minimum: 0 })
}, { additionalProperties: false })

/** Longest reason an abandon may state (a longer one is cut by the extractor before sending). */
export const MAX_ABANDON_REASON = 2000

/**
 * `POST /v1/streams/:stream/loads/:loadId/abandon` — the extractor gives up its own open load at
 * once (a source value it cannot convert, a batch the gateway refused, a crash, SIGTERM) instead
 * of leaving it open until SISPORTA_OPEN_TIMEOUT. Answered `200 { load }`; repeating it is harmless.
 */
export const AbandonLoadBodySchema = Type.Object({
  /** Why, for the load record and the operator: the extractor's error, with its code. */
  reason: Type.String({ minLength: 1, maxLength: MAX_ABANDON_REASON })
}, { additionalProperties: false })

export const BatchReplySchema = Type.Object({
  stream: Type.String(),
  loadId: Type.Integer(),
  batch: Type.Integer(),
  rows: Type.Integer(),
  /** True when JetStream had this batch already (a retry): nothing new was published. */
  duplicate: Type.Boolean()
})

export const LoadReplySchema = Type.Object({ load: LoadRecordSchema })

/** What `GET /v1/streams/:stream` tells of one load: enough to schedule by, not the whole record. */
export const LoadSummarySchema = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: MAX_LOAD_ID }),
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  state: LoadRecordSchema.properties.state,
  openedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { additionalProperties: false })

/** One summary per load mode (a mode the stream never had a load of is absent). */
const LoadsByModeSchema = Type.Object({
  full: Type.Optional(LoadSummarySchema),
  incremental: Type.Optional(LoadSummarySchema)
}, { additionalProperties: false })

/**
 * `GET /v1/streams/:stream` — the stream's newest load of each mode, whatever its state
 * (`lastLoad`), and its newest successful one (`lastSuccess`: reconciled, or an applied
 * incremental load). The extractor daemon reads it at start to catch up a missed scheduled run.
 */
export const StreamStatusReplySchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  lastLoad: LoadsByModeSchema,
  lastSuccess: LoadsByModeSchema
}, { additionalProperties: false })
export type LoadSummary = Static<typeof LoadSummarySchema>
export type StreamStatusReply = Static<typeof StreamStatusReplySchema>

/**
 * One pending request of an operator, for the extractor daemon to serve: `kind` 'load' ("sync
 * now": open a full load) or 'verify' (`sisporta streams verify`: run the comparison of `sisporta
 * verify` and post its report). No `kind` means 'load' (gateways before verify requests).
 */
export const SyncRequestSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  kind: Type.Optional(Type.Union([Type.Literal('load'), Type.Literal('verify')])),
  requestedAt: Type.String({ format: 'date-time' }),
  requestedBy: Type.String()
}, { additionalProperties: false })

/**
 * `GET /v1/sync-requests` — the streams of the token's scope with a pending "sync now" request
 * (`sisporta streams sync NAME`) that are not paused: the extractor daemon opens a load of each.
 * A request is served (no longer listed) once the stream has a load opened after it.
 */
export const SyncRequestsReplySchema = Type.Object({ requests: Type.Array(SyncRequestSchema) })
/**
 * The query of `GET /v1/sync-requests`: verify requests are listed only to a client that asks
 * for them with `?include=verify` — an extractor older than verify requests would take every
 * listed request for a load.
 */
export const SyncRequestsQuerySchema = Type.Object({ include: Type.Optional(Type.Literal('verify')) })
export type SyncRequest = Static<typeof SyncRequestSchema>
export type SyncRequestsReply = Static<typeof SyncRequestsReplySchema>

/** Every error the gateway answers with. */
export const ErrorReplySchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

export type OpenLoadBody = Static<typeof OpenLoadBodySchema>
export type CompareBody = Static<typeof CompareBodySchema>
export type CompareReply = Static<typeof CompareReplySchema>
export type BatchBody = Static<typeof BatchBodySchema>
export type SealBody = Static<typeof SealBodySchema>
export type AbandonLoadBody = Static<typeof AbandonLoadBodySchema>
export type BatchReply = Static<typeof BatchReplySchema>
export type LoadReply = Static<typeof LoadReplySchema>
export type ErrorReply = Static<typeof ErrorReplySchema>

/** The RFC 7519 claims every sisporta token carries (`exp`, `iat` required), fresh schemas each call. */
function registeredClaims () {
  return {
    exp: Type.Number(),
    iat: Type.Number(),
    nbf: Type.Optional(Type.Number()),
    iss: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    jti: Type.Optional(Type.String())
  }
}

/**
 * Claims of an extractor's JWT: which streams it may load (`*` means every stream), and the
 * registered claims RFC 8725 asks for: `exp` and `iat` always (seconds since 1970), `iss`,
 * `aud` and `jti` as `sisporta token issue` writes them.
 */
export const TokenClaimsSchema = Type.Object({
  sub: Type.String({ minLength: 1 }),
  streams: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  ...registeredClaims()
})
export type TokenClaims = Static<typeof TokenClaimsSchema>

/** The scope (OAuth-style, space-separated `scope` claim) that opens the operator console. */
export const ADMIN_SCOPE = 'sisporta:admin'

/**
 * Claims of a token the console verifies: like an extractor's, with `scope` instead of a
 * required `streams` (`sisporta token issue --admin`). Whether `scope` names
 * {@link ADMIN_SCOPE} is checked by the console, so that a stream token is refused with its own
 * reason. A token without `streams` is never accepted by the gateway's ingestion routes.
 */
export const AdminClaimsSchema = Type.Object({
  sub: Type.String({ minLength: 1 }),
  scope: Type.Optional(Type.String({ maxLength: 1000 })),
  streams: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  ...registeredClaims()
})
export type AdminClaims = Static<typeof AdminClaimsSchema>

/** Shortest HMAC secret the gateway and `token issue` accept (RFC 7518 §3.2: the hash's size). */
export const MIN_HMAC_SECRET_BYTES = 32
/** Longest token lifetime (`exp − iat`) unless `SISPORTA_JWT_MAX_TTL` says otherwise: 30 days. */
export const DEFAULT_TOKEN_MAX_TTL_SEC = 30 * 86400
/** `iss` and `aud` that `token issue` writes when `SISPORTA_JWT_ISSUER` / `_AUDIENCE` are unset. */
export const DEFAULT_TOKEN_ISSUER = 'sisporta'
export const DEFAULT_TOKEN_AUDIENCE = 'sisporta-gateway'
