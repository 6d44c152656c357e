{{/*
The MindIE configuration files, generated in one place so the rules hold
everywhere:
  * every port comes from `ports`, `controller` or `coordinator.ports`, the
    same values the container ports, probes and Services use;
  * httpsEnabled and every TLS switch follow `https.enabled`;
  * inferMode is "standard" in single mode and "dmi" in pd mode;
  * npuDeviceIds is [[0..n-1]] and worldSize n, n = NPUs of one pod;
  * rawConfig can add or change anything else, but not the keys above
    (mindie-service.checkRawConfig fails with the value to set instead).
*/}}

{{/*
Deep merge: copies .src into .dst (mutating .dst). Maps merge key by key;
any other value, including false, 0 and lists, replaces. (Sprig's merge
helpers skip "empty" values such as false, which would make rawConfig
unable to switch a flag off.)
*/}}
{{- define "mindie-service.deepMerge" -}}
{{- $dst := .dst -}}
{{- range $k, $v := .src -}}
{{- $cur := get $dst $k -}}
{{- if and (kindIs "map" $v) (hasKey $dst $k) (kindIs "map" $cur) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $cur "src" $v) -}}
{{- else -}}
{{- $_ := set $dst $k (deepCopy $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Fail when a rawConfig sets a key the chart derives from other values.
Call with (dict "raw" <dict> "where" "rawConfig" "keys" <list of "path=hint">).
*/}}
{{- define "mindie-service.checkRawConfig" -}}
{{- $raw := .raw -}}
{{- $where := .where -}}
{{- range .keys -}}
{{- $parts := splitList "=" . -}}
{{- $path := first $parts -}}
{{- $hint := last $parts -}}
{{- $node := $raw -}}
{{- $found := true -}}
{{- range splitList "." $path -}}
{{- if and $found (kindIs "map" $node) (hasKey $node .) -}}
{{- $node = get $node . -}}
{{- else -}}
{{- $found = false -}}
{{- end -}}
{{- end -}}
{{- if $found -}}
{{- fail (printf "%s.%s is managed by the chart: set %s instead (the chart keeps config files, probes and Services consistent from that value)." $where $path $hint) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Keys of config.json that rawConfig may not set, with the value to use instead. */}}
{{- define "mindie-service.serverManagedKeys" -}}
{{- list
  "ServerConfig.port=ports.business"
  "ServerConfig.managementPort=ports.management"
  "ServerConfig.metricsPort=ports.metrics"
  "ServerConfig.interCommPort=ports.interComm"
  "ServerConfig.httpsEnabled=https.enabled"
  "ServerConfig.inferMode=mode (standard for single, dmi for pd)"
  "ServerConfig.ipAddress=nothing (MIES_CONTAINER_IP, the pod IP, decides)"
  "BackendConfig.npuDeviceIds=single.npusPerInstance or prefill/decode.npusPerPod"
  "BackendConfig.multiNodesInferEnabled=prefill/decode.podsPerInstance"
  "BackendConfig.multiNodesInferPort=ports.multiNode"
  "BackendConfig.ModelDeployConfig.ModelConfig=model.name, model.path and model.extraModelConfig"
  | toJson -}}
{{- end -}}

{{/*
config.json of MindIE Server for one role: single | prefill | decode.
Call with (dict "ctx" $ "role" "prefill"). Returns JSON text.
*/}}
{{- define "mindie-service.serverConfig" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $role := .role -}}
{{- $npus := 0 -}}
{{- $pods := 1 -}}
{{- if eq $role "single" -}}
{{- $npus = int $v.single.npusPerInstance -}}
{{- else -}}
{{- $npus = int (index $v $role).npusPerPod -}}
{{- $pods = int (index $v $role).podsPerInstance -}}
{{- end -}}
{{- $tls := $v.https.enabled -}}
{{- $model := dict
  "modelInstanceType" "Standard"
  "modelName" (toString $v.model.name)
  "modelWeightPath" (toString $v.model.path)
  "worldSize" $npus
  "cpuMemSize" 5
  "npuMemSize" -1
  "backendType" "atb"
  "trustRemoteCode" false -}}
{{- range $k := list "modelName" "modelWeightPath" "worldSize" "backendType" -}}
{{- if hasKey $v.model.extraModelConfig $k -}}
{{- fail (printf "model.extraModelConfig.%s is managed by the chart: set model.name, model.path or the NPU count instead." $k) -}}
{{- end -}}
{{- end -}}
{{- include "mindie-service.deepMerge" (dict "dst" $model "src" $v.model.extraModelConfig) -}}
{{- $server := dict
  "ipAddress" "127.0.0.1"
  "port" (int $v.ports.business)
  "managementPort" (int $v.ports.management)
  "metricsPort" (int $v.ports.metrics)
  "allowAllZeroIpListening" false
  "maxLinkNum" 1000
  "httpsEnabled" $tls
  "fullTextEnabled" false
  "tlsCaPath" "security/ca/"
  "tlsCaFile" (list "ca.pem")
  "tlsCert" "security/certs/server.pem"
  "tlsPk" "security/keys/server.key.pem"
  "tlsPkPwd" "security/pass/key_pwd.txt"
  "tlsCrlPath" "security/certs/"
  "tlsCrlFiles" (list "server_crl.pem")
  "managementTlsCaFile" (list "management_ca.pem")
  "managementTlsCert" "security/certs/management/server.pem"
  "managementTlsPk" "security/keys/management/server.key.pem"
  "managementTlsPkPwd" "security/pass/management/key_pwd.txt"
  "managementTlsCrlPath" "security/management/certs/"
  "managementTlsCrlFiles" (list "server_crl.pem")
  "kmcKsfMaster" "tools/pmt/master/ksfa"
  "kmcKsfStandby" "tools/pmt/standby/ksfb"
  "inferMode" (ternary "dmi" "standard" (eq $v.mode "pd"))
  "interCommTLSEnabled" $tls
  "interCommPort" (int $v.ports.interComm)
  "interCommTlsCaPath" "security/grpc/ca/"
  "interCommTlsCaFiles" (list "ca.pem")
  "interCommTlsCert" "security/grpc/certs/server.pem"
  "interCommPk" "security/grpc/keys/server.key.pem"
  "interCommPkPwd" "security/grpc/pass/key_pwd.txt"
  "interCommTlsCrlPath" "security/grpc/certs/"
  "interCommTlsCrlFiles" (list "server_crl.pem")
  "openAiSupport" "vllm"
  "tokenTimeout" 600
  "e2eTimeout" 600 -}}
{{- $sc := $v.serverConfig -}}
{{- $schedule := dict "templateType" "Standard" "templateName" "Standard_LLM" -}}
{{- include "mindie-service.deepMerge" (dict "dst" $schedule "src" $sc.schedule) -}}
{{- $backend := dict
  "backendName" "mindieservice_llm_engine"
  "modelInstanceNumber" 1
  "npuDeviceIds" (list (until $npus))
  "tokenizerProcessNumber" (int $sc.tokenizerProcessNumber)
  "multiNodesInferEnabled" (gt $pods 1)
  "multiNodesInferPort" (int $v.ports.multiNode)
  "interNodeTLSEnabled" $tls
  "interNodeTlsCaPath" "security/grpc/ca/"
  "interNodeTlsCaFiles" (list "ca.pem")
  "interNodeTlsCert" "security/grpc/certs/server.pem"
  "interNodeTlsPk" "security/grpc/keys/server.key.pem"
  "interNodeTlsPkPwd" "security/grpc/pass/mindie_server_key_pwd.txt"
  "interNodeTlsCrlPath" "security/grpc/certs/"
  "interNodeTlsCrlFiles" (list "server_crl.pem")
  "ModelDeployConfig" (dict
    "maxSeqLen" (int $sc.maxSeqLen)
    "maxInputTokenLen" (int $sc.maxInputTokenLen)
    "truncation" $sc.truncation
    "ModelConfig" (list $model))
  "ScheduleConfig" $schedule -}}
{{- $config := dict "Version" "1.0.0" "ServerConfig" $server "BackendConfig" $backend -}}
{{- $keys := include "mindie-service.serverManagedKeys" $ctx | fromJsonArray -}}
{{- include "mindie-service.checkRawConfig" (dict "raw" $v.rawConfig "where" "rawConfig" "keys" $keys) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $config "src" $v.rawConfig) -}}
{{- if ne $role "single" -}}
{{- $roleRaw := (index $v $role).rawConfig -}}
{{- include "mindie-service.checkRawConfig" (dict "raw" $roleRaw "where" (printf "%s.rawConfig" $role) "keys" $keys) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $config "src" $roleRaw) -}}
{{- end -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/* TLS items block used by ms_controller.json / ms_coordinator.json. */}}
{{- define "mindie-service.tlsItems" -}}
{{- dict
  "ca_cert" (printf "./security/%s/security/certs/ca.pem" .)
  "tls_cert" (printf "./security/%s/security/certs/cert.pem" .)
  "tls_key" (printf "./security/%s/security/keys/cert.key.pem" .)
  "tls_passwd" (printf "./security/%s/security/pass/key_pwd.txt" .)
  "tls_crl" "" | toJson -}}
{{- end -}}

