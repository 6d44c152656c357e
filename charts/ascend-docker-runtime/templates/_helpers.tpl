{{/*
Helpers of the ascend-docker-runtime chart, all prefixed with the chart name.
*/}}

{{- define "ascend-docker-runtime.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ascend-docker-runtime.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance only (never a version). */}}
{{- define "ascend-docker-runtime.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ascend-docker-runtime.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object; status/doctor find the installer by them. */}}
{{- define "ascend-docker-runtime.labels" -}}
helm.sh/chart: {{ include "ascend-docker-runtime.chart" . }}
{{ include "ascend-docker-runtime.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: docker-runtime
{{- end -}}

{{/* Image reference. Call with (dict "ctx" $ "image" .Values.image). */}}
{{- define "ascend-docker-runtime.image" -}}
{{- $img := .image -}}
{{- $global := .ctx.Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default $img.registry -}}
{{- $repo := $img.repository -}}
{{- if $registry -}}
{{- $repo = printf "%s/%s" $registry $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $img.tag -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global + chart values; names or {name: x}. */}}
{{- define "ascend-docker-runtime.imagePullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- $names := list -}}
{{- range (concat ($global.imagePullSecrets | default list) (.Values.imagePullSecrets | default list)) -}}
{{- $n := . -}}
{{- if kindIs "map" . -}}
{{- $n = .name -}}
{{- end -}}
{{- if not (has $n $names) -}}
{{- $names = append $names $n -}}
{{- end -}}
{{- end -}}
{{- if $names -}}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Extended resources of every chip family; their NoSchedule taints are tolerated. */}}
{{- define "ascend-docker-runtime.npuResources" -}}
- huawei.com/Ascend910
- huawei.com/Ascend310
- huawei.com/Ascend310P
- huawei.com/npu
{{- end -}}

{{/*
Lines of /etc/ascend-docker-runtime.d/base.list: baseList.content, else the
product's list. "server": the paths of Huawei's default base.list
(mind-cluster v26.0.0 component/ascend-docker-runtime/build/scripts/base.list).
*/}}
{{- define "ascend-docker-runtime.baseList" -}}
{{- if .Values.baseList.content -}}
{{- .Values.baseList.content | trimSuffix "\n" -}}
{{- else -}}
{{- list "/usr/local/Ascend/driver/lib64" "/usr/local/Ascend/driver/include" "/usr/local/dcmi" "/usr/local/bin/npu-smi" "/var/queue_schedule" | join "\n" -}}
{{- end -}}
{{- end -}}
