import type { Kysely } from 'kysely'
import type { KV, NatsConnection } from 'nats'
import { isFinalLoad, type BusNames, type LoadRecord } from '@sisporta/contracts'
import { BOOKKEEPING, MysqlErrno, type SisportaDatabase } from '@sisporta/db'
import { isPermissionDenied, loadKey, openKey, type LoadRegistry } from '@sisporta/nats'
import type { Logger, Worker } from '@sisporta/observability'
import { ReconcilerErrorCode } from './errors.js'
import { readDeadLetter } from './fail-dead-lettered-load.js'

/** How much load history to keep (SISPORTA_LOAD_RETENTION, SISPORTA_LOAD_RETENTION_KEEP). */
export interface RetentionPolicy {
  /** A final load older than this (seconds since it ended) is removed; 0 keeps every load. */
  readonly maxAgeSec: number
  /** The newest loads of each stream kept whatever their age (at least 1). */
  readonly keep: number
}

/**
 * The loads of one stream that retention removes: final (nothing will ever happen to them
 * again), ended more than `maxAgeSec` ago, not among the stream's `keep` newest, not the newest
 * load of its mode (the extractor's schedule starts from it), and neither the stream's newest
 * reconciled full load nor its newest applied incremental load (its last success, which
 * `status`, the freshness metrics and the reconciler's supersede and foreign-key checks look
 * for). A load that is not final is never chosen, whatever its age; nor one in `pinned` (the
 * loads that still have dead letters: a letter can be replayed into its failed load).
 *
 * @example
 * loadsToPrune(await registry.list({ stream: 'products' }), { maxAgeSec: 30 * 86400, keep: 20 }, Date.now())
 */
export function loadsToPrune (loads: readonly LoadRecord[], policy: RetentionPolicy, now: number, pinned: ReadonlySet<number> = new Set()): LoadRecord[] {
  if (policy.maxAgeSec <= 0) return []
  const newestFirst = [...loads].sort((a, b) => b.id - a.id)
  const protectedIds = new Set([...pinned, ...newestFirst.slice(0, Math.max(1, policy.keep)).map((l) => l.id)])
  for (const keepIt of [
    newestFirst.find((l) => l.mode === 'full' && l.state === 'reconciled'),
    newestFirst.find((l) => l.mode === 'incremental' && l.state === 'applied'),
    // the extractor's schedule starts from the newest load of each mode (GET /v1/streams/:stream)
    newestFirst.find((l) => l.mode === 'full'),
    newestFirst.find((l) => l.mode === 'incremental')
  ]) if (keepIt !== undefined) protectedIds.add(keepIt.id)
  const cutoff = now - policy.maxAgeSec * 1000
  return newestFirst.filter((load) => {
    if (protectedIds.has(load.id) || !isFinalLoad(load)) return false
    // a final record is never changed again: its last change is when it ended
    const ended = Date.parse(load.updatedAt)
    return Number.isFinite(ended) && ended < cutoff
  }).reverse()
}

export interface RetentionDeps {
  readonly nc: NatsConnection
  readonly names: BusNames
  readonly registry: LoadRegistry
  readonly db: Kysely<SisportaDatabase>
  readonly policy: RetentionPolicy
  readonly log: Logger
  /** Wall clock (ms); tests move it forward instead of waiting a month. */
  readonly now?: () => number
  /** Stops the pass between two loads (service shutdown); the next pass goes on from there. */
  readonly signal?: AbortSignal
}

export interface RetentionReport {
  /** Loads removed from the registry, by stream. */
  readonly loads: Record<string, number[]>
  /** Batch ledger rows deleted. */
  readonly ledgerRows: number
  /** Open records left in place because this NATS identity may not remove them. */
  readonly openRecordsKept: number
  /** Open records removed whose load record an earlier pass had removed (see {@link removeOrphanOpenRecords}). */
  readonly orphanOpenRecords: number
}

/** An open record without its load record is left alone this long: a gateway writes the open record first. */
export const ORPHAN_OPEN_RECORD_AGE_MS = 86_400_000

/** Ledger rows deleted per statement, and load ids per statement: short transactions. */
const LEDGER_CHUNK = 5000
const IDS_PER_STATEMENT = 500

/**
 * One retention pass: for every stream, the loads {@link loadsToPrune} picks (loads that still
 * have dead letters are pinned, see {@link deadLetteredLoads}) lose their batch ledger rows
 * (every bookkeeping table), then their load record, then their open record — in that
 * order, so that a pass interrupted anywhere leaves only states every reader already handles:
 * a final load without ledger rows (a late redelivery of one of its batches is refused by the
 * persister's admission check instead of acknowledged as a duplicate; nothing is written either
 * way), or an open record without its load record (what a gateway crash between its two writes
 * leaves, read by nobody). A load record without its open record — which every reader refuses
 * as untrusted — never occurs. The sequence (`seq`) and the `newest.<stream>` keys are never
 * touched, so load ids are never handed out twice.
 *
 * With per-service NATS permissions (deploy/nats) the reconciler may not write open records
 * (only the gateway may: they are the proof of an authenticated open); their removal is then
 * refused, counted in `openRecordsKept`, and the rest goes on.
 *
 * @example
 * const report = await sweepRetention({ nc, names, registry, db, policy: { maxAgeSec: 30 * 86400, keep: 20 }, log })
 */
