import t from 'tap'
import { join } from 'node:path'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { logLines } from '../support/log-lines.js'

// "Sync now" as an operator lives it: `sisporta streams sync NAME` writes a request into the
// registry; the extractor daemon (a separate process, outside the cluster: it only reaches the
// gateway) picks it up at its next poll and runs one full load of the stream, which reconciles.
// A stream without any schedule can be synced too.

const STREAMS = `streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Title, from: Title, type: string, length: 100 }
`

t.test('sync now – the extractor daemon runs one full load of a stream an operator asked to sync', async (t) => {
  const p = await startPipeline(t, {
    configYaml: STREAMS,
    env: { SISPORTA_SYNC_POLL_INTERVAL: '1' },
    fillSource: async (sql) => {
      await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY, `Title` VARCHAR(100) NOT NULL)')
      await sql.query("INSERT INTO `Album` VALUES (1, 'For Those About To Rock'), (2, 'Balls to the Wall'), (3, 'Restless and Wild')")
    }
  })
  await p.start('extractor')
  const daemonLog = join(p.dir, 'extractor.log')
  // the daemon polls and finds nothing to do: no load without a request
  await eventually(() => logLines(daemonLog).some((l) => l.msg === 'no stream has a schedule; the daemon idles (use `sisporta extract` for one load)') ? true : undefined, { what: 'the daemon to start' })
  t.same(await p.loads('albums'), [], 'no load before the request')

  const asked = await p.cli(['streams', 'sync', 'albums', '--by', 'olga'])
  t.equal(asked.code, 0, 'the request is recorded', { stderr: asked.stderr.slice(-2000) })
  const load = await eventually(async () => (await p.loads('albums')).find((l) => l.state === 'reconciled'), { what: 'the requested load reconciled', timeoutMs: 180_000 })
  t.match(load, { mode: 'full', state: 'reconciled' }, 'a full load ran and reconciled')
  const started = logLines(daemonLog).filter((l) => l.msg === 'sync requested: full load started')
  t.match(started, [{ stream: 'albums', requestedBy: 'olga' }], 'the daemon says who asked, once')

  // served: the gateway lists it no more, and no second load starts
  await eventually(async () => {
    const res = await fetch(`${p.env.SISPORTA_GATEWAY_URL!}/v1/sync-requests`, { headers: { authorization: `Bearer ${p.token}` } })
    const body = await res.json() as { requests: unknown[] }
    return res.status === 200 && body.requests.length === 0 ? true : undefined
  }, { what: 'the request to be served' })
  t.equal((await p.loads('albums')).length, 1, 'exactly one load for one request')
  await p.expectMirror(t)
})
