"""mindie ranktable: write the global ranktable of a PD-separated mindie-service release.

Why a plugin command rather than a hook Job or an in-cluster helper: it runs
where the operator's kubeconfig already is, needs no ServiceAccount with write
access to ConfigMaps inside the inference namespace, and can be exercised on
a cluster without NPUs (see charts/mindie-service/README.md).
"""
from __future__ import annotations

import click

from kubectl_ascend import errors
from kubectl_ascend.commands._common import Settings, StrictGroup, dry_run_option, fmt, output_option, pass_settings, \
    usage_check
from kubectl_ascend.output import emit, info


@click.group("mindie", cls=StrictGroup)
def mindie_group() -> None:
    """MindIE inference services deployed with the mindie-service chart."""


@mindie_group.command("ranktable")
@click.argument("release")
@click.option("--wait", is_flag=True, help="Keep checking until the per-instance ranktables and pod IPs are ready.")
@click.option("--timeout", default="10m", show_default=True,
              help="How long --wait may take (Go duration, at least 1s).")
@click.option("--force", is_flag=True,
              help="Write the global ranktable ConfigMap even when ClusterD runs (release rendered without it).")
@dry_run_option(("none", "client"), help="print the global ranktable instead of writing it.")
@output_option
@pass_settings
def ranktable(settings: Settings, release: str, wait: bool, timeout: str, force: bool, dry_run: str,
              output: str | None) -> None:
    """Build and write the global ranktable of a PD release (coordinator, controller, P/D groups).

    Reads the release's per-instance ranktables (rings-config-*, filled by the Ascend
    Operator) and pod IPs, and writes <release>-global-ranktable, which the server pods
    wait for. Rerun it after any PD pod is recreated; when an instance's pods and its table
    disagree (the operator never numbers a pod recreated next to numbered ones) it names the
    pod and the kubectl command that recreates every pod of the instance.

    A per-instance table that does not hold what the Ascend Operator writes (host_ip or
    container_ip not an IP, host_ip not the pod's node, duplicate device or rank ids,
    NaN/Infinity, wrong types or unknown fields, over 1 MiB or 12 levels deep) is refused
    at once, even with --wait: exit 1 naming the ConfigMap and the field, nothing written.

    A release rendered with clusterd.enabled=true takes its table from ClusterD, which builds
    it and serves it to the MindIE controller over gRPC: this command then writes nothing,
    says so and exits 0 (an error if ClusterD is not installed). When ClusterD runs (the
    ascend-clusterd component, Deployment mindx-dl/clusterd, or pods labelled app=clusterd)
    but the release was rendered without it, its pods wait for a ConfigMap ClusterD never
    writes: the command says how to re-render it (--set clusterd.enabled=true); --force writes
    the ConfigMap instead.

    \b
    Examples:
      kubectl ascend -n llm mindie ranktable qwen --wait
      kubectl ascend -n llm mindie ranktable qwen --dry-run -o json

    Ctrl-C while waiting writes nothing and says what was still missing (exit 130).
    """
    from kubectl_ascend import validate
    from kubectl_ascend.tokens import parse_duration

    usage_check(validate.release_name, release, "release")
    dry = dry_run != "none"
    ns = settings.effective_namespace()
    seconds = usage_check(parse_duration, timeout, "--timeout").total_seconds()
    if seconds == 0:
        raise errors.UsageError(f"--timeout {timeout!r} is zero: give a Go duration of at least 1s, e.g. 10m")
    from kubectl_ascend.mindie import clusterd_plan, wait_for_ranktables, write_global_ranktable

    kube = settings.kube()
    seen: list[str] = []

    def report(msg: str) -> None:
        seen[:] = [msg]
        info(f"waiting: {msg}")

    try:
        clusterd = clusterd_plan(kube, ns, release, force)
        if clusterd:
            emit({"release": release, "namespace": ns, "state": "deferred", "clusterd": clusterd, "ranktable": None},
                 fmt(settings, output),
                 lambda d: f"ClusterD runs ({', '.join(clusterd)}): it builds the global ranktable of release "
                 f"{release} and serves it to the MindIE controller (SubscribeRankTable); nothing written "
                 "(the release was rendered with clusterd.enabled=true)")
            return
        result, cms = wait_for_ranktables(kube, ns, release, wait=wait, seconds=seconds, timeout_text=timeout,
                                          report=report)
    except KeyboardInterrupt:
        raise errors.Interrupted(f"interrupted while waiting for release {release} in {ns}: nothing was written"
                                 + (f"; still missing: {seen[0]}" if seen else "")) from None
    state = write_global_ranktable(kube, ns, result, cms, dry)
    emit({"release": release, "namespace": ns, "configMap": result.configmap, "state": state,
          "groups": list(result.groups), "ranktable": result.ranktable}, fmt(settings, output),
         lambda d: f"{result.message()}; configmap/{result.configmap} {state}")
