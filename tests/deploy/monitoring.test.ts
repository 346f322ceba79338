import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { parser as promql } from '@prometheus-io/lezer-promql'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, LOAD_STATES } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'

// The alert rules and the Grafana dashboard shipped with the chart and the kustomize component:
// well-formed, one source for both, and every sisporta metric they query is one the real
// services export (scraped from their /metrics after a real load).

const root = fileURLToPath(new URL('../../', import.meta.url))
// tests/ is no YAML user: borrow the yaml package of @sisporta/config (as deploy/check does)
const { parse: parseYaml } = createRequire(`${root}libs/config/package.json`)('yaml') as { parse: (text: string) => unknown }

const RULES_FILE = 'deploy/helm/sisporta/monitoring/prometheus-rules.yaml'
const DASHBOARD_FILE = 'deploy/helm/sisporta/dashboards/sisporta.json'

interface Rule { alert?: string, record?: string, expr?: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
interface RuleFile { groups: Array<{ name: string, rules: Rule[] }> }

const rules = parseYaml(readFileSync(`${root}${RULES_FILE}`, 'utf8')) as RuleFile
const dashboard = JSON.parse(readFileSync(`${root}${DASHBOARD_FILE}`, 'utf8')) as unknown

/** Every PromQL query of the rules file: `{ where, expr }`. */
function ruleQueries (file: RuleFile): Array<{ where: string, expr: string }> {
  return file.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, expr: r.expr ?? '' })))
}

/** Every PromQL query of a dashboard: panel targets (nested rows too) and variable queries. */
function dashboardQueries (node: unknown, where = 'dashboard'): Array<{ where: string, expr: string }> {
  if (Array.isArray(node)) return node.flatMap((n) => dashboardQueries(n, where))
  if (node === null || typeof node !== 'object') return []
  const o = node as Record<string, unknown>
  const here = typeof o.title === 'string' ? `panel '${o.title}'` : typeof o.name === 'string' ? `variable '${o.name}'` : where
  const own = [o.expr, o.definition, typeof o.query === 'string' ? o.query : (o.query as { query?: unknown } | undefined)?.query]
    .filter((q): q is string => typeof q === 'string' && q.includes('sisporta_'))
    .map((expr) => ({ where: here, expr }))
  return [...own, ...Object.values(o).flatMap((v) => dashboardQueries(v, here))]
}

/** The sisporta metric names a PromQL expression reads. */
function metricNames (expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bsisporta_[a-z0-9_]+\b/g)].map((m) => m[0]))]
}

/**
 * Metric names a Prometheus text exposition declares (`# TYPE`), histograms and summaries
 * with the series they expose (`_bucket`, `_sum`, `_count`).
 */
function exportedNames (exposition: string): Set<string> {
  const names = new Set<string>()
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!)
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s)
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s)
  }
  return names
}

/** The samples of one metric in an exposition, keyed by their labels without `service`. */
function samples (exposition: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const [, labels = '', value] of exposition.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const key = [...labels.matchAll(/(\w+)="([^"]*)"/g)].filter((m) => m[1] !== 'service').map((m) => `${m[1]}=${m[2]}`).sort().join(',')
    out.set(key, Number(value))
  }
  return out
}

/**
 * Where PromQL (the Prometheus project's own grammar) finds a syntax error in `expr`, or
 * `undefined`. Grafana's `$__rate_interval` / `$__interval` become durations first; its
 * `label_values(…)` variable queries are no PromQL and are not checked.
 */
function promqlProblem (expr: string): string | undefined {
  if (expr.startsWith('label_values(')) return undefined
  const query = expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m')
  let at: number | undefined
  promql.parse(query).iterate({ enter: (node) => { if (node.type.isError && at === undefined) at = node.from } })
  return at === undefined ? undefined : `syntax error at ${at}: …${query.slice(at, at + 30)}`
}

/** Names used but not exported, each with where it is used. */
function unknownMetrics (queries: Array<{ where: string, expr: string }>, exported: Set<string>): string[] {
  return queries.flatMap((q) => metricNames(q.expr).filter((n) => !exported.has(n)).map((n) => `${n} (${q.where})`))
}

