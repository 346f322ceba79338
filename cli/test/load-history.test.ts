import t from 'tap'
import type { LoadRecord, LoadState } from '@sisporta/contracts'
import { filterLoads, formatDuration, lastSuccess, loadTiming, parseLimit, parseSince, parseStates } from '../src/commands/load-history.js'

const T0 = Date.parse('2026-12-01T00:00:00.000Z')
const iso = (ms: number): string => new Date(ms).toISOString()

function load (id: number, state: LoadState, openedAt: number, extra: Partial<LoadRecord> = {}): LoadRecord {
  return { id, stream: id % 2 === 0 ? 'products' : 'customers', mode: 'full', state, openedAt: iso(openedAt), updatedAt: iso(openedAt + 60_000), ...extra }
}

t.test('load history – --state: repeated or comma-separated, checked', async (t) => {
  t.same(parseStates(['failed,abandoned', ' held ', 'failed']), ['failed', 'abandoned', 'held'])
  t.equal(parseStates(undefined), undefined)
  t.throws(() => parseStates(['failed,done']), { code: 'SIS_CLI_USAGE', exitCode: 2, message: /--state 'done' is not a load state \(one of open, sealed, applied/ })
})

t.test('load history – --since: a duration back or an ISO date; a load opened exactly then is in', async (t) => {
  const now = T0 + 86_400_000
  t.equal(parseSince('24h', now), T0)
  t.equal(parseSince('90m', now), now - 90 * 60_000)
  t.equal(parseSince('2w', now), now - 14 * 86_400_000)
  t.equal(parseSince('2026-12-01', now), T0)
  t.equal(parseSince('2026-12-01T00:00:00Z', now), T0)
  t.equal(parseSince(undefined, now), undefined)
  for (const bad of ['yesterday', '0h', '-1d', '24', '2026-13-45', '1y']) t.throws(() => parseSince(bad, now), { exitCode: 2, message: /--since/ }, bad)
  const loads = [load(1, 'reconciled', T0 - 1), load(2, 'failed', T0), load(3, 'open', T0 + 1)]
  t.same(filterLoads(loads, { since: parseSince('24h', now), limit: 20 }).map((l) => l.id), [2, 3], 'opened exactly at --since: listed; a millisecond before: not')
})

t.test('load history – --limit: the newest N, at least 1', async (t) => {
  t.equal(parseLimit(undefined), 20)
  t.equal(parseLimit('3'), 3)
  for (const bad of ['0', '-1', '1.5', 'ten', '']) t.throws(() => parseLimit(bad), { exitCode: 2, message: /--limit/ }, `'${bad}'`)
  const loads = [load(4, 'failed', T0), load(1, 'reconciled', T0), load(3, 'open', T0), load(2, 'held', T0)]
  t.same(filterLoads(loads, { limit: 2 }).map((l) => l.id), [3, 4], 'the newest two, oldest first')
  t.same(filterLoads(loads, { limit: 10, states: ['held', 'reconciled'] }).map((l) => l.id), [1, 2])
  t.same(filterLoads(loads, { limit: 10, stream: 'customers' }).map((l) => l.id), [1, 3])
})

t.test('load history – start, end and duration', async (t) => {
  t.same(loadTiming(load(1, 'reconciled', T0, { reconciledAt: iso(T0 + 5000) }), T0 + 99_000), { startedAt: iso(T0), endedAt: iso(T0 + 5000), durationMs: 5000 }, 'reconciled: its reconciledAt')
  t.same(loadTiming(load(2, 'failed', T0), T0 + 99_000), { startedAt: iso(T0), endedAt: iso(T0 + 60_000), durationMs: 60_000 }, 'failed: its last change')
  t.same(loadTiming(load(3, 'applied', T0, { mode: 'incremental', appliedAt: iso(T0 + 700) }), T0 + 99_000).endedAt, iso(T0 + 700), 'incremental applied: its appliedAt')
  t.same(loadTiming(load(4, 'applied', T0), T0 + 99_000), { startedAt: iso(T0), endedAt: undefined, durationMs: 99_000 }, 'a full load applied is still going: duration so far')
  t.same([850, 12_400, 185_000, 11_520_000, 2 * 86_400_000 + 4 * 3_600_000].map(formatDuration), ['850ms', '12s', '3m 05s', '3h 12m', '2d 4h'])
})

t.test('load history – last success: the newest reconciled full or applied incremental load', async (t) => {
  const loads = [
    load(1, 'reconciled', T0, { reconciledAt: iso(T0 + 1000) }),
    load(2, 'applied', T0, { mode: 'incremental', appliedAt: iso(T0 + 2000) }),
    load(3, 'failed', T0),
    load(4, 'applied', T0)
  ]
  const success = lastSuccess(loads, T0 + 2000 + 11_520_000)
  t.match(success, { load: { id: 2 }, at: iso(T0 + 2000), ageMs: 11_520_000, age: '3h 12m ago' })
  t.equal(lastSuccess([load(3, 'failed', T0)], T0), undefined, 'never')
})