{{/* Where every PD pod mounts the global ranktable ConfigMap (a root-owned symlink: MindIE never reads it). */}}
{{- define "mindie-service.globalRanktableMount" -}}
/etc/mindie/global-ranktable/global_ranktable.json
{{- end -}}

{{/* The private copy MindIE reads (GLOBAL_RANK_TABLE_FILE_PATH, global_rank_table_file_path): a regular file, mode 640. */}}
{{- define "mindie-service.globalRanktablePath" -}}
/var/run/mindie/global_ranktable.json
{{- end -}}

{{/*
The DIGS model / machine parameter files of the controller (pd mode), as JSON text:
values controller.digs.modelConfig / machineConfig, every value a string as MindIE-Motor's
own files under src/config/ carry them. The controller reads them with
FileToJsonObj(path, 0640) and no owner exemption (MindIE-Motor controller
node_scheduler/role_manager_initializer/RoleManagerInitializer.cpp
BuildInstanceRoleManagerConfig, IsModelParamsValid, IsMachineParamsValid;
json_file_loader/JsonFileLoader.h checkOwner defaults to true; http_client_ctl/common/
Util.cpp CheckOwner): a regular file of its own uid, mode 640 at most. So the
entrypoint copies them out of the ConfigMap like every other file.
Call with (dict "ctx" $ "kind" "model|machine").
*/}}
{{- define "mindie-service.digsConfig" -}}
{{- $src := ternary .ctx.Values.controller.digs.modelConfig .ctx.Values.controller.digs.machineConfig (eq .kind "model") -}}
{{- $out := dict -}}
{{- range $k, $val := $src }}{{ $_ := set $out $k (toString $val) }}{{ end -}}
{{- toPrettyJson $out -}}
{{- end -}}

