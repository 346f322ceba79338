import t from 'tap'
import { join } from 'node:path'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { logLines } from '../support/log-lines.js'

// "Verify" as an operator lives it (docs/streams-control.md): `sisporta streams verify NAME`
// writes a request into the registry; the extractor daemon (outside the cluster: it reaches the
// gateway only) picks it up at its next poll, compares the source with the target through the
// gateway, and posts its report, which the gateway stores; `streams list` then shows it.

const STREAMS = `streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Title, from: Title, type: string, length: 100 }
`

interface Listed { stream: string, pendingVerify: unknown, lastVerify: null | { requestedAt: string, requestedBy: string, missing: number, extra: number, different: number, firstKeys: { missing: unknown[][] }, reportedBy: string } }

t.test('verify now – the extractor daemon verifies a stream an operator asked about and the report is stored', async (t) => {
  const p = await startPipeline(t, {
    configYaml: STREAMS,
    env: { SISPORTA_SYNC_POLL_INTERVAL: '1' },
    fillSource: async (sql) => {
      await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY, `Title` VARCHAR(100) NOT NULL)')
      await sql.query("INSERT INTO `Album` VALUES (1, 'For Those About To Rock'), (2, 'Balls to the Wall'), (3, 'Restless and Wild')")
    }
  })
  t.equal((await p.extract('albums')).code, 0, 'a first full load')
  await eventually(async () => (await p.loads('albums')).find((l) => l.state === 'reconciled'), { what: 'the first load reconciled', timeoutMs: 180_000 })
  await p.start('extractor')
  const daemonLog = join(p.dir, 'extractor.log')
  const list = async (): Promise<Listed> => {
    const res = await p.cli(['streams', 'list', '--json'])
    t.equal(res.code, 0, 'streams list', { stderr: res.stderr.slice(-2000) })
    return (JSON.parse(res.stdout) as Listed[]).find((l) => l.stream === 'albums')!
  }

  const asked = await p.cli(['streams', 'verify', 'albums', '--by', 'olga'])
  t.equal(asked.code, 0, 'the request is recorded', { stderr: asked.stderr.slice(-2000) })
  t.match(asked.stdout, /verify of stream 'albums' requested by olga/)
  const identical = await eventually(async () => { const l = await list(); return l.lastVerify !== null && l.pendingVerify === null ? l : undefined }, { what: 'the verify report stored', timeoutMs: 120_000 })
  t.match(identical.lastVerify, { requestedBy: 'olga', missing: 0, extra: 0, different: 0 }, 'identical')
  t.match(logLines(daemonLog).filter((l) => l.msg === 'verify requested: verify started'), [{ stream: 'albums', requestedBy: 'olga' }], 'the daemon says who asked, once')
  t.equal((await p.loads('albums')).length, 1, 'a verify opens no load')

  await p.source.query("INSERT INTO `Album` VALUES (4, 'Let There Be Rock')")
  t.equal((await p.cli(['streams', 'verify', 'albums', '--by', 'olga'])).code, 0)
  const different = await eventually(async () => { const l = await list(); return l.lastVerify !== null && l.lastVerify.missing > 0 && l.pendingVerify === null ? l : undefined }, { what: 'the second report', timeoutMs: 120_000 })
  t.match(different.lastVerify, { missing: 1, extra: 0, different: 0, firstKeys: { missing: [[4]] } }, 'the row missing from the target, by key')
  const text = await p.cli(['streams', 'list'])
  t.match(text.stdout, /albums {2}active[\s\S]*verified \(requested by olga\) at .*: DIFFERENT: 1 missing, 0 extra, 0 different; first keys: missing \[4\]/)
  t.equal((await p.loads('albums')).length, 1, 'still no load: verify writes nothing')
})
