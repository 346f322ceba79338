// Offline checks of Kubernetes manifests for deploy/check/check.sh:
//   node manifests.mjs parse FILE…              YAML well-formed (strict, unique keys)
//   node manifests.mjs validate FILE…           OpenAPI schemas (kubernetes-models' validators)
//   node manifests.mjs typecheck TSC FILE…      field names strictly: typed literals through tsc
//   node manifests.mjs compare HELM KUSTOMIZE…  same objects once packaging is normalised away
//   node manifests.mjs scaled NAMESPACE FILE…   a KEDA ScaledObject drives the persister, whose
//                                               Deployment has no replicas field
// Tools are resolved from $SISPORTA_DEPLOY_TOOLS/node_modules (check.sh installs them).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { isDeepStrictEqual } from 'node:util'

const tools = process.env.SISPORTA_DEPLOY_TOOLS
if (!tools) throw new Error('set SISPORTA_DEPLOY_TOOLS (deploy/check/check.sh does)')
const require = createRequire(join(tools, 'node_modules', 'noop.js'))
const { parseAllDocuments } = require('yaml')

const [command, ...args] = process.argv.slice(2)

/** The objects of multi-document YAML files, with the file each came from. */
function objects (files) {
  return files.flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS()).filter((o) => o != null).map((o) => ({ file, o })))
}

