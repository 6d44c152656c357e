{{/*
Helpers of the ascend-device-plugin chart. Every name carries the chart
prefix: unprefixed helpers collide across the subcharts of an umbrella.
*/}}

{{- define "ascend-device-plugin.serviceAccountName" -}}
ascend-device-plugin
{{- end -}}

{{/*
Facts per chip family: DaemonSet suffix, value of the `accelerator` node
label, extended resource name. Order of the list is the render order.
*/}}
{{- define "ascend-device-plugin.familyOrder" -}}
- ascend910
- ascend310
- ascend310p
- npu
{{- end -}}

{{- define "ascend-device-plugin.familyFacts" -}}
ascend910:
  suffix: "910"
  accelerator: huawei-Ascend910
  resource: huawei.com/Ascend910
ascend310:
  suffix: "310"
  accelerator: huawei-Ascend310
  resource: huawei.com/Ascend310
ascend310p:
  suffix: 310p
  accelerator: huawei-Ascend310P
  resource: huawei.com/Ascend310P
npu:
  suffix: npu
  accelerator: huawei-npu
  resource: huawei.com/npu
{{- end -}}

{{/* Enabled family keys, in render order, as a YAML list. */}}
{{- define "ascend-device-plugin.enabledFamilies" -}}
{{- $out := list -}}
{{- range $key := include "ascend-device-plugin.familyOrder" . | fromYamlArray -}}
{{- $fam := index $.Values.families $key -}}
{{- if $fam.enabled -}}
{{- $out = append $out $key -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
MindCluster profile of this chart as JSON (ascend-common.mindcluster.profile);
fails on a release and OS suffix that do not go together.
*/}}
{{- define "ascend-device-plugin.profile" -}}
{{- include "ascend-common.mindcluster.profile" (dict "ctx" . "chart" "ascend-device-plugin") -}}
{{- end -}}

{{/* The layout rendered: layout, or the release's when empty. */}}
{{- define "ascend-device-plugin.layout" -}}
{{- .Values.layout | default (include "ascend-device-plugin.profile" . | fromJson).devicePluginLayout -}}
{{- end -}}

{{/* Image values with the tag from the profile when image.tag is empty (JSON). */}}
{{- define "ascend-device-plugin.profileImage" -}}
{{- include "ascend-common.mindcluster.image" (dict "image" .Values.image "tag" (include "ascend-device-plugin.profile" . | fromJson).tag) -}}
{{- end -}}

{{/*
Arguments of the device-plugin binary (without the per-family extras).
-useAscendDocker exists up to 26.0.0 only and the health flags from 26.1.0
(profile features; charts/ascend-common/facts/mindcluster.json).
*/}}
{{- define "ascend-device-plugin.args" -}}
{{- $features := (include "ascend-device-plugin.profile" . | fromJson).features -}}
{{- if $features.useAscendDockerFlag }}
- -useAscendDocker={{ .Values.useAscendDocker }}
{{- end }}
- -volcanoType={{ .Values.volcanoType }}
- -presetVirtualDevice={{ .Values.presetVirtualDevice }}
- -logFile={{ trimSuffix "/" .Values.log.dir }}/devicePlugin.log
- -logLevel={{ .Values.log.level }}
{{- if $features.healthz }}
- --enable-healthz=true
- --healthz-address={{ .Values.healthz.port }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component device-plugin); status/doctor find workloads by them. */}}
{{- define "ascend-device-plugin.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "device-plugin") -}}
{{- end -}}
