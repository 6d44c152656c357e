{{/*
mode pymotor: MindIE 3.x, whose control plane is PyMotor (PyPI mindie-motor,
package `motor`). Every fact below was read from the mindie-motor 3.0.0b2
wheel (motor/config/*.py, motor/common/utils/env.py) and from MindIE-PyMotor's
examples/deployer (deploy.py, yaml_template/, startup/); the chart README
cites them per value.
*/}}

{{- define "mindie-service.pymotor.configName" -}}
{{- printf "%s-pymotor-config" (include "mindie-service.fullname" .) -}}
{{- end -}}

{{- define "mindie-service.pymotor.controllerName" -}}
{{- printf "%s-controller" (include "mindie-service.fullname" .) -}}
{{- end -}}

{{- define "mindie-service.pymotor.coordinatorName" -}}
{{- default (printf "%s-coordinator" (include "mindie-service.fullname" .)) .Values.pymotor.coordinator.serviceName -}}
{{- end -}}

{{/* A Service's cluster FQDN: what controller_api_dns / coordinator_api_dns and the *_SERVICE env carry. */}}
{{- define "mindie-service.pymotor.fqdn" -}}
{{- printf "%s.%s.svc.cluster.local" .name .ctx.Release.Namespace -}}
{{- end -}}

{{/* Where the pods see PyMotor's files. */}}
{{- define "mindie-service.pymotor.configMapDir" -}}/mnt/configmap{{- end -}}
{{- define "mindie-service.pymotor.confDir" -}}/usr/local/Ascend/pyMotor/conf{{- end -}}

{{/*
user_config.json in the 3.0.0b2 schema (motor/config/config_utils.py
generate_user_config_sample; section names ConfigKey; motor_nodemanger_config
is spelled so upstream). Each process keeps only its own section:
ControllerConfig.from_json, CoordinatorConfig.from_json,
NodeManagerConfig.from_json, engine_server DeployConfig.load.
*/}}
{{- define "mindie-service.pymotor.userConfig" -}}
{{- $v := .Values -}}
{{- $p := $v.pymotor -}}
{{- $log := dict "log_level" $p.logLevel -}}
{{- $deploy := dict
  "p_instances_num" (int $v.prefill.instances)
  "d_instances_num" (int $v.decode.instances)
  "single_p_instance_pod_num" (int $v.prefill.podsPerInstance)
  "single_d_instance_pod_num" (int $v.decode.podsPerInstance)
  "p_pod_npu_num" (int $v.prefill.npusPerPod)
  "d_pod_npu_num" (int $v.decode.npusPerPod)
  "job_id" (include "mindie-service.fullname" .)
  "hardware_type" $p.hardwareType
  "weight_mount_path" $v.model.mountPath
-}}
{{- $controller := dict
  "logging_config" $log
  "api_config" (dict
    "controller_api_dns" (include "mindie-service.pymotor.fqdn" (dict "ctx" . "name" (include "mindie-service.pymotor.controllerName" .)))
    "controller_api_port" (int $p.controller.port)
    "observability_api_port" (int $p.controller.observabilityPort))
  "fault_tolerance_config" (dict "enable_fault_tolerance" $p.controller.faultTolerance)
  "observability_config" (dict "observability_enable" true)
-}}
{{- $coordinator := dict
  "logging_config" $log
  "scheduler_config" (dict "deploy_mode" "pd_separate" "scheduler_type" $p.coordinator.schedulerType)
  "inference_workers_config" (dict
    "num_workers" (int $p.coordinator.numWorkers)
    "worker_metaserver_base_port" (int $p.coordinator.workerMetaserverBasePort))
  "http_config" (dict
    "coordinator_api_infer_port" (int $p.coordinator.inferPort)
    "coordinator_api_mgmt_port" (int $p.coordinator.mgmtPort))
  "api_config" (dict
    "coordinator_api_dns" (include "mindie-service.pymotor.fqdn" (dict "ctx" . "name" (include "mindie-service.pymotor.coordinatorName" .)))
    "coordinator_api_port" (int $p.coordinator.mgmtPort))
-}}
{{- $nodeManager := dict
  "logging_config" $log
  "api_config" (dict "node_manager_port" (int $p.nodeManager.port))
  "endpoint_config" (dict "base_port" (int $p.nodeManager.engineBasePort))
-}}
{{- $cfg := dict
  "version" "v2.0"
  "motor_deploy_config" $deploy
  "motor_controller_config" $controller
  "motor_coordinator_config" $coordinator
  "motor_nodemanger_config" $nodeManager
-}}
{{- range $role := list "prefill" "decode" }}
{{- $par := index $p.parallel $role -}}
{{- $engine := deepCopy (index $p.engineConfig $role | default dict) -}}
{{- with $p.kvTransferConfig }}{{ $_ := set $engine "kv_transfer_config" (deepCopy .) }}{{ end -}}
{{- $model := dict
  "model_name" $v.model.name
  "model_path" $v.model.path
  "npu_mem_utils" $p.npuMemUtils
  (printf "%s_parallel_config" $role) (dict "tp_size" (int $par.tp) "dp_size" (int $par.dp) "pp_size" (int $par.pp) "enable_ep" $par.enableEp "dp_rpc_port" (int $par.dpRpcPort))
-}}
{{- $_ := set $cfg (printf "motor_engine_%s_config" $role) (dict "engine_type" "vllm" "model_config" $model "engine_config" $engine) -}}
{{- end }}
{{- toPrettyJson $cfg -}}
{{- end -}}

