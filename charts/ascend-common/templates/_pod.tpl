{{/*
PodDisruptionBudget apiVersion: policy/v1 exists from Kubernetes 1.21 and
policy/v1beta1 is gone from 1.25. Decided by the server version: the API
list of `helm template` holds policy/v1 whatever --kube-version says.
Call with the chart's root context.
*/}}
{{- define "ascend-common.pdbApiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/*
Annotations of a chart's CRDs: kept on uninstall when .Values.crds.keep
(helm never deletes them then, so AscendJobs / PodGroups survive).
Call with the chart's root context.
*/}}
{{- define "ascend-common.crdAnnotations" -}}
{{- if .Values.crds.keep -}}
helm.sh/resource-policy: keep
{{- end -}}
{{- end -}}

{{/*
Init container that creates a component's host log directory (mode 750)
under its parent, mounted at /log-parent (the pod needs a hostPath volume
`log-parent` on `dir <log dir>`). Root, but only CHOWN (hand the directory
to its owner) and FOWNER (chmod it when it already belongs to the owner);
no privilege escalation. Resources: .Values.initResources.
Call with (dict "ctx" $ "image" <image values> "dir" <host log dir>
"runAs" <dict user group>); without runAs the directory belongs to root.
*/}}
{{- define "ascend-common.logInitContainer" -}}
- name: log-dir
  image: {{ include "ascend-common.image" (dict "ctx" .ctx "image" .image) | quote }}
  imagePullPolicy: {{ .image.pullPolicy }}
  command: ["/bin/sh", "-c"]
  args:
    - >-
      mkdir -p "/log-parent/$(LOG_DIR_NAME)" &&
      {{- if .runAs }}
      chown "$(LOG_UID):$(LOG_GID)" "/log-parent/$(LOG_DIR_NAME)" &&
      {{- else }}
      chown 0:0 "/log-parent/$(LOG_DIR_NAME)" &&
      {{- end }}
      chmod 750 "/log-parent/$(LOG_DIR_NAME)"
  env:
    - name: LOG_DIR_NAME
      value: {{ base .dir | quote }}
    {{- with .runAs }}
    - name: LOG_UID
      value: {{ .user | quote }}
    - name: LOG_GID
      value: {{ .group | quote }}
    {{- end }}
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
