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

{{/* Arguments of the device-plugin binary (without the per-family extras). */}}
{{- define "ascend-device-plugin.args" -}}
- -useAscendDocker={{ .Values.useAscendDocker }}
- -volcanoType={{ .Values.volcanoType }}
- -presetVirtualDevice={{ .Values.presetVirtualDevice }}
- -logFile={{ trimSuffix "/" .Values.log.dir }}/devicePlugin.log
- -logLevel={{ .Values.log.level }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Labels on every object (ascend-common.labels, component device-plugin); status/doctor find workloads by them. */}}
{{- define "ascend-device-plugin.labels" -}}
{{- include "ascend-common.labels" (dict "ctx" . "component" "device-plugin") -}}
{{- end -}}
