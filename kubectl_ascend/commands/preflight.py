"""preflight: per-node checks of NPUs, driver, runtime and the parameter-plane network, read-only."""
from __future__ import annotations

import re
import sys
from typing import Any

import click

from kubectl_ascend import errors
from kubectl_ascend.commands._common import Settings, StrictCommand, fmt, output_option, pass_settings
from kubectl_ascend.commands.stack import RELEASE_OPT, _timeout, installed_release_values
from kubectl_ascend.output import emit, escape, warn

_CANN = re.compile(r"\d+\.\d+\.(?:[Rr][Cc]\d+|\d+)")


@click.command("preflight", cls=StrictCommand)
@click.argument("nodes", nargs=-1, metavar="[NODE]...")
@click.option("--all", "all_nodes", is_flag=True, help="Check every node that advertises huawei.com/Ascend* NPUs.")
@click.option("--hccl", is_flag=True,
              help="Also ping every chip's same-index peer on every other checked node (device-IP reachability matrix).")
@click.option("--image", metavar="IMAGE",
              help="The MindIE / vLLM image to run: the driver is checked against the CANN version its tag starts "
                   "with (e.g. ...:8.2.rc1-910b-ubuntu22.04-py3.11).")
@click.option("--cann", metavar="VERSION", help="The CANN version to check the driver against (e.g. 8.2.RC1); wins "
                                                 "over --image.")
@click.option("--agent-image", metavar="IMAGE",
              help="Image of the per-node pods (default: the pinned Python image, moved to the installed stack's "
                   "global.imageRegistry; listed by `kubectl ascend images`).")
@RELEASE_OPT
@click.option("--timeout", default="5m", show_default=True, help="How long to wait for the per-node pods (Go duration).")
@output_option
@pass_settings
def preflight(settings: Settings, nodes: tuple[str, ...], all_nodes: bool, hccl: bool, image: str | None,
              cann: str | None, agent_image: str | None, release: str, timeout: str, output: str | None) -> None:
    """Check Ascend nodes before users do: NPU health, driver vs CANN, runtime, hccn network. Exit 1 on FAIL.

    Runs one short-lived pod per node (in -n NAMESPACE, default kube-system) with the host's
    /etc, /usr/local/bin and /usr/local/Ascend mounted read-only; it calls `npu-smi info` and
    `hccn_tool -i N -link/-net_health/-ip/-tls -g` and reads /etc/hccn.conf, the driver's
    version.info and containerd's config. Nodes are never changed; the pods are deleted afterwards.
    Each node gets PASS / WARN / FAIL with the reason and the fix (README: "Preflight").

    \b
    Examples:
      kubectl ascend preflight --all
      kubectl ascend preflight npu-0 npu-1 --hccl -o json
      kubectl ascend preflight --all --image quay.io/ascend/cann:8.2.rc1-910b-ubuntu22.04-py3.11
      kubectl ascend preflight --all --cann 8.1.RC1
    """
    from kubectl_ascend import validate
    from kubectl_ascend.preflight import compat
    from kubectl_ascend.preflight import run as run_module

    if all_nodes and nodes:
        raise click.UsageError("give node names or --all, not both")
    if not all_nodes and not nodes:
        raise click.UsageError("name the nodes to check, or give --all")
    for n in nodes:
        try:
            validate.dns_subdomain(n, "node name")
        except errors.InvalidInput as e:
            raise errors.UsageError(str(e)) from None
    if cann is not None and not _CANN.fullmatch(cann):
        raise click.UsageError(f"--cann {cann!r} is not a CANN version such as 8.2.RC1 or 8.5.0")
    version = compat.normalise(cann) if cann else None
    if version is None and image is not None:
        version = compat.cann_from_image(image)
        if version is None:
            raise click.UsageError(f"cannot tell the CANN version of --image {image!r} from its tag (it must start "
                                   f"with one of {', '.join(compat.CANN_DRIVER)}); give --cann VERSION")
    seconds = _timeout(timeout)
    pod_image, secrets = agent_image, []
    if pod_image is None:  # the stack's registry and pull secrets, so it works air-gapped
        installed, problem = installed_release_values(settings, release)
        if problem:
            warn(problem)
        glob = (installed or {}).get("global") or {}
        pod_image = run_module.agent_image(glob.get("imageRegistry") or "")
        secrets = [s if isinstance(s, str) else s.get("name") for s in glob.get("imagePullSecrets") or []]
    data = run_module.preflight(settings.kube(), names=list(nodes), all_nodes=all_nodes,
                                namespace=settings.namespace or "kube-system", image=pod_image, cann=version,
                                hccl=hccl, timeout=seconds, pull_secrets=secrets)

    def text(d: dict[str, Any]) -> str:
        lines = []
        for n in d["nodes"]:
            lines.append(f"{escape(n['node'])}: {n['verdict']}")
            for c in n["checks"]:  # the passing checks are in -o json
                if c["verdict"] == "PASS":
                    continue
                lines.append(f"  [{c['verdict']}] {c['check']}: {escape(c['what'])}")
                if c["fix"] and c["verdict"] != "PASS":
                    lines.append(f"         fix: {escape(c['fix'])}")
        if d["matrix"] is not None:
            names = sorted(d["matrix"])
            lines.append("\nHCCL device-IP reachability (row pings column):")
            width = max([len(x) for x in names] + [4])
            lines.append(" " * (width + 2) + "  ".join(f"{x:>{width}}" for x in names))
            for src in names:
                cells = ["-" if p == src else ("ok" if d["matrix"][src][p]["reachable"] else "LOST") for p in names]
                lines.append(f"{escape(src):<{width + 2}}" + "  ".join(f"{c:>{width}}" for c in cells))
        n = {s: sum(x["verdict"] == s for x in d["nodes"]) for s in ("PASS", "WARN", "FAIL")}
        lines.append(f"{len(d['nodes'])} node(s): {n['PASS']} passed, {n['WARN']} warnings, {n['FAIL']} failed")
        return "\n".join(lines)

    emit(data, fmt(settings, output), text)
    if any(n["verdict"] == "FAIL" for n in data["nodes"]):
        sys.exit(1)
