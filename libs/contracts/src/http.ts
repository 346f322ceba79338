import { Type, type Static } from '@sinclair/typebox'
import { LOAD_MODES, LoadRecordSchema } from './load.js'

/** Route prefix of the ingestion API. */
export const API_PREFIX = '/v1'

export const StreamParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' })
})
export const LoadParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  loadId: Type.Integer({ minimum: 1 })
})
export const BatchParamsSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  loadId: Type.Integer({ minimum: 1 }),
  batch: Type.Integer({ minimum: 0, maximum: 2147483647 })
})

/** `POST /v1/streams/:stream/loads` */
export const OpenLoadBodySchema = Type.Object({
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m)))
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
  batches: Type.Integer({ minimum: 0 }),
  /** Total rows over all batches. */
  rows: Type.Integer({ minimum: 0 })
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

/** Every error the gateway answers with. */
export const ErrorReplySchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

export type OpenLoadBody = Static<typeof OpenLoadBodySchema>
export type BatchBody = Static<typeof BatchBodySchema>
export type SealBody = Static<typeof SealBodySchema>
export type BatchReply = Static<typeof BatchReplySchema>
export type LoadReply = Static<typeof LoadReplySchema>
export type ErrorReply = Static<typeof ErrorReplySchema>

/** Claims of an extractor's JWT: which streams it may load. `*` means every stream. */
export const TokenClaimsSchema = Type.Object({
  sub: Type.String({ minLength: 1 }),
  streams: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })
})
export type TokenClaims = Static<typeof TokenClaimsSchema>
