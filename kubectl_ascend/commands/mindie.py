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
from kubectl_ascend.cli import Settings, StrictGroup, dry_run_option, fmt, output_option, pass_settings, \
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
@dry_run_option(("none", "client"), help="print the global ranktable instead of writing it.")
@output_option
@pass_settings
def ranktable(settings: Settings, release: str, wait: bool, timeout: str, dry_run: str, output: str | None) -> None:
    """Build and write the global ranktable of a PD release (coordinator, controller, P/D groups).

    Reads the release's per-instance ranktables (rings-config-*, filled by the Ascend
    Operator) and pod IPs, and writes <release>-global-ranktable, which the server pods
    wait for. Rerun it after any PD pod is recreated.

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
    kube = settings.kube()
    seen: dict[str, str] = {}
    try:
        result, cms = _wait_for_ranktables(kube, ns, release, wait, timeout, seconds, seen)
    except KeyboardInterrupt:
        raise errors.Interrupted(f"interrupted while waiting for release {release} in {ns}: nothing was written"
                                 + (f"; still missing: {seen['msg']}" if seen.get("msg") else "")) from None
    current = next((cm for cm in cms if cm["metadata"]["name"] == result.configmap), None)
    current_data = (current or {}).get("data") or {}
    changed = result.differs_from(current_data.get("global_ranktable.json"), current_data.get("pod_uids"))
    if not dry and changed:
        kube.patch_configmap_data(ns, result.configmap, result.data())
    state = "would write" if dry and changed else "written" if changed else "unchanged"
    emit({"release": release, "namespace": ns, "configMap": result.configmap, "state": state,
          "groups": list(result.groups), "ranktable": result.ranktable}, fmt(settings, output),
         lambda d: f"{result.message()}; configmap/{result.configmap} {state}")


def _wait_for_ranktables(kube: Any, ns: str, release: str, wait: bool, timeout: str, seconds: float,
                         seen: dict[str, str]) -> Any:
    """Follow the release's ConfigMaps and pods (one list, then watches) until its ranktables and
    pod IPs are complete; seen["msg"]: the last state reported (for the Ctrl-C message)."""
    from kubectl_ascend.ranktable import RanktableError, build_global_ranktable, configmap_selector, pod_selector

    def check(cms: list[dict[str, Any]], pods: list[dict[str, Any]]) -> Any:
        try:
            return build_global_ranktable(release, cms, pods)
        except RanktableError as e:
            raise errors.NotFound(f"release {release} in namespace {ns}: {e} (is it a mindie-service release "
                                  "with mode: pd? pass -n NAMESPACE)") from None

    cms = kube.list_configmaps(ns, configmap_selector(release))
    result = check(cms, kube.list_pods(ns, label_selector=pod_selector(release)))
    if result.ready:
        return result, cms
    seen["msg"] = result.message()
    if not wait:
        raise errors.AscendError(f"{result.message()}; rerun with --wait to keep checking")
    sources = {"cms": (f"/api/v1/namespaces/{ns}/configmaps", {"labelSelector": configmap_selector(release)}),
               "pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": pod_selector(release)})}
    last = None
    for snapshot in kube.observe(f"wait for release {release}", sources, seconds):
        cms = snapshot["cms"]
        result = check(cms, snapshot["pods"])
        if result.ready:
            return result, cms
        msg = result.message()
        if msg != last:
            info(f"waiting: {msg}")
            last = seen["msg"] = msg
    raise errors.AscendError(f"timed out after {timeout}: {result.message()}")
