"""install, uninstall, status, doctor."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click
import yaml

from kubectl_ascend import errors
from kubectl_ascend.commands._common import Settings, StrictCommand, dry_run_option, fmt, output_option, pass_settings, \
    usage_check
from kubectl_ascend.output import emit, escape, info, say as say_out, table, warn


def _release_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from kubectl_ascend import errors as _errors, validate

    try:
        return validate.release_name(value, "--release")
    except _errors.InvalidInput as e:
        raise click.BadParameter(str(e), ctx, param) from None


PULL_SECRET_OPT = click.option(
    "--pull-secret", "pull_secrets", multiple=True, metavar="NAME",
    help="Image pull secret for every pod of every component (global.imagePullSecrets; repeatable). "
         "It must exist in each component's namespace.")


def checked_pull_secrets(names: tuple[str, ...]) -> list[str]:
    """--pull-secret values, each an RFC 1123 Secret name (usage error otherwise)."""
    from kubectl_ascend import validate

    return [usage_check(validate.dns_subdomain, n, "--pull-secret") for n in names]


_F = TypeVar("_F", bound=Callable[..., Any])


def mindcluster_option(default: str = "the version of the installed release (--release), else {default}"
                       ) -> Callable[[_F], _F]:
    """--mindcluster-version; `default` says where the version comes from without it ("{default}" is the
    facts' default release). The known releases and the default come from kubectl_ascend.releases (the one
    source, charts/ascend-common/facts/mindcluster.json), so the help follows that file."""
    from kubectl_ascend import releases

    known = " or ".join(releases.versions())
    return click.option("--mindcluster-version", "mindcluster_version", metavar="V",
                        help=f"MindCluster release profile: {known} (charts/ascend-common/facts/"
                             f"mindcluster.json). Default: {default.format(default=releases.default_version())}.")


MINDCLUSTER_OPT = mindcluster_option()


def checked_mindcluster_version(version: str | None) -> str | None:
    """--mindcluster-version, known to mindcluster.json (usage error otherwise), before anything else runs."""
    from kubectl_ascend import releases

    if version is not None and version not in releases.versions():
        raise errors.UsageError(f"--mindcluster-version {version!r}: this plugin installs "
                                f"{' or '.join(releases.versions())}")
    return version


def installed_release_values(settings: Settings, release: str) -> tuple[dict[str, Any] | None, str | None]:
    """The values of the installed stack release (None: not installed) for commands that only read them,
    and a warning when helm cannot tell (no helm binary): they then go on as if nothing were installed."""
    from kubectl_ascend import releases

    namespace = _namespace(settings)
    try:
        return settings.helm().user_values(release, namespace), None
    except errors.HelmError as e:
        why = "not allowed to read Helm's release Secrets" if "forbidden" in str(e) else str(e)
        return None, (f"cannot read release {release} in {namespace} ({why}); going on as if it were not "
                      f"installed (MindCluster {releases.default_version()}): pass --mindcluster-version to choose")


RELEASE_OPT = click.option("--release", default="ascend-stack", show_default=True, callback=_release_name,
                           help="Helm release name (RFC 1123 label, at most 53 characters).")


def _namespace(settings: Settings) -> str:
    from kubectl_ascend.install import DEFAULT_NAMESPACE

    return settings.namespace or DEFAULT_NAMESPACE


def _timeout(text: str) -> float:
    from kubectl_ascend.tokens import parse_duration

    seconds = float(usage_check(parse_duration, text, "--timeout").total_seconds())
    if seconds == 0:
        raise errors.UsageError(f"--timeout {text!r} is zero: give a Go duration of at least 1s, e.g. 10m")
    return seconds


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
    return deep_merge(out, usage_check(parse_set, list(sets)))


@click.command("install", cls=StrictCommand)
@click.option("-f", "--values", "values_files", multiple=True, metavar="FILE", help="Values file (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a value, e.g. ascend-volcano.enabled=false.")
@click.option("--chart", metavar="PATH|OCI", help="Chart to install instead of the bundled ascend-stack.")
@RELEASE_OPT
@click.option("--wait", is_flag=True, help="Wait until every component is Ready, showing progress.")
@click.option("--timeout", default="10m", show_default=True,
              help="How long --wait (and helm) may take: a Go duration, at least 1s.")
@click.option("--reset-values", is_flag=True,
              help="Forget the -f/--set values of earlier installs; use only this run's.")
@PULL_SECRET_OPT
@click.option("--adopt", is_flag=True,
              help="Take over objects of the stack that exist without Helm's ownership (a MindCluster installed "
                   "from Huawei's YAML): label/annotate them for this release, delete and recreate workloads whose "
                   "selector differs and delete Huawei device plugins and RBAC the chart names differently (their "
                   "pods restart), then install. Refused if another Helm release owns one, "
                   "the running MindCluster release differs from the one installed, or an object differs from "
                   "the chart where Helm would keep the live one (see --accept-drift).")
@click.option("--accept-drift", is_flag=True,
              help="With --adopt: take over objects that differ from the chart (extra or other containers, "
                   "images, hostPath volumes, privileged, capabilities, hostPID/hostNetwork/hostIPC, extra "
                   "ConfigMap keys, ownerReferences): they are deleted and created again from the chart (pods "
                   "restart); ownerReferences alone are removed. Without it they are refused, each difference "
                   "named.")
@mindcluster_option("the version of the installed release, else {default}; with --adopt it must be the running one")
@dry_run_option(("none", "client"), help="show the decided profile, the objects (helm template) and, with "
                                         "--adopt, what would be taken over.")
@output_option
@pass_settings
def install(settings: Settings, values_files: tuple[str, ...], sets: tuple[str, ...], chart: str | None,
            release: str, wait: bool, timeout: str, reset_values: bool, pull_secrets: tuple[str, ...],
            adopt: bool, accept_drift: bool, mindcluster_version: str | None, dry_run: str,
            output: str | None) -> None:
    """Install or upgrade the MindCluster stack with a profile fitted to this cluster.

    Counts the labelled NPU nodes and chip families, enables only the device-plugin
    DaemonSets for families present, applies single-node settings on a one-node cluster,
    and refuses when no node carries MindCluster labels. -f/--set values win over the profile.

    The MindCluster release (26.0.0 or 26.1.0) comes from --mindcluster-version, else the
    installed release keeps its own, else 26.0.0; the first line says which and why.
    26.1.0 runs one device-plugin DaemonSet on workerselector=dls-worker-node, and
    changing the version of an installed release is an upgrade of it.

    On an upgrade, the -f/--set values of the installed release are kept (this run's
    -f/--set go on top of them) unless --reset-values is given; every run says which.
    Ctrl-C while waiting says what was applied and what is not ready yet; Ctrl-C while helm
    applies says the state helm left the release in and the command that recovers it (exit 130).

    With mindie-service enabled on a cluster that does not serve Volcano's CRDs yet, the
    release is applied in two steps (the stack, then mindie-service): Helm cannot map a
    PodGroup or Volcano Job whose CRD the same release creates. The plan says so.

    Objects of the stack that already exist without this release's Helm ownership (e.g.
    MindCluster installed from Huawei's YAML) stop the install before any change, with
    their list; --adopt takes them over (see the plan with --adopt --dry-run). An object
    that differs from the chart where Helm's apply would keep the live object (an extra
    container, a hostPath volume, privileges, a foreign ownerReference) is refused with each
    difference named; --accept-drift replaces it with the chart's object instead.

    \b
    Examples:
      kubectl ascend install --wait
      kubectl ascend install --mindcluster-version 26.1.0 --dry-run
      kubectl ascend install --set ascend-operator.enabled=false --dry-run
      kubectl ascend install -f my-registry.yaml --timeout 15m --wait
      kubectl ascend install --set global.imageRegistry=registry.local:5000 --pull-secret regcred
      kubectl ascend install --adopt --dry-run
      kubectl ascend install --adopt --accept-drift --dry-run
    """
    from kubectl_ascend.images import with_pull_secrets
    from kubectl_ascend.install import apply_plan, check_adoption, finish, plan_install, survey, take_over, \
        user_values, with_user_record
    from kubectl_ascend.releases import choose, versions

    seconds = _timeout(timeout)
    if accept_drift and not adopt:
        raise click.UsageError("--accept-drift only applies with --adopt")
    checked_mindcluster_version(mindcluster_version)
    given = with_pull_secrets(_load_values(values_files, sets), checked_pull_secrets(pull_secrets))
    ns = _namespace(settings)
    kube = settings.kube()
    helm = settings.helm()
    installed = helm.user_values(release, ns)
    choice = choose(mindcluster_version, given, installed, release)
    user, values_note = user_values(installed, given, reset_values)
    plan = plan_install(kube, helm, chart=chart, release=release, namespace=ns, user_values=with_user_record(user),
                        mindcluster=choice.release)
    adoption = check_adoption(survey(kube, plan, accept_drift=accept_drift), plan, allowed=adopt,
                              requested=mindcluster_version, supported=versions(), default=choice.version)
    out_fmt = fmt(settings, output)
    verb = "upgrade" if plan.existing else "install"
    say = info if out_fmt != "text" else say_out
    dry = dry_run != "none"
    say(f"{'Would ' + verb if dry else {'install': 'Installing', 'upgrade': 'Upgrading'}[verb]} release {release} "
        f"in namespace {ns}:")
    say(f"  - profile: {choice.line()}")
    say(f"  - {values_note}")
    for d in plan.profile.decisions:
        say(f"  - {d}")
    for n in adoption.notes:
        say(f"  - {n}")
    for w in plan.profile.warnings:
        warn(w)
    takeover = table(["KIND", "NAMESPACE/NAME", "ACTION"],
                     [[r.kind, f"{r.namespace}/{r.name}" if r.namespace else r.name, r.action]
                      for r in adoption.rows])
    if adopt and not adoption.rows:
        say("  - --adopt: nothing to take over (no object of the release exists without its ownership)")
    if dry:
        objects = plan.object_rows()
        emit({"release": release, "namespace": ns, "action": verb, "mindcluster": choice.as_dict(),
              "decisions": plan.profile.decisions,
              "userValues": user, "values": plan.profile.values, "objects": objects,
              "adoption": adoption.as_dict(), "twoStepsFor": plan.first_creates},
             out_fmt, lambda d: (f"dry run: {len(adoption.rows)} existing object(s) would be taken over:\n"
                                 f"{takeover}\n" + "".join(f"  {r.ref}: {escape(r.reason)}\n" for r in adoption.rows
                                                            if r.action != "adopt" or r.drift) + "\n"
                                 if adoption.rows else "")
             + f"dry run: {len(objects)} object(s) would be applied:\n"
             + table(["KIND", "NAMESPACE", "NAME"], [[o["kind"], o["namespace"], o["name"]] for o in objects]))
        return
    if adoption.rows:
        say(f"Taking over {len(adoption.rows)} existing object(s):\n{takeover}")
        for r in adoption.rows:
            if r.drift:
                say(f"  {r.ref}: {escape(r.reason)}")
        take_over(kube, adoption, release, ns, say=say)
    result = apply_plan(kube, helm, plan, timeout=timeout, reset_values=reset_values, say=say,
                        force_conflicts=adopt)
    say(f"release {release} {'installed' if verb == 'install' else 'upgraded'}: revision {result['revision']} ({result['status']})")

    def report(rs: list[dict[str, Any]]) -> None:
        line = ", ".join(f"{r['name']} {r['ready']}/{r['desired']}{'' if r['rolledOut'] else '…'}" for r in rs)
        info(f"waiting: {line or 'no workloads yet'}")

    rows = finish(kube, plan, result["revision"], wait=wait, seconds=seconds, say=say, report=report)
    emit({**result, "action": verb, "mindcluster": choice.as_dict(), "decisions": plan.profile.decisions,
          "components": rows, "adopted": [r.as_dict() for r in adoption.rows], "twoStepsFor": plan.first_creates},
         out_fmt,
         lambda d: "next: kubectl ascend status; kubectl ascend doctor")


# ClusterD writes a job-summary-<workload> ConfigMap per job it follows into the job's namespace, labelled
# outside-job-info=true (mind-cluster v26.1.0 component/clusterd/pkg/domain/job/job_cm_util.go initCM,
# getDefaultLabel). When the job goes it marks them job_status failed and deletes them a minute later
# (pkg/domain/job/job_storage.go GetShouldDeleteJobKey, preDeleteToDeleteSecond) - only if ClusterD
# still runs then and has not restarted (the pending deletion lives in its memory).
JOB_SUMMARY_LABEL = "outside-job-info"


def _job_summaries(settings: Settings) -> dict[str, list[str]]:
    """ClusterD's job-summary ConfigMaps in every namespace, by namespace ({} when none or not listable)."""
    try:
        cms = settings.kube().list_configmaps(None, f"{JOB_SUMMARY_LABEL}=true")
    except errors.Forbidden:
        warn("cannot list ConfigMaps in all namespaces: ClusterD's job-summary-* ConfigMaps were not checked")
        return {}
    out: dict[str, list[str]] = {}
    for cm in cms:
        meta = cm["metadata"]
        if meta["name"].startswith("job-summary-"):
            out.setdefault(meta["namespace"], []).append(meta["name"])
    return {n: sorted(v) for n, v in sorted(out.items())}


