"""Shell completion: `kubectl ascend completion bash|zsh|fish` and the kubectl_complete-ascend executable.

Both ride on click's completion machinery (click.shell_completion): click finds the
command and the parameter being completed; parameters whose values live in the cluster
(node, release and namespace names) get them from kubectl_ascend.complete, which bounds
every lookup by a deadline and is silent on failure.

Two ways in:
- `kubectl-ascend <TAB>`: the script printed by `kubectl ascend completion SHELL` runs
  kubectl-ascend with _KUBECTL_ASCEND_COMPLETE=<shell>_complete (click's protocol);
  cli.main hands that to shell_main() here, with the root command.
- `kubectl ascend <TAB>`: kubectl's own completion (kubectl >= 1.26) runs
  `kubectl_complete-ascend WORD... PARTIAL` — the words typed after `ascend` and the
  partial word ("" for a new one) — and reads one candidate per line (`value<TAB>help`
  allowed), optionally followed by a last line `:<cobra ShellCompDirective>`
  (k8s.io/kubectl pkg/cmd/plugin/plugin_completion.go, getPluginCompletions). The
  candidates are used as printed, so they are filtered by the partial word here.
  kubectl passes its stderr through to the terminal: nothing is ever written there.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import click
from click.shell_completion import BashComplete, CompletionItem, FishComplete, ShellComplete, ZshComplete

from kubectl_ascend.commands._common import StrictCommand, hoist_global_options
from kubectl_ascend.complete import Target
from kubectl_ascend.output import escape, raw

PROG = "kubectl-ascend"
COMPLETE_VAR = "_KUBECTL_ASCEND_COMPLETE"

# cobra's ShellCompDirective bits (github.com/spf13/cobra completions.go)
DIRECTIVE_DEFAULT = 0        # no candidates: the shell completes file names
DIRECTIVE_NO_FILE_COMP = 4
DIRECTIVE_FILTER_DIRS = 16

_NS_OPTS = ("-n", "--namespace")


def _globals(ctx: click.Context) -> tuple[Target, str | None]:
    """The cluster and identity the command would use (--kubeconfig, --context, --as, --as-group) and -n."""
    root = ctx.find_root().params
    return Target(root.get("kubeconfig"), root.get("context"), root.get("as_user"),
                  tuple(root.get("as_groups") or ())), root.get("namespace")


def _nodes(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from kubectl_ascend.complete import matching, node_names

    target, _ = _globals(ctx)
    chosen = set(ctx.params.get("nodes") or ())
    return [CompletionItem(n) for n in matching(node_names(target), incomplete) if n not in chosen]


def _releases(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from kubectl_ascend.complete import matching, release_names

    target, namespace = _globals(ctx)
    return [CompletionItem(r) for r in matching(release_names(target, namespace), incomplete)]


def _namespaces_of(target: Target, incomplete: str) -> list[CompletionItem]:
    from kubectl_ascend.complete import matching, namespace_names

    return [CompletionItem(n) for n in matching(namespace_names(target), incomplete)]


def _server_models(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from kubectl_ascend.labels import SERVER_MODELS

    return [CompletionItem(k, help=m.name)
            for k, m in SERVER_MODELS.items() if k.startswith(incomplete)]


def _contexts_of(kubeconfig: str | None, incomplete: str) -> list[CompletionItem]:
    """Context names from the kubeconfig files (read locally, no cluster call)."""
    import yaml

    from kubectl_ascend.kube import kubeconfig_paths

    names: set[str] = set()
    for path in kubeconfig_paths(kubeconfig):
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
            names |= {str(c["name"]) for c in doc.get("contexts") or [] if isinstance(c, dict) and c.get("name")}
        except (OSError, yaml.YAMLError, AttributeError):
            continue
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


#: Parameters whose values come from the cluster (or a local table), by parameter name;
#: ("label-node", "nodes") is only that command's NODE arguments.
DYNAMIC: dict[tuple[str | None, str], Callable[[click.Context, str], list[CompletionItem]]] = {
    ("label-node", "nodes"): _nodes,
    (None, "release"): _releases,
    (None, "server_model"): _server_models,
    (None, "namespace"): lambda ctx, inc: _namespaces_of(_globals(ctx)[0], inc),
    (None, "context"): lambda ctx, inc: _contexts_of(_globals(ctx)[0].kubeconfig, inc),
}


def complete_words(root: click.Command, args: list[str], incomplete: str) -> list[CompletionItem]:
    """Candidates for `kubectl ascend ARGS... INCOMPLETE`; [] when anything goes wrong."""
    from click.shell_completion import _resolve_context, _resolve_incomplete

    # A global option with its value still to come, anywhere on the line (kubectl allows
    # `install -n <TAB>`; click only knows -n on the root).
    if args and args[-1] in (*_NS_OPTS, "--context", "--kubeconfig") and not incomplete.startswith("-"):
        target = _peek_globals(args[:-1])
        if args[-1] == "--kubeconfig":
            return [CompletionItem(incomplete, type="file")]
        if args[-1] == "--context":
            return _contexts_of(target.kubeconfig, incomplete)
        return _namespaces_of(target, incomplete)
    for opt in ("--namespace=", "--context=", "--kubeconfig="):
        if incomplete.startswith(opt):
            value = incomplete[len(opt):]
            items = complete_words(root, [*args, opt[:-1]], value)
            return [CompletionItem(opt + i.value, type=i.type, help=i.help) if i.type == "plain" else i
                    for i in items]
    ctx = _resolve_context(root, {}, "kubectl ascend", hoist_global_options(list(args)))
    obj, incomplete = _resolve_incomplete(ctx, args, incomplete)
    if isinstance(obj, click.Parameter) and obj.name:
        fn = DYNAMIC.get((ctx.command.name, obj.name)) or DYNAMIC.get((None, obj.name))
        if fn is not None:
            return fn(ctx, incomplete)
    return obj.shell_complete(ctx, incomplete)


def _peek_globals(args: list[str]) -> Target:
    """--kubeconfig, --context, --as and --as-group given earlier on the line (without resolving commands)."""
    found: dict[str, str] = {}
    groups: list[str] = []
    for i, a in enumerate(args):
        for opt in ("--kubeconfig", "--context", "--as", "--as-group"):
            value = args[i + 1] if a == opt and i + 1 < len(args) else \
                a[len(opt) + 1:] if a.startswith(opt + "=") else None
            if value is None:
                continue
            if opt == "--as-group":
                groups.append(value)
            else:
                found[opt] = value
    return Target(found.get("--kubeconfig"), found.get("--context"), found.get("--as"), tuple(groups))


def _safe(root: click.Command, args: list[str], incomplete: str) -> list[CompletionItem]:
    try:
        return complete_words(root, args, incomplete)
    except BaseException:  # noqa: BLE001 - a <TAB> must never print a traceback or an error line
        return []


class _Dynamic(ShellComplete):
    """click's shell protocols with our candidates (cluster lookups, global options anywhere)."""

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        return _safe(self.cli, args, incomplete)


