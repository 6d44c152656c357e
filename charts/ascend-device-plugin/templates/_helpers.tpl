{{/*
Helpers of the ascend-device-plugin chart. Every name carries the chart
prefix: unprefixed helpers collide across the subcharts of an umbrella.
*/}}

{{- define "ascend-device-plugin.serviceAccountName" -}}
ascend-device-plugin
{{- end -}}

{{/*
Facts per chip family, keyed by the family key of the values (ascend910, ...):
DaemonSet suffix, value of the `accelerator` node label, extended resource
name; all from ascend-common's facts/labels.json (the table label-node uses).
familyOrder is the render order.
*/}}
{{- define "ascend-device-plugin.familyOrder" -}}
{{- $facts := include "ascend-common.facts.labels" . | fromJson -}}
{{- $out := list -}}
{{- range $facts.familyOrder -}}
{{- $out = append $out (index $facts.families .).devicePluginKey -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "ascend-device-plugin.familyFacts" -}}
{{- $out := dict -}}
{{- range (include "ascend-common.facts.labels" . | fromJson).families -}}
{{- $_ := set $out .devicePluginKey (dict "suffix" .devicePluginSuffix "accelerator" .accelerator "resource" .resource) -}}
{{- end -}}
{{- toYaml $out -}}
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

{{/*
"true" when the Atlas 200I SoC A1 variant (daemonset-310p-soc.yaml) is
rendered: families.ascend310p.enabled and families.ascend310p.soc.enabled, in
either layout.
*/}}
{{- define "ascend-device-plugin.socEnabled" -}}
{{- $fam := .Values.families.ascend310p -}}
{{- and $fam.enabled ($fam.soc | default dict).enabled | toString -}}
{{- end -}}

{{/*
"true" when SoC nodes (servertype=soc) get no device plugin: a DaemonSet that
would serve them excludes them (perFamily 310P; single from 26.1.0) and the
SoC variant is off. NOTES.txt warns then.
*/}}
{{- define "ascend-device-plugin.socUnserved" -}}
{{- $profile := include "ascend-device-plugin.profile" . | fromJson -}}
{{- $excluded := or (ne (include "ascend-device-plugin.layout" .) "single") (has "accelerator" $profile.devicePluginSetsLabels) -}}
{{- and .Values.families.ascend310p.enabled $excluded (ne (include "ascend-device-plugin.socEnabled" .) "true") | toString -}}
{{- end -}}
