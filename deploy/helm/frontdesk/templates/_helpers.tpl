{{/* The services of the chart, in a stable order. */}}
{{- define "frontdesk.services" -}}
gateway dispatcher persister aibridge
{{- end }}

{{- define "frontdesk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-wide name prefix, at most 63 characters (DNS label). */}}
{{- define "frontdesk.fullname" -}}
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

{{/* Name of a service's resources. Context: dict root name. */}}
{{- define "frontdesk.component" -}}
{{- printf "%s-%s" (include "frontdesk.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of a service's ops Service. Context: dict root name. */}}
{{- define "frontdesk.opsService" -}}
{{- printf "%s-ops" (include "frontdesk.component" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{/* Label that tells a service's ops Service from its public one. Context: dict root name. */}}
{{- define "frontdesk.opsLabel" -}}
frontdesk-port: ops
{{- end }}

{{- define "frontdesk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of a service. Context: dict root name. */}}
{{- define "frontdesk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "frontdesk.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Labels of a service's resources. Context: dict root name. */}}
{{- define "frontdesk.labels" -}}
helm.sh/chart: {{ include "frontdesk.chart" .root }}
{{ include "frontdesk.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: frontdesk
{{- end }}

{{/* Image reference of a service. Context: dict root name svc. */}}
{{- define "frontdesk.image" -}}
{{- $repo := printf "%s/%s" .root.Values.image.registry .svc.image.repository }}
{{- if .svc.image.digest }}
{{- printf "%s@%s" $repo .svc.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Name of the Secret and key holding a service's NATS credentials, or "" without credentials. Context: dict root name. */}}
{{- define "frontdesk.natsCredsSecret" -}}
{{- $c := .root.Values.nats.credentials }}
{{- if $c.existingSecret }}
{{- $c.existingSecret }}
{{- else if (index $c .name) }}
{{- printf "%s-nats" (include "frontdesk.component" .) }}
{{- end }}
{{- end }}

{{/* Whether the persister mounts the retention identity's credentials (retention.creds in its
Secret): an existing Secret holds them, or they are given inline. Context: dict root name. */}}
{{- define "frontdesk.retentionCreds" -}}
{{- $c := .root.Values.nats.credentials }}
{{- if and (eq .name "persister") (include "frontdesk.natsCredsSecret" .) (or $c.existingSecret $c.retention) }}true{{ end }}
{{- end }}

{{/* Secret and key of the database URL. Context: root. */}}
{{- define "frontdesk.databaseSecret" -}}
{{- default (printf "%s-database" (include "frontdesk.fullname" .)) .Values.database.existingSecret }}
{{- end }}
{{- define "frontdesk.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}database-url{{ end }}
{{- end }}

{{/* Whether the service mounts the tenants seed file. Context: dict root name. */}}
{{- define "frontdesk.seedsTenants" -}}
{{- if and (eq .root.Values.tenants.seeder .name) (or .root.Values.tenants.existingConfigMap .root.Values.tenants.config) }}true{{ end }}
{{- end }}

{{/* config.yaml of a service. Context: dict root name svc. */}}
{{- define "frontdesk.config" -}}
{{- $v := .root.Values }}
{{- $cfg := dict }}
{{- $_ := set $cfg "log" (dict "level" $v.log.level "format" $v.log.format) }}
{{- $nats := dict "url" $v.nats.url "name" .name "replicas" (int $v.nats.replicas) }}
{{- if include "frontdesk.natsCredsSecret" . }}
{{- $_ := set $nats "creds" (printf "/etc/frontdesk/nats/%s.creds" .name) }}
{{- end }}
{{- if $v.nats.tls.enabled }}
{{- $tls := dict "ca" "/etc/frontdesk/nats-tls/ca.crt" }}
{{- if $v.nats.tls.clientCert }}
{{- $_ := set $tls "cert" "/etc/frontdesk/nats-tls/tls.crt" }}
{{- $_ := set $tls "key" "/etc/frontdesk/nats-tls/tls.key" }}
{{- end }}
{{- $_ := set $nats "tls" $tls }}
{{- end }}
{{- $_ := set $cfg "nats" $nats }}
{{- $_ := set $cfg "ops" (dict "addr" (printf ":%d" (int .svc.opsPort))) }}
{{- $_ := set $cfg "shutdown" (dict "timeout" (printf "%ds" (int .svc.shutdownTimeoutSeconds))) }}
{{- if include "frontdesk.seedsTenants" . }}
{{- $_ := set $cfg "tenants" (dict "file" "/etc/frontdesk/tenants/tenants.yaml") }}
{{- end }}
{{- if eq .name "persister" }}
{{- $_ := set $cfg "database" (dict "max_conns" (int $v.database.maxConns)) }}
{{- end }}
{{- $own := deepCopy (.svc.config | default dict) }}
{{- if and (eq .name "persister") .svc.migrations.enabled }}
{{- /* The pre-install/pre-upgrade Job migrates; replicas do not race to. */}}
{{- $_ := set $own "migrate" false }}
{{- end }}
{{- if eq .name "gateway" }}
{{- $_ := set $own "listen" (printf ":%d" (int .svc.port)) }}
{{- end }}
{{- if and (eq .name "persister") .svc.mailPassword.existingSecret }}
{{- $mail := deepCopy ($own.mail | default dict) }}
{{- $_ := set $mail "password_file" "/etc/frontdesk/mail/password" }}
{{- $_ := set $own "mail" $mail }}
{{- end }}
{{- if include "frontdesk.retentionCreds" . }}
{{- $_ := set $own "retention_creds" "/etc/frontdesk/nats/retention.creds" }}
{{- end }}
{{- $_ := set $cfg .name $own }}
{{- toYaml $cfg }}
{{- end }}

{{/* Pod-level securityContext and container securityContext. Context: root. */}}
{{- define "frontdesk.podSecurityContext" -}}
{{- toYaml .Values.podDefaults.podSecurityContext }}
{{- end }}
{{- define "frontdesk.securityContext" -}}
{{- toYaml .Values.podDefaults.securityContext }}
{{- end }}

{{/* Env vars carrying a service's secrets. Context: dict root name svc. */}}
{{- define "frontdesk.secretEnv" -}}
{{- if eq .name "gateway" }}
- name: FRONTDESK_GATEWAY_SIGNING_KEYS_FILE
  value: /etc/frontdesk/keys/signing-keys.json
{{- if .svc.ssoSecrets.existingSecret }}
- name: FRONTDESK_GATEWAY_SSO_SECRETS_DIR
  value: /etc/frontdesk/sso
{{- end }}
{{- with .svc.legacySharedSecret.existingSecret }}
- name: FRONTDESK_GATEWAY_LEGACY_SHARED_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.svc.legacySharedSecret.existingSecretKey }}
{{- end }}
{{- end }}
{{- if eq .name "persister" }}
- name: FRONTDESK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "frontdesk.databaseSecret" .root }}
      key: {{ include "frontdesk.databaseSecretKey" .root }}
{{- end }}
{{- end }}
