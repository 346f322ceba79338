import t from 'tap'
import type { Connection } from 'mysql2/promise'
import type { SyncRequestsReply } from '@sisporta/contracts'
import { startPipeline, type Pipeline } from '../support/pipeline.js'

// Pause / resume and "sync now" as an operator and an extractor live them: the gateway,
// persister and reconciler as separate processes, `sisporta streams …` and `sisporta extract`
// as processes of their own (the extractor reaching only the gateway), the registry read by
// the test's own connection.

const CONFIG = `
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: note, from: note, type: string, length: 40 }
  - name: parts
    source: { table: parts }
    target: { table: parts, key: [id] }
    columns:
      - { name: id, from: id, type: int }
`

async function fill (sql: Connection): Promise<void> {
  await sql.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(40))')
  await sql.query('INSERT INTO items VALUES ?', [Array.from({ length: 500 }, (_, i) => [i + 1, `item ${i + 1}`])])
  await sql.query('CREATE TABLE parts (id INT PRIMARY KEY)')
  await sql.query('INSERT INTO parts VALUES ?', [Array.from({ length: 20 }, (_, i) => [i + 1])])
}

/** `GET /v1/sync-requests` with the extractor's token, as the daemon asks it. */
async function syncRequests (p: Pipeline): Promise<string[]> {
  const res = await fetch(`${p.env.SISPORTA_GATEWAY_URL!}/v1/sync-requests`, { headers: { authorization: `Bearer ${p.token}` } })
  if (res.status !== 200) throw new Error(`GET /v1/sync-requests: ${res.status} ${await res.text()}`)
  return ((await res.json()) as SyncRequestsReply).requests.map((r) => `${r.stream} by ${r.requestedBy}`)
}

interface Listed { stream: string, paused: boolean, pausedBy?: string, reason?: string, resumedBy?: string, malformed?: string, pendingSync: { requestedBy: string } | null }

t.test('pause / resume', async (t) => {
  const p = await startPipeline(t, { configYaml: CONFIG, fillSource: fill })
  const streams = async (...args: string[]) => await p.cli(['streams', ...args, '--by', 'olga'])
  const list = async (): Promise<Listed[]> => {
    const listed = await p.cli(['streams', 'list', '--json'])
    if (listed.code !== 0) throw new Error(`streams list failed (exit ${listed.code}): ${listed.stderr}`)
    return JSON.parse(listed.stdout) as Listed[]
  }

  await t.test('streams – a NAME not in the config is bad usage (exit 2), naming the known streams', async (t) => {
    const result = await streams('pause', 'itemz')
    t.equal(result.code, 2)
    t.match(result.stderr, /streams pause: stream 'itemz' is not in .*sisporta\.yaml \(streams: items, parts\) \[SIS_CLI_USAGE\]/)
    t.equal((await streams('frobnicate')).code, 2, 'an unknown action too')
    t.same((await list()).map((l) => [l.stream, l.paused]), [['items', false], ['parts', false]], 'nothing was paused')
  })

  await t.test('paused: extract exits 1 with SIS_EXTRACT_STREAM_PAUSED and opens no load', async (t) => {
    const paused = await streams('pause', 'items', '--reason', 'month-end close')
    t.equal(paused.code, 0, 'pause exits 0', { stderr: paused.stderr })
    t.match(paused.stdout, /stream 'items' is paused \(by olga at .*: month-end close\)/)
    t.match(await list(), [{ stream: 'items', paused: true, pausedBy: 'olga', reason: 'month-end close' }, { stream: 'parts', paused: false }], 'streams list shows it')
    const human = await p.cli(['streams', 'list'])
    t.match(human.stdout, /^items {2}PAUSED by olga at \S+ — month-end close\nparts {2}active\n$/, 'and says so to a person')

    const result = await p.extract('items')
    t.equal(result.code, 1, 'extract exits 1')
    t.match(result.stderr, /sisporta: stream 'items' is paused \(by olga at .*: month-end close\): no new load opens until `sisporta streams resume items` \[SIS_EXTRACT_STREAM_PAUSED\]/)
    t.same(await p.loads('items'), [], 'no load was opened in the registry')
    const [[{ n }]] = await p.target.query('SELECT COUNT(*) AS n FROM items') as unknown as [[{ n: string }]]
    t.equal(Number(n), 0, 'nothing reached the target')

    const other = await p.extract('parts')
    t.equal(other.code, 0, 'another stream loads as usual', { stderr: other.stderr.slice(-2000) })
  })

  await t.test('sync now: waits while the stream is paused, is handed out once resumed, served by the next load', async (t) => {
    const requested = await streams('sync', 'items')
    t.equal(requested.code, 0)
    t.match(requested.stdout, /sync of stream 'items' requested by olga.*the stream is paused: the request is served once it is resumed/)
    t.match(await list(), [{ stream: 'items', paused: true, pendingSync: { requestedBy: 'olga' } }], 'pending')
    t.same(await syncRequests(p), [], 'not handed to the extractor while paused')

    const resumed = await streams('resume', 'items')
    t.equal(resumed.code, 0)
    t.match(resumed.stdout, /stream 'items' resumed by olga/)
    t.match(await list(), [{ stream: 'items', paused: false, resumedBy: 'olga', pendingSync: { requestedBy: 'olga' } }])
    t.same(await syncRequests(p), ['items by olga'], 'handed to the extractor now')

    const result = await p.extract('items')
    t.equal(result.code, 0, 'extract succeeds once resumed', { stderr: result.stderr.slice(-2000) })
    t.match(result.stdout, /reconciled/)
    t.equal((await p.loads('items')).at(-1)?.state, 'reconciled')
    t.same(await syncRequests(p), [], 'the load served the request')
    t.match(await list(), [{ stream: 'items', paused: false, pendingSync: null }])
    await p.expectMirror(t)
  })
})
