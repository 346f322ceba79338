import type { Msg, NatsConnection, Subscription } from 'nats'
import type { Kysely } from 'kysely'
import type { BusNames, CompareReply, SisportaConfig } from '@sisporta/contracts'
import { isTransientMysqlError, type SisportaDatabase } from '@sisporta/db'
import type { LoadRegistry } from '@sisporta/nats'
import type { Logger, Worker } from '@sisporta/observability'
import { compareRange } from './compare-range.js'
import { PersistError } from './errors.js'

/**
 * What the gateway sends on `<namespace>.compare.<stream>`: one range of the source and its row
 * hashes (base64), with the diffed load that asks — none for `sisporta verify`.
 */
export interface CompareMessage {
  loadId?: number
  lo: unknown[] | null
  hi: unknown[] | null
  hashes: string
}

/** The reply: the comparison, or why it could not be made (`transient`: asking again may work). */
export type CompareAnswer = { ok: CompareReply } | { error: { code: string, message: string, transient: boolean } }

export interface CompareResponderOptions {
  readonly nc: NatsConnection
  readonly names: BusNames
  readonly config: SisportaConfig
  readonly registry: Pick<LoadRegistry, 'get'>
  readonly db: Kysely<SisportaDatabase>
  /** Comparisons made at once by this process. */
  readonly concurrency: number
  readonly log: Logger
  readonly onCompared?: (stream: string, reply: CompareReply, seconds: number) => void
}

/**
 * The persister's side of diffed reloads and `verify` (docs/reloads.md): a member of the queue
 * group `<namespace>_comparers` on `<namespace>.compare.>`, so that each comparison is answered
 * by one persister replica. Checks what it is asked — a known stream, well-formed bounds and
 * hashes, and for a diffed load a load the registry trusts and shows open and diffed — compares
 * the range (compare-range.ts) and replies. Nothing is acknowledged or kept: the gateway asks
 * again on a timeout, and a comparison repeated gives the same answer.
 */
export function createCompareResponder (options: CompareResponderOptions): Worker {
  const { nc, names, config, registry, db, log } = options
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let sub: Subscription | undefined
  let running: Promise<void> | undefined
  const inProgress = new Set<Promise<void>>()

  const answer = async (msg: Msg): Promise<void> => {
    const stream = msg.subject.slice(names.compareSubject('').length)
    const started = performance.now()
    let reply: CompareAnswer
    try {
      const streamConfig = config.stream(stream)
      if (streamConfig === undefined) throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream}' is not in this persister's config`)
      const request = parseMessage(decoder.decode(msg.data), stream)
      if (request.loadId !== undefined) await requireDiffedLoad(registry, stream, request.loadId)
      const result = await compareRange(db, streamConfig, { ...request, hashes: Buffer.from(request.hashes, 'base64') })
      options.onCompared?.(stream, result, (performance.now() - started) / 1000)
      log.debug({ stream, loadId: request.loadId, send: result.send.length, unmatched: result.unmatched, marked: result.marked }, 'range compared')
      reply = { ok: result }
    } catch (err) {
      const transient = isTransientMysqlError(err) || (err as { transient?: unknown }).transient === true
      const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'SIS_PERSIST_COMPARE_FAILED'
      log.warn({ err, stream }, 'range comparison failed')
      reply = { error: { code, message: (err as Error).message ?? String(err), transient } }
    }
    if (msg.reply !== undefined && msg.reply !== '') msg.respond(encoder.encode(JSON.stringify(reply)))
  }

  return {
    name: 'compare-responder',
    async start () {
      sub = nc.subscribe(names.compareSubjects, { queue: names.compareQueue })
      const subscription = sub
      running = (async () => {
        for await (const msg of subscription) {
          const job = answer(msg).catch((err: unknown) => { log.error({ err }, 'range comparison crashed') })
          const tracked = job.finally(() => inProgress.delete(tracked))
          inProgress.add(tracked)
          if (inProgress.size >= options.concurrency) await Promise.race(inProgress)
        }
      })()
    },
    async stop () {
      // no new request; those in progress are answered (or the gateway asks again)
      if (sub !== undefined && !sub.isClosed()) sub.unsubscribe()
      await running
      await Promise.all(inProgress)
    }
  }
}

function parseMessage (text: string, stream: string): CompareMessage {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream}': the comparison request is not JSON`)
  }
  const m = body as Partial<CompareMessage> | null
  const bound = (v: unknown): boolean => v === null || (Array.isArray(v) && v.length > 0)
  if (m === null || typeof m !== 'object' || !bound(m.lo) || !bound(m.hi) || typeof m.hashes !== 'string' ||
    (m.loadId !== undefined && (!Number.isSafeInteger(m.loadId) || m.loadId < 1))) {
    throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream}': a comparison request needs lo, hi (null or key values), hashes (base64) and an optional loadId`)
  }
  return m as CompareMessage
}

/** Only an open diffed load the registry trusts may have target rows marked. */
async function requireDiffedLoad (registry: Pick<LoadRegistry, 'get'>, stream: string, loadId: number): Promise<void> {
  const entry = await registry.get(stream, loadId)
  if (entry === undefined) throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `load ${loadId} of stream '${stream}' is not in the registry (or not trusted)`, { transient: true })
  const { load } = entry
  if (load.reload !== 'diff' || load.state !== 'open') {
    throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `load ${loadId} of stream '${stream}' is ${load.state}${load.reload === 'diff' ? '' : ' and not diffed'}: only an open diffed load compares ranges`)
  }
}
