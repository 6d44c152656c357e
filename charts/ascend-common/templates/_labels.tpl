{{/*
Names and labels. Every helper takes the calling chart's context, so
.Chart is the component chart, never this library.
*/}}

{{- define "ascend-common.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* helm.sh/chart value: <chart>-<version>. */}}
{{- define "ascend-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance only (never a version: selectors are immutable). */}}
{{- define "ascend-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ascend-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Labels on every object of a MindCluster component; status and doctor find
workloads by them. Call with (dict "ctx" $ "component" "noded"), optionally
"version": app.kubernetes.io/version is the MindCluster release the objects
run (global.mindcluster.version through ascend-common.mindcluster.profile,
e.g. 26.1.0), not the chart's appVersion, which names only the default
release; a chart whose objects run another product's version passes it
(ascend-volcano: <Volcano version>-<release tag>). Never in a selector.
*/}}
{{- define "ascend-common.labels" -}}
{{- $version := .version -}}
{{- if not $version -}}
{{- $version = (include "ascend-common.mindcluster.profile" (dict "ctx" .ctx "chart" .ctx.Chart.Name) | fromJson).version -}}
{{- end -}}
helm.sh/chart: {{ include "ascend-common.chart" .ctx }}
{{ include "ascend-common.selectorLabels" .ctx }}
app.kubernetes.io/version: {{ $version | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: {{ .component }}
{{- end -}}
