"""label-node and models."""
from __future__ import annotations

import sys
from typing import Any

import click

from kubectl_ascend import errors
from kubectl_ascend.commands._common import Settings, StrictCommand, dry_run_option, fmt, output_option, pass_settings, \
    usage_check
from kubectl_ascend.commands.stack import MINDCLUSTER_OPT, RELEASE_OPT, checked_mindcluster_version, \
    installed_release_values
from kubectl_ascend.labels import FAMILIES, MASTER_NODE, MASTER_SELECTOR, SERVER_MODELS
from kubectl_ascend.output import emit, escape, info, progress as show_progress, table, warn

_MODELS_HELP = ", ".join(SERVER_MODELS)


@click.command("label-node", cls=StrictCommand)
@click.argument("nodes", nargs=-1, metavar="[NODE]...")
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector choosing the nodes.")
@click.option("--all", "all_nodes", is_flag=True, help="All nodes in the cluster.")
@click.option("--role", type=click.Choice(["worker", "master"]), default="worker", show_default=True,
              help=f"worker: NPU compute node labels; master: management node ({MASTER_SELECTOR}={MASTER_NODE}).")
@click.option("--accelerator", type=click.Choice(["auto", *FAMILIES]), default="auto", show_default=True,
              help="Accelerator family; auto detects it from huawei.com/* resources or the chip-name label.")
@click.option("--server-model", type=click.Choice(list(SERVER_MODELS)), metavar="MODEL",
              help=f"Server model: sets accelerator-type and extra labels. One of: {_MODELS_HELP} "
                   "(see `kubectl ascend models`).")
@click.option("--overwrite", is_flag=True, help="Replace labels that already have other values.")
@MINDCLUSTER_OPT
@click.option("--noded", is_flag=True,
              help="Also label workers nodeDEnable=on (NodeD judges their faults); implied when the installed "
                   "release has ascend-noded.enabled.")
@RELEASE_OPT
@dry_run_option(("none", "client"), help="print the plan (node, label, old -> new) and change nothing.")
@click.option("--workers", type=click.IntRange(1, 128), default=64, show_default=True,
              help="Concurrent PATCH requests.")
