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
from kubectl_ascend.output import FORMATS, emit, info, table, warn

_VERBOSE = {"on": False}


class Settings:
    """Global options, shared by every command through the click context."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None, output: str,
                 verbose: int) -> None:
        self.kubeconfig, self.context, self.namespace = kubeconfig, context, namespace
        self.output, self.verbose = output, verbose

    def kube(self, **kw: Any) -> Any:
        from kubectl_ascend.kube import Kube

        return Kube(self.kubeconfig, self.context, **kw)


pass_settings = click.make_pass_decorator(Settings)

_CTX = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def output_option(f: Any) -> Any:
    """-o on subcommands too, since kubectl users type it after the verb."""
    return click.option("-o", "--output", "output", type=click.Choice(FORMATS), default=None,
                        help="Output format (overrides the global -o).")(f)


def fmt(settings: Settings, output: str | None) -> str:
    return output or settings.output


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
    "images": "kubectl_ascend.commands.images:images",
    "mindie": "kubectl_ascend.commands.mindie:mindie_group",
}


class LazyGroup(click.Group):
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
@click.option("-n", "--namespace", metavar="NS", help="Namespace for namespaced operations.")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr; -v also prints tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, kubeconfig: str | None, context: str | None, namespace: str | None,
        output: str, verbose: int) -> None:
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
    if verbose:  # logging costs ~14 ms to import: only when asked for
        import logging

        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        # The kubernetes client logs request bodies at DEBUG (bootstrap tokens among them): keep it quiet.
        for noisy in ("kubernetes", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = Settings(kubeconfig, context, namespace, output, verbose)


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


_GLOBAL_WITH_VALUE = ("--kubeconfig", "--context", "-n", "--namespace")
_GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "--verbose")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options given after the subcommand to the front, as kubectl allows flags anywhere."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        if a in _GLOBAL_FLAGS:
            front.append(a)
        elif a in _GLOBAL_WITH_VALUE and i + 1 < len(argv):
            front += [a, argv[i + 1]]
            i += 1
        elif any(a.startswith(g + "=") for g in _GLOBAL_WITH_VALUE if g.startswith("--")):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turn every error into one line on stderr and an exit code."""
    argv = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        cli.main(args=argv, prog_name="kubectl ascend", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(1)
    except click.UsageError as e:
        e.show()
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except errors.AscendError as e:
        if _VERBOSE["on"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except Exception as e:  # a bug: say so, show the traceback only with -v
        if _VERBOSE["on"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: unexpected {type(e).__name__}: {e} (rerun with -v for a traceback)\n")
        sys.exit(1)
    sys.exit(0)


__all__ = ["cli", "main", "Settings", "pass_settings", "output_option", "fmt", "emit", "info", "table", "warn"]
