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

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-operator.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-operator") -}}
{{- end -}}

{{/* Image values with image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>); JSON. */}}
{{- define "ascend-operator.profileImage" -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-operator.profile" . | fromJson).tag) -}}
{{- end -}}