{{/* ConfigMap key (= file name) of a DIGS parameter file; call with (dict "ctx" $ "kind" "model|machine"). */}}
{{- define "mindie-service.digsConfigFile" -}}
digs_{{ .kind }}_config.json
{{- end -}}

{{/* Absolute path of the controller's private copy of a DIGS parameter file (ms_controller.json digs_*_config_path). */}}
{{- define "mindie-service.digsConfigPath" -}}
{{ include "mindie-service.runDir" .ctx }}/{{ include "mindie-service.digsConfigFile" . }}
{{- end -}}

{{/* ms_controller.json of MindIE MS Controller (pd mode). Returns JSON text. */}}
{{- define "mindie-service.controllerConfig" -}}
{{- $v := .Values -}}
{{- $tls := $v.https.enabled -}}
{{- $tlsConfig := dict -}}
{{- /* cluster_tls_enable stays false: ClusterD serves gRPC without TLS (mind-cluster v26.1.0 component/clusterd/main.go, no credentials in its grpc.ServerOption list). */ -}}
{{- range $name, $dir := dict "request_coordinator" "request_coordinator" "request_server" "request_server" "http_server" "http_server" "cluster" "cluster" "etcd_server" "etcd_server" "ccae" "ccae" "alarm" "alarm_server" "external_coordinator" "external_coordinator" -}}
{{- $_ := set $tlsConfig (printf "%s_tls_enable" $name) (and $tls (ne $name "etcd_server") (ne $name "ccae") (ne $name "cluster")) -}}
{{- $_ := set $tlsConfig (printf "%s_tls_items" $name) (include "mindie-service.tlsItems" $dir | fromJson) -}}
{{- end -}}
{{- /*
multi_node_infer_enable: true when an instance has more than one pod, and always in
ClusterD mode. ClusterD v26.1.0 gives every rings-config its own server group (ids from
"2", each with deploy_server: mind-cluster component/clusterd/pkg/domain/epranktable/
ranktable_util.go GenerateServerGroupList), so 1P+1D is already four groups; with the
flag false the controller accepts at most three and reads only group "2" (MindIE-Motor
RankTableLoader.cpp MAX_GROUP_LIST_NUM, ParseServerNodes) and retries forever. Upstream's
ClusterD flow sets it true (MindIE-Motor example/deploy_scripts/user_config.json).
*/ -}}
{{- $multiNode := or (gt (int $v.prefill.podsPerInstance) 1) (gt (int $v.decode.podsPerInstance) 1) (eq (include "mindie-service.clusterd" .) "true") -}}
{{- $nodeConfig := dict -}}
{{- range $role := list "prefill" "decode" -}}
{{- $r := index $v $role -}}
{{- $_ := set $nodeConfig (printf "%s_node_config" (substr 0 1 $role)) (dict
  "enable_dist_dp_server" false
  "node_machine_num" (int $r.podsPerInstance)
  "tp_size" (mul (int $r.npusPerPod) (int $r.podsPerInstance))
  "dp_size" 1
  "sp_size" 1
  "cp_size" 1) -}}
{{- end -}}
{{- $_ := set $nodeConfig "multi_node_infer_enable" $multiNode -}}
{{- $config := dict
  "allow_all_zero_ip_listening" false
  "deploy_mode" "pd_separate"
  "initial_dist_server_port" 10000
  "cluster_port" (int $v.clusterd.port)
  "process_manager" (dict "to_file" false "file_path" "./logs/controller_process_status.json")
  "cluster_status" (dict "to_file" false "file_path" "./logs/cluster_status_output.json")
  "controller_backup_cfg" (dict "function_sw" false "database_server_dns" "etcd.default.svc.cluster.local" "database_server_port" 2379)
  "fault_recovery_func_dict" (dict "lingqu_link" false)
  "global_rank_table_file_path" (include "mindie-service.globalRanktablePath" .)
  "cluster_synchronization_seconds" 1
  "rank_table_detecting_seconds" 5
  "disappeared_server_waiting_seconds" 7200
  "default_p_rate" (int $v.prefill.instances)
  "default_d_rate" (int $v.decode.instances)
  "is_heterogeneous" false
  "server_online_attempt_times" 60
  "server_online_wait_seconds" 5
  "init_role_attempt_times" 2
  "check_role_attempt_times" 300
  "check_role_wait_seconds" 5
  "mindie_server_port" (int $v.ports.business)
  "mindie_server_control_port" (int $v.ports.management)
  "mindie_server_metric_port" (int $v.ports.metrics)
  "controller_alarm_port" (int $v.controller.alarmPort)
  "mindie_ms_coordinator_port" (int $v.coordinator.ports.manage)
  "mindie_ms_coordinator_external_port" (int $v.coordinator.ports.metrics)
  "node_manager_port" 1028
  "http_timeout_seconds" 5
  "http_retries" 3
  "role_decision_methods" "digs"
  "digs_request_summary_input_length" 3000
  "digs_request_summary_output_length" 200
  "digs_model_config_path" (include "mindie-service.digsConfigPath" (dict "ctx" . "kind" "model"))
  "digs_machine_config_path" (include "mindie-service.digsConfigPath" (dict "ctx" . "kind" "machine"))
  "digs_prefill_slo" 1000
  "digs_decode_slo" 50
  "multi_node_infer_config" $nodeConfig
  "model_type" "llama2-70B"
  "transfer_type" "D2DTransfer"
  "digs_pp" 1
  "http_server" (dict "ip" "127.0.0.1" "port" (int $v.controller.port))
  "tls_config" $tlsConfig
  "log_info" (dict "log_level" "INFO" "to_file" false "to_stdout" true "run_log_path" "./logs/ms_controller_run_log.txt" "operation_log_path" "./logs/ms_controller_operation_log.txt" "max_log_str_size" 8192 "max_log_file_size" 20 "max_log_file_num" 10) -}}
{{- include "mindie-service.checkRawConfig" (dict "raw" $v.controller.rawConfig "where" "controller.rawConfig" "keys" (list
  "deploy_mode=nothing (pd mode always uses pd_separate)"
  "global_rank_table_file_path=nothing (the chart mounts the global ranktable)"
  "digs_model_config_path=controller.digs.modelConfig (the chart ships the file)"
  "digs_machine_config_path=controller.digs.machineConfig (the chart ships the file)"
  "cluster_port=clusterd.port"
  "mindie_server_port=ports.business"
  "mindie_server_control_port=ports.management"
  "mindie_server_metric_port=ports.metrics"
  "controller_alarm_port=controller.alarmPort"
  "mindie_ms_coordinator_port=coordinator.ports.manage"
  "mindie_ms_coordinator_external_port=coordinator.ports.metrics"
  "http_server.port=controller.port")) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $config "src" $v.controller.rawConfig) -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/*
ms_coordinator.json of MindIE MS Coordinator (pd mode). MindIE reads the
http_config ports as strings. Returns JSON text.
*/}}
{{- define "mindie-service.coordinatorConfig" -}}
{{- $v := .Values -}}
{{- $p := $v.coordinator.ports -}}
{{- $tls := $v.https.enabled -}}
{{- $tlsConfig := dict -}}
{{- range $name, $dir := dict "controller_server" "controller" "request_server" "request" "mindie_client" "mindie" "mindie_mangment" "mindie_mgmt" "external" "external" "status" "status" "etcd_server" "etcd_server" "alarm_client" "alarm" -}}
{{- $_ := set $tlsConfig (printf "%s_tls_enable" $name) (and $tls (ne $name "etcd_server")) -}}
{{- $_ := set $tlsConfig (printf "%s_tls_items" $name) (include "mindie-service.tlsItems" $dir | fromJson) -}}
{{- end -}}
{{- $config := dict
  "http_config" (dict
    "allow_all_zero_ip_listening" false
    "predict_ip" "127.0.0.1"
    "predict_port" ($p.predict | int | toString)
    "manage_ip" "127.0.0.1"
    "manage_port" ($p.manage | int | toString)
    "alarm_port" ($v.controller.alarmPort | int | toString)
    "external_port" ($p.metrics | int | toString)
    "status_port" ($p.status | int | toString)
    "server_thread_num" 10
    "client_thread_num" 10
    "http_timeout_seconds" 600
    "keep_alive_seconds" 180
    "server_name" "MindIE-MS"
    "user_agent" "Coordinator/1.0")
  "request_limit" (dict "single_node_max_requests" 1000 "max_requests" 10000 "body_limit" 10)
  "metrics_config" (dict "enable" $v.metrics.enabled "trigger_size" 100)
  "prometheus_metrics_config" (dict "reuse_time" 3)
  "exception_config" (dict "max_retry" 5 "schedule_timeout" 600 "first_token_timeout" 600 "infer_timeout" 600 "tokenizer_timeout" 300)
  "log_info" (dict "log_level" "INFO" "to_file" false "to_stdout" true "run_log_path" "./logs/ms_coordinator_run_log.txt" "operation_log_path" "./logs/ms_coordinator_operation_log.txt" "max_log_str_size" 4096 "max_log_file_size" 20 "max_log_file_num" 10)
  "digs_scheduler_config" (dict
    "deploy_mode" "pd_separate"
    "scheduler_type" "digs_scheduler"
    "algorithm_type" "load_balance"
    "cache_size" "100"
    "slots_thresh" "0.05"
    "block_thresh" "0.05"
    "max_schedule_count" "10000"
    "reordering_type" "1"
    "max_res_num" "5000"
    "res_limit_rate" "1.1"
    "select_type" "2"
    "load_cost_values" "1, 0"
    "load_cost_coefficient" "0, 0.22, 1024, 24, 6, 0, 1, 0, 1")
  "string_token_rate" 4.02
  "tls_config" $tlsConfig
  "backup_config" (dict "database_server_dns" "etcd.default.svc.cluster.local" "database_server_port" 2379 "function_enable" false) -}}
{{- include "mindie-service.checkRawConfig" (dict "raw" $v.coordinator.rawConfig "where" "coordinator.rawConfig" "keys" (list
  "http_config.predict_port=coordinator.ports.predict"
  "http_config.manage_port=coordinator.ports.manage"
  "http_config.external_port=coordinator.ports.metrics"
  "http_config.status_port=coordinator.ports.status"
  "http_config.alarm_port=controller.alarmPort"
  "digs_scheduler_config.deploy_mode=nothing (pd mode always uses pd_separate)")) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $config "src" $v.coordinator.rawConfig) -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/* http_client_ctl.json: MindIE Motor's probe client. Returns JSON text. */}}
{{- define "mindie-service.httpClientCtlConfig" -}}
{{- $v := .Values -}}
{{- $config := dict
  "tls_enable" $v.https.enabled
  "cert" (dict
    "ca_cert" "./security/http_client/ca/ca.pem"
    "tls_cert" "./security/http_client/certs/cert.pem"
    "tls_key" "./security/http_client/keys/cert.key.pem"
    "tls_passwd" "./security/http_client/pass/key_pwd.txt"
    "tls_crl" "")
  "log_info" (dict "log_level" "INFO" "to_file" false "run_log_path" "./logs/http_client_ctl_run_log.txt" "operation_log_path" "./logs/http_client_ctl_operation_log.txt") -}}
{{- include "mindie-service.checkRawConfig" (dict "raw" $v.httpClientCtl.rawConfig "where" "httpClientCtl.rawConfig" "keys" (list "tls_enable=https.enabled")) -}}
{{- include "mindie-service.deepMerge" (dict "dst" $config "src" $v.httpClientCtl.rawConfig) -}}
{{- toPrettyJson $config -}}
{{- end -}}
