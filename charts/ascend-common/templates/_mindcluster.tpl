{{/*
MindCluster release profile: what a component chart takes from
global.mindcluster.version / global.mindcluster.osSuffix (and, for Volcano,
its volcanoVersion value). The one place that reads facts/mindcluster.json
for the charts; every rule it refuses is a sentence naming the value to
change.

Call with (dict "ctx" $ "chart" "<chart name>" "volcanoVersion" <value or "">)
and read the result with fromJson:
  version          "26.0.0" | "26.1.0"
  osSuffix         "" (26.0.0) or the chosen/default suffix (26.1.0)
  tag              image tag of MindCluster components: v26.0.0,
                   v26.1.0-openeuler24.03 (published tags carry the OS
                   suffix from 26.1.0; the bare v26.1.0 of Huawei's
                   helm-deploy-tool/app/values.yaml does not exist)
  volcanoVersion   chosen Volcano version ("" value = the release default)
  volcanoTag       <volcanoVersion>-<tag>, e.g. v1.9.0-v26.1.0-openeuler24.03
                   (component/ascend-for-volcano/build/build.sh: ":<base>" ->
                   ":<base>-<release>")
  releaseTag       the release's tag without OS suffix: v26.0.0, v26.1.0
  npuPluginName    volcano-npu_<release tag>: the name build.sh stamps into
                   the plugin (-X ...PluginName=) and its .so
  devicePluginLayout, devicePluginSetsLabels, features   as in the facts
*/}}
{{- define "ascend-common.mindcluster.profile" -}}
{{- $facts := include "ascend-common.facts.mindcluster" .ctx | fromJson -}}
{{- $global := .ctx.Values.global | default dict -}}
{{- $mc := $global.mindcluster | default dict -}}
{{- $version := toString ($mc.version | default $facts.default) -}}
{{- $releases := $facts.releases -}}
{{- if not (hasKey $releases $version) -}}
{{- fail (printf "%s: global.mindcluster.version %q is not a MindCluster release these charts know. Use one of %s." .chart $version (keys $releases | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $rel := index $releases $version -}}
{{- $suffix := toString ($mc.osSuffix | default "") -}}
{{- if $suffix -}}
{{- if not $rel.osSuffixes -}}
{{- $with := list -}}
{{- range $name, $r := $releases -}}
{{- if $r.osSuffixes -}}
{{- $with = append $with (printf "%s: %s" $name (join ", " $r.osSuffixes)) -}}
{{- end -}}
{{- end -}}
{{- fail (printf "%s: global.mindcluster.osSuffix is %q but MindCluster %s publishes its images without an OS suffix (tag %s). Leave global.mindcluster.osSuffix empty, or choose a release whose tags carry one (%s)." .chart $suffix $version $rel.tag (join "; " $with)) -}}
{{- end -}}
{{- if not (has $suffix $rel.osSuffixes) -}}
{{- fail (printf "%s: global.mindcluster.osSuffix %q is not an OS MindCluster %s publishes images for. Use one of %s (empty = %s)." .chart $suffix $version (join ", " $rel.osSuffixes) $rel.defaultOsSuffix) -}}
{{- end -}}
{{- else -}}
{{- $suffix = $rel.defaultOsSuffix -}}
{{- end -}}
{{- $tag := $rel.tag -}}
{{- if $suffix -}}
{{- $tag = printf "%s-%s" $rel.tag $suffix -}}
{{- end -}}
{{- $vv := toString (.volcanoVersion | default $rel.volcano.default) -}}
{{- if not (has $vv $rel.volcano.versions) -}}
{{- fail (printf "%s: volcanoVersion %q is not shipped with MindCluster %s. Use one of %s (empty = %s), or change global.mindcluster.version." .chart $vv $version (join ", " $rel.volcano.versions) $rel.volcano.default) -}}
{{- end -}}
{{- dict
      "version" $version
      "osSuffix" $suffix
      "tag" $tag
      "volcanoVersion" $vv
      "volcanoTag" (printf "%s-%s" $vv $tag)
      "releaseTag" $rel.tag
      "npuPluginName" (printf "volcano-npu_%s" $rel.tag)
      "devicePluginLayout" $rel.devicePluginLayout
      "devicePluginSetsLabels" $rel.devicePluginSetsLabels
      "features" ($rel.features | default dict)
    | toJson -}}
{{- end -}}

{{/*
An image values dict with the tag filled from the profile when the chart's
image.tag is empty ("" = "from the profile"). An explicit tag or a digest
wins. Call with (dict "image" <image values> "tag" <profile tag>); pass the
result as "image" to ascend-common.image.
*/}}
{{- define "ascend-common.mindcluster.image" -}}
{{- $img := deepCopy .image -}}
{{- if not $img.tag -}}
{{- $_ := set $img "tag" .tag -}}
{{- end -}}
{{- toJson $img -}}
{{- end -}}
