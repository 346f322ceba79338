import t from 'tap'
import type { Test } from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { startPipeline, type Pipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_EXTRACT_ARGS, FAULT_LOAD_TIMEOUT_MS, FAULT_ROWS, FAULT_STREAM,
  fillFaultErp, loadOf, metricValue, newestLoad, parseLines, sourceRows, spawnExtract, type ExtractProcess
} from '../support/faults.js'

// Fault matrix, diffed reloads (docs/reloads.md): a full load of a stream with a reconciled full
// load compares the source with the target range by range — the persisters answer each
// comparison and mark the target rows nothing matched with the negative load id — and sends
// only the rows that differ. Each case kills one actor with SIGKILL while comparisons are under
// way (timed from the gateway's `sisporta_gateway_ranges_compared_total`):
//
// - the persister (the comparisons' answerer and the batch applier): the gateway answers 503
//   SIS_GW_COMPARER_UNAVAILABLE meanwhile, the extractor asks again, the restarted persister
//   compares the range again (same marks) and the load completes;
// - the gateway: the extractor retries what got no answer from the restarted one;
// - the extractor: its load stays open, deletes nothing and leaves only its marks; once
//   abandoned, the next diffed reload repairs everything.
//
// Every expectation is read independently of sisporta's readers: the mirror check (the
// databases' own comparison) and plain SQL on the target's `_sisporta_load` stamps and
// `sisporta_batches`. What a load must send and delete comes from the changes the test makes.

/** Source rows per compared range: small, so that a few thousand rows make a few dozen ranges. */
const COMPARE_ROWS = 200

/** Source rows of the first load: the fault ERP's size, at most 4000 (each case fills its own: ~20 ranges). */
const ROWS = Math.min(FAULT_ROWS, 4000)

const ENV = {
  SISPORTA_BATCH_SIZE: String(FAULT_BATCH_SIZE),
  SISPORTA_PERSISTER_CONCURRENCY: '2',
  SISPORTA_COMPARE_ROWS: String(COMPARE_ROWS),
  // a comparison whose persister was killed gets no reply: the gateway answers 503 after this
  // long (not the default 90 s) and the extractor asks again
  SISPORTA_COMPARE_TIMEOUT: '5',
  // a batch delivered to the killed persister is handed out again this long after (not 60 s);
  // a live persister keeps its batches alive with `working()` meanwhile
  SISPORTA_ACK_WAIT: '5'
}

/** `extract --wait` of a diffed reload: the default kind, said explicitly. */
const DIFF_ARGS = ['--reload', 'diff', '--timeout', `${Math.ceil(FAULT_LOAD_TIMEOUT_MS / 1000)}s`]

/** Ranges compared at least before a kill: comparisons are under way, not just begun. */
const KILL_AFTER_RANGES = 3

/** What the test changed at the source, by `code` (unique in the fault ERP: its generator's sequence). */
interface Changes {
  readonly updated: readonly number[]
  readonly inserted: readonly number[]
  readonly deleted: readonly number[]
}

type Stamps = Map<number, number | null>

async function query<T> (p: Pipeline, statement: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await p.target.query(statement, params) as unknown as [T[]]
  return rows
}

/** Every target row's `code` and stamp, by SQL. */
async function stamps (p: Pipeline): Promise<Stamps> {
  const rows = await query<{ code: number, s: string | null }>(p, 'SELECT code, _sisporta_load AS s FROM items')
  return new Map(rows.map((r) => [Number(r.code), r.s === null ? null : Number(r.s)]))
}

async function codesStamped (p: Pipeline, stamp: number): Promise<number[]> {
  return (await query<{ code: number }>(p, 'SELECT code FROM items WHERE _sisporta_load = ? ORDER BY code', [stamp])).map((r) => Number(r.code))
}

/** Rows marked absent by some load (a negative stamp), whoever marked them. */
async function negativeStamps (p: Pipeline): Promise<Map<number, number>> {
  const rows = await query<{ code: number, s: string }>(p, 'SELECT code, _sisporta_load AS s FROM items WHERE _sisporta_load < 0')
  return new Map(rows.map((r) => [Number(r.code), Number(r.s)]))
}

