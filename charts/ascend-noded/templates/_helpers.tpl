{{/*
Helpers of the ascend-noded chart, all prefixed with the chart name.
*/}}

{{- define "ascend-noded.serviceAccountName" -}}
noded
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component noded); status/doctor find workloads by them. */}}
{{- define "ascend-noded.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "noded") -}}
{{- end -}}
