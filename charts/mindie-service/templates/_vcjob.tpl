{{/*
A PD role as a Volcano Job (ClusterD mode; multi-pod PD instances under Volcano). Call with (dict "ctx" $
"args" <roleLabels args> "name" <job name> "task" <task name> "pods" <n>
"priorityClassName" <name or ""> "template" <rendered pod template> "atlas" <bool>).

Why a Volcano Job: ClusterD keys a MindIE job by the controlling owner its
Volcano PodGroup and its pods share, and reads jobID/app from the PodGroup's
labels (mind-cluster v26.1.0 component/clusterd pkg/domain/podgroup/pg_util.go
GetJobKeyAndNameByPG, pkg/domain/pod/pod_util.go GetJobKeyByPod,
pkg/domain/job/job_util.go getJobBasicInfoByPG). Volcano v1.7.0's job
controller creates the PodGroup <job>-<job UID> with the Job's labels,
annotations and a controller ownerReference to the Job, and the Job owns its
pods (pkg/controllers/job/job_controller_actions.go createOrUpdatePodGroup,
job_controller_util.go createJobPod). So the chart creates no PodGroup here.

Long-running service: the pods restart in place (restartPolicy Always), and a
pod that is evicted or fails restarts the whole Job - for a multi-pod instance
all its pods, so the Ascend Operator builds a fresh hccl.json for them.
RestartJob counts against maxRetry (clusterd.maxRetry in ClusterD mode, else
gang.maxRetry); past it Volcano v1.7.0 leaves the Job Failed
(pkg/controllers/job/state/restarting.go). Without the Volcano
admission webhook nothing is defaulted, so queue, minAvailable, maxRetry and
the task name are all set here.
*/}}
{{- define "mindie-service.vcjob" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata:
  name: {{ .name }}
  labels:
    {{- include "mindie-service.labels" $ctx | nindent 4 }}
    {{- include "mindie-service.roleLabels" .args | nindent 4 }}
    {{- if .atlas }}
    ring-controller.atlas: {{ $v.accelerator.ringController }}
    {{- end }}
    {{- include "mindie-service.clusterdLabels" .args | nindent 4 }}
spec:
  schedulerName: volcano
  queue: {{ $v.gang.queue }}
  minAvailable: {{ ternary .pods 1 (and $v.gang.enabled (gt (int .pods) 1)) }}
  maxRetry: {{ ternary $v.clusterd.maxRetry $v.gang.maxRetry (eq (include "mindie-service.clusterd" $ctx) "true") | int }}
  {{- with .priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  policies:
    - events: [PodEvicted, PodFailed]
      action: RestartJob
  tasks:
    - name: {{ .task }}
      replicas: {{ .pods }}
      template:
        {{- .template | nindent 8 }}
{{- end -}}
