import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { MAX_LOAD_ID } from './load.js'
import './formats.js'

/** Longest `by` (an operator's name) a control record keeps. */
export const MAX_CONTROL_BY = 200
/** Longest pause reason a control record keeps. */
export const MAX_PAUSE_REASON = 2000

/**
 * An operator's controls of one stream, kept in the load registry bucket under
 * `control.<stream>` (written by the operator's NATS identity only, by compare-and-set; the
 * gateway reads it). No record means: not paused, no sync requested.
 *
 * - `paused`: the gateway refuses to open new loads of the stream (409 `SIS_GW_STREAM_PAUSED`);
 *   a load already open finishes. `pausedBy` / `pausedAt` / `reason` say who, when and why;
 *   `resumedBy` / `resumedAt` who lifted the last pause.
 * - `syncRequestedAt` / `syncRequestedBy` / `syncAfterLoad`: "sync now". The request is pending
 *   until the stream has a load with an id above `syncAfterLoad` (the registry's load id
 *   sequence when it was asked): ids come from one sequence, so no clock is compared.
 * - `verifyRequestedAt` / `verifyRequestedBy`: "verify now" (`sisporta streams verify NAME`).
 *   Pending until the stream's verify report (`verify.<stream>`, written by the gateway) has
 *   `requestedAt` equal to `verifyRequestedAt`: a string compared, never a clock.
 */
export const StreamControlSchema = Type.Object({
  stream: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
  paused: Type.Boolean(),
  pausedBy: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CONTROL_BY })),
  pausedAt: Type.Optional(Type.String({ format: 'date-time' })),
  reason: Type.Optional(Type.String({ maxLength: MAX_PAUSE_REASON })),
  resumedBy: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CONTROL_BY })),
  resumedAt: Type.Optional(Type.String({ format: 'date-time' })),
  syncRequestedAt: Type.Optional(Type.String({ format: 'date-time' })),
  syncRequestedBy: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CONTROL_BY })),
  syncAfterLoad: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LOAD_ID })),
  verifyRequestedAt: Type.Optional(Type.String({ format: 'date-time' })),
  verifyRequestedBy: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CONTROL_BY }))
}, { additionalProperties: false })

export type StreamControl = Static<typeof StreamControlSchema>

const controlCheck = TypeCompiler.Compile(StreamControlSchema)
const SYNC_FIELDS = ['syncRequestedAt', 'syncRequestedBy', 'syncAfterLoad'] as const
const VERIFY_FIELDS = ['verifyRequestedAt', 'verifyRequestedBy'] as const

/**
 * Why `value` is not a well-formed control record (the first problem, with its path), or
 * `undefined` when it is one. Beyond the schema: a paused record says who paused it and when,
 * and a sync request has all three of its fields or none.
 *
 * @example
 * streamControlProblem({ stream: 'products', paused: 'yes' }) // '/paused: Expected boolean'
 */
export function streamControlProblem (value: unknown): string | undefined {
  if (!controlCheck.Check(value)) {
    const first = controlCheck.Errors(value).First()
    return first === undefined ? 'invalid' : `${first.path === '' ? '(record)' : first.path}: ${first.message}`
  }
  const control = value as StreamControl
  if (control.paused && (control.pausedBy === undefined || control.pausedAt === undefined)) return 'a paused record must say pausedBy and pausedAt'
  const sync = SYNC_FIELDS.filter((f) => control[f] !== undefined).length
  if (sync !== 0 && sync !== SYNC_FIELDS.length) return `a sync request needs all of ${SYNC_FIELDS.join(', ')}`
  const verify = VERIFY_FIELDS.filter((f) => control[f] !== undefined).length
  if (verify !== 0 && verify !== VERIFY_FIELDS.length) return `a verify request needs all of ${VERIFY_FIELDS.join(', ')}`
  return undefined
}
