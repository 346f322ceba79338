import { Cron } from 'croner'
import { DURATION_PATTERN, durationMs } from '@sisporta/contracts'

/**
 * One stream's schedule of one mode, ready to ask when it is due: a cron expression in a time
 * zone, or an interval (due that long after the last run).
 */
export type SchedulePlan =
  | { readonly kind: 'cron', readonly spec: string, readonly timezone: string, readonly cron: Cron }
  | { readonly kind: 'interval', readonly spec: string, readonly everyMs: number }

/** When a schedule first runs after the daemon started, and whether that run is a catch-up. */
export interface FirstRun {
  /** Epoch ms of the run (`now` itself for a catch-up); `undefined`: never (a cron expression with no tick left). */
  readonly at: number | undefined
  /** A run was due since the last run and did not happen: this one makes up for it (once). */
  readonly catchUp: boolean
}

/**
 * Reads a schedule expression as the config check accepted it: an interval (`30s`, `15m`, `6h`,
 * `1d`) or a cron expression (five fields, or six with seconds first) read in `timezone`.
 *
 * @example
 * schedulePlan('0 2 * * *', 'Europe/Lisbon') // { kind: 'cron', … }
 * schedulePlan('6h')                         // { kind: 'interval', everyMs: 21600000, … }
 */
export function schedulePlan (spec: string, timezone = 'UTC'): SchedulePlan {
  if (DURATION_PATTERN.test(spec)) return { kind: 'interval', spec, everyMs: durationMs(spec) }
  return { kind: 'cron', spec, timezone, cron: new Cron(spec, { timezone, mode: '5-or-6-parts' }) }
}

/**
 * The first run strictly after `after` (epoch ms): the next cron tick, or `after` plus the
 * interval. `undefined` when a cron expression has no tick left.
 *
 * @example
 * nextRun(schedulePlan('0 2 * * *'), Date.parse('2026-01-01T02:00:00Z')) // Date.parse('2026-01-02T02:00:00Z')
 */
export function nextRun (plan: SchedulePlan, after: number): number | undefined {
  if (plan.kind === 'interval') return after + plan.everyMs
  return plan.cron.nextRun(new Date(after))?.getTime()
}

/**
 * When the daemon, started at `now`, first runs a schedule, given the start of the stream's last
 * load of that mode (`lastRun`, from the registry; `undefined` when it never had one).
 *
 * A run that was due after the last load and before `now` — one or many missed ticks — is made
 * up for once, at once (`catchUp`); otherwise the first run is the next one due: the next cron
 * tick, or the last load plus the interval. With no last load there is nothing to make up for:
 * the first run is the first tick after `now` (an interval: `now` plus the interval).
 *
 * @example
 * const daily = schedulePlan('0 2 * * *')
 * firstRun(daily, Date.parse('2026-01-01T02:00:05Z'), Date.parse('2026-01-03T09:00:00Z'))
 * // { at: Date.parse('2026-01-03T09:00:00Z'), catchUp: true } — one run for the two missed ticks
 */
export function firstRun (plan: SchedulePlan, lastRun: number | undefined, now: number): FirstRun {
  if (lastRun === undefined) return { at: nextRun(plan, now), catchUp: false }
  const due = nextRun(plan, lastRun)
  if (due !== undefined && due <= now) return { at: now, catchUp: true }
  // a cron tick after `lastRun` but still ahead is also the first tick after `now`
  return { at: due, catchUp: false }
}
