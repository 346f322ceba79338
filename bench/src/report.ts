import type { HistogramSummary } from './prom-text.js'
import type { BenchResult, ReloadRun } from './run-bench.js'

const n = (x: number): string => Math.round(x).toLocaleString('en')
const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)} %`
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
const ms = (seconds: number | undefined): string => seconds === undefined ? '-' : `${(seconds * 1000).toFixed(1)} ms`

function row (cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  ')
}

function latency (h: HistogramSummary | undefined): string {
  return h === undefined ? '-' : `p50 ${ms(h.p50)} · p99 ${ms(h.p99)} · mean ${ms(h.mean)} (${n(h.count)})`
}

/** The human summary of a run: throughput table, memory and CPU per process, stage times, latencies. */
export function formatReport (r: BenchResult): string {
  const lines: string[] = []
  const m = r.machine
  lines.push('')
  lines.push(`sisporta bench · ${n(r.rows)} rows · ${m.cores} cores (${m.cpuModel}) · ${n(m.memoryMb)} MB · node ${m.node} · MariaDB ${m.mariadb} · NATS ${m.nats ?? '?'}`)
  lines.push(`services run from ${r.runtime === 'tsx' ? 'TypeScript sources (tsx)' : 'compiled dist/'} · load average ${m.loadAverageAtStart.join(' ')} at start, ${r.loadAverageAtEnd.join(' ')} at end · batch ${r.settings.batchSize} rows, ${r.settings.inFlight} in flight, persister concurrency ${r.settings.persisterConcurrency}`)
  const s = m.serverSettings
  lines.push(`MariaDB: innodb_flush_log_at_trx_commit=${s.innodb_flush_log_at_trx_commit} log_bin=${s.log_bin} buffer_pool=${n(Number(s.innodb_buffer_pool_size) / 1048576)} MB redo=${n(Number(s.innodb_log_file_size) / 1048576)} MB flush=${s.innodb_flush_method} doublewrite=${s.innodb_doublewrite}`)
  lines.push('')
  const w = [44, 10, 11, 13]
  lines.push(row(['', 'seconds', 'rows/s', 'of LOAD DATA'], w))
  lines.push(row(['1. LOAD DATA (baseline)', r.loadData.seconds.toFixed(2), n(r.loadData.rowsPerSec), '100 %'], w))
  lines.push(row(['2. full load, 4 services', r.full.seconds.toFixed(2), n(r.full.rowsPerSec), pct(r.full.ratioToLoadData)], w))
  // results from before issue 13 have one second full load instead of the diffed reloads
  if (r.reload !== undefined) lines.push(row([`3. second full load (${n(r.reload.updated)} chg, ${n(r.reload.deleted)} del)`, r.reload.seconds.toFixed(2), n(r.reload.rowsPerSec), pct(r.reload.rowsPerSec / r.loadData.rowsPerSec)], w))
  const reloads: Array<[string, ReloadRun]> = []
  if (r.reloadScattered !== undefined) reloads.push(['3a. diffed, scattered', r.reloadScattered])
  if (r.reloadClustered !== undefined) reloads.push(['3b. diffed, clustered', r.reloadClustered])
  if (r.reloadRows !== undefined) reloads.push(['3c. every row (--reload-rows)', r.reloadRows])
  // a reload reads and compares every source row: its rows/s is over the source's rows
  for (const [name, m] of reloads) lines.push(row([`${name} reload (source rows)`, m.seconds.toFixed(2), n(m.sourceRows / m.seconds), pct(m.sourceRows / m.seconds / r.loadData.rowsPerSec)], w))
  if (r.verify !== undefined) lines.push(row([`4. verify, unchanged table (exit ${r.verify.exitCode})`, r.verify.seconds.toFixed(2), n(r.verify.rowsPerSec), pct(r.verify.ratioToLoadData)], w))
  for (const run of r.replicaRuns) {
    lines.push(row([`${r.verify !== undefined ? 5 : 4}. full load, ${run.replicas} persister replica${run.replicas === 1 ? '' : 's'}`, run.seconds.toFixed(2), n(run.rowsPerSec), pct(run.ratioToLoadData)], w))
  }
  lines.push('')
  if (reloads.length > 0) {
    const rw = [30, 14, 9, 11, 9, 9, 9, 9]
    lines.push(row(['3. reloads', 'chg / del', 'seconds', 'of full', 'MB sent', 'of full', 'rows', 'deleted'], rw))
    for (const [name, m] of reloads) {
      lines.push(row([name, `${n(m.updated)} / ${n(m.expectedDeleted)}`, m.seconds.toFixed(2), pct(m.secondsRatioToFull), (m.bytesSent / 1e6).toFixed(1), `${(m.bytesRatioToFull * 100).toFixed(1)} %`, n(m.rowsWritten), n(m.deleted)], rw))
    }
    lines.push(`  full load for comparison: ${r.full.seconds.toFixed(2)} s, ${mb(r.full.bytesSent ?? 0)} sent; compare ranges of ${n(r.settings.compareRows ?? 0)} rows, ${r.settings.inFlight} in flight`)
    for (const [name, m] of reloads) {
      if (m.compared !== undefined) lines.push(`  ${name}: ${n(m.compared.rows)} rows compared in ${n(m.compared.ranges)} ranges, ${n(m.compared.equalRanges)} equal · stages opened ${m.stages.opened} · sealed ${m.stages.sealed} · applied ${m.stages.applied} · reconciled ${m.stages.reconciled}`)
    }
    if (r.verify !== undefined) lines.push(`  4. verify: ${n(r.verify.report.ranges)} ranges, ${mb(r.verify.bytesSent)} sent, ${r.verify.report.seconds} s by its own account (without process start-up)`)
    lines.push('')
  }
  const st = r.full.stages
  lines.push(`full load stages (s from extractor start): opened ${st.opened} · sealed ${st.sealed} · applied ${st.applied} · reconciled ${st.reconciled}`)
  lines.push(`  from opened to reconciled: ${n(r.full.streamingRowsPerSec)} rows/s (${pct(r.full.streamingRowsPerSec / r.loadData.rowsPerSec)} of LOAD DATA); consumer backlog max ${n(r.full.backlog.maxPending)} batches`)
  lines.push(`  gateway publish → PubAck: ${latency(r.full.latency.gatewayPublish)}`)
  lines.push(`  gateway batch request:    ${latency(r.full.latency.gatewayBatchRequest)}`)
  lines.push(`  persister apply (batch):  ${latency(r.full.latency.persisterApply)}`)
  lines.push('')
  const kinds = ['gateway', 'persister', 'reconciler', 'extractor', 'mariadbd', 'nats-server']
  // CPU s of each later step, and µs per source row (the reloads and verify read every row)
  const later: Array<[string, { cpuSeconds: Record<string, number> }, number]> = []
  if (r.reload !== undefined) later.push(['2nd load', r.reload, r.rows])
  if (r.reloadScattered !== undefined) later.push(['scattered', r.reloadScattered, r.reloadScattered.sourceRows])
  if (r.reloadClustered !== undefined) later.push(['clustered', r.reloadClustered, r.reloadClustered.sourceRows])
  if (r.reloadRows !== undefined) later.push(['every row', r.reloadRows, r.reloadRows.sourceRows])
  if (r.verify !== undefined) later.push(['verify', r.verify, r.verify.sourceRows])
  if (r.verify !== undefined) kinds.splice(4, 0, 'verify')
  const pw = [12, 12, 11, 9, ...later.map(() => 17)]
  lines.push(`CPU s (µs/row) per process${later.length > 0 ? '; later steps per source row' : ''}`)
  lines.push(row(['process', 'peak RSS MB', 'full load', 'µs/row', ...later.map(([name]) => name)], pw))
  let total = 0
  const totals = later.map(() => 0)
  for (const kind of kinds) {
    const cpuFull = sumKind(r.full.cpuSeconds, kind)
    total += cpuFull
    const cells = later.map(([, m, rows], i) => {
      const cpu = sumKind(m.cpuSeconds, kind)
      totals[i]! += cpu
      return `${cpu.toFixed(1)} (${(cpu / rows * 1e6).toFixed(1)})`
    })
    lines.push(row([kind, r.peakRssMb[kind] === undefined ? '-' : r.peakRssMb[kind]!.toFixed(1), cpuFull.toFixed(1), (cpuFull / r.rows * 1e6).toFixed(0), ...cells], pw))
  }
  lines.push(row(['all', '', total.toFixed(1), (total / r.rows * 1e6).toFixed(0), ...later.map(([, , rows], i) => `${totals[i]!.toFixed(1)} (${(totals[i]! / rows * 1e6).toFixed(1)})`)], pw))
  const ldm = r.loadData.machineCpu
  lines.push(`LOAD DATA: MariaDB used ${r.loadData.mariadbCpuSeconds} CPU s, ${(r.loadData.mariadbCpuSeconds / r.rows * 1e6).toFixed(0)} µs/row${ldm === undefined ? '' : `; ${ldm.outsideMariadbSeconds} of ${ldm.capacitySeconds} CPU s went to other work meanwhile`}`)
  const mc = r.full.machineCpu
  lines.push(`machine during the full load: ${mc.busySeconds} CPU s busy of ${mc.capacitySeconds} available; ${mc.outsidePipelineSeconds} s outside the pipeline's processes (other work on the machine)`)
  lines.push('')
  const t = r.bars.throughput
  const mem = r.bars.memory
  lines.push(`bar: full load ≥ ${pct(t.required)} of LOAD DATA rows/s: ${pct(t.ratio)} — ${t.met ? 'MET' : 'NOT MET'}`)
  const rs = r.bars.reloadSeconds
  if (rs !== undefined) lines.push(`bar: each diffed reload ≤ 1/3 of the full load's seconds: scattered ${pct(rs.scattered)}, clustered ${pct(rs.clustered)} — ${rs.met ? 'MET' : 'NOT MET'}`)
  const rb = r.bars.reloadBytes
  if (rb !== undefined) lines.push(`bar: each diffed reload's bytes sent ≤ ${pct(rb.max)} of the full load's: scattered ${(rb.scattered * 100).toFixed(1)} %, clustered ${(rb.clustered * 100).toFixed(1)} % — ${rb.met ? 'MET' : 'NOT MET'}`)
  const vt = r.bars.verifyThroughput
  if (vt !== undefined) lines.push(`bar: verify ≥ ${pct(vt.required)} of LOAD DATA rows/s: ${pct(vt.ratio)} — ${vt.met ? 'MET' : 'NOT MET'}`)
  lines.push(`bar: every service's peak RSS < ${mem.limitMb} MB: largest ${mem.peakMb.toFixed(1)} MB — ${mem.met ? 'MET' : 'NOT MET'}`)
  if (r.profiles !== undefined) {
    for (const [name, p] of Object.entries(r.profiles)) {
      lines.push('')
      lines.push(`cpu profile ${name}: ${p.busySeconds} s busy — ${p.byArea.slice(0, 6).map((a) => `${a.area} ${a.percent} %`).join(' · ')}`)
      for (const f of p.topFunctions.slice(0, 6)) lines.push(`    ${f.percent.toFixed(1).padStart(5)} %  ${f.fn}`)
    }
  }
  return lines.join('\n')
}

function sumKind (cpu: Record<string, number>, kind: string): number {
  return Object.entries(cpu).filter(([k]) => k === kind || k.startsWith(`${kind}#`)).reduce((a, [, v]) => a + v, 0)
}
