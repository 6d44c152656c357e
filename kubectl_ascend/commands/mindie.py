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


def _count(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"{value}: give a whole number of instances, at least 1", ctx, param)
    return value


@mindie_group.command("scale")
@click.argument("release")
@click.option("--prefill", type=int, callback=_count, help="Prefill instances wanted (default: unchanged).")
@click.option("--decode", type=int, callback=_count, help="Decode instances wanted (default: unchanged).")
@click.option("--ratio", metavar="MIN:MAX",
              help="Refuse a result whose prefill/decode ratio is outside MIN..MAX (default: the release's "
                   "scaling.ratio value; none when empty).")
@click.option("--chart", metavar="PATH|REF",
              help="The mindie-service chart to upgrade with (default: the bundled one, which must be the "
                   "release's chart version).")
@click.option("--wait", is_flag=True,
              help="After the last upgrade, wait until the new instances run whole (and, pd, the global "
                   "ranktable is rewritten).")
@click.option("--watch", "watch_wishes", is_flag=True,
              help="Keep running: follow ConfigMap mindie-scale-RELEASE (keys prefill, decode; created with the "
                   "current counts) and scale to each new wish through the same checks, writing the outcome to "
                   "its status key. Not with --prefill/--decode/--dry-run.")
@click.option("--timeout", default="10m", show_default=True, help="How long each wait may take (Go duration).")
@dry_run_option(("none", "client"), help="print the plan (after every check) and change nothing.")
@output_option
@pass_settings
def scale(settings: Settings, release: str, prefill: int | None, decode: int | None, ratio: str | None,
          chart: str | None, wait: bool, watch_wishes: bool, timeout: str, dry_run: str, output: str | None) -> None:
    """Scale the Prefill and Decode instances of a pd or pymotor release, whole gangs only.

    Checks first, changes nothing when a check fails: every NEW instance must fit as a
    whole gang on the free NPUs of the nodes its pods select (allocatable minus what
    running pods request, and the Volcano queue's capability when it sets one), and
    prefill/decode must stay within the P:D band (--ratio, else the release's
    scaling.ratio value). Then prints the plan and runs it as Helm upgrade(s) of the
    release with its own values and only prefill/decode.instances changed: the role that
    grows first, the role that shrinks last (two upgrades when one grows and the other
    shrinks; the second waits for the first's new instances). Existing instances keep
    their pods. pd: the global ranktable is rewritten without removed instances before
    they go, and once the new instances' rings-config are completed.

    --watch is the hook for autoscalers: a planner (or a person) writes the wanted
    prefill/decode pair into ConfigMap mindie-scale-RELEASE, and every wish goes through
    these checks; a refused wish changes nothing and its reason is written back.

    \b
    Examples:
      kubectl ascend -n llm mindie scale qwen --prefill 3 --decode 1 --dry-run
      kubectl ascend -n llm mindie scale qwen --prefill 2 --decode 2 --ratio 1:3 --wait
      kubectl ascend -n llm mindie scale qwen --watch
    """
    from kubectl_ascend import scale as lib
    from kubectl_ascend import validate
    from kubectl_ascend.tokens import parse_duration

    usage_check(validate.release_name, release, "release")
    if watch_wishes and (prefill is not None or decode is not None or dry_run != "none" or wait):
        raise errors.UsageError("--watch takes the counts from ConfigMap mindie-scale-RELEASE and always waits: "
                                "it does not go with --prefill, --decode, --wait or --dry-run")
    if prefill is None and decode is None and not watch_wishes:
        raise errors.UsageError("give --prefill N and/or --decode M (the instances wanted), or --watch")
    if ratio is not None:
        usage_check(lib.parse_ratio, ratio, "--ratio")
    seconds = usage_check(parse_duration, timeout, "--timeout").total_seconds()
    if seconds == 0:
        raise errors.UsageError(f"--timeout {timeout!r} is zero: give a Go duration of at least 1s, e.g. 10m")
    ns = settings.effective_namespace()
    kube, helm = settings.kube(), settings.helm()
    out = fmt(settings, output)
    if watch_wishes:
        try:
            lib.watch(kube, helm, release, ns, ratio=ratio, chart=chart, seconds=seconds, timeout_text=timeout,
                      report=info)
        except KeyboardInterrupt:
            raise errors.Interrupted(f"stopped watching release {release} in {ns}") from None
        return
    plan, ctx = lib.plan_scale(kube, helm, release, ns, prefill, decode, ratio, chart_given=bool(chart))
    if dry_run != "none" or not plan.steps:
        emit({**plan.to_dict(), "dryRun": dry_run != "none", "applied": []}, out, lambda d: plan.text())
        return
    if out == "text":
        info(plan.text())
    try:
        done = lib.apply_plan(kube, helm, plan, ctx, chart=chart, wait=wait, seconds=seconds, timeout_text=timeout,
                              report=info)
    except KeyboardInterrupt:
        raise errors.Interrupted(f"interrupted while scaling release {release} in {ns}; see `helm history "
                                 f"{release} -n {ns}` and `kubectl ascend status` for where it stopped") from None
    after = ("" if wait or plan.ranktable != "configmap" else
             f"; the new pods wait for the global ranktable: kubectl ascend mindie ranktable {release} -n {ns} --wait")
    emit({**plan.to_dict(), "dryRun": False, "applied": done}, out,
         lambda d: f"release {release} scaled to prefill {plan.target['prefill']}, decode {plan.target['decode']} "
         f"(revision {done[-1]['revision']})" + after)