@click.command("uninstall", cls=StrictCommand)
@RELEASE_OPT
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the release's objects are gone.")
@dry_run_option(("none", "client"), help="say what would be removed and what is kept.")
@output_option
@pass_settings
def uninstall(settings: Settings, release: str, wait: bool, dry_run: str, output: str | None) -> None:
    """Remove the stack's release. Lists everything it leaves: CRDs, namespaces, the default Queue, node labels,
    ClusterD's job-summary-* ConfigMaps in job namespaces."""
    from kubectl_ascend.labels import OWNED_KEYS
    from kubectl_ascend.install import CRDS

    ns = _namespace(settings)
    helm = settings.helm()
    if helm.release(release, ns) is None:
        raise errors.NotFound(f"release {release} is not installed in namespace {ns} "
                              "(pass -n NAMESPACE / --release NAME)")
    if dry_run == "none":
        helm.uninstall(release, ns, wait=wait)
    summaries = _job_summaries(settings)
    kept = {
        "customResourceDefinitions": list(CRDS),
        "namespaces": sorted({ns, "mindx-dl", "volcano-system"}),
        "queues": ["default"],
        "nodeLabels": list(OWNED_KEYS),
        "jobSummaries": summaries,
    }
    text = (f"release {release} {'would be uninstalled' if dry_run != 'none' else 'uninstalled'} from {ns}.\n"
            "Kept on purpose (jobs, queues, logs and ranktables of other users live there):\n"
            f"  - CRDs: {', '.join(CRDS)}  (kubectl delete crd NAME)\n"
            f"  - namespaces: {', '.join(kept['namespaces'])}  (kubectl delete namespace NAME)\n"
            "  - Volcano queue 'default'  (kubectl delete queue default, before its CRD)\n"
            f"  - node labels set by label-node: {', '.join(OWNED_KEYS)}  (kubectl label nodes --all "
            + " ".join(f"{k}-" for k in OWNED_KEYS) + ")"
            + "".join(f"\n  - job-summary ConfigMaps left by ClusterD in namespace {n}: {', '.join(names)}  "
                      f"(kubectl delete configmap -n {n} -l {JOB_SUMMARY_LABEL}=true)"
                      for n, names in summaries.items()))
    emit({"release": release, "namespace": ns, "uninstalled": dry_run == "none", "dryRun": dry_run != "none",
          "kept": kept}, fmt(settings, output), lambda d: text)


