{{/*
Helpers of the ascend-clusterd chart, all prefixed with the chart name.
*/}}

{{- define "ascend-clusterd.serviceAccountName" -}}
clusterd
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component clusterd); status/doctor find workloads by them. */}}
{{- define "ascend-clusterd.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "clusterd") -}}
{{- end -}}
