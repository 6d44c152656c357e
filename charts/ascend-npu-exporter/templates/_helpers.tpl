{{/*
Helpers of the ascend-npu-exporter chart, all prefixed with the chart name.
*/}}

{{- define "ascend-npu-exporter.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ascend-npu-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance only (never a version). */}}
{{- define "ascend-npu-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ascend-npu-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object; status/doctor find the workload by them. */}}
{{- define "ascend-npu-exporter.labels" -}}
helm.sh/chart: {{ include "ascend-npu-exporter.chart" . }}
{{ include "ascend-npu-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: npu-exporter
{{- end -}}

{{/* Image reference; global.imageRegistry wins, a digest wins over the tag. */}}
{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-npu-exporter.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-npu-exporter") -}}
{{- end -}}

{{- define "ascend-npu-exporter.image" -}}
{{- /* image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>). */ -}}
{{- $img := include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-npu-exporter.profile" . | fromJson).tag) | fromJson -}}
{{- $global := .Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default $img.registry -}}
{{- $repo := $img.repository -}}
{{- if $registry -}}
{{- $repo = printf "%s/%s" $registry $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $img.tag -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global + chart values; names or {name: x}. */}}
{{- define "ascend-npu-exporter.imagePullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- $names := list -}}
{{- range (concat ($global.imagePullSecrets | default list) (.Values.imagePullSecrets | default list)) -}}
{{- $n := . -}}
{{- if kindIs "map" . -}}
{{- $n = .name -}}
{{- end -}}
{{- if not (has $n $names) -}}
{{- $names = append $names $n -}}
{{- end -}}
{{- end -}}
{{- if $names -}}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}


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
