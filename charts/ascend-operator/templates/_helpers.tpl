{{/*
Helpers of the ascend-operator chart, all prefixed with the chart name.
*/}}

{{- define "ascend-operator.serviceAccountName" -}}
ascend-operator-manager
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component ascend-operator); status/doctor find workloads by them. */}}
{{- define "ascend-operator.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "ascend-operator") -}}
{{- end -}}