/** kubernetes-models module of an apiVersion + kind. */
function modelPath ({ apiVersion, kind }) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`
}

function parse (files) {
  let bad = 0
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true, strict: true })
    const problems = docs.flatMap((d) => [...d.errors, ...d.warnings])
    if (problems.length > 0) { bad++; console.log(`BAD ${file}: ${problems.map((p) => p.message).join('; ')}`) }
  }
  console.log(`${files.length} file(s), ${bad} bad`)
  return bad === 0
}

/** The model class of an object (the Prometheus Operator models are ES modules only). */
async function model (o) {
  const path = modelPath(o)
  if (!path.startsWith('@kubernetes-models/')) return require(path)[o.kind]
  const file = join(tools, 'node_modules', path.replace(/^(@[^/]+\/[^/]+)\//, '$1/') + '.js')
  return (await import(pathToFileURL(file).href))[o.kind]
}

// KEDA's CRDs have no kubernetes-models package: the fields of a ScaledObject (keda.sh/v1alpha1,
// KEDA 2.x) and of the nats-jetstream trigger (keda.sh/docs/latest/scalers/nats-jetstream),
// checked here by hand: known keys only, metadata values strings, required ones present.
const SCALED_OBJECT = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  spec: ['scaleTargetRef', 'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'idleReplicaCount', 'minReplicaCount', 'maxReplicaCount', 'fallback', 'advanced', 'triggers'],
  scaleTargetRef: ['apiVersion', 'kind', 'name', 'envSourceContainerName'],
  trigger: ['type', 'name', 'metadata', 'authenticationRef', 'metricType', 'useCachedMetrics'],
  natsJetstream: { required: ['natsServerMonitoringEndpoint', 'stream', 'consumer', 'lagThreshold'], optional: ['account', 'activationLagThreshold', 'useHttps'] }
}

/** Problems of a keda.sh/v1alpha1 ScaledObject (an empty list when it is well-formed). */
function scaledObjectProblems (o) {
  const problems = []
  const only = (obj, keys, where) => { for (const k of Object.keys(obj ?? {})) if (!keys.includes(k)) problems.push(`${where}.${k}: unknown field`) }
  only(o, SCALED_OBJECT.top, '')
  only(o.spec, SCALED_OBJECT.spec, '.spec')
  only(o.spec?.scaleTargetRef, SCALED_OBJECT.scaleTargetRef, '.spec.scaleTargetRef')
  if (typeof o.spec?.scaleTargetRef?.name !== 'string') problems.push('.spec.scaleTargetRef.name: required')
  for (const k of ['pollingInterval', 'cooldownPeriod', 'minReplicaCount', 'maxReplicaCount']) {
    if (o.spec?.[k] !== undefined && !Number.isInteger(o.spec[k])) problems.push(`.spec.${k}: must be an integer`)
  }
  if (!(o.spec?.minReplicaCount <= o.spec?.maxReplicaCount)) problems.push('.spec: minReplicaCount must be <= maxReplicaCount')
  if (!Array.isArray(o.spec?.triggers) || o.spec.triggers.length === 0) problems.push('.spec.triggers: required')
  for (const [i, t] of (o.spec?.triggers ?? []).entries()) {
    only(t, SCALED_OBJECT.trigger, `.spec.triggers[${i}]`)
    for (const [k, v] of Object.entries(t.metadata ?? {})) if (typeof v !== 'string') problems.push(`.spec.triggers[${i}].metadata.${k}: must be a string`)
    if (t.type === 'nats-jetstream') {
      const { required, optional } = SCALED_OBJECT.natsJetstream
      only(t.metadata, [...required, ...optional], `.spec.triggers[${i}].metadata`)
      for (const k of required) if (!t.metadata?.[k]) problems.push(`.spec.triggers[${i}].metadata.${k}: required`)
    }
  }
  return problems
}

async function validate (files) {
  let bad = 0; const all = objects(files)
  for (const { file, o } of all) {
    try {
      if (o.apiVersion === 'keda.sh/v1alpha1' && o.kind === 'ScaledObject') {
        const problems = scaledObjectProblems(o)
        if (problems.length > 0) throw new Error(problems.join('; '))
        continue
      }
      const Model = await model(o)
      new Model(o).validate()
    } catch (err) {
      bad++; console.log(`BAD ${file}: ${o.kind}/${o.metadata?.name}: ${err.message}`)
    }
  }
  console.log(`${all.length} object(s), ${bad} bad`)
  return bad === 0
}

// An unknown field is invisible to the schemas above (they allow extra properties); as a fresh
// object literal of the model's interface it is a compile error (excess property check).
function typecheck ([tsc, ...files]) {
  const imports = new Map(); const lines = []
  for (const [i, { file, o }] of objects(files).entries()) {
    if (o.apiVersion.startsWith('keda.sh/')) continue // no types: checked by validate
    const alias = `T${i}`
    imports.set(alias, `import type { I${o.kind} as ${alias} } from '${modelPath(o)}'`)
    lines.push(`// ${file}: ${o.kind}/${o.metadata?.name}\nexport const o${i}: ${alias} = ${JSON.stringify(o, null, 1)}`)
  }
  const source = join(tools, 'manifests-check.ts')
  writeFileSync(source, [...imports.values(), ...lines].join('\n') + '\n')
  try {
    execFileSync(tsc, ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', source], { stdio: 'inherit' })
    console.log(`${lines.length} object(s) type-check`)
    return true
  } catch { return false }
}

/** Strips what differs only by packaging: Helm's labels and hooks, hash suffixes, namespaces,
 * env given inline (Helm) or through the sisporta-env ConfigMap (kustomize). */
