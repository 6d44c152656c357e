"""Command line: parse options, check they fit together, call the library, render.

Library modules never import click; errors are turned into `error: ...` and an
exit code in exactly one place, `main`. Heavy modules (the kubernetes client,
pyhelm3) are imported inside commands so `--help` stays fast.
"""
from __future__ import annotations

import sys
from typing import Any

import click

from kubectl_ascend import __version__, errors
from kubectl_ascend.commands._common import GLOBAL_WITH_VALUE, DRY_RUN_MODES, Settings, StrictGroup, hoist_global_options, \
    output_option, pass_settings, fmt, usage_check
from kubectl_ascend.output import FORMATS, emit, error, info

_VERBOSE = {"on": False}


_CTX = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


#: Subcommands are imported only when used, so one command never pays for the others' imports.
LAZY_COMMANDS = {
    "join-cmd": "kubectl_ascend.commands.onboarding:join_cmd",
    "token": "kubectl_ascend.commands.onboarding:token_group",
    "label-node": "kubectl_ascend.commands.labels:label_node",
    "models": "kubectl_ascend.commands.labels:models",
    "install": "kubectl_ascend.commands.stack:install",
    "uninstall": "kubectl_ascend.commands.stack:uninstall",
    "status": "kubectl_ascend.commands.stack:status",
    "doctor": "kubectl_ascend.commands.stack:doctor",
    "diagnose": "kubectl_ascend.commands.diagnose:diagnose",
    "preflight": "kubectl_ascend.commands.preflight:preflight",
    "images": "kubectl_ascend.commands.images:images",
    "mindie": "kubectl_ascend.commands.mindie:mindie_group",
    "completion": "kubectl_ascend.commands.completion:completion",
}