/** `sisporta_batches` of a load: rows booked, bookings and distinct batch numbers. */
async function ledger (p: Pipeline, loadId: number): Promise<{ bookings: number, distinct: number, rows: number }> {
  const [row] = await query<{ b: string, d: string, r: string | null }>(p,
    'SELECT COUNT(*) AS b, COUNT(DISTINCT batch_no) AS d, SUM(row_count) AS r FROM sisporta_batches WHERE stream = ? AND load_id = ?', [FAULT_STREAM, loadId])
  return { bookings: Number(row!.b), distinct: Number(row!.d), rows: Number(row!.r ?? 0) }
}

const sorted = (xs: Iterable<number>): number[] => [...xs].sort((a, b) => a - b)

/** Ranges a diffed load of `rows` source rows compares: full ranges of COMPARE_ROWS, then the one unbounded above. */
const rangesOf = (rows: number): number => Math.floor(rows / COMPARE_ROWS) + 1

/** A pipeline of the fault ERP whose first full load (every row sent) is reconciled and mirrors the source. */
async function loadedPipeline (t: Test): Promise<Pipeline> {
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => {
      // weights such as 632/7, whose 17 digits mysql2's own number parser gets one unit wrong:
      // the comparison reads doubles as text (compare-range.ts), so they match, and the counts hold
      await fillFaultErp(sql, ROWS)
    },
    env: ENV
  })
  const result = await p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)
  t.equal(result.code, 0, 'the first full load exits 0', { stderr: result.stderr.slice(-3000) })
  const first = (await newestLoad(p))!
  t.match(first, { state: 'reconciled', rows: ROWS }, `first load ${first.id}: every row sent, reconciled`)
  t.equal(first.reload, undefined, 'the first load of a stream is a load of rows')
  await p.expectMirror(t)
  return p
}

/**
 * Scattered changes at the source: every 50th row updated, rows inserted between existing keys
 * of every branch (the key is branch, code), about 1 % deleted (under maxDeleteRatio 0.5).
 */
async function changeSource (p: Pipeline): Promise<Changes> {
  const codes = async (where: string): Promise<number[]> => {
    const [rows] = await p.source.query(`SELECT Codigo AS c FROM Itens WHERE ${where} ORDER BY Codigo`) as unknown as [{ c: number }[]]
    return rows.map((r) => Number(r.c))
  }
  const max = Math.max(...await codes('1 = 1'))
  const deleted = await codes('Codigo % 97 = 3')
  await p.source.query('DELETE FROM Itens WHERE Codigo % 97 = 3')
  const updated = await codes('Codigo % 50 = 0')
  await p.source.query("UPDATE Itens SET Descricao = CONCAT(Descricao, ' alterado'), Preco = Preco + 1 WHERE Codigo % 50 = 0")
  const inserted = Array.from({ length: 21 }, (_, i) => max + 1 + i)
  await p.source.query(`INSERT INTO Itens VALUES ${inserted.map((c) =>
    `('F${String(c % 7).padStart(2, '0')}', ${c}, 'novo nº ${c} ✨', ${c}.125, ${c % 3 === 0 ? 'NULL' : `${c}.25`}, 1, '2026-05-06 07:08:09.123456', NULL)`).join(', ')}`)
  return { updated, inserted, deleted }
}

/** Waits until the gateway counts `at least` ranges compared for the fault stream; returns the count. */
async function rangesCompared (gatewayUrl: string, atLeast: number): Promise<number> {
  return await eventually(async () => {
    const n = await metricValue(gatewayUrl, 'sisporta_gateway_ranges_compared_total', { stream: FAULT_STREAM })
    return n >= atLeast ? n : undefined
  }, { intervalMs: 5, timeoutMs: FAULT_LOAD_TIMEOUT_MS, what: `the gateway to count ${atLeast} ranges compared` })
}

/** The extractor's retries of range comparisons, from its log. */
function compareRetries (stderr: string): string[] {
  return parseLines(stderr).filter((l) => l.msg === 'gateway request failed, retrying' && String(l.what).startsWith('compare a range')).map((l) => String(l.reason))
}

/**
 * Checks a completed diffed load against the changes, by SQL: the target mirrors the source,
 * the changed and inserted rows and only they carry the load's stamp, every other surviving row
 * keeps the stamp it had, exactly the rows deleted at the source are gone, no mark is left, and
 * each batch the load sealed is booked once.
 */
