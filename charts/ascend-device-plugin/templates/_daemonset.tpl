{{/* One device plugin DaemonSet; called by daemonset.yaml. */}}
{{- define "ascend-device-plugin.daemonset" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- $facts := .facts -}}
{{- $family := .family -}}
{{- $name := "ascend-device-plugin-daemonset" -}}
{{- $familyLabel := "" -}}
{{- if $family -}}
{{- $familyLabel = (index $facts $family).suffix -}}
{{- $name = printf "ascend-device-plugin-daemonset-%s" $familyLabel -}}
{{- end -}}
{{- $logDir := trimSuffix "/" $v.log.dir -}}
{{- $kubelet := trimSuffix "/" $v.hostPaths.kubeletRoot -}}
{{- $profile := include "ascend-device-plugin.profile" $ | fromJson -}}
{{- $features := $profile.features -}}
{{- $image := include "ascend-device-plugin.profileImage" $ | fromJson -}}
{{- /* From 26.1.0 the plugin sets `accelerator` itself, so its DaemonSet cannot select on it. */ -}}
{{- $selfLabelling := has "accelerator" $profile.devicePluginSetsLabels -}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ $name }}
  namespace: {{ $v.namespace }}
  labels:
    {{- include "ascend-device-plugin.labels" $ | nindent 4 }}
    {{- if $familyLabel }}
    ascend.huawei.com/family: {{ $familyLabel | quote }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "ascend-common.selectorLabels" $ | nindent 6 }}
      {{- if $familyLabel }}
      {{- /* Several DaemonSets share one namespace: the family keeps their selectors apart. */}}
      ascend.huawei.com/family: {{ $familyLabel | quote }}
      {{- end }}
  updateStrategy:
    {{- toYaml $v.updateStrategy | nindent 4 }}
  template:
    metadata:
      labels:
        {{- include "ascend-device-plugin.labels" $ | nindent 8 }}
        {{- if $familyLabel }}
        ascend.huawei.com/family: {{ $familyLabel | quote }}
        {{- end }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "ascend-device-plugin.serviceAccountName" $ }}
      priorityClassName: {{ $v.priorityClassName | quote }}
      {{- with include "ascend-common.imagePullSecrets" $ }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- if $features.devicePluginHostPID }}
      # 26.1.0 runs the plugin in the host's PID namespace
      # (mind-cluster v26.1.0 build/ascendplugin-volcano.yaml).
      hostPID: true
      {{- end }}
      securityContext:
        seccompProfile:
          type: RuntimeDefault
      {{- if $family }}
      nodeSelector:
        accelerator: {{ (index $facts $family).accelerator }}
        {{- with $v.nodeSelector }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if eq $family "ascend310p" }}
      {{- /* Atlas 200I SoC A1 runs its own variant (upstream ascendplugin-310P*.yaml excludes soc). */}}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: servertype
                    operator: NotIn
                    values: ["soc"]
      {{- end }}
      {{- else if $selfLabelling }}
      {{- /*
      mind-cluster v26.1.0 build/ascendplugin-volcano.yaml: every worker node
      but SoC nodes (their own variant); the plugin labels the chip itself.
      */}}
      {{- $l := include "ascend-common.facts.labels" $ | fromJson }}
      nodeSelector:
        {{ $l.keys.workerSelector }}: {{ $l.values.workerSelector }}
        {{- with $v.nodeSelector }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: {{ $l.keys.serverType }}
                    operator: NotIn
                    values: ["soc"]
      {{- else }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: accelerator
                    operator: In
                    values:
                      {{- range .families }}
                      - {{ (index $facts .).accelerator }}
                      {{- end }}
                  {{- if eq (include "ascend-device-plugin.socEnabled" $) "true" }}
                  {{- /* SoC nodes are the SoC variant's (daemonset-310p-soc.yaml). */}}
                  - key: servertype
                    operator: NotIn
                    values: ["soc"]
                  {{- end }}
      {{- end }}
      {{- /*
      The single (26.1) DaemonSet tolerates every family's resource and the
      device-plugin=v2 taint, as mind-cluster v26.1.0
      component/ascend-device-plugin/build/ascendplugin-volcano.yaml does;
      a per-family DaemonSet its own resource (ascendplugin-<family>.yaml).
      */}}
      tolerations:
        - key: CriticalAddonsOnly
          operator: Exists
        {{- range (ternary .families (include "ascend-device-plugin.familyOrder" $ | fromYamlArray) (ne .family "")) }}
        - key: {{ (index $facts .).resource }}
          operator: Exists
          effect: NoSchedule
        {{- end }}
        {{- if eq .family "" }}
        - key: device-plugin
          operator: Equal
          value: v2
          effect: NoSchedule
        {{- end }}
        {{- with $v.extraTolerations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $v.log.createDir }}
      initContainers:
        {{- include "ascend-common.logInitContainer" (dict "ctx" $ "image" $image "dir" $logDir) | nindent 8 }}
      {{- end }}
      containers:
        - name: device-plugin
          image: {{ include "ascend-common.image" (dict "ctx" $ "image" $image) | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          # `sh -c 'umask 027 && exec device-plugin "$@"'` keeps the argument
          # list below a plain list while log files get mode 640.
          command:
            - /bin/sh
            - -c
            - umask 027 && exec device-plugin "$@"
            - device-plugin
          args:
            {{- include "ascend-device-plugin.args" $ | trim | nindent 12 }}
            {{- if $family }}
            {{- range (index $v.families $family).extraArgs }}
            - {{ . | quote }}
            {{- end }}
            {{- end }}
          env:
            - name: NODE_NAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
            - name: HOST_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.hostIP
            {{- if $features.mountByRuntimeForDP }}
            # Ascend Docker Runtime 26.1+ mounts /run/containerd and
            # /run/docker(.sock) into this container (skipping mounts that
            # exist): runtime/process/process.go.
            - name: MOUNT_BY_RUNTIME_FOR_DP
              value: "true"
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $features.healthz }}
          ports:
            - name: healthz
              containerPort: {{ $v.healthz.port }}
              protocol: TCP
          # As mind-cluster v26.1.0 build/ascendplugin-volcano.yaml.
          livenessProbe:
            httpGet:
              path: /
              port: healthz
              scheme: HTTP
            initialDelaySeconds: 30
            periodSeconds: 15
            timeoutSeconds: 5
            failureThreshold: 3
          {{- end }}
          securityContext:
            privileged: true
            readOnlyRootFilesystem: true
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          volumeMounts:
            - name: device-plugin
              mountPath: /var/lib/kubelet/device-plugins
            - name: pod-resource
              mountPath: /var/lib/kubelet/pod-resources
            - name: hiai-driver
              mountPath: /usr/local/Ascend/driver
              readOnly: true
            - name: log-path
              mountPath: {{ $logDir }}
            - name: tmp
              mountPath: /tmp
            - name: localtime
              mountPath: /etc/localtime
              readOnly: true
            {{- /* 26.0.0 mounts (mind-cluster v26.0.0 build/ascendplugin-volcano.yaml) */}}
            - name: reset-config-dir
              mountPath: /user/restore/reset
            - name: lingqu-log
              mountPath: /var/log/lingqu
            - name: data-trace-file-dir
              mountPath: /user/cluster-info/datatrace-config
            - name: dpu-config
              mountPath: /user/mindx-dl/dpu
            {{- if not $features.mountByRuntimeForDP }}{{/* 26.1: Ascend Docker Runtime mounts it, as upstream */}}
            - name: containerd
              mountPath: /run/containerd
              readOnly: true
            {{- end }}
            {{- if $v.hostPaths.docker }}
            - name: docker-sock
              mountPath: /run/docker.sock
              readOnly: true
            - name: docker-dir
              mountPath: /run/docker
              readOnly: true
            {{- end }}
            {{- if $v.volcanoType }}
            - name: vnpucfg
              mountPath: /etc/vnpu.cfg
            - name: vnpu-cfg-lock
              mountPath: /run/vnpu_cfg_lock
            {{- end }}
      volumes:
        - name: device-plugin
          hostPath:
            path: {{ $kubelet }}/device-plugins
            type: Directory
        - name: pod-resource
          hostPath:
            path: {{ $kubelet }}/pod-resources
            type: DirectoryOrCreate
        - name: hiai-driver
          hostPath:
            path: {{ trimSuffix "/" $v.hostPaths.driver }}
            type: Directory
        - name: log-path
          hostPath:
            path: {{ $logDir }}
            type: DirectoryOrCreate
        {{- if $v.log.createDir }}
        - name: log-parent
          hostPath:
            path: {{ dir $logDir }}
            type: DirectoryOrCreate
        {{- end }}
        - name: tmp
          hostPath:
            path: /tmp
        - name: localtime
          hostPath:
            path: /etc/localtime
        - name: reset-config-dir
          hostPath:
            path: /user/restore/reset
            type: DirectoryOrCreate
        - name: lingqu-log
          hostPath:
            path: /var/log/lingqu
            type: DirectoryOrCreate
        - name: data-trace-file-dir
          hostPath:
            path: /user/cluster-info/datatrace-config
            type: DirectoryOrCreate
        - name: dpu-config
          hostPath:
            path: /user/mindx-dl/dpu-config
            type: DirectoryOrCreate
        {{- if not $features.mountByRuntimeForDP }}
        - name: containerd
          hostPath:
            path: /run/containerd
            type: DirectoryOrCreate
        {{- end }}
        {{- if $v.hostPaths.docker }}
        - name: docker-sock
          hostPath:
            path: /run/docker.sock
            type: Socket
        - name: docker-dir
          hostPath:
            path: /run/docker
            type: Directory
        {{- end }}
        {{- if $v.volcanoType }}
        # Must exist on the node (type File): the pod does not start without
        # it. `kubectl ascend doctor` checks it.
        - name: vnpucfg
          hostPath:
            path: /etc/vnpu.cfg
            type: File
        - name: vnpu-cfg-lock
          hostPath:
            path: /run/vnpu_cfg_lock
            type: DirectoryOrCreate
        {{- end }}
{{- end -}}