export async function sweepRetention (deps: RetentionDeps): Promise<RetentionReport> {
  const report = { loads: {} as Record<string, number[]>, ledgerRows: 0, openRecordsKept: 0, orphanOpenRecords: 0 }
  if (deps.policy.maxAgeSec <= 0) return report
  const kv = await deps.nc.jetstream().views.kv(deps.names.loadsBucket, { bindOnly: true })
  const now = (deps.now ?? Date.now)()
  let mayRemoveOpen = true
  const stopped = (): boolean => deps.signal?.aborted === true
  // a load with dead letters stays while they do (`dlq replay` applies a letter into its failed
  // load); the dead letters are read first, so a letter published meanwhile finds its load
  const pinned = await deadLetteredLoads(deps.nc, deps.names)
  // every stream with loads in the registry, also one no longer in the config
  const byStream = new Map<string, LoadRecord[]>()
  for (const load of await deps.registry.list()) {
    const loads = byStream.get(load.stream) ?? []
    loads.push(load)
    byStream.set(load.stream, loads)
  }
  for (const [stream, loads] of byStream) {
    const prune = loadsToPrune(loads, deps.policy, now, pinned.get(stream))
    const removed: number[] = []
    // a few hundred loads at a time: their ledger rows, then their records
    for (let i = 0; i < prune.length && !stopped(); i += IDS_PER_STATEMENT) {
      const chunk = prune.slice(i, i + IDS_PER_STATEMENT)
      report.ledgerRows += await deleteLedgerRows(deps.db, stream, chunk.map((l) => l.id))
      for (const load of chunk) {
        if (stopped() || !await removeLoadRecord(kv, deps.registry, load)) continue
        removed.push(load.id)
        if (!mayRemoveOpen) {
          report.openRecordsKept++
          continue
        }
        try {
          await kv.delete(openKey(stream, load.id))
        } catch (err) {
          if (!isPermissionDenied(err)) throw err
          mayRemoveOpen = false
          report.openRecordsKept++
        }
      }
    }
    if (removed.length > 0) report.loads[stream] = removed
  }
  // what passes under an identity that could not remove open records left behind
  if (mayRemoveOpen && !stopped()) report.orphanOpenRecords = await removeOrphanOpenRecords(kv, now, deps.signal)
  return report
}

/**
 * Removes the open records whose load record is gone — left by retention passes run under an
 * identity that may not write open records (the reconciler's, with deploy/nats) — once they are
 * older than {@link ORPHAN_OPEN_RECORD_AGE_MS}: a gateway writes a load's open record just before
 * its load record, so a young orphan may be a load being opened right now. Compare-and-set on
 * the revision read. An identity that may not remove them (permission denied) removes none.
 *
 * @returns how many were removed.
 */
export async function removeOrphanOpenRecords (kv: KV, now: number, signal?: AbortSignal): Promise<number> {
  const keys: string[] = []
  for await (const key of await kv.keys('open.>')) keys.push(key)
  let removed = 0
  for (const key of keys) {
    if (signal?.aborted === true) break
    const [, stream = '', id = ''] = key.split('.')
    const load = await kv.get(loadKey(stream, Number(id)))
    if (load !== null && load.operation === 'PUT') continue
    const opened = await kv.get(key)
    if (opened === null || opened.operation !== 'PUT') continue
    let openedAt = Number.NaN
    try {
      openedAt = Date.parse((JSON.parse(new TextDecoder().decode(opened.value)) as { openedAt?: string }).openedAt ?? '')
    } catch {}
    // unreadable, or young: left alone
    if (!Number.isFinite(openedAt) || now - openedAt <= ORPHAN_OPEN_RECORD_AGE_MS) continue
    try {
      await kv.delete(key, { previousSeq: opened.revision })
      removed++
    } catch (err) {
      if (isPermissionDenied(err)) return removed
      if (/wrong last sequence/i.test((err as Error).message ?? '')) continue
      throw err
    }
  }
  return removed
}

/**
 * The loads that have dead letters now, by stream: read from the dead-letter stream's headers
 * through an ordered consumer. A letter without readable headers pins nothing (nobody can
 * replay it into a load either). Fails when the stream cannot be read: then nothing is pruned.
 *
 * @example
 * await deadLetteredLoads(nc, names) // Map { 'products' => Set { 42 } }
 */
