{{/*
Helpers shared by every template. Component helpers take a component context, built in each
template as (dict "root" $ "name" "gateway" "values" .Values.gateway):
  root    the chart's root context ($)
  name    gateway | persister | reconciler | extractor | migrate
  values  that component's values (.Values.<name>)
*/}}

{{- define "sisporta.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-sisporta, or the release name when it already contains the chart name. */}}
{{- define "sisporta.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sisporta.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <fullname>-<component>: names of the component's Deployment, Service, PDB, HPA. */}}
{{- define "sisporta.componentName" -}}
{{- printf "%s-%s" (include "sisporta.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sisporta.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sisporta.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "sisporta.labels" -}}
helm.sh/chart: {{ include "sisporta.chart" .root }}
{{ include "sisporta.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: sisporta
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Labels of release-wide objects (ConfigMap): no component. */}}
{{- define "sisporta.commonLabels" -}}
helm.sh/chart: {{ include "sisporta.chart" . }}
app.kubernetes.io/name: {{ include "sisporta.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: sisporta
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Image of a component: its own image.repository/tag/digest, else <image.repository>/<component>
(or /cli with image.singleImage, and always for migrate), tag defaulting to the appVersion. The
release-wide image.digest is the cli image's: every target has a digest of its own. */}}
{{- define "sisporta.image" -}}
{{- $image := .root.Values.image }}
{{- $own := .values.image | default dict }}
{{- $target := ternary "cli" .name (or $image.singleImage (eq .name "migrate")) }}
{{- $repository := $own.repository | default (printf "%s/%s" $image.repository $target) }}
{{- if $own.digest }}
{{- printf "%s@%s" $repository $own.digest }}
{{- else if $own.tag }}
{{- printf "%s:%s" $repository (toString $own.tag) }}
{{- else if and $image.digest (eq $target "cli") (not $own.repository) }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (toString ($image.tag | default .root.Chart.AppVersion)) }}
{{- end }}
{{- end }}

{{/* The ConfigMap holding sisporta.yaml. */}}
{{- define "sisporta.configMapName" -}}
{{- .Values.existingConfigMap | default (printf "%s-config" (include "sisporta.fullname" .)) }}
{{- end }}

{{/* A secretKeyRef env entry: (dict "root" $ "env" "SISPORTA_MYSQL_URL" "key" "mysqlUrl"). */}}
{{- define "sisporta.secretEnv" -}}
{{- $key := index .root.Values.secrets.keys .key -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.existingSecret is required: create the Secret first (docs/deploy.md)" .root.Values.secrets.existingSecret }}
      key: {{ $key }}
{{- end }}

{{/*
Environment of a component's container: what every service reads, the connections and
credentials this component needs (and no others), then SISPORTA_* tuning (.Values.env merged
with the component's env, component first), then extraEnv.
*/}}
{{- define "sisporta.env" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $keys := $v.secrets.keys -}}
- name: SISPORTA_CONFIG
  value: /etc/sisporta/sisporta.yaml
- name: SISPORTA_NAMESPACE
  value: {{ $v.busNamespace | quote }}
- name: SISPORTA_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
{{- if .values.port }}
- name: SISPORTA_HTTP_HOST
  value: "0.0.0.0"
- name: SISPORTA_HTTP_PORT
  value: {{ .values.port | quote }}
{{- end }}
- name: SISPORTA_HEAP_MB
  value: {{ $v.heapMb | quote }}
{{- if $v.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ $v.nodeOptions | quote }}
{{- end }}
{{- /* the extractor reaches only the gateway: no NATS, no MySQL */}}
{{- if ne .name "extractor" }}
{{- if $keys.natsUrl }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_NATS_URL" "key" "natsUrl") }}
{{- else }}
- name: SISPORTA_NATS_URL
  value: {{ required "nats.url is required" $v.nats.url | quote }}
{{- end }}
{{- end }}
{{- if include "sisporta.usesNats" . }}
{{- include "sisporta.natsSecurityEnv" . }}
{{- end }}
{{- if has .name (list "persister" "reconciler" "migrate" "console") }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_MYSQL_URL" "key" "mysqlUrl") }}
{{- end }}
{{- /* the console verifies admin tokens with the gateway's keys and claim settings */}}
{{- if has .name (list "gateway" "console") }}
{{- $jwt := $v.gateway.jwt | default dict }}
{{- if and (not $keys.jwtSecret) (not $keys.jwtPublicKey) (not $jwt.jwksSecret) }}
{{- fail (printf "the %s needs secrets.keys.jwtSecret, secrets.keys.jwtPublicKey or gateway.jwt.jwksSecret" .name) }}
{{- end }}
{{- if $jwt.jwksSecret }}
- name: SISPORTA_JWT_JWKS
  value: /etc/sisporta/jwks/jwks.json
{{- end }}
{{- with $jwt.issuer }}
- name: SISPORTA_JWT_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $jwt.audience }}
- name: SISPORTA_JWT_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- with $jwt.maxTtl }}
- name: SISPORTA_JWT_MAX_TTL
  value: {{ . | quote }}
{{- end }}
{{- if $keys.jwtSecret }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_JWT_SECRET" "key" "jwtSecret") }}
{{- end }}
{{- if $keys.jwtPublicKey }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_JWT_PUBLIC_KEY" "key" "jwtPublicKey") }}
{{- end }}
{{- end }}
{{- if eq .name "gateway" }}
- name: SISPORTA_GATEWAY_BODY_LIMIT
  value: {{ include "sisporta.gatewayBodyLimitBytes" $root | quote }}
{{- end }}
{{- if eq .name "extractor" }}
- name: SISPORTA_GATEWAY_URL
  value: {{ required "extractor.gatewayUrl is required" .values.gatewayUrl | quote }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_TOKEN" "key" "token") }}
{{ include "sisporta.secretEnv" (dict "root" $root "env" "SISPORTA_SOURCE_URL" "key" "sourceUrl") }}
{{- end }}
{{- range $name, $value := merge (deepCopy (.values.env | default dict)) (deepCopy ($v.env | default dict)) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* True ("true") for the components that connect to NATS: gateway, persister, reconciler, console. */}}
{{- define "sisporta.usesNats" -}}
{{- if has .name (list "gateway" "persister" "reconciler" "console") }}true{{ end }}
{{- end }}

{{/* The component's NATS identity (nats.auth, from its Secret in nats.authSecrets) and TLS files
(nats.tls.secret, mounted by sisporta.volumes). */}}
{{- define "sisporta.natsSecurityEnv" -}}
{{- $n := .root.Values.nats }}
{{- if $n.auth }}
{{- $secret := required (printf "nats.authSecrets.%s is required with nats.auth" .name) (index ($n.authSecrets | default dict) .name) }}
{{- if eq $n.auth "password" }}
- name: SISPORTA_NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: user
- name: SISPORTA_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: password
{{- else if eq $n.auth "token" }}
- name: SISPORTA_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: token
{{- else if eq $n.auth "creds" }}
- name: SISPORTA_NATS_CREDS
  value: /etc/sisporta/nats-auth/creds
{{- else if eq $n.auth "nkey" }}
- name: SISPORTA_NATS_NKEY
  value: /etc/sisporta/nats-auth/nkey
{{- end }}
{{- end }}
{{- if $n.tls.secret }}
- name: SISPORTA_NATS_TLS_CA
  value: /etc/sisporta/nats-tls/ca.crt
{{- if $n.tls.clientCert }}
- name: SISPORTA_NATS_TLS_CERT
  value: /etc/sisporta/nats-tls/tls.crt
- name: SISPORTA_NATS_TLS_KEY
  value: /etc/sisporta/nats-tls/tls.key
{{- end }}
{{- end }}
{{- end }}

{{/* The service container's probes, on the named port "http". */}}
{{- define "sisporta.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  httpGet: { path: /healthz, port: http }
  {{- toYaml $p.startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /healthz, port: http }
  {{- toYaml $p.liveness | nindent 2 }}
readinessProbe:
  httpGet: { path: /readyz, port: http }
  {{- toYaml $p.readiness | nindent 2 }}
{{- end }}

{{/* Pod-level settings shared by Deployments and the migrate Job; a component's own non-empty
placement value wins over the release-wide one. */}}
{{- define "sisporta.podCommon" -}}
{{- $v := .root.Values }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "sisporta.serviceAccountName" .) }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with (.values.priorityClassName | default $v.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with (.values.nodeSelector | default $v.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.values.tolerations | default $v.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.values.affinity | default $v.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.values.topologySpreadConstraints | default $v.topologySpreadConstraints) }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- else }}
{{- if and $v.topologySpread.enabled (ne .name "migrate") }}
# spread replicas over nodes and zones when possible (ScheduleAnyway: never blocks scheduling)
topologySpreadConstraints:
  {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "sisporta.selectorLabels" $ | nindent 8 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The service account a component's pods run under: its own (<fullname>-<component>) with
serviceAccount.create, else serviceAccountName ("" = the namespace's default). migrate always
uses serviceAccountName: it runs as a pre-install hook, before the release's objects exist. */}}
{{- define "sisporta.serviceAccountName" -}}
{{- if and .root.Values.serviceAccount.create (ne .name "migrate") }}
{{- include "sisporta.componentName" . }}
{{- else }}
{{- .root.Values.serviceAccountName }}
{{- end }}
{{- end }}

{{/* True ("true") when something other than the Deployment's replicas field (an HPA or a KEDA
ScaledObject) sets a component's replica count: the Deployment then leaves `replicas` out, so
`helm upgrade` never resets what the scaler chose. */}}
{{- define "sisporta.scaled" -}}
{{- if or (and .values.autoscaling .values.autoscaling.enabled) (and .values.keda .values.keda.enabled) }}true{{ end }}
{{- end }}

{{/* checksum/secret: a digest of the Secrets a component reads through its environment (the
release's secrets.existingSecret and its NATS identity), looked up in the cluster at install /
upgrade time, so `helm upgrade` after a Secret change rolls the pods. Empty when the Secrets
cannot be read (helm template, --dry-run): the annotation is then left out. The JWKS Secret is
not included: the gateway re-reads it in place. */}}
{{- define "sisporta.secretChecksum" -}}
{{- $v := .root.Values }}
{{- $names := list $v.secrets.existingSecret }}
{{- if and $v.nats.auth (include "sisporta.usesNats" .) }}
{{- $names = append $names (index ($v.nats.authSecrets | default dict) .name) }}
{{- end }}
{{- if and $v.nats.tls.secret (include "sisporta.usesNats" .) }}
{{- $names = append $names $v.nats.tls.secret }}
{{- end }}
{{- $data := dict }}
{{- range $names }}
{{- if . }}
{{- $secret := lookup "v1" "Secret" $.root.Release.Namespace . }}
{{- if $secret }}
{{- $_ := set $data . ($secret.data | default dict) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $data }}{{ toJson $data | sha256sum }}{{ end }}
{{- end }}

{{/* Volumes and mounts: the config file (read-only) and a small writable /tmp, since the root
filesystem is read-only. */}}
{{- define "sisporta.volumes" -}}
volumes:
  - name: config
    configMap:
      name: {{ .configMap | default (include "sisporta.configMapName" .root) }}
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- if include "sisporta.usesNats" . }}
{{- $n := .root.Values.nats }}
{{- if has $n.auth (list "creds" "nkey") }}
  # the component's creds / nkey seed file, readable by the service's group only (0440)
  - name: nats-auth
    secret:
      secretName: {{ index $n.authSecrets .name }}
      defaultMode: 288
      items:
        - key: {{ $n.auth }}
          path: {{ $n.auth }}
{{- end }}
{{- if $n.tls.secret }}
  - name: nats-tls
    secret:
      secretName: {{ $n.tls.secret }}
      defaultMode: 288
{{- end }}
{{- end }}
{{- if and (has .name (list "gateway" "console")) (.root.Values.gateway.jwt | default dict).jwksSecret }}
  # the JWKS (key jwks.json), mounted as a directory (no subPath): Kubernetes updates it in place
  # on a key rotation and the gateway reads it again, without a restart
  - name: jwks
    secret:
      secretName: {{ .root.Values.gateway.jwt.jwksSecret }}
      items:
        - key: jwks.json
          path: jwks.json
{{- end }}
{{- with .values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "sisporta.volumeMounts" -}}
volumeMounts:
  - name: config
    mountPath: /etc/sisporta/sisporta.yaml
    subPath: sisporta.yaml
    readOnly: true
  - name: tmp
    mountPath: /tmp
{{- if include "sisporta.usesNats" . }}
{{- if has .root.Values.nats.auth (list "creds" "nkey") }}
  - name: nats-auth
    mountPath: /etc/sisporta/nats-auth
    readOnly: true
{{- end }}
{{- if .root.Values.nats.tls.secret }}
  - name: nats-tls
    mountPath: /etc/sisporta/nats-tls
    readOnly: true
{{- end }}
{{- end }}
{{- if and (has .name (list "gateway" "console")) (.root.Values.gateway.jwt | default dict).jwksSecret }}
  - name: jwks
    mountPath: /etc/sisporta/jwks
    readOnly: true
{{- end }}
{{- with .values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* One long-running component: a Deployment. */}}
{{- define "sisporta.deployment" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "sisporta.componentName" . }}
  labels:
    {{- include "sisporta.labels" . | nindent 4 }}
spec:
  {{- if not (include "sisporta.scaled" .) }}
  replicas: {{ .values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with .values.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "sisporta.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "sisporta.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
        app.kubernetes.io/part-of: sisporta
        {{- with (.values.podLabels | default $v.podLabels) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if not $v.existingConfigMap }}
        # Rolls the pods when sisporta.yaml changes.
        checksum/config: {{ toYaml $v.config | sha256sum }}
        {{- end }}
        {{- if $v.rollOnSecretChange }}
        {{- with (include "sisporta.secretChecksum" .) }}
        # Rolls the pods on `helm upgrade` when a Secret they read changed.
        checksum/secret: {{ . }}
        {{- end }}
        {{- end }}
        {{- with (.values.podAnnotations | default $v.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "sisporta.podCommon" . | trim | nindent 6 }}
      terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds | default $v.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .name }}
          image: {{ include "sisporta.image" . | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args: [{{ .name | quote }}]
          ports:
            - name: http
              containerPort: {{ .values.port }}
              protocol: TCP
          env:
            {{- include "sisporta.env" . | nindent 12 }}
          {{- with $v.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- include "sisporta.probes" . | nindent 10 }}
          {{- if .values.preStopSleepSeconds }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ .values.preStopSleepSeconds | quote }}]
          {{- end }}
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          {{- include "sisporta.volumeMounts" . | nindent 10 }}
      {{- include "sisporta.volumes" . | nindent 6 }}
{{- end }}

{{/* A ClusterIP (or configured type) Service on the component's port, named "http". */}}
{{- define "sisporta.service" -}}
{{- $service := .values.service | default dict }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sisporta.componentName" . }}
  labels:
    {{- include "sisporta.labels" . | nindent 4 }}
  {{- with $service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $service.type | default "ClusterIP" }}
  selector:
    {{- include "sisporta.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $service.port | default .values.port }}
      targetPort: http
      protocol: TCP
{{- end }}

{{/* Deployment + Service (+ PDB, HPA when enabled) of one component, if it is enabled. */}}
{{- define "sisporta.component" -}}
{{- if .values.enabled }}
{{ include "sisporta.deployment" . }}
---
{{ include "sisporta.service" . }}
{{- if and .values.pdb .values.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "sisporta.componentName" . }}
  labels:
    {{- include "sisporta.labels" . | nindent 4 }}
spec:
  {{- if hasKey .values.pdb "minAvailable" }}
  minAvailable: {{ .values.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .values.pdb.maxUnavailable | default 1 }}
  {{- end }}
  # a pod that is not ready protects nothing: let a drain evict it (a crash-looping replica
  # must not block node maintenance)
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "sisporta.selectorLabels" . | nindent 6 }}
{{- end }}
{{- if .root.Values.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "sisporta.componentName" . }}
  labels:
    {{- include "sisporta.labels" . | nindent 4 }}
  {{- with .root.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# the services call no Kubernetes API
automountServiceAccountToken: false
{{- end }}
{{- if and .values.autoscaling .values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "sisporta.componentName" . }}
  labels:
    {{- include "sisporta.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "sisporta.componentName" . }}
  minReplicas: {{ .values.autoscaling.minReplicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}
{{- end }}

{{/* True ("true") when some component of this release talks to MySQL and so needs migrate. */}}
{{- define "sisporta.needsMigrate" -}}
{{- if and .Values.migrate.enabled (or .Values.persister.enabled .Values.reconciler.enabled) }}true{{ end }}
{{- end }}

{{/* Checks that cannot wait until a pod fails. */}}
{{- define "sisporta.validate" -}}
{{- if not (regexMatch "^[a-z][a-z0-9_]{0,31}$" (toString .Values.busNamespace)) }}
{{- fail (printf "busNamespace '%s' must match ^[a-z][a-z0-9_]{0,31}$" (toString .Values.busNamespace)) }}
{{- end }}
{{- if not (has (toString .Values.nats.auth) (list "" "password" "token" "creds" "nkey")) }}
{{- fail (printf "nats.auth '%s' must be one of: \"\" (none), password, token, creds, nkey" (toString .Values.nats.auth)) }}
{{- end }}
{{- if and .Values.persister.keda.enabled .Values.persister.autoscaling.enabled }}
{{- fail "persister.keda.enabled and persister.autoscaling.enabled are both set: KEDA creates its own HPA; enable one of them" }}
{{- end }}
{{- range $name, $env := dict "env" .Values.env "gateway.env" .Values.gateway.env }}
{{- if hasKey ($env | default dict) "SISPORTA_GATEWAY_BODY_LIMIT" }}
{{- fail (printf "%s.SISPORTA_GATEWAY_BODY_LIMIT: set gateway.bodyLimitMiB instead (it sets the gateway's limit and the Ingress body-size annotation together)" $name) }}
{{- end }}
{{- end }}
{{- if and (not .Values.existingConfigMap) (not .Values.config) }}
{{- fail "config (the streams of sisporta.yaml) or existingConfigMap is required" }}
{{- end }}
{{- end }}

{{/* The gateway's body limit in bytes (SISPORTA_GATEWAY_BODY_LIMIT), from gateway.bodyLimitMiB. */}}
{{- define "sisporta.gatewayBodyLimitBytes" -}}
{{- mul (int .Values.gateway.bodyLimitMiB) 1048576 }}
{{- end }}
