import t from 'tap'
import type { Connection } from 'mysql2/promise'
import { createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { eventually } from '@sisporta/testkit'
import { startPipeline, type Pipeline } from '../support/pipeline.js'
import { checkMirror } from '../support/mirror-check.js'

// The dead-letter tools in a real deployment: all services running, the reconciler included,
// so a load fails the moment one of its batches is dead-lettered. The target refuses some rows
// (a trigger, as an application's rule would): the persister bisects their batches, applies the
// good rows and dead-letters only the refused ones (with their keys); the load fails. Once the
// rule is dropped, `sisporta dlq replay --stream customers` applies the letters INTO THE FAILED
// LOAD and the target equals the source. Then the bulk tools: a letter of an older load is
// refused once a newer full load applied; drop by number, by filter with --yes.
const SIZE = { products: 10, customers: 300 }

interface Letter { seq: number, stream: string, loadId: number, batch: number, rows: number, batchRows?: number, keys?: { id: number }[], column?: string, reason: string }

async function refuseKrakow (target: Connection): Promise<void> {
  for (const when of ['INSERT', 'UPDATE']) {
    await target.query(`CREATE TRIGGER refuse_krakow_${when.toLowerCase()} BEFORE ${when} ON customers FOR EACH ROW IF NEW.city = 'Kraków' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'city Kraków refused by a trigger'; END IF`)
  }
}

async function allowKrakow (target: Connection): Promise<void> {
  await target.query('DROP TRIGGER refuse_krakow_insert')
  await target.query('DROP TRIGGER refuse_krakow_update')
}

/** Waits until the persisters settled every batch, and returns the dead letters then. */
async function settledLetters (p: Pipeline, args: string[] = []): Promise<Letter[]> {
  const jsm = await p.nc.jetstreamManager()
  await eventually(async () => {
    const info = await jsm.consumers.info(p.names.batchStream, p.names.persisterConsumer)
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
  }, { what: 'the persister to settle every batch', timeoutMs: 180_000 })
  const list = await p.cli(['dlq', 'list', '--json', ...args])
  return JSON.parse(list.stdout) as Letter[]
}

t.test('dlq tools – refused rows are bisected out, replayed into the FAILED load with the reconciler running; then bulk replay refusals and drops', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: async (sql) => { await createDemoErp(sql, SIZE) },
    env: { SISPORTA_BATCH_SIZE: '25' }
  })
  const [[{ n: krakow }]] = await p.source.query("SELECT COUNT(*) AS n FROM Clientes WHERE Cidade = 'Kraków'") as unknown as [[{ n: string }]]
  const refused = Number(krakow)
  t.ok(refused > 0, `${refused} source rows the target will refuse`)
  await refuseKrakow(p.target)

  const extract = await p.cli(['extract', '--stream', 'customers', '--mode', 'full', '--wait'])
  t.equal(extract.code, 1, 'extract --wait reports the load failed', { stdout: extract.stdout.slice(-2000) })
  const load = (await p.loads('customers')).at(-1)!
  t.match(load, { state: 'failed', reason: /dead-lettered as #\d+.*sisporta dlq replay \d+/ }, 'the reconciler failed the load at once, naming the letter and the replay')

  const letters = await settledLetters(p)
  t.ok(letters.length > 0 && letters.every((l) => l.loadId === load.id), `${letters.length} letter(s) of load ${load.id}`)
  const bisected = letters.filter((l) => /SIS_PERSIST_ROWS_REFUSED/.test(l.reason))
  t.ok(bisected.length > 0, 'batches with refused rows were bisected')
  const refusedKeys = bisected.flatMap((l) => l.keys ?? []).map((k) => k.id).sort((a, b) => a - b)
  const [krakowIds] = await p.source.query("SELECT CliId AS id FROM Clientes WHERE Cidade = 'Kraków' ORDER BY CliId") as unknown as [{ id: number }[]]
  // batches the persister reached after the load failed are dead-lettered whole (the load no
  // longer takes batches): their Kraków rows are in those letters, not in a bisected one
  const wholeRows = letters.filter((l) => !/SIS_PERSIST_ROWS_REFUSED/.test(l.reason)).reduce((n, l) => n + l.rows, 0)
  t.ok(refusedKeys.every((id) => krakowIds.some((k) => Number(k.id) === id)), 'every key a letter names is a refused (Kraków) row', { refusedKeys })
  t.ok(bisected.every((l) => l.rows === (l.keys ?? []).length && l.batchRows !== undefined && l.batchRows > l.rows), 'a bisected letter holds only its refused rows, of a larger batch')
  const [[{ n: inTarget }]] = await p.target.query('SELECT COUNT(*) AS n FROM customers') as unknown as [[{ n: string }]]
  t.equal(Number(inTarget), SIZE.customers - bisected.reduce((n, l) => n + l.rows, 0) - wholeRows, 'every row not in a letter is in the target: the good rows of bisected batches were applied')

  const show = await p.cli(['dlq', 'show', String(bisected[0]!.seq)])
  t.equal(show.code, 0)
  t.match(show.stdout, /^dead letter #\d+ — stream customers, load \d+, batch \d+/, 'show: what the letter is')
  t.match(show.stdout, new RegExp(`offending rows \\(${bisected[0]!.rows} in this letter of the batch's \\d+; \\d+ were applied\\):\\n  id=${bisected[0]!.keys![0]!.id}\\n`), 'show names the offending rows first')
  t.match(show.stdout, /what to do: fix what the error names in the target \(a trigger, a constraint…\), then `sisporta dlq replay \d+`/, 'and hints the fix')
  t.ok(show.stdout.indexOf('offending rows') < show.stdout.indexOf('body:'))
  const showJson = JSON.parse((await p.cli(['dlq', 'show', String(bisected[0]!.seq), '--json'])).stdout) as Letter & { body: { rows: unknown[][] }, hint: string }
  t.equal(showJson.body.rows.length, bisected[0]!.rows)
  t.match(showJson, { seq: bisected[0]!.seq, keys: bisected[0]!.keys, hint: /sisporta dlq replay/ })

  // the cause fixed, every letter of the stream replayed into the failed load at once
  await allowKrakow(p.target)
  const replay = await p.cli(['dlq', 'replay', '--stream', 'customers'])
  t.equal(replay.code, 0, 'every letter replayed', { stdout: replay.stdout, stderr: replay.stderr.slice(-2000) })
  t.match(replay.stdout, new RegExp(`\\n${letters.length} replayed, 0 refused\\n$`), 'a summary line')
  t.same(await settledLetters(p), [], 'no letter left: every replay applied')
  t.equal((await p.loads('customers')).find((l) => l.id === load.id)!.state, 'failed', 'the load stays failed (it never reconciles, so a replay deletes nothing)')
  const [stamps] = await p.target.query("SELECT DISTINCT _sisporta_load AS stamp FROM customers WHERE city = 'Kraków'") as unknown as [{ stamp: string }[]]
  t.same(stamps.map((r) => Number(r.stamp)), [load.id], 'the once-refused rows are there, written by the failed load')
  const report = await checkMirror(p.config.stream('customers')!, { sourceUrl: p.sourceUrl, targetUrl: p.targetUrl })
  t.same({ equal: report.equal, rows: report.targetRows }, { equal: true, rows: SIZE.customers }, 'customers mirrors the source exactly', { report })

  // bulk tools: a second failed load with letters, then a newer full load that succeeds
  await refuseKrakow(p.target)
  t.equal((await p.cli(['extract', '--stream', 'customers', '--mode', 'full', '--wait'])).code, 1, 'a second load fails')
  const second = (await p.loads('customers')).at(-1)!
  const secondLetters = await settledLetters(p, ['--load', String(second.id)])
  t.ok(secondLetters.length >= 2, `${secondLetters.length} letters of load ${second.id}`)
  await allowKrakow(p.target)
  const third = await p.extract('customers')
  t.equal(third.code, 0, 'a newer full load reconciles', { stderr: third.stderr.slice(-2000) })

  const stale = await p.cli(['dlq', 'replay', '--load', String(second.id), '--json'])
  t.equal(stale.code, 1, 'replaying letters older than an applied full load is refused: exit 1')
  const outcome = JSON.parse(stale.stdout) as { replayed: number, refused: number, outcomes: { outcome: string, code: string, reason: string }[] }
  t.match(outcome, { replayed: 0, refused: secondLetters.length })
  t.ok(outcome.outcomes.every((o) => o.code === 'SIS_BUS_DLQ_REPLAY_REFUSED' && /a newer full load of stream 'customers' \(load \d+, reconciled\)/.test(o.reason)), 'each refusal says why', { outcome })
  t.equal((await settledLetters(p)).length, secondLetters.length, 'refused letters are kept')

  const unconfirmed = await p.cli(['dlq', 'drop', '--all'])
  t.equal(unconfirmed.code, 2, 'drop --all off a terminal without --yes: usage error')
  t.match(unconfirmed.stderr, /add --yes/)
  const one = await p.cli(['dlq', 'drop', String(secondLetters[0]!.seq), '999999'])
  t.equal(one.code, 1, 'a number with no letter is refused: exit 1')
  t.match(one.stdout, new RegExp(`dead letter #${secondLetters[0]!.seq} \\(stream customers, load ${second.id}, batch \\d+, \\d+ rows\\) dropped\\n.*#999999 refused: SIS_BUS_DLQ_UNKNOWN`))
  t.match(one.stdout, /1 dropped, 1 refused\n$/)
  const rest = await p.cli(['dlq', 'drop', '--load', String(second.id), '--yes'])
  t.equal(rest.code, 0)
  t.match(rest.stdout, new RegExp(`${secondLetters.length - 1} dropped, 0 refused\\n$`))
  t.same(await settledLetters(p), [], 'no letter left')
  await p.expectMirror(t, 'customers')
})