{{/*
checksum/config of an engine pod: user_config.json without the instance counts
(motor_deploy_config p_instances_num / d_instances_num). Scaling prefill or
decode changes only those; the controller and coordinator restart (their
checksum covers the whole file), the engines that stay keep running. In
3.0.0b2 the node_manager reads the counts only in single-container mode
(motor/config/node_manager.py SingleContainerNodemanagerConfig.from_json,
deploy_mode pd_disaggregation_single_container), which this chart never
renders (scheduler_config.deploy_mode pd_separate).
*/}}
{{- define "mindie-service.pymotor.engineChecksum" -}}
{{- $cfg := include "mindie-service.pymotor.userConfig" . | fromJson -}}
{{- $deploy := omit (get $cfg "motor_deploy_config") "p_instances_num" "d_instances_num" -}}
{{- $_ := set $cfg "motor_deploy_config" $deploy -}}
{{- toJson $cfg | sha256sum -}}
{{- end -}}

{{/*
Entrypoint of an engine pod. Paths come only from the environment
(CONFIG_PATH, USER_CONFIG_PATH, HCCL_PATH, RANKTABLE_PATH, RINGS_CONFIG_PATH)
so the same script runs in the pod and, with the paths moved, in the local
loop (hack/pymotor.py). Upstream's engine.sh (startup/roles/engine.sh,
common.sh gen_ranktable_config) builds HCCL_PATH with hccl_tools.py on the
node; here it is this pod's own server cut out of the Ascend Operator's
rings-config hccl.json, because the node_manager reads only server_list[0]
(motor/config/node_manager.py _update_from_hccl_data: its container_ip and
device count).
*/}}
{{- define "mindie-service.pymotor.engineEntrypoint" -}}
# Generated by the {{ .Chart.Name }} chart (mode pymotor).
set -e
until grep -Eq '"status"[[:space:]]*:[[:space:]]*"completed"' "$RINGS_CONFIG_PATH" 2>/dev/null; do
  echo "waiting for $RINGS_CONFIG_PATH (the Ascend Operator completes it)"
  sleep 2
done
{{- /*
Register only once the coordinator answers: the 3.0.0b2 controller pushes each assembled instance
to the coordinator once (an ADD event, dropped when the coordinator is unreachable) and resends
all of them only while the coordinator reports not ready (motor/controller/core/event_pusher.py
_coordinator_heartbeat_detector). A coordinator that came up between two ADDs holds a subset,
reports ready with prefill alone, and serves single-node forever (seen in tests/e2e/test_mindie_pymotor.py).
*/}}
{{ .Values.pymotor.python }} - {{ printf "http://$COORDINATOR_SERVICE:%d/readiness" (int .Values.pymotor.coordinator.mgmtPort) | quote }} <<'PY'
import sys, time, urllib.request
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=3).read()
        break
    except Exception as e:
        print(f"waiting for the coordinator at {sys.argv[1]}: {e}", flush=True)
        time.sleep(2)
