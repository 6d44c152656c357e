"""Every image the stack, a mindie-service release and `kubectl ascend preflight` would pull (air-gapped mirroring).

The list comes from the real render (`helm template` through kubectl_ascend.helm),
never from a hand-kept list: whatever the charts and values produce is what is
listed. Pure logic apart from the render; no click here.

Values go through the same rules as `install`: ClusterD on switches Volcano to
it; `--pull-secret` adds to `global.imagePullSecrets`. mindie-service takes
full image references and ignores `global`, so its pull secrets and registry
rewrite are applied to its own values here (and by `install --pull-secret`
when it is part of the stack).
"""
from __future__ import annotations

import copy
from typing import Any, Iterator

from kubectl_ascend import errors
from kubectl_ascend.kubeapi import HelmAPI
from kubectl_ascend.profile import CLUSTERD, MINDIE, VOLCANO, deep_merge, enabled

#: Workload kinds whose pod template sits at spec.template.spec.
_TEMPLATED = ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "ReplicationController")


def pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod specs inside one rendered object (Pod, workloads, (Cron)Jobs, Volcano Jobs, AscendJobs)."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in _TEMPLATED:
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "Job" and "tasks" in spec:  # batch.volcano.sh Job
        for task in spec.get("tasks") or []:
            yield (task.get("template") or {}).get("spec") or {}
    elif kind == "Job":
        yield (spec.get("template") or {}).get("spec") or {}
    elif kind == "CronJob":
        yield ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")) or {}).get("spec") or {}
    elif kind == "AscendJob":
        for replica in (spec.get("replicaSpecs") or {}).values():
            yield (replica.get("template") or {}).get("spec") or {}


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def collect(objs: list[dict[str, Any]], source: str) -> dict[str, list[str]]:
    """image -> the containers that use it ("<source>: Kind ns/name container")."""
    out: dict[str, list[str]] = {}
    for o in objs:
        meta = o.get("metadata") or {}
        where = f"{o.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")
        for spec in pod_specs(o):
            for c in containers(spec):
                if c.get("image"):
                    out.setdefault(c["image"], []).append(f"{source}: {where} {c.get('name')}")
    return out


def pull_secret_names(spec: dict[str, Any]) -> list[str]:
    return [s.get("name") for s in spec.get("imagePullSecrets") or []]


def rewrite_registry(repository: str, registry: str) -> str:
    """A full reference moved to `registry`: the first path element is dropped when it is a host."""
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        repository = rest
    return f"{registry.rstrip('/')}/{repository}"


def with_pull_secrets(values: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Add pull secrets to global.imagePullSecrets (and to mindie-service's own list when it is enabled)."""
    if not names:
        return values
    out = copy.deepcopy(values)
    g = out.setdefault("global", {})
    have = [s if isinstance(s, str) else s.get("name") for s in g.get("imagePullSecrets") or []]
    g["imagePullSecrets"] = [*(g.get("imagePullSecrets") or []), *[n for n in names if n not in have]]
    if enabled(out, MINDIE, default=False):
        ms = out[MINDIE]
        ms["imagePullSecrets"] = mindie_pull_secrets(ms.get("imagePullSecrets") or [], names)
    return out


def mindie_pull_secrets(existing: list[Any], names: list[str]) -> list[dict[str, str]]:
    """mindie-service wants [{name: x}] objects."""
    have = [s if isinstance(s, str) else s.get("name") for s in existing]
    return [*({"name": n} for n in have), *({"name": n} for n in names if n not in have)]


def mindie_values(values: dict[str, Any], pull_secrets: list[str], registry: str) -> dict[str, Any]:
    """mindie-service values with the stack's pull secrets and registry applied (it ignores `global`)."""
    out = copy.deepcopy(values)
    if pull_secrets:
        out["imagePullSecrets"] = mindie_pull_secrets(out.get("imagePullSecrets") or [], pull_secrets)
    if registry:
        for img in (out.get("image"), (out.get("test") or {}).get("image")):
            if isinstance(img, dict) and img.get("repository"):
                img["repository"] = rewrite_registry(img["repository"], registry)
    return out


def stack_values(user: dict[str, Any], pull_secrets: list[str]) -> dict[str, Any]:
    """Umbrella values as `install` would pass them (without the cluster-dependent profile)."""
    values: dict[str, Any] = {}
    if enabled(user, CLUSTERD, default=False):
        values[VOLCANO] = {"scheduler": {"initParams": {"useClusterInfoManager": "true"}},
                           "clusterd": {"installed": True}}
    values = deep_merge(values, user)
    registry = (values.get("global") or {}).get("imageRegistry") or ""
    if enabled(values, MINDIE, default=False):
        values[MINDIE] = mindie_values(values[MINDIE], [], registry)
    return with_pull_secrets(values, pull_secrets)


def list_images(helm: HelmAPI, *, user_values: dict[str, Any], pull_secrets: list[str], chart: str | None = None,
                mindie: dict[str, Any] | None = None, release: str = "ascend-stack", namespace: str = "mindx-dl",
                mindie_release: str = "mindie", mindie_namespace: str = "default",
                mindcluster_version: str | None = None) -> dict[str, Any]:
    """Render the stack (and a mindie-service release) and list the images of every pod template."""
    from kubectl_ascend.helm import bundled_chart
    from kubectl_ascend.profile import set_path
    from kubectl_ascend.releases import VERSION_PATH, choose

    # the version: --mindcluster-version, else -f/--set global.mindcluster.version, else the default
    try:
        version = choose(mindcluster_version, user_values, None, release).version
    except errors.InvalidInput as e:
        raise errors.InvalidInput(f"{e} (nothing was rendered)") from None
    values = stack_values(user_values, pull_secrets)
    set_path(values, VERSION_PATH, version)
    objs = helm.template(helm.prepare_chart(chart), release, namespace, values)
    found = collect(objs, release)
    secrets = {n for o in objs for s in pod_specs(o) for n in pull_secret_names(s)}
    sources = [{"release": release, "chart": chart or "ascend-stack", "namespace": namespace, "objects": len(objs)}]
    if mindie is not None:
        registry = (values.get("global") or {}).get("imageRegistry") or ""
        mvals = mindie_values(mindie, pull_secrets, registry)
        mobjs = helm.template(bundled_chart(MINDIE), mindie_release, mindie_namespace, mvals)
        for image, users in collect(mobjs, mindie_release).items():
            found.setdefault(image, []).extend(users)
        secrets |= {n for o in mobjs for s in pod_specs(o) for n in pull_secret_names(s)}
        sources.append({"release": mindie_release, "chart": MINDIE, "namespace": mindie_namespace,
                        "objects": len(mobjs)})
    # the per-node pods of `kubectl ascend preflight`, as that command builds them from these values
    from kubectl_ascend.preflight.run import agent_image, example_pod

    glob = values.get("global") or {}
    pod = example_pod(agent_image(glob.get("imageRegistry") or ""), [])
    for image, users in collect([pod], "kubectl ascend preflight").items():
        found.setdefault(image, []).extend(users)
    return {
        "mindclusterVersion": version,
        "registry": (values.get("global") or {}).get("imageRegistry") or "",
        "pullSecrets": sorted(secrets),
        "sources": sources,
        "images": [{"image": i, "usedBy": sorted(found[i])} for i in sorted(found)],
    }
