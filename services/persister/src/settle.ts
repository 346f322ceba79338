import { headers as natsHeaders, type JetStreamClient, type JsMsg } from 'nats'
import { BatchHeaders, STREAM_NAME_PATTERN, type BusNames } from '@sisporta/contracts'
import { isTransientMysqlError } from '@sisporta/db'
import { isBusUnavailable } from '@sisporta/nats'
import type { Logger } from '@sisporta/observability'

/** Delays before a batch that failed transiently is redelivered, by delivery (1st, 2nd, …; the last repeats). */
export const NAK_DELAYS_MS: readonly number[] = Object.freeze([1000, 2000, 5000, 10_000, 30_000])

/** What to do with a message once its batch was applied, or failed. */
export type Settlement =
  | { readonly action: 'ack' }
  | { readonly action: 'nak', readonly delayMs: number }
  | { readonly action: 'dead-letter', readonly reason: string }

export type SettleOutcome = 'acked' | 'nakked' | 'dead-lettered'

/**
 * True when the failure may go away by itself (deadlock, lock wait, MySQL restarting or
 * unreachable; NATS not answering for a moment, such as the registry electing a leader after a
 * cluster node died; an error marked `transient`, such as a load the registry does not show yet),
 * looking through `cause` chains so that wrapped driver errors still count.
 */
export function isTransientError (err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isTransientMysqlError(e) || isBusUnavailable(e)) return true
    if ((e as { transient?: unknown }).transient === true) return true
  }
  return false
}

/**
 * The single decision over a batch's fate: success is acked; a transient failure is handed back
 * with a delay that grows with the deliveries; a permanent failure, or a batch delivered
 * `maxDeliver` times already, goes to the dead-letter stream.
 *
 * @example
 * decideSettlement({ errno: 1213, code: 'ER_LOCK_DEADLOCK' }, 1, 5) // { action: 'nak', delayMs: 1000 }
 * decideSettlement(new Error("Data too long for column 'name'"), 1, 5) // { action: 'dead-letter', reason: … }
 */
export function decideSettlement (err: unknown, deliveries: number, maxDeliver: number, delaysMs: readonly number[] = NAK_DELAYS_MS): Settlement {
  if (err === undefined) return { action: 'ack' }
  const message = reasonOf(err)
  if (!isTransientError(err)) return { action: 'dead-letter', reason: message }
  if (deliveries >= maxDeliver) return { action: 'dead-letter', reason: `gave up after ${deliveries} deliveries: ${message}` }
  const delayMs = delaysMs[Math.min(Math.max(deliveries, 1), delaysMs.length) - 1] ?? 1000
  return { action: 'nak', delayMs }
}

export interface SettleDeps {
  readonly js: JetStreamClient
  readonly names: BusNames
  /** Deliveries after which a batch is dead-lettered even if its failure was transient. */
  readonly maxDeliver: number
  readonly log?: Logger
  readonly delaysMs?: readonly number[]
}

/**
 * Settles a batch message after its apply attempt (`err` undefined on success), by
 * {@link decideSettlement}:
 *
 * - `ack`: waits for JetStream to confirm the ack (the batch is committed already; were the ack
 *   lost, the redelivery is recognised as a duplicate and acked again);
 * - `nak`: redelivery after the delay;
 * - `dead-letter`: publishes the original payload to the stream's dead-letter subject with the
 *   original headers plus `Sisporta-Reason` and `Sisporta-Deliveries`, waits for the PubAck, and
 *   only then terms the original — a batch is never dropped before its dead letter is stored.
 *   If the dead letter cannot be stored, the batch is nak'd and tried again later.
 *
 * Never throws: the message is always handed back one way or another.
 */
export async function settle (msg: JsMsg, err: unknown, deps: SettleDeps): Promise<SettleOutcome> {
  const deliveries = msg.info.redeliveryCount
  const decision = decideSettlement(err, deliveries, deps.maxDeliver, deps.delaysMs)
  switch (decision.action) {
    case 'ack':
      try {
        await msg.ackAck()
      } catch (ackErr) {
        deps.log?.warn({ err: ackErr }, 'ack not confirmed; a redelivery will be recognised as a duplicate')
      }
      return 'acked'
    case 'nak':
      msg.nak(decision.delayMs)
      return 'nakked'
    case 'dead-letter':
      try {
        await deadLetter(msg, decision.reason, deliveries, deps, letterOf(err))
      } catch (dlqErr) {
        const delays = deps.delaysMs ?? NAK_DELAYS_MS
        deps.log?.error({ err: dlqErr }, 'could not store the dead letter; handing the batch back')
        msg.nak(delays[delays.length - 1])
        return 'nakked'
      }
      // Only now: the dead letter is stored, the original may go.
      msg.term()
      return 'dead-lettered'
  }
}

/**
 * What a failure says the dead letter should hold instead of the message (a bisected batch's
 * refused rows: `RowsRefusedError.letter`), or undefined: the message as it came.
 */
function letterOf (err: unknown): { data: Uint8Array, headers: Readonly<Record<string, string>> } | undefined {
  const letter = (err as { letter?: { data?: unknown, headers?: unknown } } | undefined)?.letter
  return letter?.data instanceof Uint8Array && typeof letter.headers === 'object' && letter.headers !== null
    ? letter as { data: Uint8Array, headers: Readonly<Record<string, string>> }
    : undefined
}

async function deadLetter (msg: JsMsg, reason: string, deliveries: number, deps: SettleDeps, letter?: { data: Uint8Array, headers: Readonly<Record<string, string>> }): Promise<void> {
  const h = natsHeaders()
  let originalId = ''
  for (const [name, values] of msg.headers ?? []) {
    if (name.toLowerCase() === BatchHeaders.MsgId.toLowerCase()) {
      originalId = values[0] ?? ''
      continue
    }
    // A dead letter is not a replay: `dlq replay` of it sets its own sequence.
    if (name.toLowerCase() === BatchHeaders.Replay.toLowerCase()) continue
    if (letter !== undefined && Object.keys(letter.headers).some((k) => k.toLowerCase() === name.toLowerCase())) continue
    // Other Nats-* headers are instructions to the server for the original publish (the
    // gateway's Nats-Expected-Stream names the batch stream): repeated here, they would refuse
    // the dead letter.
    if (name.toLowerCase().startsWith('nats-')) continue
    for (const value of values) h.append(name, value)
  }
  for (const [name, value] of Object.entries(letter?.headers ?? {})) h.set(name, headerSafe(value, 4096))
  h.set(BatchHeaders.Reason, headerSafe(reason))
  h.set(BatchHeaders.Deliveries, String(deliveries))
  // De-duplicates a dead letter published again after a crash before term(), yet stays new
  // for the same batch replayed later (a replay is a new message with a new stream sequence).
  const msgID = `${originalId === '' ? msg.subject : originalId}@${msg.info.streamSequence}`
  await deps.js.publish(deps.names.dlqSubject(streamOf(msg)), letter?.data ?? msg.data, { headers: h, msgID })
}

/** The stream a message is about, for its dead-letter subject; `unknown` for garbage. */
function streamOf (msg: JsMsg): string {
  const fromHeader = msg.headers?.get(BatchHeaders.Stream) ?? ''
  if (STREAM_NAME_PATTERN.test(fromHeader)) return fromHeader
  const last = msg.subject.slice(msg.subject.lastIndexOf('.') + 1)
  return STREAM_NAME_PATTERN.test(last) ? last : 'unknown'
}

function reasonOf (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}

/** Header values are one line of limited length. */
function headerSafe (text: string, max = 1000): string {
  const line = text.replace(/[\r\n]+/g, ' ')
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