async function expectRepaired (t: Test, p: Pipeline, load: LoadRecord, before: Stamps, expected: { sent: readonly number[], deleted: readonly number[] }): Promise<void> {
  const rows = await sourceRows(p.source)
  t.match(load, { state: 'reconciled', reload: 'diff' }, `load ${load.id} is a diffed reload, reconciled`, { reason: load.reason })
  t.equal(load.comparedRows, rows, `comparedRows: every source row (${rows})`)
  t.equal(load.comparedRanges, rangesOf(rows), `${rangesOf(rows)} ranges compared`)
  t.equal(load.rows, expected.sent.length, `rows sent: exactly the ${expected.sent.length} rows the target lacked or held otherwise`)
  t.equal(load.deletedRows, expected.deleted.length, `deletedRows: exactly the ${expected.deleted.length} rows deleted at the source`)
  const booked = await ledger(p, load.id)
  t.same(booked, { bookings: load.batches, distinct: load.batches, rows: expected.sent.length },
    `sisporta_batches: each of the load's ${String(load.batches)} batches booked exactly once, with the rows sent`)
  await p.expectMirror(t)
  const after = await stamps(p)
  t.same(await codesStamped(p, load.id), sorted(expected.sent), 'the rows sent, and only they, carry the new load id')
  const deleted = new Set(expected.deleted)
  t.same(sorted([...before.keys()].filter((c) => !after.has(c))), sorted(deleted), 'exactly the rows deleted at the source are gone')
  const sent = new Set(expected.sent)
  const kept = [...before].filter(([c]) => !deleted.has(c) && !sent.has(c))
  const moved = kept.filter(([c, stamp]) => after.get(c) !== stamp)
  t.same(moved.slice(0, 10), [], `the other ${kept.length} rows keep their stamp`)
  t.same([...await negativeStamps(p)].slice(0, 10), [], 'no row with a negative stamp remains')
}

/** A diffed reload after the changes, `kill` striking once a few ranges were compared; it must complete. */
async function diffedReloadSurvives (t: Test, p: Pipeline, kill: (compared: number) => Promise<void>): Promise<{ load: LoadRecord, stderr: string }> {
  const before = await stamps(p)
  const changes = await changeSource(p)
  const ranges = rangesOf(await sourceRows(p.source))
  const extract = p.extract(FAULT_STREAM, DIFF_ARGS)
  const compared = await rangesCompared(p.services.get('gateway')!.url, KILL_AFTER_RANGES)
  await kill(compared)
  t.ok(compared < ranges, `killed mid-comparison: ${compared} of ${ranges} ranges compared`)
  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the diffed load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const load = (await newestLoad(p))!
  await expectRepaired(t, p, load, before, { sent: [...changes.updated, ...changes.inserted], deleted: changes.deleted })
  return { load, stderr: result.stderr }
}

t.test('fault – persister killed mid-comparison: the extractor asks again, the restarted persister compares again, the diffed load completes', async (t) => {
  const p = await loadedPipeline(t)
  const { stderr } = await diffedReloadSurvives(t, p, async () => {
    await p.services.get('persister')!.kill()
    await p.start('persister')
  })
  const retries = compareRetries(stderr)
  t.ok(retries.length >= 1, `the extractor asked again for comparisons nobody answered (${retries.length} retries)`, { reasons: [...new Set(retries)].slice(0, 5) })
})

t.test('fault – gateway killed mid-comparison: the extractor retries on the restarted gateway, the diffed load completes', async (t) => {
  const p = await loadedPipeline(t)
  const { stderr } = await diffedReloadSurvives(t, p, async () => {
    const gateway = p.services.get('gateway')!
    await gateway.kill()
    await p.start('gateway', { SISPORTA_HTTP_PORT: String(gateway.port) })
  })
  const retries = compareRetries(stderr)
  t.ok(retries.length >= 1, `the extractor asked the restarted gateway again for comparisons (${retries.length} retries)`, { reasons: [...new Set(retries)].slice(0, 5) })
})