@output_option
@pass_settings
def label_node(settings: Settings, nodes: tuple[str, ...], selector: str | None, all_nodes: bool, role: str,
               accelerator: str, server_model: str | None, overwrite: bool, mindcluster_version: str | None,
               noded: bool, release: str, dry_run: str, workers: int, output: str | None) -> None:
    """Apply the MindCluster node labels (only the labels this tool owns).

    Which labels follow the MindCluster release (--mindcluster-version, else the installed
    release --release, else 26.0.0): 26.1.0's device plugin sets accelerator and servertype
    itself, so they are not written then (servertype=soc of --server-model atlas-200i-soc-a1
    still is). With NodeD (--noded, or enabled in the installed release) workers also get
    nodeDEnable=on.

    With --all or -l, nodes that show no NPU (no huawei.com/* resource, no chip-name
    label) are skipped and listed; named nodes that cannot be detected are an error
    under 26.0.0 and made workers under 26.1.0 (its device plugin finds the chip).

    \b
    Examples:
      kubectl ascend label-node --all                          # detect from NPU resources
      kubectl ascend label-node mgmt-0 --role master
      kubectl ascend label-node -l pool=a3 --server-model atlas-800i-a3
      kubectl ascend label-node --all --dry-run

    Ctrl-C cancels the patches not yet sent, reports what was labelled, what was not and
    what is not confirmed, and exits 130. Exit 1 if some nodes failed.
    """
    from kubectl_ascend import validate
    from kubectl_ascend.labelnode import LabelInterrupted, label_nodes, select_nodes

    for n in nodes:
        usage_check(validate.dns_subdomain, n, "node name")
    chosen = sum(bool(x) for x in (nodes, selector, all_nodes))
    if chosen != 1:
        raise click.UsageError("name the nodes, or pass -l SELECTOR, or --all (exactly one of them)")
    if role == "master" and (accelerator != "auto" or server_model or noded):
        raise click.UsageError("--accelerator, --server-model and --noded apply to --role worker only")
    checked_mindcluster_version(mindcluster_version)
    from kubectl_ascend.profile import NODED, enabled
    from kubectl_ascend.releases import choose

    kube = settings.kube(pool_size=workers)
    targets = select_nodes(kube, list(nodes), selector, all_nodes)
    if not targets:
        raise errors.NotFound("no nodes matched; nothing to label")
    installed, problem = (None, None)
    if role == "worker" and not (mindcluster_version and noded):
        installed, problem = installed_release_values(settings, release)
        if problem:
            warn(problem)
    choice = choose(mindcluster_version, None, installed, release)
    noded_on = role == "worker" and (noded or enabled(installed or {}, NODED, default=False))
    plugin_sets = choice.release.plugin_sets_labels if role == "worker" else ()
    out_fmt = fmt(settings, output)
    tty = sys.stderr.isatty() and out_fmt == "text"

    def progress(done: int, total: int) -> None:
        if tty and total >= 50:
            show_progress(f"labelling nodes: {done}/{total}", done=done == total)

    interrupted = None
    try:
        result = label_nodes(kube, targets, role=role, accelerator=accelerator, server_model=server_model,
                             overwrite=overwrite, dry_run=dry_run != "none", workers=workers, progress=progress,
                             skip_undetectable=role == "worker" and not nodes, plugin_sets=plugin_sets,
                             noded=noded_on)
    except LabelInterrupted as e:
        if tty:
            info("")
        result, interrupted = e.result, e
    data = {"mindcluster": choice.as_dict(), "noded": noded_on, **result.as_dict()}
    verbose = settings.verbose > 0

    def text(d: dict[str, Any]) -> str:
        lines = []
        if role == "worker":
            left = d["leftToDevicePlugin"]
            lines.append(f"profile: {choice.summary()}"
                         + (f"; not writing {', '.join(left)}: the device plugin sets them itself" if left else "")
                         + ("; NodeD on: workers get nodeDEnable=on" if noded_on else ""))
        if d["dryRun"]:
            rows = [[n["node"], k, c["old"] or "<none>", c["new"]] for n in d["nodes"]
                    for k, c in n["changes"].items()]
            lines.append(table(["NODE", "LABEL", "OLD", "NEW"], rows) if rows else "")
        else:
            # One line per node for small runs and with -v; big runs get the summary only.
            per_node = verbose or len(d["nodes"]) <= 20
            for n in d["nodes"]:
                if not per_node:
                    break
                if n["state"] == "labelled":
                    lines.append(f"node/{n['node']} labelled")
                elif n["state"] == "failed":
                    lines.append(f"node/{n['node']} FAILED: {escape(n['error'])}")
                elif n["state"] == "not-confirmed":
                    lines.append(f"node/{n['node']} NOT CONFIRMED: {escape(n['error'])}")
                elif n["state"] == "not-started":
                    lines.append(f"node/{n['node']} not started (interrupted)")
        s = d["summary"]
        if d["skipped"]:
            lines.append(f"skipped {len(d['skipped'])} node(s) with no NPU resources or chip label: "
                         + ", ".join(d["skipped"][:10]) + (" …" if len(d["skipped"]) > 10 else ""))
        if d["dryRun"]:
            lines.append(f"dry run: {s['wouldLabel']} node(s) would be labelled, {s['unchanged']} already up to date")
        elif s["labelled"] == 0 and not result.problem():
            lines.append(f"nothing to do: all {s['unchanged']} node(s) already carry these labels")
        else:
            extra = "".join(f", {s[k]} {w}" for k, w in (("notConfirmed", "not confirmed"),
                                                          ("notStarted", "not started")) if s[k])
            lines.append(f"{s['labelled']} node(s) labelled, {s['unchanged']} unchanged, {s['failed']} failed{extra}")
        return "\n".join(x for x in lines if x)

    emit(data, out_fmt, text)
    if interrupted is not None:
        raise errors.Interrupted(str(interrupted))
    problem = result.problem()
    if problem:
        raise errors.PartialFailure(problem)


@click.command("models", cls=StrictCommand)
@output_option
@pass_settings
def models(settings: Settings, output: str | None) -> None:
    """List the server models --server-model knows, with the labels each sets."""
    data = [{"model": m.key, "name": m.name, "accelerator": FAMILIES[m.family],
             "acceleratorType": m.accelerator_type, "extra": dict(m.extra)} for m in SERVER_MODELS.values()]
    emit(data, fmt(settings, output), lambda d: table(
        ["MODEL", "SERVER", "ACCELERATOR", "ACCELERATOR-TYPE", "EXTRA"],
        [[r["model"], r["name"], r["accelerator"], r["acceleratorType"] or "-",
          ",".join(f"{k}={v}" for k, v in r["extra"].items()) or "-"] for r in d]))

