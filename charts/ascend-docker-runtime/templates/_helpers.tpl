{{/*
Helpers of the ascend-docker-runtime chart, all prefixed with the chart name.
*/}}

{{/*
Extended resources of every chip family (ascend-common facts/labels.json);
their NoSchedule taints are tolerated.
*/}}
{{- define "ascend-docker-runtime.npuResources" -}}
{{- $facts := include "ascend-common.facts.labels" . | fromJson -}}
{{- $out := list -}}
{{- range $facts.familyOrder -}}
{{- $out = append $out (index $facts.families .).resource -}}
{{- end -}}
{{- toYaml $out -}}
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

{{/* Labels on every object (ascend-common.labels, component docker-runtime); status/doctor find workloads by them. */}}
{{- define "ascend-docker-runtime.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "docker-runtime") -}}
{{- end -}}
