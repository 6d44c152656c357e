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

{{/*
Labels on every object. Call with (dict "ctx" $ "component" "...").
app.kubernetes.io/version names both what runs: the Volcano version and the
MindCluster release whose NPU plugin is built into the scheduler,
<volcanoVersion>-<release tag> (v1.9.0-v26.1.0), the image tag without the OS
suffix (component/ascend-for-volcano/build/build.sh).
*/}}
{{- define "ascend-volcano.labels" -}}
{{- $p := include "ascend-volcano.profile" .ctx | fromJson -}}
{{- include "ascend-common.labels" (dict "ctx" .ctx "component" .component "version" (printf "%s-%s" $p.volcanoVersion $p.releaseTag)) -}}
{{- end -}}

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
version, tag, volcanoVersion, volcanoTag, npuPluginName, ... Fails on a
release, OS suffix or Volcano version that does not go together.
*/}}
{{- define "ascend-volcano.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-volcano" "volcanoVersion" .Values.volcanoVersion) -}}
{{- end -}}

{{/* The Volcano version this release renders, e.g. v1.9.0. */}}
{{- define "ascend-volcano.volcanoVersion" -}}
{{- (include "ascend-volcano.profile" . | fromJson).volcanoVersion -}}
{{- end -}}

{{/* Is the Volcano version at least .min (e.g. "1.9.0")? Returns "true" or "". */}}
{{- define "ascend-volcano.atLeast" -}}
{{- if semverCompare (printf ">=%s-0" .min) (include "ascend-volcano.volcanoVersion" .ctx) -}}true{{- end -}}
{{- end -}}

{{/* Name of the NPU plugin: scheduler.npuPluginName or the profile's. */}}
{{- define "ascend-volcano.npuPluginName" -}}
{{- .Values.scheduler.npuPluginName | default (include "ascend-volcano.profile" . | fromJson).npuPluginName -}}
{{- end -}}

{{/*
Image values of a component with the tag from the profile when image.tag is
empty. Call with (dict "ctx" $ "image" .Values.scheduler.image); returns JSON.
*/}}
{{- define "ascend-volcano.profileImage" -}}
{{- $p := include "ascend-volcano.profile" .ctx | fromJson -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .image "tag" $p.volcanoTag) -}}
{{- end -}}

{{/*
Leader election of a Volcano component from v1.9.0, where it is on by default
with its lease in volcano-system (cmd/{scheduler,controller-manager}/app/
options/options.go). Call with (dict "ctx" $ "replicas" N "off" <bool: turn it
off with one replica>); returns args as a YAML list. With leader election on
and another namespace the lease follows the chart's namespace:
--lock-object-namespace (v1.9.0), --leader-elect-resource-namespace (v1.12.0,
where the former is deprecated).
*/}}
{{- define "ascend-volcano.leaderElectionArgs" -}}
{{- $ns := .ctx.Values.namespace -}}
{{- if include "ascend-volcano.atLeast" (dict "ctx" .ctx "min" "1.9.0") -}}
{{- if and .off (eq (int .replicas) 1) -}}
- --leader-elect=false
{{- else if ne $ns "volcano-system" -}}
{{- if include "ascend-volcano.atLeast" (dict "ctx" .ctx "min" "1.12.0") -}}
- --leader-elect-resource-namespace={{ $ns }}
{{- else -}}
- --lock-object-namespace={{ $ns }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Scheduler plugin tiers as a YAML list (values or MindCluster's). */}}
{{- define "ascend-volcano.tiers" -}}
{{- if .Values.scheduler.tiers -}}
{{- toYaml .Values.scheduler.tiers -}}
{{- else -}}
{{- if include "ascend-volcano.atLeast" (dict "ctx" . "min" "1.12.0") -}}
{{- /* mind-cluster v26.1.0 component/ascend-for-volcano/build/volcano-v1.12.0.yaml */ -}}
- plugins:
    - name: gang
      enableNodeOrder: false
    - name: {{ include "ascend-volcano.npuPluginName" . }}
      enablePreemptable: true
      enableReclaimable: true
    - name: priority
      enableNodeOrder: false
    - name: conformance
      enableNodeOrder: false
{{- else -}}
- plugins:
    - name: priority
      enableNodeOrder: false
    - name: gang
      enableNodeOrder: false
    - name: conformance
      enableNodeOrder: false
    - name: {{ include "ascend-volcano.npuPluginName" . }}
{{- end }}
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