export async function deadLetteredLoads (nc: NatsConnection, names: BusNames): Promise<Map<string, Set<number>>> {
  const pinned = new Map<string, Set<number>>()
  const info = await (await nc.jetstreamManager()).streams.info(names.dlqStream)
  if (info.state.messages === 0) return pinned
  const last = info.state.last_seq
  const consumer = await nc.jetstream().consumers.get(names.dlqStream, { headers_only: true })
  for (let done = false; !done;) {
    let got = 0
    for await (const msg of await consumer.fetch({ max_messages: 500, expires: 2000 })) {
      got++
      const letter = readDeadLetter(msg.info.streamSequence, msg.headers)
      if (letter !== undefined) pinned.set(letter.stream, (pinned.get(letter.stream) ?? new Set()).add(letter.loadId))
      if (msg.info.streamSequence >= last || msg.info.pending === 0) {
        done = true
        break
      }
    }
    if (got === 0) done = true
  }
  return pinned
}

/** Deletes the ledger rows of these loads of one stream, a chunk at a time; returns how many. */
async function deleteLedgerRows (db: Kysely<SisportaDatabase>, stream: string, ids: readonly number[]): Promise<number> {
  let deleted = 0
  // every bookkeeping table is keyed by stream and load: batches, and the parts of bisected or replayed ones
  for (const table of Object.values(BOOKKEEPING) as Array<keyof SisportaDatabase>) {
    for (;;) {
      let n: number
      try {
        const result = await db.deleteFrom(table as 'sisporta_batches')
          .where('stream', '=', stream).where('load_id', 'in', ids)
          .limit(LEDGER_CHUNK)
          .executeTakeFirst()
        n = Number(result.numDeletedRows)
      } catch (err) {
        // a table a newer sisporta added and `migrate` has not created yet: nothing to delete there
        if ((err as { errno?: number }).errno === MysqlErrno.NoSuchTable) break
        throw err
      }
      deleted += n
      if (n < LEDGER_CHUNK) break
    }
  }
  return deleted
}

/**
 * Removes a load record by compare-and-set on the revision just checked: a record that changed
 * meanwhile (it cannot, once final — but a forged write could) is left for the next pass.
 */
async function removeLoadRecord (kv: KV, registry: LoadRegistry, load: LoadRecord): Promise<boolean> {
  const entry = await registry.get(load.stream, load.id).catch(() => undefined)
  if (entry === undefined || !isFinalLoad(entry.load)) return false
  try {
    await kv.delete(loadKey(load.stream, load.id), { previousSeq: entry.revision })
    return true
  } catch (err) {
    if (/wrong last sequence/i.test((err as Error).message ?? '')) return false
    throw err
  }
}

export interface RetentionWorkerDeps extends RetentionDeps {
  /** Time between two passes (ms); the first runs a minute after start (or one interval, if shorter). */
  readonly intervalMs: number
}

/**
 * The reconciler's retention pass on an interval ({@link sweepRetention}). A failed pass is
 * logged (`SIS_RECON_RETENTION`) and simply runs again at the next interval; it never stops the
 * reconciler.
 *
 * @example
 * const retention = createRetentionWorker({ ...deps, intervalMs: 3600_000 })
 * await retention.start()
 */
export function createRetentionWorker (deps: RetentionWorkerDeps): Worker & { sweep(): Promise<RetentionReport | undefined> } {
  let timer: NodeJS.Timeout | undefined
  let controller = new AbortController()
  let running: Promise<RetentionReport | undefined> | undefined
  let toldOpenKept = false
  const sweep = async (): Promise<RetentionReport | undefined> => {
    if (running !== undefined) return await running
    running = (async () => {
      try {
        const report = await sweepRetention({ ...deps, signal: controller.signal })
        const total = Object.values(report.loads).reduce((n, ids) => n + ids.length, 0)
        if (total > 0) deps.log.info({ loads: report.loads, ledgerRows: report.ledgerRows }, `retention: removed ${total} old load(s) from the registry and ${report.ledgerRows} batch ledger row(s)`)
        if (report.openRecordsKept > 0 && !toldOpenKept) {
          toldOpenKept = true
          deps.log.warn({ openRecordsKept: report.openRecordsKept, code: ReconcilerErrorCode.Retention }, 'retention: this NATS identity may not remove open records (only the gateway\'s may write them); they stay in the registry bucket (docs/history-and-retention.md)')
        }
        return report
      } catch (err) {
        deps.log.warn({ err, code: ReconcilerErrorCode.Retention }, 'retention pass failed; trying again at the next interval')
        return undefined
      } finally {
        running = undefined
      }
    })()
    return await running
  }
  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => { void sweep().finally(() => { if (timer !== undefined) schedule(deps.intervalMs) }) }, delayMs)
    timer.unref()
  }
  return {
    name: 'retention',
    sweep,
    async start () {
      if (deps.policy.maxAgeSec <= 0 || timer !== undefined) return
      controller = new AbortController()
      // the first pass a minute after start: a reconciler restarted more often than the interval still prunes
      schedule(Math.min(deps.intervalMs, 60_000))
    },
    async stop () {
      clearTimeout(timer)
      timer = undefined
      controller.abort()
      await running
    }
  }
}
