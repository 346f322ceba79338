import type { Kysely } from 'kysely'
import type { Settings } from '@sisporta/config'
import type { LoadRecord, SisportaConfig } from '@sisporta/contracts'
import type { SisportaDatabase } from '@sisporta/db'
import type { LoadRegistry } from '@sisporta/nats'
import type { Logger } from '@sisporta/observability'
import type { LoadClock } from './load-clock.js'
import type { ReconcilerMetrics } from './metrics.js'

/** The settings the reconciler reads (seconds may be fractional in tests). */
export type ReconcileSettings = Pick<Settings, 'openTimeoutSec' | 'applyTimeoutSec' | 'deleteChunk'>

/** What the per-load functions need. Plain objects: tests build them by hand. */
export interface ReconcileDeps {
  readonly registry: LoadRegistry
  readonly db: Kysely<SisportaDatabase>
  readonly config: SisportaConfig
  readonly settings: ReconcileSettings
  readonly log: Logger
  readonly metrics?: ReconcilerMetrics
  /**
   * The newest full load of the same stream, newer than `load`, that reached `applied` or
   * beyond (applied, held, approved, reconciled): it makes `load` superseded. Default: asks the
   * registry; the worker answers from its watch instead, which is cheap enough to ask before
   * every delete chunk.
   */
  readonly findSupersedingLoad?: (load: LoadRecord) => Promise<LoadRecord | undefined> | LoadRecord | undefined
  /**
   * The newest reconciled full load of a stream: a parent load whose delete a foreign key
   * refused waits until its child streams have one newer than itself (referenced-rows.ts).
   * Default: asks the registry; the worker answers from its watch.
   */
  readonly findReconciledLoad?: (stream: string) => Promise<LoadRecord | undefined> | LoadRecord | undefined
  /** Stops deleting between chunks (service shutdown); the load stays as it is, to be resumed. */
  readonly signal?: AbortSignal
  /**
   * Wall clock (ms since the epoch), only for the times written on loads (`appliedAt`, …) that
   * people read; timeouts are never measured on it (see `clock`).
   */
  readonly now?: () => number
  /**
   * The monotonic clock the open and apply timeouts are measured on (see `LoadClock` for why).
   * Default: one per registry, kept by this process.
   */
  readonly clock?: LoadClock
}