t.test('alert rules – every rule has alert, expr, for, a severity, a summary and a description naming where to look', async (t) => {
  const all = rules.groups.flatMap((g) => g.rules)
  t.ok(all.length >= 6, `${all.length} rules`)
  const severities = new Set(['critical', 'warning', 'info'])
  for (const rule of all) {
    const name = rule.alert ?? '(no alert name)'
    t.match(rule.alert, /^Sisporta[A-Z][A-Za-z]+$/, `${name}: alert name`)
    t.ok(typeof rule.expr === 'string' && rule.expr.trim() !== '', `${name}: expr`)
    t.match(rule.for, /^[0-9]+[smh]$/, `${name}: for`)
    t.ok(severities.has(rule.labels?.severity ?? ''), `${name}: severity label (${rule.labels?.severity})`)
    t.ok((rule.annotations?.summary ?? '').length > 10, `${name}: summary`)
    t.match(rule.annotations?.description, /`(sisporta|kubectl|nats) [^`]+`|SIS_RECON_|ServiceMonitor/, `${name}: the description says which command to run`)
  }
  const names = all.map((r) => r.alert)
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'alert names are unique')
  // the list: lag growing, dead letters, a held load, a stale stream, failed or abandoned loads, a service down
  for (const metric of ['sisporta_consumer_pending_batches', 'sisporta_dead_letters', 'sisporta_loads{state="held"}', 'sisporta_stream_last_reconciled_timestamp_seconds', 'failed|abandoned', 'up{']) {
    t.ok(all.some((r) => r.expr?.includes(metric)), `a rule watches ${metric}`)
  }
})

t.test('alert rules and dashboard – every expression is valid PromQL', async (t) => {
  const queries = [...ruleQueries(rules), ...dashboardQueries(dashboard)]
  t.ok(queries.length > 20, `${queries.length} queries`)
  t.same(queries.map((q) => ({ ...q, problem: promqlProblem(q.expr) })).filter((q) => q.problem !== undefined), [], 'no syntax error')
  t.match(promqlProblem('max by (stream (sisporta_dead_letters) > 0'), /^syntax error/, 'the check finds a broken expression')
})

t.test('alert rules and dashboard – the kustomize component holds exact copies of the chart\'s files', async (t) => {
  const { monitoringCopies } = await import(`${root}deploy/check/sync-monitoring.mjs`) as { monitoringCopies: () => Map<string, string> }
  for (const [file, text] of monitoringCopies()) {
    t.equal(readFileSync(file, 'utf8'), text, `${file.slice(root.length)} is up to date (else: node deploy/check/sync-monitoring.mjs)`)
  }
  const rule = parseYaml(readFileSync(`${root}k8s/components/alerts/prometheusrule.yaml`, 'utf8')) as { kind: string, spec: RuleFile }
  t.equal(rule.kind, 'PrometheusRule')
  t.ok(isDeepStrictEqual(rule.spec, rules), 'its spec is the chart\'s rules file')
  const kustomization = parseYaml(readFileSync(`${root}k8s/components/alerts/kustomization.yaml`, 'utf8')) as { configMapGenerator: Array<{ files: string[], options: { labels: Record<string, string> } }> }
  t.same(kustomization.configMapGenerator[0]?.files, ['sisporta.json'])
  t.equal(kustomization.configMapGenerator[0]?.options.labels.grafana_dashboard, '1', 'labelled for Grafana\'s dashboard sidecar')
})

t.test('dashboard – panels for throughput, lag, latency, loads, dead letters and freshness', async (t) => {
  const queries = dashboardQueries(dashboard)
  const used = new Set(queries.flatMap((q) => metricNames(q.expr)))
  for (const metric of ['sisporta_persister_rows_upserted_total', 'sisporta_consumer_pending_batches', 'sisporta_consumer_ack_pending_batches',
    'sisporta_persister_apply_duration_seconds_bucket', 'sisporta_loads', 'sisporta_dead_letters', 'sisporta_stream_last_reconciled_timestamp_seconds']) {
    t.ok(used.has(metric), `the dashboard shows ${metric}`)
  }
  const ids = (dashboard as { panels: Array<{ id: number }> }).panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
})

t.test('alert rules and dashboard – every sisporta metric they use is exported by the running services', async (t) => {
  const p = await startPipeline(t, {
    configYaml: `
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [sku] }
    deletes: hard
    columns:
      - { name: sku, from: sku, type: string, length: 20 }
      - { name: name, from: name, type: string, length: 40 }
`,
    fillSource: async (sql) => {
      await sql.query('CREATE TABLE items (sku VARCHAR(20) PRIMARY KEY, name VARCHAR(40))')
      await sql.query('INSERT INTO items VALUES ?', [Array.from({ length: 25 }, (_, i) => [`sku-${i}`, `item ${i}`])])
    },
    env: { SISPORTA_OPERATOR_METRICS_INTERVAL: '1s', SISPORTA_BATCH_SIZE: '10' }
  })
  const extracted = await p.extract('items')
  t.equal(extracted.code, 0, 'a tiny full load', { stderr: extracted.stderr.slice(-2000) })
  const load = (await p.loads('items')).at(-1)!
  t.equal(load.state, 'reconciled')
  // a dead letter without load headers: kept (and ignored by the reconciler)
  const h = natsHeaders()
  h.set(BatchHeaders.Reason, 'test letter')
  await p.nc.jetstream().publish(p.names.dlqSubject('items'), new TextEncoder().encode('{}'), { headers: h })

  const scrape = async (service: string): Promise<string> => {
    const res = await fetch(`${p.services.get(service)!.url}/metrics`)
    if (res.status !== 200) throw new Error(`${service} /metrics answered ${res.status}`)
    return await res.text()
  }
  // the reconciler's operator metrics, refreshed every second, once they show the load and the letter
  const reconciler = await eventually(async () => {
    const text = await scrape('reconciler')
    const done = samples(text, 'sisporta_loads').get('state=reconciled,stream=items') === 1 && samples(text, 'sisporta_dead_letters').get('stream=items') === 1
    return done ? text : undefined
  }, { timeoutMs: 60_000, what: 'the reconciler\'s /metrics to show the reconciled load and the dead letter' })

  await t.test('the reconciler exports the operator metrics with the registry\'s and JetStream\'s values', async (t) => {
    const loads = samples(reconciler, 'sisporta_loads')
    t.equal(loads.size, LOAD_STATES.length, 'one series per state of the one stream')
    t.same([...loads].filter(([, v]) => v > 0), [['state=reconciled,stream=items', 1]])
    t.same(samples(reconciler, 'sisporta_stream_rows'), new Map([['stream=items', 25]]), 'the target has the 25 rows')
    t.same(samples(reconciler, 'sisporta_stream_last_reconciled_timestamp_seconds'), new Map([['stream=items', Date.parse(load.reconciledAt!) / 1000]]))
    t.same(samples(reconciler, 'sisporta_dead_letters'), new Map([['stream=items', 1]]))
    t.same(samples(reconciler, 'sisporta_consumer_pending_batches'), new Map([['', 0]]), 'every batch was applied')
    t.same(samples(reconciler, 'sisporta_consumer_ack_pending_batches'), new Map([['', 0]]))
    t.same(samples(reconciler, 'sisporta_stream_queued_batches'), new Map([['stream=items', 0]]))
    t.ok(samples(reconciler, 'sisporta_consumer_redelivered_total').has(''), 'redelivered is exported')
  })

  const exported = new Set<string>()
  for (const service of ['gateway', 'persister']) for (const name of exportedNames(await scrape(service))) exported.add(name)
  for (const name of exportedNames(reconciler)) exported.add(name)
  t.ok(exported.has('sisporta_persister_apply_duration_seconds_bucket'), 'histograms count with their _bucket series')
  t.same(unknownMetrics(ruleQueries(rules), exported), [], `every sisporta metric in ${RULES_FILE} is exported`)
  t.same(unknownMetrics(dashboardQueries(dashboard), exported), [], `every sisporta metric in ${DASHBOARD_FILE} is exported`)
  // the check itself: a misspelt metric is caught
  t.same(unknownMetrics([{ where: 'rule SisportaTypo', expr: 'max by (stream) (sisporta_dead_leters) > 0' }], exported), ['sisporta_dead_leters (rule SisportaTypo)'], 'a misspelt metric is reported')
})
