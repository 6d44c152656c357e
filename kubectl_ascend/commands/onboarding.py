"""join-cmd and token list/revoke."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from kubectl_ascend import errors, tokens
from kubectl_ascend.commands._common import Settings, StrictCommand, StrictGroup, dry_run_option, fmt, output_option, \
    pass_settings, usage_check
from kubectl_ascend.output import emit, info, say, table, warn

#: The shortest --ttl: a token must outlive copying the command to the new server.
MIN_TTL = "1m"


@click.command("join-cmd", cls=StrictCommand)
@click.option("--ttl", default="24h", show_default=True,
              help="Token lifetime as a Go duration: digits and the units ns us µs ms s m h (30m, 2h, 1h30m), "
                   f"at least {MIN_TTL}, at most 2562047h. 0 = never expires (needs --allow-non-expiring).")
@click.option("--allow-non-expiring", is_flag=True,
              help="Confirm that --ttl 0 is wanted: a join credential that never expires is dangerous.")
@click.option("--description", help="Human-readable note stored with the token.")
@click.option("--endpoint", metavar="HOST:PORT",
              help="API endpoint the new node uses (default: the server in kube-public/cluster-info, else the "
                   "kubeconfig's; either is refused if malformed). HOST: IPv4, [IPv6] or DNS name; PORT 1-65535; "
                   "HOST alone means HOST:6443, as in kubeadm.")
@click.option("--node-name", metavar="NAME",
              help="Name the node will join with (RFC 1123 subdomain); refused if a Node of that name exists. "
                   "Added to the command.")
@click.option("--control-plane", is_flag=True, help="Join as an additional control-plane node.")
@click.option("--certificate-key", metavar="HEX64",
              help="Key from `kubeadm init phase upload-certs` (with --control-plane): exactly 64 hex digits.")
@click.option("--ensure-rbac", is_flag=True,
              help="Create the kubeadm bootstrap RBAC bindings if they are missing.")
@click.option("--output-file", metavar="PATH",
              help="Write an executable script (mode 0700) that runs the join; the token is not printed.")
@dry_run_option(help="show the command that would be printed (secret masked), create nothing.")
@output_option
@pass_settings
def join_cmd(settings: Settings, ttl: str, allow_non_expiring: bool, description: str | None,
             endpoint: str | None, node_name: str | None, control_plane: bool, certificate_key: str | None,
             ensure_rbac: bool, output_file: str | None, dry_run: str, output: str | None) -> None:
    """Create a bootstrap token and print the `kubeadm join` command for a new node.

    \b
    Examples:
      kubectl ascend join-cmd
      kubectl ascend join-cmd --ttl 2h --node-name atlas-07 --output-file join-atlas-07.sh
      kubectl ascend join-cmd --endpoint 10.0.0.10:6443 -o json

    Every argument of the printed command and of the script is shell-quoted.
    """
    from datetime import timedelta

    from kubectl_ascend.joincmd import JoinRequest, join_command, validate_request
    from kubectl_ascend.kube import read_kubeconfig

    duration = usage_check(tokens.parse_duration, ttl, "--ttl", minimum=timedelta(minutes=1))
    if duration.total_seconds() == 0 and not allow_non_expiring:
        raise click.UsageError("--ttl 0 makes a join credential that never expires; "
                               "add --allow-non-expiring if that is really what you want")
    if allow_non_expiring and duration.total_seconds() != 0:
        raise click.UsageError("--allow-non-expiring only applies with --ttl 0")
    if output_file == "":
        # an empty path is no file: going on would print the token on the terminal it was meant to avoid
        raise click.UsageError("--output-file needs a path (it was empty)")
    if output_file and fmt(settings, output) != "text":
        raise click.UsageError("--output-file keeps the token off the terminal; it cannot be combined with -o json|yaml")
    req = JoinRequest(ttl=duration, description=description, endpoint=endpoint, node_name=node_name,
                      control_plane=control_plane, certificate_key=certificate_key, output_file=output_file,
                      ensure_rbac=ensure_rbac, dry_run=dry_run)
    usage_check(validate_request, req)
    kcfg = read_kubeconfig(settings.kubeconfig, settings.context)
    result = join_command(settings.kube(), kcfg, req, warn)
    for b in result.created_bindings:
        info(f"created {b}")
    reveal = dry_run == "none" and not output_file
    out_fmt = fmt(settings, output)
    if out_fmt != "text":
        emit(result.public(reveal), out_fmt)
    elif dry_run != "none":
        info(f"dry run ({dry_run}): would create Secret {tokens.NAMESPACE}/{tokens.SECRET_PREFIX}{result.token_id}")
        say(result.public(False)["command"])
    elif output_file:
        exp = tokens.rfc3339(result.expiration) if result.expiration else "never"
        say(f"join script written to {output_file} (token {result.token_id}, expires {exp}); "
                   "copy it to the new server and run it as root, then delete it")
    else:
        say(result.command)


@click.group("token", cls=StrictGroup)
def token_group() -> None:
    """List and revoke bootstrap tokens (secrets are never shown)."""


@token_group.command("list")
@output_option
@pass_settings
def token_list(settings: Settings, output: str | None) -> None:
    """List bootstrap tokens: ID, expiry, time left, usages, groups, description."""
    secrets = settings.kube().list_secrets(tokens.NAMESPACE, field_selector=f"type={tokens.SECRET_TYPE}")
    now = datetime.now(timezone.utc)
    infos = sorted((i for i in map(tokens.info_from_secret, secrets) if i), key=lambda i: i.id)
    data = [i.as_dict(now) for i in infos]

    def text(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "No bootstrap tokens found."
        body = []
        for r, i in zip(rows, infos):
            left = i.ttl_left(now)
            left_s = "<forever>" if left is None else ("expired" if left.total_seconds() <= 0 else tokens.format_duration(left))
            body.append([r["id"], r["expiration"] or "<never>", left_s, ",".join(r["usages"]),
                         ",".join(r["groups"]) or "<none>", r["description"] or "<none>"])
        return table(["ID", "EXPIRES", "TIME LEFT", "USAGES", "GROUPS", "DESCRIPTION"], body)

    emit(data, fmt(settings, output), text)


@token_group.command("revoke")
@click.argument("token_ids", nargs=-1, required=True, metavar="ID...")
@dry_run_option(("none", "client"), help="name the tokens that would be revoked, delete nothing.")
@output_option
@pass_settings
def token_revoke(settings: Settings, token_ids: tuple[str, ...], dry_run: str, output: str | None) -> None:
    """Delete bootstrap tokens by the ID `token list` shows (or a whole token; its secret is not echoed).

    Every ID is checked first: one unknown ID deletes nothing. If a delete fails
    midway, the message says which tokens were revoked and which were not (exit 1).
    """
    from kubectl_ascend.tokenrevoke import revoke

    ids = list(dict.fromkeys(usage_check(tokens.token_id_of, t) for t in token_ids))
    result = revoke(settings.kube(), ids, dry_run=dry_run)
    verb = f"would be revoked (dry run: {dry_run})" if dry_run != "none" else "revoked"
    data = {"revoked": result.revoked, "dryRun": dry_run != "none", "secrets": result.secrets}
    if result.failed:
        data["notRevoked"] = result.failed
    emit(data, fmt(settings, output), lambda d: "\n".join(f"token {i} {verb}" for i in d["revoked"]))
    if result.failed:
        raise errors.PartialFailure(result.failure_message())