t.test('fault – extractor killed mid-comparison: its load deletes nothing and leaves only marks; once abandoned, the next diffed reload repairs everything', async (t) => {
  const p = await loadedPipeline(t)
  const before = await stamps(p)
  const changes = await changeSource(p)
  const ranges = rangesOf(await sourceRows(p.source))
  // spawnExtract's arguments ask for a load of rows (FAULT_EXTRACT_ARGS): the later --reload wins
  const killed: ExtractProcess = spawnExtract(p, FAULT_STREAM, ['--reload', 'diff'])
  const compared = await rangesCompared(p.services.get('gateway')!.url, KILL_AFTER_RANGES)
  await killed.kill()
  const open = (await newestLoad(p))!
  t.match(open, { state: 'open', reload: 'diff' }, `killed mid-comparison (${compared} of ${ranges} ranges compared): diffed load ${open.id} is open`)
  t.equal(open.batches, undefined, 'never sealed: it can never be applied, so it deletes nothing')

  // the batches it posted are applied all the same (an open or abandoned load's batches are):
  // the target is read once the persister has none left
  const jsm = await p.nc.jetstreamManager()
  await eventually(async () => {
    const info = await jsm.consumers.info(p.names.batchStream, p.names.persisterConsumer)
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
  }, { timeoutMs: FAULT_LOAD_TIMEOUT_MS, what: 'the persister to apply every batch the killed extractor posted' })
  const marked = await negativeStamps(p)
  const left = await stamps(p)
  t.same(sorted([...before.keys()].filter((c) => !left.has(c))), [], 'nothing deleted: every row of the target is still there')
  t.ok(marked.size >= 1, `the comparisons made left marks (${marked.size} rows)`)
  t.same([...new Set(marked.values())], [-open.id], `every mark is the killed load's: −${open.id}`)
  const changed = new Set([...changes.updated, ...changes.deleted])
  t.same(sorted([...marked.keys()].filter((c) => !changed.has(c))).slice(0, 10), [], 'only rows changed or deleted at the source were marked')
  const unchanged = [...before].filter(([c]) => !changed.has(c))
  t.equal(unchanged.filter(([c, stamp]) => left.get(c) !== stamp).length, 0, `the ${unchanged.length} rows unchanged at the source keep their stamp`)

  // abandoned by SISPORTA_OPEN_TIMEOUT (6 h by default): the reconciler, restarted with 1 s,
  // abandons it on its next sweep — and is restarted with the default before the next load
  const reconciler = p.services.get('reconciler')!
  await reconciler.stop()
  const impatient = await p.start('reconciler', { SISPORTA_OPEN_TIMEOUT: '1' })
  const abandoned = await eventually(async () => {
    const l = await loadOf(p, open.id)
    return l?.state === 'abandoned' ? l : undefined
  }, { timeoutMs: 60_000, what: `load ${open.id} to be abandoned by SISPORTA_OPEN_TIMEOUT` })
  await impatient.stop()
  await p.start('reconciler', { SISPORTA_OPEN_TIMEOUT: String(6 * 3600) })
  t.match(abandoned.reason, /SISPORTA_OPEN_TIMEOUT/, `load ${open.id} abandoned at its open timeout`, { reason: abandoned.reason })
  t.equal(abandoned.deletedRows, undefined, 'the abandoned load deleted nothing')
  t.same(await stamps(p), left, 'abandoning it changed no row and no stamp: its marks stay')

  // rows it marked absent come back at the source as they were: a mark is never taken as equal,
  // so the next load sends them again (else they would keep the abandoned load's mark)
  const revived = [...marked.keys()].filter((c) => changes.deleted.includes(c)).slice(0, 3)
  t.ok(revived.length >= 1, `rows marked absent by the killed load come back at the source: ${revived.join(', ')}`)
  const [back] = await p.target.query(`SELECT branch, code, description, price, weight, active, changed_at, note FROM items WHERE code IN (${revived.join(', ')})`) as unknown as [Record<string, unknown>[]]
  for (const r of back) {
    await p.source.query('INSERT INTO Itens VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [r.branch, r.code, r.description, r.price, r.weight, r.active, r.changed_at, r.note])
  }

  // the next diffed reload sends what the target lacks or holds otherwise — the changed rows the
  // killed load did not write, and every row it marked that the source has — and deletes
  // exactly the rows deleted at the source
  const deleted = new Set(changes.deleted.filter((c) => !revived.includes(c)))
  const updated = new Set(changes.updated)
  const sent = [...changes.inserted.filter((c) => !left.has(c) || left.get(c) !== open.id),
    ...[...left].filter(([c, stamp]) => !deleted.has(c) && !changes.inserted.includes(c) && (stamp! < 0 || (updated.has(c) && stamp !== open.id))).map(([c]) => c)]
  const result = await p.extract(FAULT_STREAM, DIFF_ARGS)
  t.equal(result.code, 0, 'the next extract --wait exits 0: applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const load = (await newestLoad(p))!
  t.ok(load.id > open.id, `a newer load (${load.id})`)
  await expectRepaired(t, p, load, left, { sent, deleted: [...deleted] })
})