def _pd_ratio(scale: dict[str, Any] | None) -> str:
    """`2:1 (2.00) band 1:3` / `... band 1:3, OUTSIDE` / `-` for single mode."""
    if not scale or not scale.get("ratio"):
        return "-"
    band = scale.get("band")
    return str(scale["ratio"]) + (f" band {band}" + (", OUTSIDE" if scale.get("inBand") is False else "")
                             if band else "")


@click.command("status", cls=StrictCommand)
@output_option
@pass_settings
def status(settings: Settings, output: str | None) -> None:
    """Show NPU nodes (labels, NPUs capacity/allocatable/requested, device plugin), components, MindIE services.

    Multi-pod MindIE instances also show their Volcano PodGroup phase and, while
    pods wait, Volcano's reason in one line."""
    from kubectl_ascend.gang import gang_line
    from kubectl_ascend.pymotor import summary as motor_summary
    from kubectl_ascend.status import cluster_status

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
            out += "\n\n" + table(["MINDIE SERVICE", "NAMESPACE", "MODE", "READY PODS (BY ROLE)", "NPUS", "RANKTABLE",
                                    "P:D (BAND)"],
                                   [[s["release"], s["namespace"], s["mode"],
                                     " ".join(f"{k}={v['ready']}/{v['pods']}" for k, v in s["roles"].items()),
                                     s["npus"], s["ranktable"] or "-", _pd_ratio(s.get("scale"))]
                                    for s in d["services"]])
            motors = [f"  {s['namespace']}/{s['release']}: {escape(motor_summary(s['controlPlane']))}"
                      for s in d["services"] if s.get("controlPlane")]
            if motors:
                out += "\n\nPyMotor control plane (asked through the API server's service proxy):\n" + "\n".join(motors)
            gangs = [f"  {s['namespace']}/{s['release']} {escape(gang_line(i))}" for s in d["services"]
                     for i in s["instances"]]
            if gangs:
                out += "\n\nGang scheduling (Volcano PodGroups, per instance):\n" + "\n".join(gangs)
        return out

    emit(data, fmt(settings, output), text)


