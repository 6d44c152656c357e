"""install, uninstall, status, doctor."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from kubectl_ascend import errors
from kubectl_ascend.cli import Settings, fmt, output_option, pass_settings
from kubectl_ascend.output import emit, info, table, warn

RELEASE_OPT = click.option("--release", default="ascend-stack", show_default=True, help="Helm release name.")


def _namespace(settings: Settings) -> str:
    from kubectl_ascend.stack import DEFAULT_NAMESPACE

    return settings.namespace or DEFAULT_NAMESPACE


def _load_values(files: tuple[str, ...], sets: tuple[str, ...]) -> dict[str, Any]:
    from kubectl_ascend.profile import deep_merge, parse_set

    out: dict[str, Any] = {}
    for f in files:
        try:
            doc = yaml.safe_load(Path(f).read_text()) or {}
        except OSError as e:
            raise errors.InvalidInput(f"cannot read values file {f}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise errors.InvalidInput(f"values file {f} is not valid YAML: {e}") from None
        if not isinstance(doc, dict):
            raise errors.InvalidInput(f"values file {f} must hold a mapping at the top level")
        out = deep_merge(out, doc)
    return deep_merge(out, parse_set(list(sets)))


@click.command("install")
@click.option("-f", "--values", "values_files", multiple=True, metavar="FILE", help="Values file (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a value, e.g. ascend-volcano.enabled=false.")
@click.option("--chart", metavar="PATH|OCI", help="Chart to install instead of the bundled ascend-stack.")
@RELEASE_OPT
@click.option("--wait", is_flag=True, help="Wait until every component is Ready, showing progress.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait (and helm) may take.")
@click.option("--dry-run", is_flag=True, help="Show the decided profile and the objects; change nothing.")
@click.option("--pull-secret", "pull_secrets", multiple=True, metavar="NAME",
              help="Image pull secret for every pod of every component (global.imagePullSecrets; repeatable). "
                   "It must exist in each component's namespace.")
@output_option
@pass_settings
def install(settings: Settings, values_files: tuple[str, ...], sets: tuple[str, ...], chart: str | None,
            release: str, wait: bool, timeout: str, dry_run: bool, pull_secrets: tuple[str, ...],
            output: str | None) -> None:
    """Install or upgrade the MindCluster stack with a profile fitted to this cluster.

    Counts the labelled NPU nodes and chip families, enables only the device-plugin
    DaemonSets for families present, applies single-node settings on a one-node cluster,
    and refuses when no node carries MindCluster labels. -f/--set values win over the profile.

    \b
    Examples:
      kubectl ascend install --wait
      kubectl ascend install --set ascend-operator.enabled=false --dry-run
      kubectl ascend install -f my-registry.yaml --timeout 15m --wait
      kubectl ascend install --set global.imageRegistry=registry.local:5000 --pull-secret regcred
    """
    from kubectl_ascend.helm import Helm
    from kubectl_ascend.stack import create_missing_namespaces, ensure_default_queue, expected_components, \
        plan_install, wait_ready
    from kubectl_ascend.tokens import parse_duration

    from kubectl_ascend.images import with_pull_secrets

    user = with_pull_secrets(_load_values(values_files, sets), list(pull_secrets))
    seconds = parse_duration(timeout).total_seconds()
    if seconds <= 0:
        raise click.UsageError("--timeout must be positive")
    ns = _namespace(settings)
    kube = settings.kube()
    helm = Helm(settings.kubeconfig, settings.context)
    plan = plan_install(kube, helm, chart=chart, release=release, namespace=ns, user_values=user)
    out_fmt = fmt(settings, output)
    verb = "upgrade" if plan.existing else "install"
    say = info if out_fmt != "text" else click.echo
    say(f"{'Would ' + verb if dry_run else verb.capitalize() + 'ing'} release {release} in namespace {ns}:")
    for d in plan.profile.decisions:
        say(f"  - {d}")
    for w in plan.profile.warnings:
        warn(w)
    if dry_run:
        objs = plan.objects
        objrows = [[o.get("kind"), (o.get("metadata") or {}).get("namespace", ns if o.get("kind") not in (
            "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace", "Queue",
            "PriorityClass") else ""), o["metadata"]["name"]] for o in objs if o]
        emit({"release": release, "namespace": ns, "action": verb, "decisions": plan.profile.decisions,
              "values": plan.profile.values, "objects": [{"kind": k, "namespace": n, "name": m} for k, n, m in objrows]},
             out_fmt, lambda d: f"dry run: {len(objrows)} object(s) would be applied:\n"
             + table(["KIND", "NAMESPACE", "NAME"], objrows))
        return
    for created_ns in create_missing_namespaces(kube, plan.profile.values, ns):
        say(f"created namespace {created_ns}")
    result = helm.install_or_upgrade(plan.chart_ref, release, ns, plan.profile.values, timeout=timeout)
    say(f"release {release} {'installed' if verb == 'install' else 'upgraded'}: revision {result['revision']} ({result['status']})")
    from kubectl_ascend.profile import VOLCANO, enabled

    if enabled(plan.profile.values, VOLCANO) and ensure_default_queue(kube):
        say("created Volcano queue 'default'")
    rows: list[dict[str, Any]] = []
    if wait:
        def report(rs: list[dict[str, Any]]) -> None:
            line = ", ".join(f"{r['name']} {r['ready']}/{r['desired']}{'' if r['rolledOut'] else '…'}" for r in rs)
            info(f"waiting: {line or 'no workloads yet'}")

        rows = wait_ready(kube, expected_components(plan.profile.values), seconds, report)
        say("all components ready")
    emit({**result, "action": verb, "decisions": plan.profile.decisions, "components": rows}, out_fmt,
         lambda d: "next: kubectl ascend status; kubectl ascend doctor")


@click.command("uninstall")
@RELEASE_OPT
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the release's objects are gone.")
@output_option
@pass_settings
def uninstall(settings: Settings, release: str, wait: bool, output: str | None) -> None:
    """Remove the stack's release. CRDs and namespaces are kept (see the message for why)."""
    from kubectl_ascend.helm import Helm

    ns = _namespace(settings)
    helm = Helm(settings.kubeconfig, settings.context)
    if helm.release(release, ns) is None:
        raise errors.NotFound(f"release {release} is not installed in namespace {ns} "
                              "(pass -n NAMESPACE / --release NAME)")
    helm.uninstall(release, ns, wait=wait)
    kept = ("Kept on purpose: the CRDs (AscendJob, Volcano Job/PodGroup/Queue/Command/Numatopology) so that "
            "jobs and queues of other users are not deleted with them, and the namespaces mindx-dl and "
            "volcano-system, which may hold logs, ranktables and other releases. Remove them by hand when the "
            "cluster is done with MindCluster: kubectl delete crd <name>; kubectl delete namespace <name>.")
    emit({"release": release, "namespace": ns, "uninstalled": True, "kept": ["CustomResourceDefinitions",
          "namespace/mindx-dl", "namespace/volcano-system"]}, fmt(settings, output),
         lambda d: f"release {release} uninstalled from {ns}.\n{kept}")


