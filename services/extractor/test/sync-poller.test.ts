import t from 'tap'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { parseConfig } from '@sisporta/config'
import { eventually } from '@sisporta/testkit'
import type { SyncRequest } from '@sisporta/contracts'
import { ExtractError } from '../src/errors.js'
import { createSyncPoller } from '../src/sync-poller.js'

// The poller's own decisions, with the gateway's answers given as data (the route itself is
// tested against a real gateway in services/gateway/test/stream-controls.test.ts and end to end
// in tests/e2e/sync-now.test.ts).
const config = parseConfig(`streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
`, 'sync.yaml')

function poller (answers: Array<SyncRequest[] | Error>, busy = new Set<string>()) {
  const started: string[] = []
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const gateway = {
    syncRequests: async () => {
      const next = answers.shift() ?? []
      if (next instanceof Error) throw next
      return next
    }
  }
  const p = createSyncPoller({ config, gateway, runNow: (s) => { if (busy.has(s)) return false; started.push(s); return true }, log, metrics: new Registry(), intervalMs: 60_000 })
  return { p, started, lines }
}

const request = (requestedAt: string, stream = 'albums'): SyncRequest => ({ stream, requestedAt, requestedBy: 'olga' })

t.test('sync poller – one request starts one load, however often it is listed', async (t) => {
  const { p, started } = poller([[request('2026-12-02T10:00:00.000Z')], [request('2026-12-02T10:00:00.000Z')], [request('2026-12-02T10:05:00.000Z')]])
  await p.poll()
  await p.poll()
  t.same(started, ['albums'], 'the same request listed again (its load failed before opening, say) starts nothing')
  await p.poll()
  t.same(started, ['albums', 'albums'], 'a newer request starts a new load')
})

t.test('sync poller – a stream with a load in progress keeps its request for the next poll', async (t) => {
  const busy = new Set(['albums'])
  const { p, started } = poller([[request('2026-12-02T10:00:00.000Z')], [request('2026-12-02T10:00:00.000Z')]], busy)
  await p.poll()
  t.same(started, [], 'not started while a load runs')
  busy.clear()
  await p.poll()
  t.same(started, ['albums'], 'started once the stream is free')
})

t.test('sync poller – a stream the configuration lacks is reported once, never loaded', async (t) => {
  const { p, started, lines } = poller([[request('2026-12-02T10:00:00.000Z', 'ghost')], [request('2026-12-02T10:01:00.000Z', 'ghost')]])
  await p.poll()
  await p.poll()
  t.same(started, [])
  t.equal(lines.filter((l) => l.stream === 'ghost' && l.level === 40).length, 1, 'one warning')
})

t.test('sync poller – a gateway without the route stops the polling with a warning; other errors are retried', async (t) => {
  const old = new ExtractError('SIS_EXTRACT_REJECTED', 'gateway refused list sync requests: 404 SIS_GW_ROUTE_UNKNOWN', { statusCode: 404, gatewayCode: 'SIS_GW_ROUTE_UNKNOWN' })
  const { p, lines } = poller([old])
  await p.start()
  await eventually(() => lines.some((l) => l.level === 40 && String(l.msg).includes('no sync-request route')) ? true : undefined, { what: 'the warning' })
  await p.stop()
  t.equal(lines.length, 1, 'told once')

  const flaky = poller([new Error('connect ECONNREFUSED')])
  await flaky.p.start()
  await eventually(() => flaky.lines.some((l) => l.level === 40 && String(l.msg).startsWith('could not read the sync requests')) ? true : undefined, { what: 'the warning' })
  await flaky.p.stop()
  t.pass('a transient failure is a warning; stop ends the loop while it waits for the next poll')
})