class Bash(_Dynamic, BashComplete):
    pass


class Zsh(_Dynamic, ZshComplete):
    pass


class Fish(_Dynamic, FishComplete):
    pass


SHELLS: dict[str, type[ShellComplete]] = {"bash": Bash, "zsh": Zsh, "fish": Fish}


def _shell(root: click.Command, name: str) -> ShellComplete:
    return SHELLS[name](root, {}, PROG, COMPLETE_VAR)


def shell_main(root: click.Command, instruction: str) -> int:
    """Answer click's completion protocol (`_KUBECTL_ASCEND_COMPLETE=bash_complete` etc.)."""
    shell, _, action = instruction.partition("_")
    if shell not in SHELLS or action not in ("complete", "source"):
        return 1
    comp = _shell(root, shell)
    out = comp.source() if action == "source" else _silently(comp.complete)
    if out:
        raw(out if out.endswith("\n") else out + "\n")
    return 0


def _silently(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except BaseException:  # noqa: BLE001
        return ""


def kubectl_complete_lines(root: click.Command, words: list[str]) -> list[str]:
    """What kubectl_complete-ascend prints for `kubectl ascend WORDS...` (last word = the partial one)."""
    args, incomplete = (words[:-1], words[-1]) if words else ([], "")
    items = _safe(root, args, incomplete)
    if any(i.type == "dir" for i in items):
        return [f":{DIRECTIVE_FILTER_DIRS}"]
    if any(i.type == "file" for i in items):
        return [f":{DIRECTIVE_DEFAULT}"]
    lines = []
    for i in items:
        value = escape(i.value)
        lines.append(f"{value}\t{_one_line(i.help)}" if i.help else value)
    return [*lines, f":{DIRECTIVE_NO_FILE_COMP}"]


def _one_line(text: Any, width: int = 80) -> str:
    line = escape(" ".join(str(text).split()))
    return line if len(line) <= width else line[:width - 3].rstrip() + "..."


def kubectl_complete(root: click.Command, words: list[str]) -> None:
    """kubectl's plugin completion protocol (cli.kubectl_complete_main, the kubectl_complete-ascend script)."""
    lines = kubectl_complete_lines(root, words)
    try:
        raw("\n".join(lines) + "\n")
    except (BrokenPipeError, OSError):
        pass
    # Leave at once: a cluster lookup still in flight past the deadline must not hold the shell.
    os._exit(0)


@click.command(cls=StrictCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shell", type=click.Choice(sorted(SHELLS)))
def completion(shell: str) -> None:
    """Print a shell completion script for kubectl-ascend (bash, zsh or fish).

    \b
    `kubectl ascend <TAB>` completes through kubectl's own completion (kubectl 1.26+),
    which runs the kubectl_complete-ascend executable installed with the plugin: load
    kubectl's completion (`source <(kubectl completion bash)`) and keep
    kubectl_complete-ascend on PATH. This script covers running `kubectl-ascend <TAB>`
    directly. Node, release and namespace names are read from the cluster (at most
    2.5 s, nothing shown on failure); --kubeconfig/--context/-n/--as/--as-group typed
    earlier count.

    \b
      bash:  source <(kubectl ascend completion bash)           # ~/.bashrc
      zsh:   source <(kubectl ascend completion zsh)            # ~/.zshrc, after compinit
      fish:  kubectl ascend completion fish > ~/.config/fish/completions/kubectl-ascend.fish
    """
    header = (f"# {shell} completion for kubectl-ascend (generated by `kubectl ascend completion {shell}`).\n"
              "# `kubectl ascend <TAB>` completes through kubectl's completion and kubectl_complete-ascend.\n")
    raw(header + _shell(click.get_current_context().find_root().command, shell).source().rstrip("\n") + "\n")
