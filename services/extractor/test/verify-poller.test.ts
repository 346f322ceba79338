import t from 'tap'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { parseConfig } from '@sisporta/config'
import type { SyncRequest } from '@sisporta/contracts'
import { createSyncPoller } from '../src/sync-poller.js'

// The poller's decisions on verify requests (`kind: 'verify'`), the gateway's answers given as
// data as in sync-poller.test.ts (the route: services/gateway/test/verify-requests.test.ts; the
// exclusion of loads: verify-exclusive.test.ts).
const config = parseConfig(`streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
`, 'sync.yaml')

function poller (answers: SyncRequest[][], options: { verify?: boolean, busy?: Set<string> } = {}) {
  const started: string[] = []
  const asked: Array<boolean | undefined> = []
  const log = pino({ level: 'silent' })
  const gateway = {
    syncRequests: async (o: { verify?: boolean } = {}) => {
      asked.push(o.verify)
      return answers.shift() ?? []
    }
  }
  const busy = options.busy ?? new Set<string>()
  const p = createSyncPoller({
    config,
    gateway,
    runNow: (s) => { if (busy.has(s)) return false; started.push(`load ${s}`); return true },
    ...(options.verify === false ? {} : { verifyNow: (r: SyncRequest) => { if (busy.has(r.stream)) return false; started.push(`verify ${r.stream} ${r.requestedAt}`); return true } }),
    log,
    metrics: new Registry(),
    intervalMs: 60_000
  })
  return { p, started, asked }
}

const AT = '2026-12-02T10:00:00.000Z'
const verify = (requestedAt = AT): SyncRequest => ({ stream: 'albums', kind: 'verify', requestedAt, requestedBy: 'olga' })
const load = (requestedAt = AT): SyncRequest => ({ stream: 'albums', kind: 'load', requestedAt, requestedBy: 'olga' })

t.test('verify poller – a verify request starts one verify, a load request one load, each once however often listed', async (t) => {
  const { p, started, asked } = poller([[verify(), load()], [verify(), load()], [verify('2026-12-02T10:05:00.000Z')]])
  await p.poll()
  t.same(started, [`verify albums ${AT}`, 'load albums'], 'a verify request is not taken for a load, and the same requestedAt of both kinds is two requests')
  await p.poll()
  t.same(started.length, 2, 'listed again: nothing more')
  await p.poll()
  t.same(started.at(-1), 'verify albums 2026-12-02T10:05:00.000Z', 'a newer request starts a new verify')
  t.same(asked, [true, true, true], 'it asks the gateway for verify requests')
})

t.test('verify poller – a stream busy (a load or a verify in progress) keeps its verify request for the next poll', async (t) => {
  const busy = new Set(['albums'])
  const { p, started } = poller([[verify()], [verify()]], { busy })
  await p.poll()
  t.same(started, [], 'not started while the stream is busy')
  busy.clear()
  await p.poll()
  t.same(started, [`verify albums ${AT}`], 'started once the stream is free')
})

t.test('verify poller – without verifyNow it never asks for verify requests, nor takes one for a load', async (t) => {
  const { p, started, asked } = poller([[verify(), { stream: 'albums', requestedAt: AT, requestedBy: 'olga' }]], { verify: false })
  await p.poll()
  t.same(asked, [false])
  t.same(started, ['load albums'], 'a request without kind is a load; a verify one is ignored')
})
