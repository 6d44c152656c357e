"""mindie ranktable: write the global ranktable of a PD-separated mindie-service release.

Why a plugin command rather than a hook Job or an in-cluster helper: it runs
where the operator's kubeconfig already is, needs no ServiceAccount with write
access to ConfigMaps inside the inference namespace, and can be exercised on
a cluster without NPUs (see charts/mindie-service/README.md).
"""
from __future__ import annotations

from typing import Any

import click

from kubectl_ascend import errors
from kubectl_ascend.cli import Settings, fmt, output_option, pass_settings
from kubectl_ascend.output import emit, info


@click.group("mindie")
def mindie_group() -> None:
    """MindIE inference services deployed with the mindie-service chart."""


@mindie_group.command("ranktable")
@click.argument("release")
@click.option("--wait", is_flag=True, help="Keep checking until the per-instance ranktables and pod IPs are ready.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait may take (Go duration).")
@click.option("--dry-run", is_flag=True, help="Print the global ranktable instead of writing it.")
@output_option
@pass_settings
def ranktable(settings: Settings, release: str, wait: bool, timeout: str, dry_run: bool, output: str | None) -> None:
    """Build and write the global ranktable of a PD release (coordinator, controller, P/D groups).

    Reads the release's per-instance ranktables (rings-config-*, filled by the Ascend
    Operator) and pod IPs, and writes <release>-global-ranktable, which the server pods
    wait for. Rerun it after any PD pod is recreated.

    \b
    Examples:
      kubectl ascend -n llm mindie ranktable qwen --wait
      kubectl ascend -n llm mindie ranktable qwen --dry-run -o json
    """
    from kubectl_ascend.ranktable import RanktableError, build_global_ranktable, configmap_selector, pod_selector
    from kubectl_ascend.tokens import parse_duration

    ns = settings.effective_namespace()
    seconds = parse_duration(timeout).total_seconds()
    kube = settings.kube()
    sources = {"cms": (f"/api/v1/namespaces/{ns}/configmaps", {"labelSelector": configmap_selector(release)}),
               "pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": pod_selector(release)})}

    def check(cms: list[dict[str, Any]], pods: list[dict[str, Any]]) -> Any:
        try:
            return build_global_ranktable(release, cms, pods)
        except RanktableError as e:
            raise errors.NotFound(f"release {release} in namespace {ns}: {e} (is it a mindie-service release "
                                  "with mode: pd? pass -n NAMESPACE)") from None

    cms = kube.list_configmaps(ns, configmap_selector(release))
    result = check(cms, kube.list_pods(ns, label_selector=pod_selector(release)))
    if not result.ready and not wait:
        raise errors.AscendError(f"{result.message()}; rerun with --wait to keep checking")
    if not result.ready:  # follow the release's ConfigMaps and pods with watches until it is
        last = None
        for snapshot in kube.observe(f"wait for release {release}", sources, seconds):
            cms = snapshot["cms"]
            result = check(cms, snapshot["pods"])
            if result.ready:
                break
            msg = result.message()
            if msg != last:
                info(f"waiting: {msg}")
                last = msg
        else:
            raise errors.AscendError(f"timed out after {timeout}: {result.message()}")
    current = next((cm for cm in cms if cm["metadata"]["name"] == result.configmap), None)
    current_data = (current or {}).get("data") or {}
    changed = result.differs_from(current_data.get("global_ranktable.json"), current_data.get("pod_uids"))
    if not dry_run and changed:
        kube.patch_configmap_data(ns, result.configmap, result.data())
    state = "would write" if dry_run and changed else "written" if changed else "unchanged"
    emit({"release": release, "namespace": ns, "configMap": result.configmap, "state": state,
          "groups": list(result.groups), "ranktable": result.ranktable}, fmt(settings, output),
         lambda d: f"{result.message()}; configmap/{result.configmap} {state}")