class LazyGroup(StrictGroup):
    """A click group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            import importlib

            module, attr = LAZY_COMMANDS[name].split(":")
            cmd: click.Command = getattr(importlib.import_module(module), attr)
            return cmd
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings=_CTX)
@click.version_option(__version__, "--version", prog_name="kubectl-ascend", message="%(prog)s %(version)s")
@click.option("--kubeconfig", envvar=None, metavar="PATH", help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--context", metavar="NAME", help="The kubeconfig context to use.")
@click.option("-n", "--namespace", metavar="NS",
              help="Namespace for namespaced operations (default: the context's namespace, else default).")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--as", "as_user", metavar="USER", help="Act as this user (impersonation, like kubectl --as).")
@click.option("--as-group", "as_groups", metavar="GROUP", multiple=True,
              help="Act as a member of this group (repeatable, like kubectl --as-group).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr; -v also prints tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, kubeconfig: str | None, context: str | None, namespace: str | None,
        output: str, as_user: str | None, as_groups: tuple[str, ...], verbose: int) -> None:
    """Onboard Huawei Ascend NPU servers and run MindCluster / MindIE on Kubernetes.

    \b
    Typical flow:
      kubectl ascend join-cmd --output-file join.sh   # hand join.sh to the new server
      kubectl ascend label-node --all                  # MindCluster labels from NPU resources
      kubectl ascend label-node mgmt-0 --role master   # the management node
      kubectl ascend install --wait                    # device plugin, Volcano, Ascend Operator
      kubectl ascend status / doctor
    """
    _VERBOSE["on"] = verbose > 0
    if namespace is not None:
        from kubectl_ascend import validate

        usage_check(validate.namespace, namespace, "-n/--namespace")
    if verbose:  # logging costs ~14 ms to import: only when asked for
        import logging

        from kubectl_ascend.output import LogFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LogFormatter("%(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO, handlers=[handler])
        # The kubernetes client logs request bodies at DEBUG (bootstrap tokens among them): keep it quiet.
        for noisy in ("kubernetes", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if as_groups and not as_user:
        raise click.UsageError("--as-group needs --as (the API server impersonates groups only together with a user)")
    ctx.obj = Settings(kubeconfig, context, namespace, output, verbose, as_user, as_groups)


@cli.command()
@output_option
@pass_settings
def version(settings: Settings, output: str | None) -> None:
    """Print the plugin and bundled chart versions, and the cluster's when it is reachable."""
    data: dict[str, Any] = {"plugin": __version__, "chart": None, "server": None}
    try:
        import yaml

        from kubectl_ascend.helm import UMBRELLA, charts_root

        meta = yaml.safe_load((charts_root() / UMBRELLA / "Chart.yaml").read_text())
        data["chart"] = f"{meta['name']}-{meta['version']} (MindCluster {meta.get('appVersion', '?')})"
    except (errors.AscendError, OSError, KeyError, TypeError):
        data["chart"] = None
    try:
        v = settings.kube().server_version()
        data["server"] = v.get("gitVersion")
    except errors.AscendError as e:
        data["serverError"] = str(e)

    def text(d: dict[str, Any]) -> str:
        lines = [f"Plugin Version: {d['plugin']}", f"Bundled Chart: {d['chart'] or 'not found'}"]
        lines.append(f"Server Version: {d['server']}" if d["server"] else f"Server Version: unavailable ({d['serverError']})")
        return "\n".join(lines)

    emit(data, fmt(settings, output), text)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turn every error into one line on stderr and an exit code.

    Exit codes: 0 success; 1 runtime error (the cluster, a file, helm, a partial failure);
    2 usage error (a malformed or conflicting flag or argument); 130 interrupted (Ctrl-C).
    """
    import os

    if os.environ.get("_KUBECTL_ASCEND_COMPLETE"):  # `kubectl-ascend <TAB>` through a completion script
        from kubectl_ascend.commands.completion import shell_main

        sys.exit(shell_main(cli, os.environ["_KUBECTL_ASCEND_COMPLETE"]))
    argv = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        cli.main(args=argv, prog_name="kubectl ascend", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:  # click turns Ctrl-C outside our own handlers into Abort
        error("interrupted; nothing more was done")
        _exit_now(130)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else f"kubectl ascend {_command_words(argv)}"
        error(f"{_usage_message(e)}\nSee '{cmd} --help' for usage.")
        sys.exit(2)
    except click.ClickException as e:
        error(_one_line(e.format_message()))
        sys.exit(e.exit_code)
    except errors.AscendError as e:
        if _VERBOSE["on"]:
            _traceback()
        error(str(e))
        if isinstance(e, errors.UsageError):
            info(f"See 'kubectl ascend {_command_words(argv)} --help' for usage.")
        if isinstance(e, errors.Interrupted):
            _exit_now(e.exit_code)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        error("interrupted")
        _exit_now(130)
    except BrokenPipeError:  # `... | head`: the reader is gone; nothing to report
        sys.exit(1)
    except Exception as e:  # a bug: say so, show the traceback only with -v
        if _VERBOSE["on"]:
            _traceback()
        error(f"internal error in kubectl-ascend ({type(e).__name__}: {_one_line(str(e))}); "
              "please report it; rerun with -v for a traceback")
        sys.exit(1)
    sys.exit(0)


def kubectl_complete_main() -> None:
    """Console script kubectl_complete-ascend: kubectl's plugin completion protocol (commands/completion.py)."""
    from kubectl_ascend.commands.completion import kubectl_complete

    kubectl_complete(cli, sys.argv[1:])


def _traceback() -> None:
    import traceback

    info(traceback.format_exc().rstrip("\n"))


def _exit_now(code: int) -> None:
    """Exit after Ctrl-C without waiting for requests still in flight in worker threads.

    A normal exit joins every worker thread, so one request to an API server that no
    longer answers would hold the terminal for the whole client timeout. The report
    is already printed; atexit handlers (temporary credential files) still run.
    """
    import atexit
    import os
    import threading

    if threading.active_count() == 1:  # nothing in flight: an ordinary exit
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _usage_message(e: click.UsageError) -> str:
    import re

    msg = _one_line(e.format_message())
    m = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)", msg)
    if m:  # click's wording; ours names the arguments and the likely cause
        extra = m.group(1)
        msg = f"too many arguments: {extra}"
        if set(extra.split()) & set(DRY_RUN_MODES):
            msg += " (a --dry-run mode is written with '=': --dry-run=client or --dry-run=server)"
    return msg


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _command_words(argv: list[str]) -> str:
    """The subcommand words of argv (for the --help hint), e.g. `token revoke`."""
    words: list[str] = []
    group: Any = cli
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in GLOBAL_WITH_VALUE:
            skip = True
            continue
        if a.startswith("-"):
            continue
        if not isinstance(group, click.Group) or a not in group.list_commands(None):  # type: ignore[arg-type]
            break
        words.append(a)
        group = group.get_command(None, a)  # type: ignore[arg-type]
    return " ".join(words) or "<command>"


__all__ = ["cli", "main", "kubectl_complete_main"]
