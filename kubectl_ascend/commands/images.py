"""images: every image the stack (and a mindie-service release) would pull, from the real render."""
from __future__ import annotations

from typing import Any

import click

from kubectl_ascend.commands._common import Settings, StrictCommand, fmt, output_option, pass_settings
from kubectl_ascend.commands.stack import PULL_SECRET_OPT, checked_mindcluster_version, checked_pull_secrets, \
    mindcluster_option
from kubectl_ascend.output import emit, table


@click.command("images", cls=StrictCommand)
@mindcluster_option("global.mindcluster.version of -f/--set, else {default} (the cluster is not read)")
@click.option("-f", "--values", "values_files", multiple=True, metavar="FILE",
              help="Values file for the stack, as given to install (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Set a stack value, e.g. global.imageRegistry=registry.example.com:5000.")
@click.option("--mindie-values", metavar="FILE", help="Values file of a mindie-service release to list too.")
@click.option("--chart", metavar="PATH|OCI", help="Chart to render instead of the bundled ascend-stack.")
@PULL_SECRET_OPT
@output_option
@pass_settings
def images(settings: Settings, mindcluster_version: str | None, values_files: tuple[str, ...],
           sets: tuple[str, ...], mindie_values: str | None, chart: str | None, pull_secrets: tuple[str, ...],
           output: str | None) -> None:
    """List every image the stack would pull, taken from the rendered manifests.

    Renders the umbrella with the same -f/--set values you give `install` (and, with
    --mindie-values, a mindie-service release) without contacting the cluster, and lists
    the image of every container of every pod template. global.imageRegistry rewrites
    them all. --mindcluster-version picks the release profile (the releases and the default
    are listed under Options; this command does not look at the cluster). Mirror them before an air-gapped
    install (README: "Air-gapped installs").

    \b
    Examples:
      kubectl ascend images
      kubectl ascend images --mindcluster-version 26.1.0 -o json
      kubectl ascend images --set ascend-clusterd.enabled=true -o json
      kubectl ascend images --set global.imageRegistry=registry.local:5000 --pull-secret regcred
      kubectl ascend images --mindie-values mindie.yaml -o yaml
    """
    from kubectl_ascend.commands.stack import _load_values
    from kubectl_ascend.images import list_images

    checked_mindcluster_version(mindcluster_version)
    user = _load_values(values_files, sets)
    mindie = _load_values((mindie_values,), ()) if mindie_values else None
    helm = settings.helm()
    data = list_images(helm, user_values=user, pull_secrets=checked_pull_secrets(pull_secrets), chart=chart, mindie=mindie,
                       mindcluster_version=mindcluster_version,
                       namespace=settings.namespace or "mindx-dl")

    def text(d: dict[str, Any]) -> str:
        rows = [[i["image"], len(i["usedBy"])] for i in d["images"]]
        foot = f"\n{len(rows)} image(s); pull secrets on the pods: {', '.join(d['pullSecrets']) or 'none'}"
        return table(["IMAGE", "CONTAINERS"], rows) + foot

    emit(data, fmt(settings, output), text)
