{{/*
Helpers of the ascend-stack chart, all prefixed with the chart name.
*/}}

{{/* Labels of the Namespaces this chart creates (ascend-common.labels, component namespace). */}}
{{- define "ascend-stack.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "namespace") -}}
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
