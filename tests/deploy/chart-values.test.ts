import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

// The chart's values.schema.json against values.yaml: every default key is described, every
// object the chart defines is closed (additionalProperties: false, so a misspelled key fails
// helm lint / template), and — with helm, which deploy/check/check.sh installs — a misspelled
// key at every closed level is refused, and the KEDA and TLS guards hold.

const root = fileURLToPath(new URL('../../', import.meta.url))
const CHART = join(root, 'deploy/helm/sisporta')
// tests/ is no YAML user: borrow the yaml package of @sisporta/config (as deploy/check does)
const { parse: parseYaml } = createRequire(`${root}libs/config/package.json`)('yaml') as { parse: (text: string) => unknown }

interface Schema { type?: string | string[], properties?: Record<string, Schema>, additionalProperties?: boolean | Schema, items?: Schema }
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema & { $schema: string }
const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>

// Maps whose keys are the user's (env names, labels, annotations, selectors, Kubernetes objects
// passed through as they are, sisporta.yaml itself): open by design.
const FREE_FORM = /(^|\.)(env|config|nodeSelector|podAnnotations|podLabels|annotations|labels|ruleLabels|affinity|podSecurityContext|securityContext|authSecrets|namespaceSelector|podSelector|requests|limits|rules|rollingUpdate)$|^probes\.|\.strategy$/

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Every object path of values.yaml with fixed keys: `[path, keys, schema node]`. */
function closedObjects (v: Record<string, unknown>, s: Schema, path = ''): Array<{ path: string, keys: string[], node: Schema | undefined }> {
  if (path !== '' && FREE_FORM.test(path)) return []
  const out: Array<{ path: string, keys: string[], node: Schema | undefined }> = [{ path, keys: Object.keys(v), node: s }]
  for (const [k, x] of Object.entries(v)) {
    if (isObject(x)) out.push(...closedObjects(x, s?.properties?.[k] ?? {}, path ? `${path}.${k}` : k))
  }
  return out
}

t.test('values schema – draft-07, and every key of values.yaml is described with a type', async (t) => {
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#')
  const missing: string[] = []
  for (const { path, keys, node } of closedObjects(values, schema)) {
    for (const k of keys) if (node?.properties?.[k] === undefined) missing.push(path ? `${path}.${k}` : k)
  }
  t.same(missing, [], 'keys of values.yaml the schema does not describe')
})

t.test('values schema – every object of the chart\'s own values is closed (additionalProperties: false)', async (t) => {
  const open = closedObjects(values, schema).filter(({ node }) => node?.additionalProperties !== false).map(({ path }) => path || '(root)')
  t.same(open, [], 'objects that would accept a misspelled key')
})

const helm = [process.env.SISPORTA_DEPLOY_TOOLS, join(homedir(), '.cache/sisporta-deploy-check')]
  .filter((d): d is string => d !== undefined).map((d) => join(d, 'layer/helm/helm')).find((f) => existsSync(f))

/** `helm template` of the chart with --set arguments: its output, or the error it fails with. */
function template (...sets: string[]): { ok: true, out: string } | { ok: false, err: string } {
  try {
    const out = execFileSync(helm!, ['template', 'sisporta', CHART, '--namespace', 'sisporta', ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return { ok: true, out }
  } catch (err) {
    return { ok: false, err: String((err as { stderr?: string }).stderr ?? err) }
  }
}

t.test('chart – a misspelled key is refused at every level of the values', { skip: helm === undefined ? 'no helm: run bash deploy/check/check.sh once (it installs it)' : false }, async (t) => {
  for (const { path } of closedObjects(values, schema)) {
    const key = path ? `${path}.misspelled` : 'misspelled'
    const result = template(`${key}=1`)
    t.notOk(result.ok, `--set ${key}=1 is refused`)
    if (!result.ok) t.match(result.err, /Additional property misspelled is not allowed/, `${key}: the schema names the key`)
  }
})

t.test('chart – KEDA owns the persisters\' replicas, and is exclusive with the HPA', { skip: helm === undefined ? 'no helm' : false }, async (t) => {
  const keda = template('persister.keda.enabled=true', 'busNamespace=acme')
  t.ok(keda.ok)
  if (!keda.ok) return
  const docs = keda.out.split(/^---$/m).map((d) => parseYaml(d) as { kind?: string, metadata?: { name: string }, spec?: Record<string, unknown> } | null).filter((d) => d?.kind)
  const persister = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'sisporta-persister')
  const gateway = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === 'sisporta-gateway')
  t.notOk(persister?.spec && 'replicas' in persister.spec, 'the persister Deployment has no replicas')
  t.equal(gateway?.spec?.replicas, 2, 'the gateway keeps its replicas')
  const scaled = docs.find((d) => d?.kind === 'ScaledObject') as { spec: { scaleTargetRef: { name: string }, triggers: Array<{ type: string, metadata: Record<string, string> }> } } | undefined
  t.equal(scaled?.spec.scaleTargetRef.name, 'sisporta-persister')
  t.match(scaled?.spec.triggers[0], { type: 'nats-jetstream', metadata: { stream: 'ACME_BATCHES', consumer: 'acme_persister', account: '$G', natsServerMonitoringEndpoint: 'nats.nats.svc.cluster.local:8222' } })

  const plain = template()
  t.ok(plain.ok && !plain.out.includes('kind: ScaledObject'), 'no ScaledObject by default')
  const both = template('persister.keda.enabled=true', 'persister.autoscaling.enabled=true')
  t.notOk(both.ok, 'KEDA and the HPA together are refused')
  if (!both.ok) t.match(both.err, /KEDA creates its own HPA/)
})

t.test('chart – an Ingress needs TLS unless plain HTTP is allowed; one body limit drives both', { skip: helm === undefined ? 'no helm' : false }, async (t) => {
  const plain = template('gateway.ingress.enabled=true')
  t.notOk(plain.ok, 'an Ingress without tls is refused')
  if (!plain.ok) t.match(plain.err, /gateway\.ingress\.tls is empty/)
  const allowed = template('gateway.ingress.enabled=true', 'gateway.ingress.allowPlainHttp=true', 'gateway.bodyLimitMiB=8')
  t.ok(allowed.ok, 'allowPlainHttp lets it render')
  if (allowed.ok) {
    t.match(allowed.out, /nginx\.ingress\.kubernetes\.io\/proxy-body-size: "8m"/)
    t.match(allowed.out, /- name: SISPORTA_GATEWAY_BODY_LIMIT\n\s+value: "8388608"/)
  }
  t.notOk(template('env.SISPORTA_GATEWAY_BODY_LIMIT=1').ok, 'a second body limit in env is refused')
})