@click.command("doctor", cls=StrictCommand)
@RELEASE_OPT
@MINDCLUSTER_OPT
@output_option
@pass_settings
def doctor(settings: Settings, release: str, mindcluster_version: str | None, output: str | None) -> None:
    """Check the cluster for MindCluster readiness: PASS / WARN / FAIL with the fix for each. Exit 1 on FAIL.

    The cluster is checked against a MindCluster release profile (--mindcluster-version, else
    the installed release's, else 26.0.0): the node labels its device plugin needs, the
    device-plugin topology, the Volcano version and the Kubernetes range of that Volcano."""
    from kubectl_ascend.doctor import doctor as run_doctor
    from kubectl_ascend.releases import choose

    checked_mindcluster_version(mindcluster_version)
    installed, problem = installed_release_values(settings, release) if not mindcluster_version else (None, None)
    if problem:
        warn(problem)
    choice = choose(mindcluster_version, None, installed, release)
    report = run_doctor(settings.kube(), choice.release)
    data = {"mindcluster": choice.as_dict(), "checks": [c.as_dict() for c in report.checks], "failed": report.failed}

    def text(d: dict[str, Any]) -> str:
        lines = [f"profile: {choice.summary()}"]
        for c in d["checks"]:
            # one line each: a check's message may quote the cluster (image tags, Volcano's reasons)
            lines.append(f"[{c['status']}] {c['check']}: {escape(c['message'])}")
            if c["fix"] and c["status"] != "PASS":
                lines.append(f"       fix: {escape(c['fix'])}")
        n = {s: sum(c["status"] == s for c in d["checks"]) for s in ("PASS", "WARN", "FAIL")}
        lines.append(f"{n['PASS']} passed, {n['WARN']} warnings, {n['FAIL']} failed")
        return "\n".join(lines)

    emit(data, fmt(settings, output), text)
    if report.failed:
        sys.exit(1)
