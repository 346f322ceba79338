#!/usr/bin/env node
// The chart holds the one source of sisporta's alert rules and dashboard
// (deploy/helm/sisporta/monitoring/prometheus-rules.yaml, deploy/helm/sisporta/dashboards/
// sisporta.json); kustomize cannot read files outside a kustomization, so k8s/components/alerts
// holds copies, written by this script:
//
//   node deploy/check/sync-monitoring.mjs          writes the copies
//   node deploy/check/sync-monitoring.mjs --check  exits 1 when a copy differs (check.sh, tests)
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const chart = join(root, 'deploy', 'helm', 'sisporta')
const component = join(root, 'k8s', 'components', 'alerts')

/** The component's files, as they must be, from the chart's sources. */
export function monitoringCopies () {
  const rules = readFileSync(join(chart, 'monitoring', 'prometheus-rules.yaml'), 'utf8')
  const body = rules.split('\n').filter((line, i, lines) => !(line.startsWith('#') && lines.slice(0, i).every((l) => l.startsWith('#'))))
    .join('\n').replace(/^\n+/, '')
  const header = [
    '# GENERATED from deploy/helm/sisporta/monitoring/prometheus-rules.yaml by',
    '# `node deploy/check/sync-monitoring.mjs`: edit the source, then run it. docs/monitoring.md',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: sisporta',
    '  labels:',
    '    app.kubernetes.io/name: sisporta',
    '    app.kubernetes.io/instance: sisporta',
    '    app.kubernetes.io/part-of: sisporta',
    'spec:'
  ].join('\n')
  const spec = body.split('\n').map((line) => line === '' ? '' : `  ${line}`).join('\n')
  return new Map([
    [join(component, 'prometheusrule.yaml'), `${header}\n${spec}`],
    [join(component, 'sisporta.json'), readFileSync(join(chart, 'dashboards', 'sisporta.json'), 'utf8')]
  ])
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check')
  let stale = 0
  for (const [file, text] of monitoringCopies()) {
    let current
    try { current = readFileSync(file, 'utf8') } catch { current = undefined }
    if (current === text) { console.log(`ok  ${file}`); continue }
    if (check) { stale++; console.log(`STALE ${file}: run node deploy/check/sync-monitoring.mjs`); continue }
    writeFileSync(file, text)
    console.log(`wrote ${file}`)
  }
  process.exit(stale > 0 ? 1 : 0)
}
