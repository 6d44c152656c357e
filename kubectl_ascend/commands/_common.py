"""Click plumbing shared by the root command (cli.py) and the subcommands (commands/*.py).

The global options object (`Settings`), the options every command repeats (-o, --dry-run),
usage checks, the strict command classes, and the kubectl-style argv normalisation.
Nothing here imports the kubernetes client at module level (`--help` stays fast).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from kubectl_ascend import errors
from kubectl_ascend.output import FORMATS

if TYPE_CHECKING:  # the kubernetes client is imported only when a command talks to the cluster
    from kubectl_ascend.helm import Helm
    from kubectl_ascend.kube import Kube


class Settings:
    """Global options, shared by every command through the click context."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None, output: str,
                 verbose: int, as_user: str | None = None, as_groups: tuple[str, ...] = ()) -> None:
        self.kubeconfig, self.context, self.namespace = kubeconfig, context, namespace
        self.output, self.verbose = output, verbose
        self.as_user, self.as_groups = as_user, tuple(as_groups)

    def kube(self, **kw: Any) -> Kube:
        from kubectl_ascend.kube import Kube

        return Kube(self.kubeconfig, self.context, impersonate_user=self.as_user,
                    impersonate_groups=self.as_groups, **kw)

    def helm(self) -> Helm:
        """Helm against the same cluster, context and impersonation as kube()."""
        from kubectl_ascend.helm import Helm

        return Helm(self.kubeconfig, self.context, as_user=self.as_user, as_groups=self.as_groups)

    def effective_namespace(self) -> str:
        """-n if given, else the kubeconfig context's namespace, else `default` (as kubectl)."""
        if self.namespace:
            return self.namespace
        from kubectl_ascend.kube import read_kubeconfig

        return read_kubeconfig(self.kubeconfig, self.context).namespace or "default"


pass_settings = click.make_pass_decorator(Settings)

DRY_RUN_MODES = ("none", "client", "server")


F = TypeVar("F", bound=Callable[..., Any])


def dry_run_option(supported: tuple[str, ...] = DRY_RUN_MODES, help: str = "") -> Callable[[F], F]:
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


def output_option(f: F) -> F:
    """-o on subcommands too, since kubectl users type it after the verb."""
    return click.option("-o", "--output", "output", type=click.Choice(FORMATS), default=None,
                        help="Output format (overrides the global -o).")(f)


def fmt(settings: Settings, output: str | None) -> str:
    return output or settings.output


GLOBAL_WITH_VALUE = ("--kubeconfig", "--context", "-n", "--namespace", "--as", "--as-group")
GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "--verbose")


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
        if a in GLOBAL_FLAGS:
            front.append(a)
        elif a in GLOBAL_WITH_VALUE and i + 1 < len(argv):
            front += [a, argv[i + 1]]
            i += 1
        elif any(a.startswith(g + "=") for g in GLOBAL_WITH_VALUE if g.startswith("--")):
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
