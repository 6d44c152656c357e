{{/*
Helpers of the ascend-npu-exporter chart, all prefixed with the chart name.
*/}}


{{/* Host paths of the container runtime (containerMode) the exporter reads, as name: path. */}}
{{- define "ascend-npu-exporter.runtimeSockets" -}}
{{- if eq .Values.containerMode "containerd" -}}
containerd: /run/containerd
{{- else if eq .Values.containerMode "docker" -}}
docker-shim: /var/run/dockershim.sock
docker: /var/run/docker
cri-dockerd: /var/run/cri-dockerd.sock
containerd: /run/containerd
{{- else if eq .Values.containerMode "isula" -}}
isulad: /run/isulad.sock
{{- end -}}
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component npu-exporter); status/doctor find workloads by them. */}}
{{- define "ascend-npu-exporter.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "npu-exporter") -}}
{{- end -}}

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-npu-exporter.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-npu-exporter") -}}
{{- end -}}

{{/* Image values with image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>); JSON. */}}
{{- define "ascend-npu-exporter.profileImage" -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-npu-exporter.profile" . | fromJson).tag) -}}
{{- end -}}