function normalise (all) {
  const envMaps = {}
  for (const { o } of all) if (o.kind === 'ConfigMap' && o.metadata.name.startsWith('sisporta-env')) envMaps[o.metadata.name] = o.data
  const out = {}
  for (const { o } of all) {
    if (o.kind === 'ConfigMap' && o.metadata.name.startsWith('sisporta-env')) continue
    if (o.metadata.annotations?.['helm.sh/hook'] === 'test') continue // `helm test` only
    delete o.metadata.namespace
    for (const m of [o.metadata, o.spec?.template?.metadata].filter(Boolean)) {
      for (const l of ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/version']) delete m.labels?.[l]
      for (const a of Object.keys(m.annotations ?? {})) if (a.startsWith('helm.sh/') || a.startsWith('checksum/')) delete m.annotations[a]
      if (m.annotations && Object.keys(m.annotations).length === 0) delete m.annotations
    }
    if (o.kind === 'ConfigMap' && o.data?.['sisporta.yaml'] !== undefined) { // the chart's hook ConfigMap and the generated one hold the same file
      o.metadata = { name: 'sisporta-config' }
      o.data['sisporta.yaml'] = parseAllDocuments(o.data['sisporta.yaml'])[0].toJS()
    }
    const pod = o.spec?.template?.spec
    if (pod) {
      for (const v of pod.volumes ?? []) if (v.configMap) v.configMap.name = 'sisporta-config'
      for (const c of pod.containers) {
        const env = [...(c.env ?? [])]
        for (const f of c.envFrom ?? []) {
          for (const [name, value] of Object.entries(envMaps[f.configMapRef?.name] ?? {})) {
            // the extractor reads no NATS; the shared sisporta-env still carries its URL
            if (name === 'SISPORTA_NATS_URL' && c.name === 'extractor') continue
            if (!env.some((e) => e.name === name)) env.push({ name, value })
          }
        }
        delete c.envFrom
        c.env = env.map((e) => e.value === undefined ? e : { ...e, value: String(e.value) }).sort((a, b) => a.name.localeCompare(b.name))
      }
    }
    out[`${o.kind}/${o.metadata.name}`] = o
  }
  return out
}

function compare ([helm, ...kustomize]) {
  const a = normalise(objects([helm])); const b = normalise(objects(kustomize))
  let differences = 0
  const walk = (x, y, path) => {
    if (isDeepStrictEqual(x, y)) return
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], `${path}.${k}`)
    } else { differences++; console.log(`  ${path}: helm=${JSON.stringify(x)} kustomize=${JSON.stringify(y)}`) }
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!(key in a)) { differences++; console.log(`only in kustomize: ${key}`) } else if (!(key in b)) { differences++; console.log(`only in helm: ${key}`) } else walk(a[key], b[key], key)
  }
  console.log(differences === 0 ? `equivalent: ${Object.keys(a).length} object(s)` : `${differences} difference(s)`)
  return differences === 0
}

/** The persister is scaled by KEDA: a ScaledObject on the persisters' consumer of the bus
 * namespace, targeting the persister Deployment, which leaves `replicas` out. */
function scaled ([namespace, ...files]) {
  const all = objects(files).map(({ o }) => o)
  const deployment = all.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-persister'))
  const scaledObject = all.find((o) => o.kind === 'ScaledObject')
  const problems = []
  if (!deployment) problems.push('no persister Deployment')
  if (!scaledObject) problems.push('no ScaledObject')
  if (deployment && 'replicas' in deployment.spec) problems.push(`Deployment/${deployment.metadata.name} has spec.replicas (${deployment.spec.replicas}): it would fight KEDA on every upgrade`)
  if (deployment && scaledObject) {
    if (scaledObject.spec.scaleTargetRef.name !== deployment.metadata.name) problems.push(`the ScaledObject targets ${scaledObject.spec.scaleTargetRef.name}, not ${deployment.metadata.name}`)
    const trigger = scaledObject.spec.triggers.find((t) => t.type === 'nats-jetstream')
    if (!trigger) problems.push('no nats-jetstream trigger')
    else {
      if (trigger.metadata.stream !== `${namespace.toUpperCase()}_BATCHES`) problems.push(`stream ${trigger.metadata.stream}, expected ${namespace.toUpperCase()}_BATCHES`)
      if (trigger.metadata.consumer !== `${namespace}_persister`) problems.push(`consumer ${trigger.metadata.consumer}, expected ${namespace}_persister`)
    }
  }
  if (all.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === deployment?.metadata.name)) problems.push('an HPA targets the persister too')
  for (const p of problems) console.log(`BAD ${p}`)
  if (problems.length === 0) console.log(`ScaledObject/${scaledObject.metadata.name} scales Deployment/${deployment.metadata.name} (no replicas field)`)
  return problems.length === 0
}

const commands = { parse, validate, typecheck, compare, scaled }
if (!(command in commands)) throw new Error(`unknown command ${command}`)
process.exit(await commands[command](args) ? 0 : 1)