PY
{{- /*
A restarted container (the node_manager died; $CONFIG_PATH is an emptyDir, so the mark survives) keeps
the pod IP. The 3.0.0b2 controller refuses a registration for an instance it still holds ACTIVE ("already
registered": motor/controller/core/instance_assembler.py register), which the node_manager takes for
success (node_manager/api_client/controller_api_client.py register), and when that instance's heartbeats
stop it asks the node_manager at the same IP, which answers normal with no engines
(controller/core/instance_manager.py _check_node_managers_status): the instance stays ACTIVE with a dead
engine for good. So wait until the controller's inventory (observability_config, GET
/observability/inventory) no longer lists this JOB_NAME as running: with nothing on the node_manager
port its heartbeat check fails 5 s after the last heartbeat (common/resources/instance.py
ACTIVE_INSTANCE_HEARTBEAT_TIMEOUT) and the instance leaves "running".
*/}}
if [ -e "$CONFIG_PATH/.node-manager-started" ]; then
{{ .Values.pymotor.python }} - {{ printf "http://$CONTROLLER_SERVICE:%d/observability/inventory" (int .Values.pymotor.controller.observabilityPort) | quote }} "$JOB_NAME" <<'PY'
import json, sys, time, urllib.request
url, job = sys.argv[1:]
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        inv = json.load(urllib.request.urlopen(url, timeout=3))["data"]["inventories"]
        held = [i for i in inv["PInstanceList"] + inv["DInstanceList"]
                if i.get("Name") == job and i.get("InstanceStatus") == "running"]
        if not held:
            break
        print(f"restarted: waiting until the controller drops instance {job} (it still holds it running)", flush=True)
    except Exception as e:
        print(f"restarted: waiting for the controller's inventory at {url}: {e}", flush=True)
    time.sleep(2)
PY
fi
mkdir -p "$CONFIG_PATH"
touch "$CONFIG_PATH/.node-manager-started"
cp "$RINGS_CONFIG_PATH" "$RANKTABLE_PATH"
{{ .Values.pymotor.python }} - "$RINGS_CONFIG_PATH" "$POD_IP" "$HCCL_PATH" <<'PY'
import json, sys
src, ip, dst = sys.argv[1:]
table = json.load(open(src, encoding="utf-8"))
own = [s for s in table.get("server_list", []) if s.get("container_ip") == ip]
if len(own) != 1:
    sys.exit(f"error: {src} lists {len(own)} servers with container_ip {ip}, need exactly 1")
table["server_list"] = own
table["server_count"] = "1"
json.dump(table, open(dst, "w", encoding="utf-8"), indent=2)
print(f"HCCL_PATH {dst}: server {own[0].get('server_id')} with {len(own[0].get('device', []))} devices")
PY
exec {{ .Values.pymotor.python }} -m motor.node_manager.main
{{- end -}}

