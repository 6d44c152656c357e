{{/*
Helpers of the ascend-volcano chart, all prefixed with the chart name.
*/}}

{{/*
Selector labels. Call with (dict "ctx" $ "component" "volcano-scheduler").
name + instance, plus the component because this chart has two Deployments
in one namespace whose selectors must not overlap. Never a version.
*/}}
{{- define "ascend-volcano.selectorLabels" -}}
{{ include "ascend-common.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels on every object. Call with (dict "ctx" $ "component" "..."). */}}
{{- define "ascend-volcano.labels" -}}
{{- include "ascend-common.labels" . -}}
{{- end -}}

{{/* Scheduler plugin tiers as a YAML list (values or MindCluster's). */}}
{{- define "ascend-volcano.tiers" -}}
{{- if .Values.scheduler.tiers -}}
{{- toYaml .Values.scheduler.tiers -}}
{{- else -}}
- plugins:
    - name: priority
      enableNodeOrder: false
    - name: gang
      enableNodeOrder: false
    - name: conformance
      enableNodeOrder: false
    - name: {{ .Values.scheduler.npuPluginName }}
- plugins:
    - name: drf
      enableNodeOrder: false
    - name: predicates
      enableNodeOrder: false
      arguments:
        predicate.GPUSharingEnable: false
        predicate.GPUNumberEnable: false
    - name: proportion
      enableNodeOrder: false
    - name: nodeorder
    - name: binpack
      enableNodeOrder: false
{{- end -}}
{{- end -}}

{{/* init-params as a map of strings (initParams + extraInitParams). */}}
{{- define "ascend-volcano.initParams" -}}
{{- $out := dict -}}
{{- range $k, $v := .Values.scheduler.initParams -}}
{{- $_ := set $out $k (toString $v) -}}
{{- end -}}
{{- range $k, $v := .Values.scheduler.extraInitParams -}}
{{- $_ := set $out $k (toString $v) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Security context of the Volcano containers: hwMindX, nothing else. */}}
{{- define "ascend-volcano.containerSecurityContext" -}}
runAsUser: {{ .Values.runAs.user }}
runAsGroup: {{ .Values.runAs.group }}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
