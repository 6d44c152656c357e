"""Whether MindCluster ClusterD runs in the cluster: one answer for `doctor` and `mindie ranktable`.

ClusterD is found three ways, in this order:
- the Deployment of our ascend-clusterd chart, by its labels (CHART_SELECTOR);
- a hand-installed one by name and namespace: Huawei's YAML creates Deployment
  ``clusterd`` in ``mindx-dl`` with no labels of its own (mind-cluster v26.1.0
  component/clusterd/build/clusterd.yaml);
- its pods, which that YAML labels ``app: clusterd`` (the pod template is the only
  labelled part), wherever they run.
"""
from __future__ import annotations

from kubectl_ascend.kubeapi import KubeAPI

#: Labels of the Deployment the ascend-clusterd chart renders.
CHART_SELECTOR = "app.kubernetes.io/part-of=mindcluster,app.kubernetes.io/component=clusterd"
#: Namespace and name of the Deployment in Huawei's clusterd.yaml.
UPSTREAM_NAMESPACE, UPSTREAM_NAME = "mindx-dl", "clusterd"
#: Label of the pods of Huawei's clusterd.yaml (its Deployment's selector).
POD_SELECTOR = "app=clusterd"


def find_clusterd(kube: KubeAPI) -> list[str]:
    """What shows ClusterD is installed: "deployment ns/name" or "pod ns/name" entries, [] when none."""
    found = [f"deployment {d['metadata']['namespace']}/{d['metadata']['name']}"
             for d in kube.list_deployments(CHART_SELECTOR)]
    if not found and kube.get_object(f"/apis/apps/v1/namespaces/{UPSTREAM_NAMESPACE}/deployments/{UPSTREAM_NAME}"):
        found = [f"deployment {UPSTREAM_NAMESPACE}/{UPSTREAM_NAME}"]
    if not found:
        found = [f"pod {p['metadata']['namespace']}/{p['metadata']['name']}"
                 for p in kube.list_pods(label_selector=POD_SELECTOR) if not p["metadata"].get("deletionTimestamp")]
    return sorted(found)
