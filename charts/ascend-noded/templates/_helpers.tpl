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

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-noded.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-noded") -}}
{{- end -}}

{{/* Image values with image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>); JSON. */}}
{{- define "ascend-noded.profileImage" -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-noded.profile" . | fromJson).tag) -}}
{{- end -}}
