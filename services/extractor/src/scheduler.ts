import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { dependencyOrder } from '@sisporta/config'
import { durationMs, type LoadMode, type SisportaConfig, type StreamConfig, type StreamStatusReply } from '@sisporta/contracts'
import type { Worker } from '@sisporta/observability'
import type { SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { runLoad } from './run-load.js'
import { awaitApplied, isApplied } from './await-applied.js'
import { ExtractError, isStreamPaused } from './errors.js'
import { firstRun, nextRun, schedulePlan, type SchedulePlan } from './schedule-plan.js'

export interface SchedulerDeps {
  config: SisportaConfig
  source: SourceDialect
  gateway: GatewayClient
  log: Logger
  metrics: Registry
  batchSize: number
  inFlight: number
  maxBatchBytes: number
  /** Attempts at one source page (SISPORTA_SOURCE_READ_ATTEMPTS). */
  readAttempts?: number
  /** A diffed load: source rows per compared key range (SISPORTA_COMPARE_ROWS). */
  compareRows?: number
  /** How often a parent stream's load is asked whether it is applied yet (ms). Default 1000. */
  pollMs?: number
  /** The clock the schedules are read with (epoch ms). Default `Date.now`. */
  now?: () => number
  /** A number in [0, 1) for `schedule.jitter`. Default `Math.random`. */
  random?: () => number
  /** Wait before reading the streams' last loads again while the gateway cannot answer (ms). Default 10 000. */
  retryMs?: number
}

/** How a scheduled load ended, for the streams that depend on it. */
type Outcome = 'applied' | 'sealed' | 'not-applied' | 'skipped' | 'paused' | 'failed'

/** One stream's schedule of one mode, and when it runs next. */
interface Entry {
  readonly stream: StreamConfig
  readonly mode: LoadMode
  readonly plan: SchedulePlan
  readonly jitterMs: number
  /** Epoch ms of the next run; `undefined` until planned, or never again. */
  next: number | undefined
  /** The next run makes up for one missed since the stream's last load. */
  catchUp: boolean
}

/** Longest delay a Node timer takes (about 24.8 days); a later run is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The extractor daemon (`sisporta extractor`): runs each stream's scheduled loads — a cron
 * expression (`schedule: { full: "0 2 * * *", timezone: Europe/Lisbon }`) or an interval
 * (`full: 6h`) — one at a time per stream; a load still running when the next is due makes that
 * run be skipped rather than pile up. `schedule.jitter` delays each run by a random time below it.
 *
 * Catch-up: at start the daemon asks the gateway for each stream's last load of each mode (from
 * the registry, not from when this process started). A run that was due since then and did not
 * happen — the pod was down at 02:00 — runs once at once, however many ticks were missed; then
 * the schedule goes on. A stream never loaded waits for its first tick. See docs/schedules.md.
 *
 * Foreign keys between streams (`dependsOn`): streams due at the same moment (the same schedule,
 * or caught up together) start in dependency order, parents first, and a stream whose parent's
 * load is in progress waits until that load is applied — every parent row in the target before
 * any child row refers to it — before it opens its own. A parent's load counts as in progress
 * until applied (not until reconciled: its deletes may wait for the children's, see the
 * reconciler). A parent load that ends without being applied (failed, abandoned, paused, an
 * error) makes its children skip that run: their rows could refer to parent rows the target lacks.
 */
export function createScheduler (deps: SchedulerDeps): Worker & { runningLoads(): number, planned(): Promise<void>, runNow(stream: string): boolean, runExclusive(stream: string, task: (signal: AbortSignal) => Promise<void>): boolean } {
  const clock = deps.now ?? Date.now
  const random = deps.random ?? Math.random
  const running = new Map<string, Promise<Outcome>>()
  /** Other work on a stream that excludes its loads (an operator's verify request), by stream. */
  const exclusive = new Map<string, Promise<void>>()
  const controller = new AbortController()
  const { signal } = controller
  let timer: NodeJS.Timeout | undefined
  let planning: Promise<void> = Promise.resolve()
  const loads = new Counter({ name: 'sisporta_extractor_loads_total', help: 'Loads run by the extractor daemon, by outcome (sealed, failed, skipped, paused)', labelNames: ['stream', 'mode', 'outcome'], registers: [deps.metrics] })
  const rows = new Counter({ name: 'sisporta_extractor_rows_total', help: 'Rows read from the source and accepted by the gateway', labelNames: ['stream'], registers: [deps.metrics] })
  const catchUps = new Counter({ name: 'sisporta_extractor_catch_up_runs_total', help: 'Scheduled runs made up for at start: a run was due since the stream\'s last load and did not happen', labelNames: ['stream', 'mode'], registers: [deps.metrics] })
  const nextRunGauge = new Gauge({ name: 'sisporta_extractor_next_run_timestamp_seconds', help: 'When the extractor daemon runs the stream\'s next scheduled load (before jitter)', labelNames: ['stream', 'mode'], registers: [deps.metrics] })

  /** Streams some other stream depends on: their loads are followed until applied. */
  const parents = new Set(deps.config.streams.flatMap((s) => s.dependsOn ?? []))

  // parents first: entries due at the same moment are triggered in this order
  const entries: Entry[] = dependencyOrder(deps.config.streams).flatMap((stream) => (['full', 'incremental'] as const).flatMap((mode) => {
    const spec = stream.schedule?.[mode]
    if (spec === undefined) return []
    const jitter = stream.schedule?.jitter
    return [{ stream, mode, plan: schedulePlan(spec, stream.schedule?.timezone ?? 'UTC'), jitterMs: jitter === undefined ? 0 : durationMs(jitter), next: undefined, catchUp: false }]
  }))

  /** Starts a run of `stream` unless one is in progress (then `false`): a tick, a catch-up, or a "sync now". */
  function trigger (entry: Pick<Entry, 'stream' | 'mode' | 'jitterMs'>, catchUp: boolean): boolean {
    const { stream, mode } = entry
    if (running.has(stream.name)) {
      deps.log.warn({ stream: stream.name, mode }, 'previous load still running; skipping this tick')
      return false
    }
    if (exclusive.has(stream.name)) {
      deps.log.warn({ stream: stream.name, mode }, 'a verify of the stream is running; skipping this tick')
      return false
    }
    if (catchUp) catchUps.inc({ stream: stream.name, mode })
    // the parents' loads in progress now (started in this tick or earlier): this load waits for them
    const before = (stream.dependsOn ?? []).flatMap((p) => { const r = running.get(p); return r === undefined ? [] : [[p, r] as const] })
    const run = (async (): Promise<Outcome> => {
      const delayMs = Math.floor(random() * entry.jitterMs)
      if (delayMs > 0) {
        deps.log.info({ stream: stream.name, mode, delayMs }, 'waiting a random delay (schedule.jitter) before the load')
        await sleep(delayMs, undefined, { signal })
      }
      for (const [parent, outcome] of before) {
        const ended = await outcome
        if (ended !== 'applied') {
          loads.inc({ stream: stream.name, mode, outcome: 'skipped' })
          deps.log.warn({ stream: stream.name, mode, parent, parentOutcome: ended }, `skipping this tick: the load of stream '${parent}' it depends on was not applied (${ended})`)
          return 'skipped'
        }
      }
      const load = await runLoad({ source: deps.source, gateway: deps.gateway, log: deps.log }, stream, {
        mode,
        reload: stream.source.reload ?? 'diff',
        ...(deps.compareRows === undefined ? {} : { compareRows: deps.compareRows }),
        batchSize: stream.batchSize ?? deps.batchSize,
        inFlight: deps.inFlight,
        maxBatchBytes: deps.maxBatchBytes,
        ...(deps.readAttempts === undefined ? {} : { readAttempts: deps.readAttempts }),
        signal
      })
      loads.inc({ stream: stream.name, mode, outcome: 'sealed' })
      rows.inc({ stream: stream.name }, load.rows ?? 0)
      if (!parents.has(stream.name)) return 'sealed'
      deps.log.info({ stream: stream.name, loadId: load.id }, 'waiting for the load to be applied before the streams that depend on it')
      const applied = await awaitApplied(deps.gateway, load, { pollMs: deps.pollMs, signal })
      return isApplied(applied) ? 'applied' : 'not-applied'
    })().catch((err: unknown) => {
      if (isStreamPaused(err)) {
        // an operator paused the stream: nothing is wrong, the next run asks again
        loads.inc({ stream: stream.name, mode, outcome: 'paused' })
        deps.log.info({ stream: stream.name, mode, reason: (err as Error).message }, 'stream paused; skipping')
        return 'paused' as const
      }
      if (signal.aborted && (err as Error).name === 'AbortError') return 'skipped' as const // stopped during the jitter delay: no load was opened
      loads.inc({ stream: stream.name, mode, outcome: 'failed' })
      deps.log.error({ err, stream: stream.name, mode }, 'scheduled load failed')
      return 'failed' as const
    }).finally(() => running.delete(stream.name))
    running.set(stream.name, run)
    return true
  }

  /** Sets the timer for the earliest next run. */
  function arm (): void {
    clearTimeout(timer)
    if (signal.aborted) return
    const next = Math.min(...entries.map((e) => e.next ?? Infinity))
    if (next === Infinity) return
    timer = setTimeout(wake, Math.min(Math.max(0, next - clock()), MAX_TIMER_MS))
  }

  /** Runs every entry that is due (parents first), plans each one's next run, sets the timer again. */
  function wake (): void {
    const now = clock()
    for (const entry of entries) {
      if (entry.next === undefined || entry.next > now) continue
      trigger(entry, entry.catchUp)
      entry.catchUp = false
      // once, however late this wake is: the next run is the first one after now
      setNext(entry, nextRun(entry.plan, now))
    }
    arm()
  }

  function setNext (entry: Entry, at: number | undefined): void {
    entry.next = at
    if (at === undefined) nextRunGauge.remove({ stream: entry.stream.name, mode: entry.mode })
    else nextRunGauge.set({ stream: entry.stream.name, mode: entry.mode }, at / 1000)
  }

  /**
   * Each stream's last loads from the gateway, read until it answers: without them a missed run
   * cannot be told from one that happened (and no load could be opened anyway). A definite
   * refusal (an older gateway without the route, a token not allowed the stream) leaves the
   * stream without a last load: no catch-up, the schedule starts from now.
   */
  async function lastLoads (stream: string): Promise<StreamStatusReply | undefined> {
    for (;;) {
      try {
        return await deps.gateway.streamStatus(stream, { signal })
      } catch (err) {
        signal.throwIfAborted()
        if (err instanceof ExtractError && err.code === 'SIS_EXTRACT_REJECTED') {
          deps.log.warn({ stream, err: err.message }, 'the gateway did not tell the stream\'s last load: a run missed while the daemon was down is not made up for; the schedule starts from now')
          return undefined
        }
        deps.log.warn({ stream, err: (err as Error).message }, 'could not read the stream\'s last load from the gateway; trying again')
        await sleep(deps.retryMs ?? 10_000, undefined, { signal })
      }
    }
  }

  /** Plans each entry's first run from its stream's last load, logs it, and sets the timer. */
  async function plan (): Promise<void> {
    const names = [...new Set(entries.map((e) => e.stream.name))]
    const statuses = new Map(await Promise.all(names.map(async (name) => [name, await lastLoads(name)] as const)))
    const now = clock()
    const firsts = entries.map((entry) => {
      const last = statuses.get(entry.stream.name)?.lastLoad[entry.mode]
      return { entry, last, first: firstRun(entry.plan, last === undefined ? undefined : Date.parse(last.openedAt), now) }
    })
    // Streams on the same interval run together, parents first, as they always have: the group
    // is due when its most overdue stream is (a cron expression's ticks are shared already).
    const groupDue = new Map<string, number>()
    for (const { entry, first } of firsts) {
      if (entry.plan.kind !== 'interval' || first.at === undefined) continue
      const key = intervalGroup(entry)
      groupDue.set(key, Math.min(groupDue.get(key) ?? Infinity, first.at))
    }
    for (const { entry, last, first } of firsts) {
      const at = entry.plan.kind === 'interval' ? groupDue.get(intervalGroup(entry)) : first.at
      entry.catchUp = first.catchUp
      setNext(entry, at)
      const nextRunAt = at === undefined ? null : new Date(at).toISOString()
      const fields = {
        stream: entry.stream.name,
        mode: entry.mode,
        schedule: entry.plan.spec,
        ...(entry.plan.kind === 'cron' ? { timezone: entry.plan.timezone } : {}),
        ...(entry.jitterMs > 0 ? { jitter: entry.stream.schedule?.jitter } : {}),
        lastLoadId: last?.id ?? null,
        lastLoadAt: last?.openedAt ?? null,
        nextRunAt,
        catchUp: first.catchUp
      }
      if (nextRunAt === null) deps.log.warn(fields, `the schedule '${entry.plan.spec}' has no run left`)
      else if (first.catchUp) deps.log.info(fields, `next run at ${nextRunAt} (now): a run was due since the last load (${last?.openedAt ?? '?'}) and did not happen; catching up once`)
      else deps.log.info(fields, `next run at ${nextRunAt}`)
    }
    arm()
  }

  function intervalGroup (entry: Entry): string {
    return `${entry.mode} ${entry.plan.kind === 'interval' ? entry.plan.everyMs : entry.plan.spec}`
  }

  return {
    name: 'extractor-scheduler',
    runningLoads: () => running.size,
    /** Resolves once every schedule's first run is planned (the gateway told the last loads), or the daemon stopped. */
    planned: async () => { await planning },
    /**
     * A full load of `stream` now, whatever its schedule (an operator's "sync now"), through the
     * same path as a scheduled run: never while one of the stream is in progress (`false`), after
     * its parents' loads in progress, no jitter. The schedule is unchanged.
     */
    runNow: (name: string) => {
      const stream = deps.config.stream(name)
      if (stream === undefined || signal.aborted) return false
      return trigger({ stream, mode: 'full', jitterMs: 0 }, false)
    },
    /**
     * Runs `task` on `stream` now (an operator's verify request) unless a load of the stream, or
     * another such task, is in progress (`false`); while it runs, no load of the stream starts
     * (a tick is skipped, a "sync now" waits for the next poll). Its failure is logged; `stop`
     * aborts its signal and waits for it.
     */
    runExclusive: (name: string, task: (signal: AbortSignal) => Promise<void>) => {
      if (running.has(name) || exclusive.has(name) || signal.aborted) return false
      const run = (async () => { await task(signal) })().catch((err: unknown) => {
        if (!signal.aborted) deps.log.error({ err, stream: name }, 'verify of the stream failed')
      }).finally(() => exclusive.delete(name))
      exclusive.set(name, run)
      return true
    },
    async start () {
      if (entries.length === 0) {
        deps.log.warn('no stream has a schedule; the daemon idles (use `sisporta extract` for one load)')
        return
      }
      // not awaited: the daemon is up (and its /healthz answers) while the gateway is still unreachable
      planning = plan().catch((err: unknown) => {
        if (!signal.aborted) deps.log.error({ err }, 'could not plan the schedules')
      })
    },
    async stop () {
      clearTimeout(timer)
      // An interrupted load is never sealed, so it deletes nothing; runLoad abandons it at once.
      controller.abort(new ExtractError('SIS_EXTRACT_INTERRUPTED', 'the extractor daemon is stopping (SIGTERM)'))
      await planning
      await Promise.allSettled([...running.values(), ...exclusive.values()])
      await deps.source.close()
    }
  }
}
