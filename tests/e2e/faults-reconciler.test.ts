import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import {
  FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_ROWS, FAULT_STREAM,
  expectLedger, fillFaultErp, loadOf, newestLoad, sourceRows, watchLog
} from '../support/faults.js'

// Fault matrix: the reconciler killed with SIGKILL in the middle of a chunked delete. A first
// full load mirrors the ERP; then 40 % of the ERP's rows are deleted and a second full load runs.
// Its reconciliation deletes the absent rows in chunks small enough to make ~1000 statements;
// the kill is timed from the reconciler's own "deleted a chunk" log lines (debug). The load is
// left `applied`; the restarted reconciler resumes it and deletes exactly the rest: the survivors
// are the source's rows by key (the mirror check), the deletes before and after the crash add
// up to the absent rows, every batch booked once.

/** Rows of 1…n with n % 5 in (1, 3): the ones the test deletes from the ERP. */
const ABSENT = Array.from({ length: FAULT_ROWS }, (_, i) => (i + 1) % 5).filter((r) => r === 1 || r === 3).length
const CHUNK = Math.max(1, Math.floor(ABSENT / 1000))

t.test('fault – reconciler killed in the middle of a chunked delete: it resumes and deletes exactly the absent rows', async (t) => {
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV },
    serviceEnv: { reconciler: { SISPORTA_LOG_LEVEL: 'debug', SISPORTA_DELETE_CHUNK: String(CHUNK) } }
  })
  const countItems = async (): Promise<number> => {
    const [n] = await p.target.query('SELECT COUNT(*) AS n FROM items') as unknown as [{ n: string | number }[]]
    return Number(n[0]!.n)
  }
  const first = await p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)
  t.equal(first.code, 0, 'the first full load mirrors the ERP', { stdout: first.stdout.slice(-2000), stderr: first.stderr.slice(-2000) })
  const [deleted] = await p.source.query('DELETE FROM Itens WHERE Codigo % 5 IN (1, 3)') as unknown as [{ affectedRows: number }]
  t.equal(deleted.affectedRows, ABSENT, `the ERP deleted ${ABSENT} of ${FAULT_ROWS} rows`)
  const rows = await sourceRows(p.source)
  const before = await countItems()

  const log = watchLog(p, 'reconciler')
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)
  const chunks = await log.until((l) => l.msg === 'deleted a chunk of absent rows', 'the reconciler deleting chunks of absent rows', { count: 20 })
  const loadId = Number(chunks[0]!.loadId)
  await p.services.get('reconciler')!.kill()
  // a DELETE the server was running when its client died still commits: count once none runs
  await eventually(async () => {
    const [running] = await p.target.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'DELETE%'") as unknown as [{ n: string | number }[]]
    return Number(running[0]!.n) === 0 ? true : undefined
  }, { what: 'the killed reconciler\'s last DELETE to end' })
  const deletedBefore = before - await countItems()
  t.ok(deletedBefore > 0 && deletedBefore < ABSENT, `reconciler killed mid-delete: ${deletedBefore} of ${ABSENT} absent rows deleted (chunks of ${CHUNK})`)
  const midway = await loadOf(p, loadId)
  t.equal(midway?.state, 'applied', `load ${loadId} is left applied, not reconciled`)

  await p.start('reconciler')
  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the restarted reconciler finished the load', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const load = (await newestLoad(p))!
  t.equal(load.id, loadId, `no other load ran: load ${loadId} is the newest`)
  t.equal(load.state, 'reconciled', `load ${loadId} is reconciled`)
  t.equal(load.absentRows, ABSENT - deletedBefore, 'the restarted reconciler found exactly the absent rows not yet deleted')
  t.equal(deletedBefore + (load.deletedRows ?? 0), ABSENT, `rows deleted before the crash (${deletedBefore}) and after it (${String(load.deletedRows)}) are the absent rows`)
  await expectLedger(t, p.target, load, rows)
  // the survivors, by key and value, are exactly the source's rows (missing, extra and different all none)
  await p.expectMirror(t)
})
