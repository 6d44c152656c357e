{{/*
Helpers of the ascend-operator chart, all prefixed with the chart name.
*/}}

{{- define "ascend-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ascend-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance only (never a version). */}}
{{- define "ascend-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ascend-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object; status/doctor find the operator by them. */}}
{{- define "ascend-operator.labels" -}}
helm.sh/chart: {{ include "ascend-operator.chart" . }}
{{ include "ascend-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mindcluster
app.kubernetes.io/component: ascend-operator
{{- end -}}

{{- define "ascend-operator.serviceAccountName" -}}
ascend-operator-manager
{{- end -}}

{{/* Image reference; global.imageRegistry wins, a digest wins over the tag. */}}
{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile):
tag, features, ... Fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-operator.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-operator") -}}
{{- end -}}

{{- define "ascend-operator.image" -}}
{{- /* image.tag "" = the profile's tag (v26.0.0, v26.1.0-<osSuffix>). */ -}}
{{- $img := include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-operator.profile" . | fromJson).tag) | fromJson -}}
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
{{- define "ascend-operator.imagePullSecrets" -}}
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

{{/* PodDisruptionBudget apiVersion by server version (policy/v1 from 1.21). */}}
{{- define "ascend-operator.pdbApiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}
