import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MAX_CONTROL_BY } from './stream-control.js'
import './formats.js'

/** Keys of each kind a verify report may name (the extractor sends 10). */
export const MAX_REPORTED_KEYS = 100

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** A key as wire values; a key never has more than a few columns. */
const Key = Type.Array(Type.Unknown(), { minItems: 1, maxItems: 32 })
const Keys = Type.Array(Key, { maxItems: MAX_REPORTED_KEYS })

/**
 * `POST /v1/streams/:stream/verify-reports` — what the extractor daemon found serving an
 * operator's verify request (`sisporta streams verify NAME`, the console's button): the
 * `VerifyReport` of `sisporta verify` (services/extractor/src/verify-stream.ts) and the request
 * it answers (`requestedAt` / `requestedBy`, as listed by `GET /v1/sync-requests`).
 */
export const VerifyReportBodySchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  sourceRows: Count,
  targetRows: Count,
  ranges: Count,
  missing: Count,
  extra: Count,
  different: Count,
  reordered: Count,
  approximate: Type.Boolean(),
  firstKeys: Type.Object({ missing: Keys, extra: Keys, different: Keys }, { additionalProperties: false }),
  seconds: Type.Number({ minimum: 0 }),
  requestedAt: Type.String({ format: 'date-time' }),
  requestedBy: Type.String({ minLength: 1, maxLength: MAX_CONTROL_BY })
}, { additionalProperties: false })

/**
 * The latest verify report of a stream, kept in the load registry bucket under
 * `verify.<stream>` (the gateway writes it; the console and `sisporta streams list` read it):
 * the body as posted, plus when the gateway took it and the posting token's subject.
 */
export const VerifyReportRecordSchema = Type.Object({
  ...VerifyReportBodySchema.properties,
  reportedAt: Type.String({ format: 'date-time' }),
  reportedBy: Type.String({ minLength: 1, maxLength: 200 })
}, { additionalProperties: false })

export type VerifyReportBody = Static<typeof VerifyReportBodySchema>
export type VerifyReportRecord = Static<typeof VerifyReportRecordSchema>

const recordCheck = TypeCompiler.Compile(VerifyReportRecordSchema)

/** Why `value` is not a verify report record (the first problem, with its path), or `undefined`. */
export function verifyReportProblem (value: unknown): string | undefined {
  if (recordCheck.Check(value)) return undefined
  const first = recordCheck.Errors(value).First()
  return first === undefined ? 'invalid' : `${first.path === '' ? '(record)' : first.path}: ${first.message}`
}

/** Whether the report found the target identical to the source. */
export function reportIsIdentical (report: Pick<VerifyReportBody, 'missing' | 'extra' | 'different'>): boolean {
  return report.missing === 0 && report.extra === 0 && report.different === 0
}