{{/* Environment of every PyMotor container. */}}
{{- define "mindie-service.pymotor.env" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: CONFIG_PATH
  value: {{ include "mindie-service.pymotor.confDir" . | quote }}
- name: USER_CONFIG_PATH
  value: {{ printf "%s/user_config.json" (include "mindie-service.pymotor.configMapDir" .) | quote }}
- name: CONTROLLER_SERVICE
  value: {{ include "mindie-service.pymotor.fqdn" (dict "ctx" . "name" (include "mindie-service.pymotor.controllerName" .)) | quote }}
- name: COORDINATOR_SERVICE
  value: {{ include "mindie-service.pymotor.fqdn" (dict "ctx" . "name" (include "mindie-service.pymotor.coordinatorName" .)) | quote }}
{{- end -}}

{{- define "mindie-service.pymotor.configVolume" -}}
- name: pymotor-config
  configMap:
    name: {{ include "mindie-service.pymotor.configName" . }}
    defaultMode: 0444
{{- end -}}

{{- define "mindie-service.pymotor.configMount" -}}
- name: pymotor-config
  mountPath: {{ include "mindie-service.pymotor.configMapDir" . }}
  readOnly: true
- name: pymotor-conf
  mountPath: {{ include "mindie-service.pymotor.confDir" . }}
{{- end -}}

{{/*
Pod template of one pod of a pymotor Prefill/Decode instance.
Call with (dict "ctx" $ "role" "prefill|decode" "index" <n>).
*/}}
{{- define "mindie-service.pymotor.enginePodTemplate" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $p := $v.pymotor -}}
{{- $role := .role -}}
{{- $r := index $v $role -}}
{{- $pods := int $r.podsPerInstance -}}
{{- $npus := int $r.npusPerPod -}}
{{- $npuResource := include "mindie-service.npuResource" $ctx -}}
{{- $resources := deepCopy (default (dict) $r.resources) -}}
{{- $requests := default (dict) $resources.requests -}}
{{- $limits := default (dict) $resources.limits -}}
{{- $_ := set $requests $npuResource $npus -}}
{{- $_ := set $limits $npuResource $npus -}}
{{- $_ := set $resources "requests" $requests -}}
{{- $_ := set $resources "limits" $limits -}}
{{- $labelArgs := dict "ctx" $ctx "role" $role "index" .index -}}
{{- $instance := include "mindie-service.instanceName" $labelArgs -}}
{{- $par := index $p.parallel $role -}}
{{- /* Engines per pod: motor/config/node_manager.py _generate_endpoint_ports. */ -}}
{{- $engines := min (int $par.dp) (div $npus (mul (int $par.tp) (int $par.pp))) -}}
metadata:
  labels:
    {{- include "mindie-service.podLabels" $ctx | nindent 4 }}
    {{- include "mindie-service.roleLabels" $labelArgs | nindent 4 }}
    {{- /* The Ascend Operator builds rings-config-<workload> from these (see serverPodTemplate). */}}
    deploy-name: {{ $instance }}
    ring-controller.atlas: {{ $v.accelerator.ringController }}
    mindie.huawei.com/engine: pymotor
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "mindie-service.pymotor.engineChecksum" $ctx }}
    {{- if and (gt $pods 1) $v.gang.enabled }}
    scheduling.k8s.io/group-name: {{ $instance }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- include "mindie-service.podCommon" $ctx | nindent 2 }}
  priorityClassName: {{ include "mindie-service.priorityClassName" (dict "ctx" $ctx "role" $role) }}
  nodeSelector:
    accelerator: {{ include "mindie-service.acceleratorLabel" $ctx }}
    {{- with $v.accelerator.type }}
    accelerator-type: {{ . }}
    {{- end }}
    {{- with $v.nodeSelector }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  containers:
    - name: engine
      image: {{ include "mindie-service.image" $ctx | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        - /bin/sh
        - -c
        - |
          {{- include "mindie-service.pymotor.engineEntrypoint" $ctx | nindent 10 }}
      ports:
        - name: node-manager
          containerPort: {{ $p.nodeManager.port | int }}
        {{- range $k := until (int $engines) }}
        - name: {{ printf "engine-%d" $k }}
          containerPort: {{ add (int $p.nodeManager.engineBasePort) (mul 2 $k) }}
        - name: {{ printf "engine-mgmt-%d" $k }}
          containerPort: {{ add (int $p.nodeManager.engineBasePort) (mul 2 $k) 1 }}
        {{- end }}
      env:
        {{- include "mindie-service.pymotor.env" $ctx | nindent 8 }}
        - name: ROLE
          value: {{ $role }}
        {{- /* One name per instance, shared by its pods: the controller assembles an instance from the node_managers that report the same job_name (motor/config/node_manager.py BasicConfig.job_name). */}}
        - name: JOB_NAME
          value: {{ $instance | quote }}
        - name: RINGS_CONFIG_PATH
          value: {{ printf "%s/hccl.json" (include "mindie-service.ringsConfigDir" $ctx) | quote }}
        - name: HCCL_PATH
          value: {{ printf "%s/hccl.json" (include "mindie-service.pymotor.confDir" $ctx) | quote }}
        - name: RANKTABLE_PATH
          value: {{ printf "%s/ranktable.json" (include "mindie-service.pymotor.confDir" $ctx) | quote }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      resources:
        {{- toYaml $resources | nindent 8 }}
      {{- /* The node_manager serves only /node-manager/*; upstream probes it with probe.py. A TCP check of its port is what needs no credentials. */}}
      startupProbe:
        {{- include "mindie-service.tcpProbe" (dict "port" "node-manager" "p" $v.probes.startup) | nindent 8 }}
      livenessProbe:
        {{- include "mindie-service.tcpProbe" (dict "port" "node-manager" "p" $v.probes.liveness) | nindent 8 }}
      {{- with $v.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- include "mindie-service.pymotor.configMount" $ctx | nindent 8 }}
        - name: model
          mountPath: {{ $v.model.mountPath }}
          readOnly: true
        - name: dshm
          mountPath: /dev/shm
        - name: ranktable
          mountPath: {{ include "mindie-service.ringsConfigDir" $ctx }}
          readOnly: true
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    {{- include "mindie-service.pymotor.configVolume" $ctx | nindent 4 }}
    - name: pymotor-conf
      emptyDir: {}
    - name: model
      {{- if eq $v.model.source "pvc" }}
      persistentVolumeClaim:
        claimName: {{ $v.model.pvc.claimName }}
        readOnly: true
      {{- else }}
      hostPath:
        path: {{ $v.model.hostPath }}
        type: Directory
      {{- end }}
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ $v.shm.sizeLimit }}
    - name: ranktable
      configMap:
        name: {{ include "mindie-service.ringsConfigName" $labelArgs }}
        defaultMode: 0444
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
Pod template of PyMotor's controller or coordinator.
Call with (dict "ctx" $ "role" "controller|coordinator").
*/}}
{{- define "mindie-service.pymotor.controlPodTemplate" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $p := $v.pymotor -}}
{{- $role := .role -}}
{{- $c := index $p $role -}}
{{- $labelArgs := dict "ctx" $ctx "role" $role -}}
{{- $mgmt := ternary $p.controller.port $p.coordinator.mgmtPort (eq $role "controller") | int -}}
metadata:
  labels:
    {{- include "mindie-service.podLabels" $ctx | nindent 4 }}
    {{- include "mindie-service.roleLabels" $labelArgs | nindent 4 }}
    mindie.huawei.com/engine: pymotor
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "mindie-service.pymotor.userConfig" $ctx | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- include "mindie-service.podCommon" $ctx | nindent 2 }}
  {{- if and (eq $role "controller") $p.controller.faultTolerance }}
  serviceAccountName: {{ include "mindie-service.pymotor.controllerName" $ctx }}
  automountServiceAccountToken: true
  {{- end }}
  nodeSelector:
    {{- include "mindie-service.motorNodeSelector" $ctx | fromJson | toYaml | nindent 4 }}
  containers:
    - name: {{ $role }}
      image: {{ include "mindie-service.image" $ctx | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        - {{ $p.python }}
        - -m
        - {{ printf "motor.%s.main" $role }}
      {{- if eq $role "controller" }}
      {{- /* The 3.0.0b2 controller reads stdin; on /dev/null it spins a CPU core. Upstream's pods run it under an interactive bash. */}}
      stdin: true
      {{- end }}
      ports:
        {{- if eq $role "controller" }}
        - name: api
          containerPort: {{ $p.controller.port | int }}
        - name: observability
          containerPort: {{ $p.controller.observabilityPort | int }}
        {{- else }}
        - name: infer
          containerPort: {{ $p.coordinator.inferPort | int }}
        - name: management
          containerPort: {{ $p.coordinator.mgmtPort | int }}
        {{- range $k := until (int $p.coordinator.numWorkers) }}
        - name: {{ printf "metaserver-%d" $k }}
          containerPort: {{ add (int $p.coordinator.workerMetaserverBasePort) $k }}
        {{- end }}
        {{- end }}
      env:
        {{- include "mindie-service.pymotor.env" $ctx | nindent 8 }}
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      {{- /* Upstream probe.py: /startup, /liveness, /readiness on the management port. The coordinator's /readiness answers 200 with readiness in its body by design (motor/coordinator/api_server/management_server.py readiness_check): gating the Service on it would cut the controller off. */}}
      startupProbe:
        {{- include "mindie-service.httpProbe" (dict "ctx" $ctx "path" "/startup" "port" $mgmt "p" (dict "periodSeconds" 5 "failureThreshold" 60 "timeoutSeconds" 4)) | nindent 8 }}
      livenessProbe:
        {{- include "mindie-service.httpProbe" (dict "ctx" $ctx "path" "/liveness" "port" $mgmt "p" (dict "periodSeconds" 5 "failureThreshold" 3 "timeoutSeconds" 4)) | nindent 8 }}
      readinessProbe:
        {{- include "mindie-service.httpProbe" (dict "ctx" $ctx "path" "/readiness" "port" $mgmt "p" (dict "periodSeconds" 5 "failureThreshold" 3 "timeoutSeconds" 4)) | nindent 8 }}
      {{- with $v.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- include "mindie-service.pymotor.configMount" $ctx | nindent 8 }}
  volumes:
    {{- include "mindie-service.pymotor.configVolume" $ctx | nindent 4 }}
    - name: pymotor-conf
      emptyDir: {}
{{- end -}}

{{/* NOTES of a pymotor release. */}}
{{- define "mindie-service.pymotor.notes" -}}
{{- $v := .Values -}}
{{- $ns := .Release.Namespace -}}
{{- $coord := include "mindie-service.pymotor.coordinatorName" . -}}
MindIE 3.x (PyMotor {{ $v.pymotor.version }}) PD-separated service "{{ $v.model.name }}" ({{ .Release.Name }}, namespace {{ $ns }}).
  {{ $v.prefill.instances }} Prefill + {{ $v.decode.instances }} Decode instance(s), {{ $v.prefill.podsPerInstance }}/{{ $v.decode.podsPerInstance }} pod(s) each, {{ $v.prefill.npusPerPod }}/{{ $v.decode.npusPerPod }} x {{ include "mindie-service.npuResource" . }} per pod.
  Every process reads ConfigMap {{ include "mindie-service.pymotor.configName" . }} (user_config.json).

1. Each engine pod starts its node_manager once the Ascend Operator has
   completed its instance's rings-config-* ConfigMap and the coordinator
   answers; the controller then assembles the instances and tells the
   coordinator. Watch them:

     kubectl -n {{ $ns }} get pods -l app.kubernetes.io/instance={{ .Release.Name }} -w

2. The coordinator answers /readiness with HTTP 200 even when no instance is
   ready: look at "ready" in the body.

     kubectl -n {{ $ns }} run {{ include "mindie-service.fullname" . }}-ready --rm -i --restart=Never \
       --image={{ include "mindie-service.testImage" . }} \
       --overrides='{{ include "mindie-service.tryOverrides" . }}' \
       --command -- curl -sS http://{{ $coord }}:{{ $v.pymotor.coordinator.mgmtPort }}/readiness

3. Send a completion through the coordinator:

     kubectl -n {{ $ns }} run {{ include "mindie-service.fullname" . }}-try --rm -i --restart=Never \
       --image={{ include "mindie-service.testImage" . }} \
       --overrides='{{ include "mindie-service.tryOverrides" . }}' \
       --command -- curl -sS http://{{ $coord }}:{{ $v.pymotor.coordinator.inferPort }}/v1/completions \
       -H 'Content-Type: application/json' \
       -d '{"model": "{{ $v.model.name }}", "prompt": "Hello!", "max_tokens": 64}'
{{- end -}}
