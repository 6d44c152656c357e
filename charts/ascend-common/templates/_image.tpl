{{/*
Image reference. Call with (dict "ctx" $ "image" <image values>), where the
image values hold registry, repository, tag, digest. The caller may pass a
dict it computed (a tag chosen for a MindCluster release, say).
global.imageRegistry (set once in the umbrella, seen by every subchart)
replaces image.registry; a digest wins over the tag.
*/}}
{{- define "ascend-common.image" -}}
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
{{- printf "%s:%s" $repo (toString $img.tag) -}}
{{- end -}}
{{- end -}}

{{/*
imagePullSecrets of a pod spec from global.imagePullSecrets and the chart's
imagePullSecrets, each entry a name or {name: x}; duplicates dropped, order
kept. Call with the chart's root context; renders nothing when both are empty.
*/}}
{{- define "ascend-common.imagePullSecrets" -}}
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
