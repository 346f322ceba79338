import { Type, type Static } from '@sinclair/typebox'
import { LOAD_MODES } from './load.js'

/**
 * What a dead letter says about the batch it carries (as headers; the payload is the original
 * batch body).
 */
export const DeadLetterInfoSchema = Type.Object({
  stream: Type.String(),
  loadId: Type.Integer(),
  batch: Type.Integer(),
  mode: Type.Union(LOAD_MODES.map((m) => Type.Literal(m))),
  reason: Type.String(),
  deliveries: Type.Integer()
})
export type DeadLetterInfo = Static<typeof DeadLetterInfoSchema>
