import t from 'tap'
import { firstRun, nextRun, schedulePlan } from '../src/schedule-plan.js'

const at = (iso: string): number => Date.parse(iso)
const iso = (ms: number | undefined): string | undefined => ms === undefined ? undefined : new Date(ms).toISOString()

t.test('schedule plan – an interval and a cron expression are told apart', async (t) => {
  t.match(schedulePlan('6h'), { kind: 'interval', everyMs: 6 * 3_600_000 })
  t.match(schedulePlan('1d'), { kind: 'interval', everyMs: 86_400_000 })
  t.match(schedulePlan('0 2 * * *'), { kind: 'cron', timezone: 'UTC' })
  t.match(schedulePlan('@daily', 'Europe/Lisbon'), { kind: 'cron', timezone: 'Europe/Lisbon' })
})

t.test('schedule plan – the next cron tick is strictly after the given time', async (t) => {
  const daily = schedulePlan('0 2 * * *')
  t.equal(iso(nextRun(daily, at('2026-01-01T01:59:59.999Z'))), '2026-01-01T02:00:00.000Z', 'one ms before the tick: the tick')
  t.equal(iso(nextRun(daily, at('2026-01-01T02:00:00.000Z'))), '2026-01-02T02:00:00.000Z', 'exactly at the tick: the next day\'s')
  t.equal(iso(nextRun(daily, at('2026-01-01T02:00:00.400Z'))), '2026-01-02T02:00:00.000Z', 'just after the tick: the next day\'s')
  t.equal(iso(nextRun(schedulePlan('15m'), at('2026-01-01T02:00:00.000Z'))), '2026-01-01T02:15:00.000Z', 'an interval adds itself')
})

t.test('schedule plan – a cron tick missed since the last load is caught up once, at the due minute or later', async (t) => {
  const daily = schedulePlan('0 2 * * *')
  const last = at('2026-01-01T02:00:03Z')
  t.same(firstRun(daily, last, at('2026-01-02T02:00:00.000Z')), { at: at('2026-01-02T02:00:00.000Z'), catchUp: true }, 'exactly at the due minute: due now')
  t.same(firstRun(daily, last, at('2026-01-02T01:59:59.999Z')), { at: at('2026-01-02T02:00:00.000Z'), catchUp: false }, 'one ms before: the tick itself, no catch-up')
  t.same(firstRun(daily, last, at('2026-01-05T13:00:00Z')), { at: at('2026-01-05T13:00:00Z'), catchUp: true }, 'four ticks missed: one run, now')
  t.same(firstRun(daily, last, at('2026-01-01T09:00:00Z')), { at: at('2026-01-02T02:00:00Z'), catchUp: false }, 'restarted the same day after the load: nothing missed')
})

t.test('schedule plan – a stream never loaded waits for its first tick', async (t) => {
  t.same(firstRun(schedulePlan('0 2 * * *'), undefined, at('2026-01-01T09:00:00Z')), { at: at('2026-01-02T02:00:00Z'), catchUp: false })
  t.same(firstRun(schedulePlan('6h'), undefined, at('2026-01-01T09:00:00Z')), { at: at('2026-01-01T15:00:00Z'), catchUp: false }, 'an interval: one interval after start')
})

t.test('schedule plan – an interval is due that long after the last load, not after the start', async (t) => {
  const sixHours = schedulePlan('6h')
  const last = at('2026-01-01T00:00:00Z')
  t.same(firstRun(sixHours, last, at('2026-01-01T05:59:59.999Z')), { at: at('2026-01-01T06:00:00Z'), catchUp: false }, 'one ms before: at the last load plus 6h')
  t.same(firstRun(sixHours, last, at('2026-01-01T06:00:00Z')), { at: at('2026-01-01T06:00:00Z'), catchUp: true }, 'exactly due: now')
  t.same(firstRun(sixHours, last, at('2026-01-03T00:00:00Z')), { at: at('2026-01-03T00:00:00Z'), catchUp: true }, 'eight intervals missed: one run')
})

t.test('schedule plan – DST in the schedule\'s time zone', async (t) => {
  // Europe/Lisbon: 2026-03-29 01:00 WET → 02:00 WEST (01:30 does not exist); 2026-10-25 02:00 WEST → 01:00 WET (01:30 twice)
  const lisbon = schedulePlan('30 1 * * *', 'Europe/Lisbon')
  t.equal(iso(nextRun(lisbon, at('2026-03-28T01:30:00Z'))), '2026-03-29T01:00:00.000Z', 'the tick in the gap runs at the first time after it (02:00 WEST)')
  t.equal(iso(nextRun(lisbon, at('2026-03-29T01:00:00Z'))), '2026-03-30T00:30:00.000Z', 'then 01:30 WEST again')
  t.equal(iso(nextRun(lisbon, at('2026-10-24T00:30:00Z'))), '2026-10-25T00:30:00.000Z', 'the first 01:30 of the repeated hour (WEST)')
  t.equal(iso(nextRun(lisbon, at('2026-10-25T00:30:00Z'))), '2026-10-26T01:30:00.000Z', 'not the second 01:30 (WET): once a day')
  const daily = schedulePlan('0 2 * * *', 'Europe/Lisbon')
  t.equal(iso(nextRun(daily, at('2026-07-01T00:00:00Z'))), '2026-07-01T01:00:00.000Z', 'summer: 02:00 in Lisbon is 01:00 UTC')
  t.same(firstRun(lisbon, at('2026-03-28T01:30:00Z'), at('2026-03-29T01:00:00Z')), { at: at('2026-03-29T01:00:00Z'), catchUp: true }, 'a missed tick moved by DST is caught up from its real time')
  t.same(firstRun(lisbon, at('2026-03-28T01:30:00Z'), at('2026-03-29T00:59:59.999Z')), { at: at('2026-03-29T01:00:00Z'), catchUp: false }, 'and not a ms before')
})

t.test('schedule plan – six fields: seconds first', async (t) => {
  t.equal(iso(nextRun(schedulePlan('30 0 2 * * *'), at('2026-01-01T00:00:00Z'))), '2026-01-01T02:00:30.000Z')
})
