"""`kubectl ascend diagnose RELEASE`: the first failing layer of a mindie-service release, with its fix."""
from __future__ import annotations

import sys
from typing import Any

import click

from kubectl_ascend.commands._common import Settings, StrictCommand, fmt, output_option, pass_settings, usage_check
from kubectl_ascend.output import emit, escape, info


@click.command("diagnose", cls=StrictCommand)
@click.argument("release")
@click.option("--bundle", metavar="DIR",
              help="Also write the objects, events, configs, ranktables and logs read into DIR (a new or empty "
                   "directory), laid out as Huawei's FaultDiag (ascend-fd parse -i DIR) reads them. No Secret is read.")
@output_option
@pass_settings
def diagnose(settings: Settings, release: str, bundle: str | None, output: str | None) -> None:
    """Walk a stuck or failing mindie-service release layer by layer and name the first failing layer.

    \b
    Layers, in order:
      scheduling  every pod placed by Volcano; else its reason, the gang vs the free NPUs of the
                  nodes it may use, and the queue it waits in
      devices     each NPU pod carries the device plugin's allocation annotation; no container
                  overrides ASCEND_VISIBLE_DEVICES or sets ASCEND_RT_VISIBLE_DEVICES out of range
      network     /etc/hccn.conf in PD/multi-pod server pods (WARN), HCCL_IF_IP equal to the
                  pod's address, no host-network port clash
      ranktable   every rings-config-* completed; the global ranktable written from the live pods
                  (or ClusterD running to serve it)
      service     every pod Ready; known failure signatures in the pods' logs

    Read-only. Exit 0 when no layer FAILs (WARNs allowed), 1 when one does, 2 on bad usage.

    \b
    Examples:
      kubectl ascend diagnose qwen -n llm
      kubectl ascend diagnose qwen -n llm -o json --bundle ./qwen-bundle
    """
    from kubectl_ascend import validate

    usage_check(validate.release_name, release, "release")
    ns = settings.effective_namespace()
    if bundle is not None and not bundle.strip():
        raise click.UsageError("--bundle needs a directory name")
    if bundle is not None:
        import os

        if os.path.exists(bundle) and (not os.path.isdir(bundle) or os.listdir(bundle)):
            raise click.UsageError(f"--bundle {bundle}: exists and is not an empty directory; name a new one")
    from kubectl_ascend.diagnose import diagnose as run, gather, read_component_logs, write_bundle

    kube = settings.kube()
    snap = gather(kube, ns, release)
    report = run(snap)
    if bundle is not None:
        files = write_bundle(bundle, snap, report, read_component_logs(kube, snap))
        report["bundle"] = {"directory": bundle, "files": len(files)}
        info(f"wrote {len(files)} file(s) to {bundle}")

    def text(d: dict[str, Any]) -> str:
        lines = [f"release {d['release']} in namespace {d['namespace']} (mode {snap.mode})"]
        for lay in d["layers"]:
            first, *rest = lay["findings"] or [{"what": "", "fix": ""}]
            lines.append(f"[{lay['verdict']}] {lay['layer']}: {escape(first['what'])}")
            if first["fix"] and lay["verdict"] != "PASS":
                lines.append(f"       fix: {escape(first['fix'])}")
            for f in rest:
                lines.append(f"       - {escape(f['what'])}")
                if f["fix"]:
                    lines.append(f"         fix: {escape(f['fix'])}")
        lines.append(f"first failing layer: {d['firstFailing']}" if d["firstFailing"] else "no layer fails")
        return "\n".join(lines)

    emit(report, fmt(settings, output), text)
    if report["firstFailing"]:
        sys.exit(1)
