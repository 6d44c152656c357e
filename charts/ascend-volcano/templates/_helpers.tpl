{{/*
Helpers of the ascend-volcano chart, all prefixed with the chart name.
*/}}

{{- define "ascend-volcano.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ascend-volcano.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. Call with (dict "ctx" $ "component" "volcano-scheduler").
name + instance, plus the component because this chart has two Deployments
in one namespace whose selectors must not overlap. Never a version.
*/}}
{{- define "ascend-volcano.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ascend-volcano.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels on every object. Call with (dict "ctx" $ "component" "..."). */}}
{{- define "ascend-volcano.labels" -}}
helm.sh/chart: {{ include "ascend-volcano.chart" .ctx }}
app.kubernetes.io/name: {{ include "ascend-volcano.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference. Call with (dict "ctx" $ "image" .Values.scheduler.image). */}}
{{- define "ascend-volcano.image" -}}
{{- $img := .image -}}
{{- $global := .ctx.Values.global | default dict -}}
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

{{/* imagePullSecrets from global + chart values; names or {name: x}. */}}
{{- define "ascend-volcano.imagePullSecrets" -}}
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

{{/*
PodDisruptionBudget apiVersion: policy/v1 exists from Kubernetes 1.21 and
policy/v1beta1 is gone from 1.25. Decided by the server version (the API
list of `helm template` holds both whatever --kube-version says).
*/}}
{{- define "ascend-volcano.pdbApiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Annotations of the CRDs. */}}
{{- define "ascend-volcano.crdAnnotations" -}}
{{- if .Values.crds.keep -}}
helm.sh/resource-policy: keep
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

{{/*
Log-directory init container. Call with
(dict "ctx" $ "image" <image values> "dir" <host log dir>).
*/}}
{{- define "ascend-volcano.logInitContainer" -}}
- name: log-dir
  image: {{ include "ascend-volcano.image" (dict "ctx" .ctx "image" .image) | quote }}
  imagePullPolicy: {{ .image.pullPolicy }}
  command: ["/bin/sh", "-c"]
  args:
    - >-
      mkdir -p "/log-parent/$(LOG_DIR_NAME)" &&
      chown "$(LOG_UID):$(LOG_GID)" "/log-parent/$(LOG_DIR_NAME)" &&
      chmod 750 "/log-parent/$(LOG_DIR_NAME)"
  env:
    - name: LOG_DIR_NAME
      value: {{ base .dir | quote }}
    - name: LOG_UID
      value: {{ .ctx.Values.runAs.user | quote }}
    - name: LOG_GID
      value: {{ .ctx.Values.runAs.group | quote }}
  # Root, but only CHOWN (hand the directory to hwMindX) and FOWNER (chmod
  # it when it already belongs to hwMindX); no privilege escalation.
  securityContext:
    runAsUser: 0
    runAsGroup: 0
    runAsNonRoot: false
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
      add: ["CHOWN", "FOWNER"]
  resources:
    {{- toYaml .ctx.Values.initResources | nindent 4 }}
  volumeMounts:
    - name: log-parent
      mountPath: /log-parent
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