@click.command("status")
@output_option
@pass_settings
def status(settings: Settings, output: str | None) -> None:
    """Show NPU nodes (labels, NPUs capacity/allocatable/requested, device plugin), components, MindIE services."""
    from kubectl_ascend.stack import cluster_status

    data = cluster_status(settings.kube())

    def text(d: dict[str, Any]) -> str:
        nodes = table(["NODE", "ROLE", "ACCELERATOR", "ACCELERATOR-TYPE", "NPU CAP/ALLOC/REQ", "DEVICE-PLUGIN"],
                      [[n["node"], n["role"], n["accelerator"] or "-", n["acceleratorType"] or "-",
                        f"{n['npuCapacity']}/{n['npuAllocatable']}/{n['npuRequested']}", n["devicePlugin"] or "-"]
                       for n in d["nodes"]])
        comps = table(["COMPONENT", "NAMESPACE", "KIND", "NAME", "READY", "VERSION"],
                      [[c["component"], c["namespace"], c["kind"], c["name"], f"{c['ready']}/{c['desired']}",
                        c["version"]] for c in d["components"]]) if d["components"] else \
            "No MindCluster components installed (kubectl ascend install)."
        out = f"{nodes}\n\n{comps}"
        if d["services"]:
            out += "\n\n" + table(["MINDIE SERVICE", "NAMESPACE", "MODE", "READY PODS (BY ROLE)", "NPUS", "RANKTABLE"],
                                   [[s["release"], s["namespace"], s["mode"],
                                     " ".join(f"{k}={v['ready']}/{v['pods']}" for k, v in s["roles"].items()),
                                     s["npus"], s["ranktable"] or "-"] for s in d["services"]])
        return out

    emit(data, fmt(settings, output), text)


@click.command("doctor")
@output_option
@pass_settings
def doctor(settings: Settings, output: str | None) -> None:
    """Check the cluster for MindCluster readiness: PASS / WARN / FAIL with the fix for each. Exit 1 on FAIL."""
    from kubectl_ascend.stack import doctor as run_doctor

    report = run_doctor(settings.kube())
    data = {"checks": [c.as_dict() for c in report.checks], "failed": report.failed}

    def text(d: dict[str, Any]) -> str:
        lines = []
        for c in d["checks"]:
            lines.append(f"[{c['status']}] {c['check']}: {c['message']}")
            if c["fix"] and c["status"] != "PASS":
                lines.append(f"       fix: {c['fix']}")
        n = {s: sum(c["status"] == s for c in d["checks"]) for s in ("PASS", "WARN", "FAIL")}
        lines.append(f"{n['PASS']} passed, {n['WARN']} warnings, {n['FAIL']} failed")
        return "\n".join(lines)

    emit(data, fmt(settings, output), text)
    if report.failed:
        sys.exit(1)

