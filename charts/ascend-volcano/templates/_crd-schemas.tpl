{{/*
The spec of a Volcano Job as an OpenAPI schema (the `spec:` key and what is
under it). Shared by jobs.batch.volcano.sh and jobtemplates.flow.volcano.sh
(a JobTemplate's spec is a JobSpec: volcano-sh/volcano
pkg/apis/flow/v1alpha1 jobtemplate_types.go). Volcano v1.12 adds
spec.networkTopology (network-topology-aware scheduling over HyperNodes).
Call with the chart's root context.
*/}}
{{- define "ascend-volcano.jobSpecSchema" -}}
spec:
  type: object
  properties:
    schedulerName:
      type: string
      description: Scheduler of the job's pods (default for every task template).
    minAvailable:
      type: integer
      format: int32
      minimum: 0
      description: Pods that must be schedulable together before any starts.
    minSuccess:
      type: integer
      format: int32
      minimum: 1
      description: Pods that must succeed for the job to succeed.
    queue:
      type: string
      description: Queue of the job; "default" when empty.
    priorityClassName:
      type: string
    maxRetry:
      type: integer
      format: int32
      minimum: 0
    ttlSecondsAfterFinished:
      type: integer
      format: int32
      minimum: 0
    runningEstimate:
      type: string
      description: Expected running time, a Go duration such as 2h.
    plugins:
      type: object
      description: Job plugins (env, svc, ssh, ...) and their arguments.
      additionalProperties:
        type: array
        items:
          type: string
    policies:
      type: array
      description: Lifecycle policies of the whole job.
      items:
        type: object
        properties:
          event:
            type: string
          events:
            type: array
            items:
              type: string
          action:
            type: string
          exitCode:
            type: integer
            format: int32
          timeout:
            type: string
    volumes:
      type: array
      items:
        type: object
        required: ["mountPath"]
        properties:
          mountPath:
            type: string
          volumeClaimName:
            type: string
          volumeClaim:
            type: object
            description: A PersistentVolumeClaim spec.
            x-kubernetes-preserve-unknown-fields: true
    tasks:
      type: array
      items:
        type: object
        properties:
          name:
            type: string
          replicas:
            type: integer
            format: int32
            minimum: 0
          minAvailable:
            type: integer
            format: int32
            minimum: 0
          maxRetry:
            type: integer
            format: int32
            minimum: 0
          topologyPolicy:
            type: string
          template:
            type: object
            description: A PodTemplateSpec.
            x-kubernetes-preserve-unknown-fields: true
          policies:
            type: array
            items:
              type: object
              properties:
                event:
                  type: string
                events:
                  type: array
                  items:
                    type: string
                action:
                  type: string
                exitCode:
                  type: integer
                  format: int32
                timeout:
                  type: string
          dependsOn:
            type: object
            properties:
              name:
                type: array
                items:
                  type: string
              iteration:
                type: string
{{- with include "ascend-volcano.networkTopologySchema" . }}
{{- . | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
spec.networkTopology of Jobs, JobTemplates and PodGroups from Volcano
v1.12.0 (mind-cluster v26.1.0 component/ascend-for-volcano/build/
volcano-v1.12.0.yaml): mode hard|soft, highestTierAllowed. Unindented (the
caller nindents it under spec.properties); empty before v1.12.
*/}}
{{- define "ascend-volcano.networkTopologySchema" -}}
{{- if include "ascend-volcano.atLeast" (dict "ctx" . "min" "1.12.0") -}}
networkTopology:
  type: object
  description: Network-topology constraint over HyperNodes (Volcano v1.12+).
  properties:
    mode:
      type: string
      enum: ["hard", "soft"]
      default: hard
      description: hard - all pods within highestTierAllowed; soft - best effort.
    highestTierAllowed:
      type: integer
      default: 1
      description: Highest HyperNode tier the pods may spread over.
{{- end -}}
{{- end -}}
