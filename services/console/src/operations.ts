import type { LoadRecord, VerifyReportRecord } from '@sisporta/contracts'
import type { DeadLetterSummary } from '@sisporta/nats'

/** One dead letter as the console lists it: its headers, as `@sisporta/nats` reads them. */
export type { DeadLetterSummary }

/** A dead letter with its batch: the columns and the (offending) rows; none when not read. */
export interface DeadLetterDetail extends DeadLetterSummary {
  readonly columns: readonly string[]
  readonly rowValues: ReadonlyArray<readonly unknown[]>
}

/** What an action did, in a sentence for the operator. */
export interface ActionResult {
  readonly message: string
}

/**
 * Everything the console does to the system, in one small interface: the pages and routes only
 * know this, and `bus-operations.ts` wires it to the registry, the stream controls and the
 * dead-letter stream. `by` is the admin token's subject.
 */
export interface ConsoleActions {
  pause(stream: string, by: string, reason?: string): Promise<ActionResult>
  resume(stream: string, by: string): Promise<ActionResult>
  requestSync(stream: string, by: string): Promise<ActionResult>
  /** Asks the extractor daemon to verify the stream (`sisporta streams verify`). */
  requestVerify(stream: string, by: string): Promise<ActionResult>
  approve(loadId: number, by: string): Promise<ActionResult>
  discard(loadId: number, by: string): Promise<ActionResult>
  replayLetter(seq: number, by: string): Promise<ActionResult>
  dropLetter(seq: number, by: string): Promise<ActionResult>
  /** Every dead letter (of one stream, when given). */
  replayAll(stream: string | undefined, by: string): Promise<ActionResult>
}

/** The consumer's backlog as JetStream reports it (`nats consumer info`). */
export interface ConsumerLag {
  readonly pending: number
  readonly ackPending: number
  readonly redelivered: number
  readonly waiting: number
}

/** A stream's controls, as far as the console shows them. */
export interface StreamControlView {
  readonly paused: boolean
  readonly pausedBy?: string | undefined
  readonly pausedAt?: string | undefined
  readonly reason?: string | undefined
  readonly malformed?: string | undefined
  readonly syncRequestedAt?: string | undefined
  readonly syncRequestedBy?: string | undefined
  /** A sync request not yet served (no load opened since). */
  readonly syncPending: boolean
  readonly verifyRequestedAt?: string | undefined
  readonly verifyRequestedBy?: string | undefined
  /** A verify request not yet answered by a report. */
  readonly verifyPending?: boolean | undefined
  /** The stream's latest verify report (`verify.<stream>`), if any. */
  readonly lastVerify?: VerifyReportRecord | undefined
}

/** What the console reads; each call is one look at the bus (no caching). */
export interface ConsoleReads {
  loads(): Promise<LoadRecord[]>
  consumer(): Promise<ConsumerLag>
  /** Per stream: batches on the work queue not yet acked by a persister. */
  queuedBatches(): Promise<Map<string, number>>
  /** Per stream: dead letters kept. */
  deadLetterCounts(): Promise<Map<string, number>>
  controls(streams: readonly string[]): Promise<Map<string, StreamControlView>>
  /**
   * Dead letters (of one stream, when given), oldest first, at most `MAX_LISTED_LETTERS`; the
   * first `MAX_LETTERS_WITH_ROWS` with their rows, the others with their headers only.
   */
  deadLetters(stream?: string): Promise<DeadLetterDetail[]>
  deadLetter(seq: number): Promise<DeadLetterDetail | undefined>
  /** Rows applied per stream so far (the persisters' ledger), when MySQL is configured. */
  appliedRows?(): Promise<Map<string, number>>
}
