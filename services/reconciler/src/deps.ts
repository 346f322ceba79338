import type { Kysely } from 'kysely'
import type { Settings } from '@sisporta/config'
import type { LoadRecord, SisportaConfig } from '@sisporta/contracts'
import type { SisportaDatabase } from '@sisporta/db'
import type { LoadRegistry } from '@sisporta/nats'
import type { Logger } from '@sisporta/observability'
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
  /** Stops deleting between chunks (service shutdown); the load stays as it is, to be resumed. */
  readonly signal?: AbortSignal
  /** Clock (ms since the epoch). */
  readonly now?: () => number
}
