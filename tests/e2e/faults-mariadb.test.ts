import t from 'tap'
import { createPool } from 'mysql2/promise'
import { eventually, privateMariadb } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { expectMirror } from '../support/mirror-check.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_ROWS, FAULT_STREAM,
  copyDatabase, expectLedger, fillFaultErp, metricValue, newestLoad, sourceRows, watchLog
} from '../support/faults.js'

// Fault matrix: the target MariaDB killed with SIGKILL mid-load and restarted on the same data
// directory and port — a private mariadbd, never the shared one (the source stays on the shared
// server, so the extractor keeps reading). The kill is timed from the persister's metrics (a
// tenth of the batches applied, more to come); the restart waits until the persister has
// noticed (it stops pulling until MySQL answers, so no batch burns its deliveries). InnoDB
// rolls back the transactions cut short; their batches come again and are applied: every batch
// booked once, nothing dead-lettered, the target mirrors the source.

t.test('fault – target MariaDB killed mid-load and restarted: the persister waits, every batch applied once', async (t) => {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const server = await privateMariadb(t)
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV },
    targetServer: server.url
  })
  // the pipeline's own target connection dies with the server: a pool reconnects
  const target = createPool({ uri: p.targetUrl, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true })
  t.teardown(async () => { await target.end().catch(() => {}) })
  const rows = await sourceRows(p.source)
  const persister = p.services.get('persister')!
  const log = watchLog(p, 'persister')
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)

  const killAt = Math.ceil(batches / 10)
  const applied = await eventually(async () => {
    const n = await metricValue(persister.url, 'sisporta_persister_batches_applied_total', { stream: FAULT_STREAM })
    return n >= killAt ? n : undefined
  }, { intervalMs: 10, timeoutMs: 120_000, what: `the persister to apply ${killAt} batches` })
  await server.kill()
  t.ok(applied < batches, `MariaDB killed mid-load: ${applied} of ${batches} batches applied`)
  await log.until((l) => l.msg === 'MySQL not answering; pulling no batches until it does', 'the persister noticing that MySQL is gone', { timeoutMs: 120_000 })
  await server.restart()

  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  t.ok(log.matching((l) => l.msg === 'MySQL answers again; pulling batches').length >= 1, 'the persister went on once MySQL answered again')
  t.equal(await metricValue(persister.url, 'sisporta_persister_batches_dead_lettered_total'), 0, 'no batch was dead-lettered')
  const load = (await newestLoad(p))!
  t.equal(load.state, 'reconciled', `load ${load.id} is reconciled`)
  await expectLedger(t, target, load, rows)
  // the mirror check joins source and target in one statement: a copy of the source goes beside the target
  const sourceCopy = await copyDatabase(p.sourceUrl, server.url)
  await expectMirror(t, p.config.streams, { sourceUrl: sourceCopy, targetUrl: p.targetUrl })
})
