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
