{{/*
Helpers of the ascend-stack chart, all prefixed with the chart name.
*/}}

{{- define "ascend-stack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ascend-stack.labels" -}}
helm.sh/chart: {{ include "ascend-stack.chart" . }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: namespace
{{- end -}}

{{/* Is component <name> enabled? Returns "true" or "". */}}
{{- define "ascend-stack.enabled" -}}
{{- $c := index .ctx.Values .name | default dict -}}
{{- if $c.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Namespaces this release creates (YAML list): those of the enabled
components, without kube-system & co. and without the release namespace.
*/}}
{{- define "ascend-stack.namespaces" -}}
{{- $skip := list "kube-system" "kube-public" "kube-node-lease" "default" .Release.Namespace -}}
{{- $out := list -}}
{{- range $name := list "ascend-device-plugin" "ascend-volcano" "ascend-operator" "ascend-docker-runtime" "ascend-clusterd" "ascend-noded" "ascend-npu-exporter" -}}
{{- $c := index $.Values $name | default dict -}}
{{- if $c.enabled -}}
{{- /* ClusterD also writes its ConfigMaps to clusterInfoNamespace (cluster-system). */ -}}
{{- range $ns := list $c.namespace $c.clusterInfoNamespace -}}
{{- if and $ns (not (has $ns $skip)) (not (has $ns $out)) -}}
{{- $out = append $out $ns -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
