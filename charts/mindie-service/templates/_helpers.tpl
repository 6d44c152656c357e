{{/*
Names, labels and small lookups shared by every template. Every helper
carries the chart prefix: unprefixed helpers collide across the subcharts of
an umbrella (the last one loaded wins).
*/}}

{{- define "mindie-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name every object name starts with. Not truncated on purpose: a
truncated prefix could make two releases collide, so validations.yaml
refuses names longer than 40 characters instead.
*/}}
{{- define "mindie-service.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: name and instance only, never a version. */}}
{{- define "mindie-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mindie-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "mindie-service.labels" -}}
helm.sh/chart: {{ include "ascend-common.chart" . }}
{{ include "mindie-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindie-service
{{- end -}}

{{/*
Labels of pod templates: no chart version, so upgrading the chart alone does
not restart pods (in pd mode a restart means rewriting the global ranktable).
*/}}
{{- define "mindie-service.podLabels" -}}
{{ include "mindie-service.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindie-service
{{- end -}}

{{/*
Labels identifying one MindIE role (and PD instance). These are the labels
kubectl_ascend/ranktable.py looks objects up by; keep both in step.
Call with (dict "ctx" $ "role" "prefill" "index" 0); index is optional.
  app.kubernetes.io/component       server | controller | coordinator
  mindie.huawei.com/role            single | prefill | decode | controller | coordinator
  mindie.huawei.com/instance-index  "<n>" for prefill/decode instances
*/}}
{{- define "mindie-service.roleLabels" -}}
{{- $role := .role -}}
app.kubernetes.io/component: {{ ternary $role "server" (or (eq $role "controller") (eq $role "coordinator")) }}
mindie.huawei.com/role: {{ $role }}
{{- if hasKey . "index" }}
mindie.huawei.com/instance-index: {{ .index | toString | quote }}
{{- end }}
{{- end -}}

{{/* Selector of one role's pods: selector labels + role (+ index). */}}
{{- define "mindie-service.roleSelector" -}}
{{ include "mindie-service.selectorLabels" .ctx }}
mindie.huawei.com/role: {{ .role }}
{{- if hasKey . "index" }}
mindie.huawei.com/instance-index: {{ .index | toString | quote }}
{{- end }}
{{- end -}}

{{/* Name of one PD instance's workload, PodGroup and pods: <fullname>-prefill-0. */}}
{{- define "mindie-service.instanceName" -}}
{{- printf "%s-%s-%d" (include "mindie-service.fullname" .ctx) .role (int .index) -}}
{{- end -}}

{{/* Per-instance ranktable ConfigMap the Ascend Operator fills: rings-config-<workload>. */}}
{{- define "mindie-service.ringsConfigName" -}}
{{- printf "rings-config-%s" (include "mindie-service.instanceName" .) -}}
{{- end -}}

{{- define "mindie-service.globalRanktableName" -}}
{{- printf "%s-global-ranktable" (include "mindie-service.fullname" .) -}}
{{- end -}}

{{- define "mindie-service.configName" -}}
{{- printf "%s-config" (include "mindie-service.fullname" .) -}}
{{- end -}}

{{/* Entry Service of the coordinator (validated against mindie-ms-coordinator). */}}
{{- define "mindie-service.coordinatorServiceName" -}}
{{- default (printf "%s-coordinator" (include "mindie-service.fullname" .)) .Values.coordinator.serviceName -}}
{{- end -}}

{{/* Name of the entry Service of the release, whatever the mode. */}}
{{- define "mindie-service.entryServiceName" -}}
{{- if eq .Values.mode "pd" -}}
{{- include "mindie-service.coordinatorServiceName" . -}}
{{- else -}}
{{- include "mindie-service.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Port of the entry Service, whatever the mode. */}}
{{- define "mindie-service.entryPort" -}}
{{- if eq .Values.mode "pd" -}}
{{- .Values.coordinator.ports.predict | int -}}
{{- else -}}
{{- .Values.ports.business | int -}}
{{- end -}}
{{- end -}}

{{/* Image reference; digest wins over tag. */}}
{{- define "mindie-service.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{- define "mindie-service.image" -}}
{{- include "mindie-service.imageRef" .Values.image -}}
{{- end -}}

{{- define "mindie-service.testImage" -}}
{{- if .Values.test.image.repository -}}
{{- include "mindie-service.imageRef" .Values.test.image -}}
{{- else -}}
{{- include "mindie-service.image" . -}}
{{- end -}}
{{- end -}}

{{/* Scheduler: the value, else volcano (MindCluster schedules NPU pods with Volcano in both modes). */}}
{{- define "mindie-service.schedulerName" -}}
{{- .Values.schedulerName | default "volcano" -}}
{{- end -}}

{{/* Facts of accelerator.family (ascend-common facts/labels.json) as JSON: accelerator, resource, ... */}}
{{- define "mindie-service.familyFacts" -}}
{{- $facts := include "ascend-common.facts.labels" . | fromJson -}}
{{- index $facts.families (toString .Values.accelerator.family) | toJson -}}
{{- end -}}

{{/* Extended resource of one NPU: huawei.com/Ascend910, huawei.com/Ascend310P, ... */}}
{{- define "mindie-service.npuResource" -}}
{{- (include "mindie-service.familyFacts" . | fromJson).resource -}}
{{- end -}}

{{/* Value of the node label `accelerator`: huawei-Ascend910, ... */}}
{{- define "mindie-service.acceleratorLabel" -}}
{{- (include "mindie-service.familyFacts" . | fromJson).accelerator -}}
{{- end -}}

{{/* PriorityClass name of a PD server role (prefill | decode). */}}
{{- define "mindie-service.priorityClassName" -}}
{{- $v := .ctx.Values.priorityClasses -}}
{{- if $v.create -}}
{{- printf "%s-%s-%s" .ctx.Release.Namespace (include "mindie-service.fullname" .ctx) .role -}}
{{- else if eq .role "prefill" -}}
{{- $v.existingPrefill -}}
{{- else -}}
{{- $v.existingDecode -}}
{{- end -}}
{{- end -}}

{{/* http or https, following https.enabled everywhere. */}}
{{- define "mindie-service.scheme" -}}
{{- ternary "https" "http" .Values.https.enabled -}}
{{- end -}}


{{/*
Node selection of the helm test pod and of the NOTES' try-it pod. When they
run the (large) MindIE image they go where it is already pulled: the NPU
nodes, with the release's node selector and tolerations.
*/}}
{{/*
Node selector of the Controller and Coordinator: they need no NPU but run
the same image as the servers (built for the NPU servers' architecture), so
they go to the same kind of node: accelerator (+ accelerator-type), merged
with .Values.nodeSelector.
*/}}
{{- define "mindie-service.motorNodeSelector" -}}
{{- $sel := deepCopy .Values.nodeSelector -}}
{{- $_ := set $sel "accelerator" (include "mindie-service.acceleratorLabel" .) -}}
{{- with .Values.accelerator.type -}}
{{- $_ := set $sel "accelerator-type" . -}}
{{- end -}}
{{- toJson $sel -}}
{{- end -}}

{{- define "mindie-service.auxNodeSelector" -}}
{{- $sel := deepCopy .Values.nodeSelector -}}
{{- if not .Values.test.image.repository -}}
{{- $_ := set $sel "accelerator" (include "mindie-service.acceleratorLabel" .) -}}
{{- with .Values.accelerator.type -}}
{{- $_ := set $sel "accelerator-type" . -}}
{{- end -}}
{{- end -}}
{{- toJson $sel -}}
{{- end -}}

{{/* --overrides JSON of the NOTES' kubectl run. */}}
{{- define "mindie-service.tryOverrides" -}}
{{- $spec := dict "automountServiceAccountToken" false "enableServiceLinks" false -}}
{{- $sel := include "mindie-service.auxNodeSelector" . | fromJson -}}
{{- if $sel -}}{{- $_ := set $spec "nodeSelector" $sel -}}{{- end -}}
{{- with .Values.tolerations -}}{{- $_ := set $spec "tolerations" . -}}{{- end -}}
{{- dict "spec" $spec | toJson -}}
{{- end -}}

{{/* "true" when the PD controller takes the global ranktable from ClusterD (values clusterd.*), else "". */}}
{{- define "mindie-service.clusterd" -}}
{{- if and (eq .Values.mode "pd") .Values.clusterd.enabled }}true{{ end -}}
{{- end -}}

{{/*
"true" when a PD instance of (dict "ctx" $ "pods" <pods per instance>) runs as a
Volcano Job (_vcjob.tpl) rather than a StatefulSet: in ClusterD mode, and for a
multi-pod instance that Volcano schedules. Huawei's Ascend Operator v26.0.0
never numbers a pod recreated while another pod of its workload keeps
hccl/rankIndex (pkg/controllers/v1/pod.go updateRandIndex), so a multi-pod
instance only recovers when all its pods are recreated: the Job's RestartJob
policy does that. A single pod has no such survivor.
*/}}
{{- define "mindie-service.instanceVcjob" -}}
{{- if or (include "mindie-service.clusterd" .ctx) (and (gt (int .pods) 1) (eq (include "mindie-service.schedulerName" .ctx) "volcano")) }}true{{ end -}}
{{- end -}}

{{/* The MindIE job ID ClusterD groups a PD service by (label jobID, env MINDX_TASK_ID). */}}
{{- define "mindie-service.jobID" -}}
{{- .Values.clusterd.jobID | default (include "mindie-service.fullname" .) -}}
{{- end -}}

{{/*
Labels ClusterD reads (pd mode with clusterd.enabled), for (dict "ctx" $ "role" ...):
jobID, and app = mindie-ms-controller | mindie-ms-coordinator | mindie-ms-server
(mind-cluster v26.1.0 component/clusterd/pkg/common/constant/constants.go
MindIeJobIdLabelKey, MindIeAppTypeLabelKey, *AppType; epranktable/ranktable_manager.go
InformerHandler). Empty outside ClusterD mode.
*/}}
{{- define "mindie-service.clusterdLabels" -}}
{{- if include "mindie-service.clusterd" .ctx -}}
jobID: {{ include "mindie-service.jobID" .ctx | quote }}
app: {{ ternary (printf "mindie-ms-%s" .role) "mindie-ms-server" (or (eq .role "controller") (eq .role "coordinator")) }}
{{- end -}}
{{- end -}}
