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
                 verbose: int, as_user: str | None = None, as_groups: tuple[str, ...] = ()) -> None:
        self.kubeconfig, self.context, self.namespace = kubeconfig, context, namespace
        self.output, self.verbose = output, verbose
        self.as_user, self.as_groups = as_user, tuple(as_groups)

    def kube(self, **kw: Any) -> Any:
        from kubectl_ascend.kube import Kube

        return Kube(self.kubeconfig, self.context, impersonate_user=self.as_user,
                    impersonate_groups=self.as_groups, **kw)

    def effective_namespace(self) -> str:
        """-n if given, else the kubeconfig context's namespace, else `default` (as kubectl)."""
        if self.namespace:
            return self.namespace
        from kubectl_ascend.kube import read_kubeconfig

        return read_kubeconfig(self.kubeconfig, self.context).namespace or "default"


pass_settings = click.make_pass_decorator(Settings)

_CTX = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


DRY_RUN_MODES = ("none", "client", "server")


def dry_run_option(supported: tuple[str, ...] = DRY_RUN_MODES, help: str = "") -> Any:
    """--dry-run with kubectl's grammar on every command that changes something.

    `--dry-run` alone means client (main() rewrites it to `--dry-run=client`, as kubectl's
    NoOptDefVal does, so the next argument is never taken as its value); `--dry-run=none|client|server`.
    A mode the command cannot do is a usage error naming the modes it can.
    """
    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        if value not in supported:
            raise click.BadParameter(f"{value!r}: this command supports {', '.join(supported)}", ctx, param)
        return value

    text = ("--dry-run or --dry-run=client: " + (help or "show what would change, change nothing.")
            + (" --dry-run=server: the API server also validates it." if "server" in supported else "")
            + " --dry-run=none (default): make the change.")
    return click.option("--dry-run", type=click.Choice(DRY_RUN_MODES), default="none", metavar="[=MODE]",
                        callback=check, help=text)


def usage_check(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a validator on command-line input: its InvalidInput becomes a usage error (exit 2)."""
    try:
        return fn(*args, **kw)
    except errors.UsageError:
        raise
    except errors.InvalidInput as e:
        raise errors.UsageError(str(e)) from None


class StrictCommand(click.Command):
    """A command that refuses an option value that looks like a flag (`--endpoint --ttl 2h`).

    Such a value is almost always a forgotten argument; write `--opt=-value` if it is meant.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_flag_values(self, args)
        return super().parse_args(ctx, args)


class StrictGroup(click.Group):
    command_class = StrictCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_flag_values(self, args)
        return super().parse_args(ctx, args)


StrictGroup.group_class = StrictGroup


def refuse_flag_values(cmd: click.Command, args: list[str]) -> None:
    takes_value = {o for p in cmd.params if isinstance(p, click.Option) and not p.is_flag and not p.count
                   for o in (*p.opts, *p.secondary_opts)}
    for i, a in enumerate(args):
        if a == "--":
            return
        if a in takes_value and i + 1 < len(args) and args[i + 1].startswith("-") and args[i + 1] != "-":
            raise click.UsageError(f"option {a} needs a value but is followed by {args[i + 1]!r}, which looks "
                                   f"like a flag; give the value, or write {a}={args[i + 1]} if it is one")
        if isinstance(cmd, click.Group) and not a.startswith("-") and (i == 0 or args[i - 1] not in takes_value):
            return  # the subcommand starts here; it checks its own options


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

        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
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


_GLOBAL_WITH_VALUE = ("--kubeconfig", "--context", "-n", "--namespace", "--as", "--as-group")
_GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "--verbose")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Normalise argv the way kubectl reads flags.

    Global options given after the subcommand move to the front (kubectl allows flags
    anywhere), in every form pflag accepts: `-n NS`, `-nNS`, `-n=NS`, `--namespace=NS`.
    `-o=json` becomes `-ojson`, and a bare `--dry-run` becomes `--dry-run=client`, so
    the argument after it is never taken as its value. Nothing after `--` is touched.
    """
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
        elif a.startswith("-n") and len(a) > 2:
            front += ["-n", a[3:] if a.startswith("-n=") else a[2:]]
        elif a.startswith("-o="):
            rest.append("-o" + a[3:])
        elif a == "--dry-run":
            rest.append("--dry-run=client")
        else:
            rest.append(a)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turn every error into one line on stderr and an exit code.

    Exit codes: 0 success; 1 runtime error (the cluster, a file, helm, a partial failure);
    2 usage error (a malformed or conflicting flag or argument); 130 interrupted (Ctrl-C).
    """
    import os

    if os.environ.get("_KUBECTL_ASCEND_COMPLETE"):  # `kubectl-ascend <TAB>` through a completion script
        from kubectl_ascend.commands.completion import shell_main

        sys.exit(shell_main(os.environ["_KUBECTL_ASCEND_COMPLETE"]))
    argv = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        cli.main(args=argv, prog_name="kubectl ascend", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:  # click turns Ctrl-C outside our own handlers into Abort
        sys.stderr.write("error: interrupted; nothing more was done\n")
        _exit_now(130)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else f"kubectl ascend {_command_words(argv)}"
        sys.stderr.write(f"error: {_usage_message(e)}\nSee '{cmd} --help' for usage.\n")
        sys.exit(2)
    except click.ClickException as e:
        sys.stderr.write(f"error: {_one_line(e.format_message())}\n")
        sys.exit(e.exit_code)
    except errors.AscendError as e:
        if _VERBOSE["on"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {e}\n")
        if isinstance(e, errors.UsageError):
            sys.stderr.write(f"See 'kubectl ascend {_command_words(argv)} --help' for usage.\n")
        if isinstance(e, errors.Interrupted):
            _exit_now(e.exit_code)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        _exit_now(130)
    except BrokenPipeError:  # `... | head`: the reader is gone; nothing to report
        sys.exit(1)
    except Exception as e:  # a bug: say so, show the traceback only with -v
        if _VERBOSE["on"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: internal error in kubectl-ascend ({type(e).__name__}: {_one_line(str(e))}); "
                         "please report it; rerun with -v for a traceback\n")
        sys.exit(1)
    sys.exit(0)


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
        if a in _GLOBAL_WITH_VALUE:
            skip = True
            continue
        if a.startswith("-"):
            continue
        if not isinstance(group, click.Group) or a not in group.list_commands(None):  # type: ignore[arg-type]
            break
        words.append(a)
        group = group.get_command(None, a)  # type: ignore[arg-type]
    return " ".join(words) or "<command>"


__all__ = ["cli", "main", "Settings", "pass_settings", "output_option", "dry_run_option", "usage_check",
           "StrictCommand", "StrictGroup", "fmt", "emit", "info", "table", "warn"]
