import { Cron } from 'croner'
import { DURATION_PATTERN, durationMs, type StreamConfigInput } from '@sisporta/contracts'
import { ConfigError } from './errors.js'

/** Cron fields croner takes here: five (minute first) or six (seconds first); never a year field. */
export const CRON_MODE = '5-or-6-parts'

/** A fixed day to measure a cron expression's ticks from, so that a check never depends on today. */
const REFERENCE = new Date('2026-01-01T00:00:00Z')
/** Ticks of a cron expression looked at for the shortest gap between two runs. */
const GAP_SAMPLE = 32

/**
 * Checks a stream's `schedule`: each expression is an interval (`6h`) or a cron expression
 * croner accepts that fires at all, `timezone` is a time zone Node knows (and only given with a
 * cron expression), `jitter` is shorter than the time between two runs, and no
 * `schedule.incremental` (incremental loads do not exist yet). Each problem is a `ConfigError`
 * `SIS_CFG_SCHEDULE` (exit 2) naming the stream and the key.
 *
 * @example
 * checkSchedule({ name: 'products', schedule: { full: '0 2 * * *', timezone: 'Europe/Lisbon' }, … }, 'sisporta.yaml')
 */
export function checkSchedule (stream: StreamConfigInput, file: string): void {
  const schedule = stream.schedule
  if (schedule === undefined) return
  const at = (key: string): string => `${file}: stream '${stream.name}', key 'schedule.${key}'`
  if (schedule.incremental !== undefined) {
    throw new ConfigError('SIS_CFG_SCHEDULE', `${at('incremental')}: incremental loads do not exist yet (\`sisporta extract --mode incremental\` is refused too); remove it and schedule full loads with 'schedule.full'`)
  }
  const timezone = schedule.timezone
  if (timezone !== undefined && !isTimeZone(timezone)) {
    throw new ConfigError('SIS_CFG_SCHEDULE', `${at('timezone')}: '${timezone}' is not a time zone; give an IANA name such as UTC, Europe/Lisbon or America/Sao_Paulo`)
  }
  const full = schedule.full
  if (full === undefined) {
    if (timezone !== undefined || schedule.jitter !== undefined) {
      throw new ConfigError('SIS_CFG_SCHEDULE', `${at(timezone !== undefined ? 'timezone' : 'jitter')}: there is no 'schedule.full' for it to apply to`)
    }
    return
  }
  let gapMs: number
  if (DURATION_PATTERN.test(full)) {
    if (timezone !== undefined) {
      throw new ConfigError('SIS_CFG_SCHEDULE', `${at('timezone')}: only a cron expression has a time zone; 'schedule.full' is the interval ${full}`)
    }
    gapMs = durationMs(full)
  } else {
    let cron: Cron
    try {
      cron = new Cron(full, { timezone: timezone ?? 'UTC', mode: CRON_MODE })
    } catch (err) {
      throw new ConfigError('SIS_CFG_SCHEDULE', `${at('full')}: '${full}' is neither an interval (30s, 15m, 6h, 1d) nor a cron expression (minute hour day-of-month month day-of-week, or six fields with seconds first): ${cronProblem(err)}`, { cause: err })
    }
    const ticks = cron.nextRuns(GAP_SAMPLE, REFERENCE)
    if (ticks.length === 0) {
      throw new ConfigError('SIS_CFG_SCHEDULE', `${at('full')}: the cron expression '${full}' never fires`)
    }
    gapMs = shortestGap(ticks)
  }
  if (schedule.jitter !== undefined && durationMs(schedule.jitter) >= gapMs) {
    throw new ConfigError('SIS_CFG_SCHEDULE', `${at('jitter')}: ${schedule.jitter} is not shorter than the ${describeMs(gapMs)} between two runs of '${full}'; a run would still be waiting when the next is due`)
  }
}

/** Whether Node's Intl knows `name` as a time zone (what croner converts with). */
function isTimeZone (name: string): boolean {
  try {
    Intl.DateTimeFormat('en-US', { timeZone: name })
    return true
  } catch {
    return false
  }
}

function shortestGap (ticks: readonly Date[]): number {
  let gap = Infinity
  for (let i = 1; i < ticks.length; i++) gap = Math.min(gap, ticks[i]!.getTime() - ticks[i - 1]!.getTime())
  return gap
}

/** croner's messages start with its class name ("CronPattern: Invalid value for minute: 61"). */
function cronProblem (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^Cron\w*: /, '')
}

function describeMs (ms: number): string {
  if (!Number.isFinite(ms)) return 'time'
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms / 1000}s`
}
