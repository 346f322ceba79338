import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LoadRecord } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { logLines } from '../support/log-lines.js'

// A cron schedule holds across restarts: the extractor daemon (a separate process) reads the
// stream's last load from the registry, through the gateway, when it starts. A tick that passed
// while it was down runs once at start; a restart that missed nothing runs nothing.

const STREAM = `
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Title, from: Title, type: string, length: 100 }
`

/** A six-field cron expression (seconds first, UTC) that fires once a year, at `at` (a whole second). */
function onceAt (at: Date): string {
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} *`
}

t.test('schedule – a cron tick missed while the extractor daemon was down runs once after the restart, and only once', async (t) => {
  const p = await startPipeline(t, {
    configYaml: `streams:${STREAM}`,
    fillSource: async (sql) => {
      await sql.query('CREATE TABLE `Album` (`AlbumId` INT PRIMARY KEY, `Title` VARCHAR(100) NOT NULL)')
      await sql.query("INSERT INTO `Album` VALUES (1, 'For Those About To Rock'), (2, 'Balls to the Wall'), (3, 'Restless and Wild')")
    }
  })
  const loads = async (): Promise<LoadRecord[]> => await p.loads('albums')

  // the last load before the "restart": an ordinary one, run by hand
  const extracted = await p.extract('albums')
  t.equal(extracted.code, 0, 'the first load is reconciled', { stderr: extracted.stderr.slice(-2000) })
  const [first] = await loads()
  t.ok(first !== undefined, 'one load in the registry')

  // a tick after that load, which passes while no daemon runs
  const tick = new Date(Math.ceil((Date.parse(first!.openedAt) + 1000) / 1000) * 1000)
  const schedule = onceAt(tick)
  await eventually(() => Date.now() > tick.getTime() + 100 ? true : undefined, { what: `the tick ${tick.toISOString()} to pass` })
  const configFile = join(p.dir, 'scheduled.yaml')
  writeFileSync(configFile, `streams:${STREAM}    schedule: { full: "${schedule}" }\n`)

  // the daemon starts after the tick: one catch-up load
  await p.start('extractor', { SISPORTA_CONFIG: configFile })
  const caughtUp = await eventually(async () => (await loads()).find((l) => l.id !== first!.id && l.state === 'reconciled'), { what: 'the catch-up load reconciled', timeoutMs: 180_000 })
  t.ok(Date.parse(caughtUp.openedAt) > tick.getTime(), 'opened after the missed tick')
  const daemonLog = join(p.dir, 'extractor.log')
  const planned = logLines(daemonLog).find((l) => l.stream === 'albums' && typeof l.msg === 'string' && l.msg.startsWith('next run at'))
  t.match(planned, { schedule, catchUp: true, lastLoadId: first!.id, lastLoadAt: first!.openedAt }, 'the daemon caught up from the registry\'s last load')
  t.notOk(logLines(daemonLog).some((l) => l.msg === 'previous load still running; skipping this tick'), 'no second run was tried for the same missed tick')
  t.same((await loads()).map((l) => l.id), [first!.id, caughtUp.id], 'exactly one catch-up load')

  // restarted again: nothing was missed since the catch-up load, nothing runs
  await p.services.get('extractor')!.stop(10_000)
  await p.start('extractor', { SISPORTA_CONFIG: configFile }, 'extractor-again')
  const againLog = join(p.dir, 'extractor-again.log')
  const replanned = await eventually(() => logLines(againLog).find((l) => l.stream === 'albums' && typeof l.msg === 'string' && l.msg.startsWith('next run at')), { what: 'the restarted daemon\'s plan' })
  t.match(replanned, { catchUp: false, lastLoadId: caughtUp.id }, 'the catch-up load counts as the last run')
  t.ok(Date.parse(replanned.nextRunAt as string) > Date.now() + 300 * 86_400_000, `the next run is the tick a year on (${String(replanned.nextRunAt)})`)
  t.same((await loads()).map((l) => l.id), [first!.id, caughtUp.id], 'no further load')
  await p.expectMirror(t)
})
