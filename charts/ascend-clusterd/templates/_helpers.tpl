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

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-clusterd.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-clusterd") -}}
{{- end -}}

{{/* Image values with image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>); JSON. */}}
{{- define "ascend-clusterd.profileImage" -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-clusterd.profile" . | fromJson).tag) -}}
{{- end -}}
