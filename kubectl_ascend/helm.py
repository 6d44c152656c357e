"""The one door to Helm: pyhelm3 for every operation it offers, the helm binary for the rest.

pyhelm3 (async; bridged here by `_run`, which also bounds every call in time)
runs template, install/upgrade, release lookup and uninstall; its errors and
ours go through one translator (`_explain`). The one thing pyhelm3 has no call
for, `helm dependency build`, goes through `_helm_binary` below, the only place
that starts helm by hand.

Charts ship inside the package (kubectl_ascend/charts in a wheel) or come from
the checkout's charts/ in a development install. A wheel also carries the
installable charts packaged by its build, dependencies included
(kubectl_ascend/packaged/<chart>.tgz, see setup.py): `bundled_chart` hands
helm those archives as they are. In a checkout the umbrella's file://
dependencies (and theirs: the ascend-common library) are packaged into a
private cached copy with `helm dependency build`, bottom-up, which works
offline.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Awaitable, TypeVar

from kubectl_ascend import errors

T = TypeVar("T")
UMBRELLA = "ascend-stack"

#: Upper bounds (seconds) for helm calls that do not talk to the cluster for long.
TEMPLATE_TIMEOUT = 120.0
LOOKUP_TIMEOUT = 60.0
DEPENDENCY_TIMEOUT = 300.0
#: Extra time given on top of helm's own --timeout for install/upgrade and uninstall.
MARGIN = 60.0


def _run(coro: Awaitable[T], seconds: float, what: str) -> T:
    """The single bridge from our synchronous code to pyhelm3's coroutines, bounded in time.

    On timeout the task is cancelled, and pyhelm3 terminates the helm process it started.
    """
    async def bounded() -> T:
        before = _descendants()
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if task in done:
            return task.result()
        # pyhelm3 starts helm through `sh -c` and on cancel terminates only the shell; helm
        # would keep its pipes open and the cancel would wait for it: stop helm first.
        _terminate(_descendants() - before)
        task.cancel()
        try:
            await asyncio.wait_for(task, 10)
        except BaseException:  # noqa: BLE001 - the cancellation itself, or what the dying helm left
            pass
        raise asyncio.TimeoutError

    from pyhelm3.errors import CommandCancelledError

    try:
        return asyncio.run(bounded())
    except CommandCancelledError:
        # helm says "context canceled" only when it got SIGINT/SIGTERM: Ctrl-C in the terminal reaches
        # helm (same process group) as it reaches us. It is an interruption, not a helm failure.
        raise KeyboardInterrupt from None
    except asyncio.TimeoutError:
        raise errors.HelmError(f"{what}: helm did not finish within {seconds:.0f} s; it was stopped") from None
    except errors.AscendError:
        raise
    except Exception as e:  # noqa: BLE001 - pyhelm3 errors, a helm that cannot start: one translator
        raise _explain(e, what) from None


def _descendants() -> set[int]:
    """PIDs of this process's descendants (Linux /proc; empty elsewhere)."""
    parent: dict[int, int] = {}
    try:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat", "rb") as f:
                        parent[int(d)] = int(f.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
    except OSError:
        return set()
    out: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier and pid not in out}
        out |= frontier
    return out


def _terminate(pids: set[int]) -> None:
    import signal

    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _seconds(duration: str) -> float:
    from kubectl_ascend.tokens import parse_duration

    return parse_duration(duration).total_seconds()


def helm_executable() -> str:
    exe = os.environ.get("HELM_BIN") or shutil.which("helm")
    if not exe:
        raise errors.HelmError("helm (v3.8+ or v4) is not on PATH; install it or set HELM_BIN "
                               "(in the repository: `make tools` builds the pinned one)")
    return exe


def _tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of a chart tree (packaged deps excluded)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix != ".tgz" and p.name != "Chart.lock" and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def charts_root() -> Path:
    """Where the shipped charts are: inside the package, else the checkout next to it."""
    here = Path(__file__).resolve().parent
    for cand in (here / "charts", here.parent / "charts"):
        if (cand / UMBRELLA / "Chart.yaml").is_file():
            return cand
    raise errors.AscendError("the bundled charts are missing from this installation; reinstall "
                             "kubectl-ascend or pass --chart PATH")


def packaged_chart(name: str) -> Path | None:
    """The archive of chart `name` (its dependencies built in) that the wheel's build packaged; None in a
    checkout or an editable install, which have none."""
    archive = Path(__file__).resolve().parent / "packaged" / f"{name}.tgz"
    return archive if archive.is_file() else None


def bundled_chart(name: str) -> str:
    """The chart reference helm takes for a chart shipped with the plugin: the wheel's packaged archive,
    else the chart's directory (in a checkout: dependencies built by hack/chart-deps.sh or prepare_chart)."""
    archive = packaged_chart(name)
    return str(archive) if archive is not None else str(charts_root() / name)


def dependency_order(*charts: Path) -> list[Path]:
    """Chart directories whose file:// dependencies must be built, each after its own dependencies.

    `helm dependency build` packages a file:// dependency as it is on disk, its charts/
    included: the component charts need the ascend-common library built into their
    charts/ before the umbrella packages them. Leaves (no dependencies) are left out.
    """
    import yaml

    order: list[Path] = []
    seen: set[Path] = set()

    def visit(chart: Path, path: tuple[Path, ...]) -> None:
        chart = chart.resolve()
        if chart in path:
            raise errors.AscendError(f"chart dependency cycle: {' -> '.join(p.name for p in (*path, chart))}")
        if chart in seen:
            return
        seen.add(chart)
        meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
        deps = [d for d in meta.get("dependencies") or [] if str(d.get("repository", "")).startswith("file://")]
        for dep in deps:
            visit(chart / str(dep["repository"]).removeprefix("file://"), (*path, chart))
        if meta.get("dependencies"):
            order.append(chart)

    for chart in charts:
        visit(chart, ())
    return order


def _explain(e: Exception, what: str) -> errors.AscendError:
    """The one translator: helm's own explanation (stderr), without helm's `Error: ` prefix, on one line."""
    if type(e).__name__ == "ValidationError":  # pydantic, from pyhelm3's models
        problems: list[dict[str, Any]] = list(getattr(e, "errors", list)())
        if any((p.get("loc") or ("",))[0] == "ref" for p in problems):
            return errors.HelmError(f"{what}: the chart reference is not an existing chart directory or "
                                    "archive, a repo/name or an oci:// URL")
        first = problems[0] if problems else {}
        field = ".".join(str(x) for x in first.get("loc", ()))
        return errors.HelmError(f"{what}: helm's answer did not have the expected form "
                                f"({getattr(e, 'title', 'model')}.{field}: {first.get('msg', e)})")
    if isinstance(e, (KeyError, TypeError, ValueError)) and not hasattr(e, "stderr"):
        return errors.HelmError(f"{what}: helm's answer did not have the expected form "
                                f"({type(e).__name__}: {e}); check that helm is v3.8+ or v4")
    stderr = getattr(e, "stderr", None)
    msg = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr or e or type(e).__name__)
    lines = [ln.strip().removeprefix("Error: ").strip() for ln in msg.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("WARNING:", "walk.go:", "coalesce.go:"))] or lines
    text = "; ".join(lines) or type(e).__name__
    return errors.HelmError(f"{what}: {text}")


class Helm:
    """Helm operations against one cluster."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, *,
                 as_user: str | None = None, as_groups: tuple[str, ...] = ()) -> None:
        """as_user/as_groups: impersonation (--as/--as-group), passed to helm as --kube-as-user/-group."""
        self.exe = helm_executable()
        self.kubeconfig = kubeconfig
        self.context = context
        self.impersonation = ([f"--kube-as-user={as_user}"] if as_user else []) + [
            f"--kube-as-group={g}" for g in as_groups]
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def _command(self) -> Any:
        import logging

        from pyhelm3 import Command

        # pyhelm3 logs every failed helm call as a warning; we report the failure ourselves, once.
        logging.getLogger("pyhelm3").setLevel(logging.ERROR)
        kw = {"executable": self.exe, "kubeconfig": Path(self.kubeconfig) if self.kubeconfig else None,
              "kubecontext": self.context}
        if not self.impersonation:
            return Command(**kw)
        flags = self.impersonation

        class Impersonating(Command):  # type: ignore[misc]
            """pyhelm3's Command has no impersonation option: helm's global flags go after each command."""

            async def run(self, command: list[str], input: bytes | None = None) -> bytes:
                out: bytes = await super().run([*command, *flags], input)
                return out

        return Impersonating(**kw)

    def _client(self) -> Any:
        from pyhelm3 import Client

        return Client(self._command(), executable=self.exe)

    def _helm_binary(self, *args: str, timeout: float = DEPENDENCY_TIMEOUT) -> str:
        """helm by hand, for what pyhelm3 has no call for (only `dependency build` today)."""
        what = f"helm {args[0]}"
        try:
            proc = subprocess.run([self.exe, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise errors.HelmError(f"{what}: helm did not finish within {timeout:.0f} s; it was stopped") from None
        except OSError as e:
            raise errors.HelmError(f"{what}: cannot run {self.exe}: {e.strerror}") from None
        if proc.returncode != 0:
            raise _explain(RuntimeError(proc.stderr), what)
        return proc.stdout

    def prepare_chart(self, chart: str | None, name: str = UMBRELLA) -> str:
        """A chart reference helm can install.

        --chart values (OCI/repo refs, archives, directories) go to helm as given, exactly as
        `helm install` would take them (a directory must have its dependencies built). The
        bundled chart `name` (the umbrella unless told) is the wheel's packaged archive; in a
        checkout it gets its file:// dependencies built in a private cached copy.
        """
        if chart:
            if not chart.startswith("oci://") and Path(chart).is_dir() and not (Path(chart) / "Chart.yaml").is_file():
                raise errors.InvalidInput(f"--chart {chart} is not a Helm chart (no Chart.yaml)")
            return chart
        archive = packaged_chart(name)
        if archive is not None:
            return str(archive)
        src = charts_root() / name
        # A private copy of the chart and its siblings (so file://../<dep> resolves) with the
        # dependencies built, cached by content: reruns skip the copy and `helm dependency build`.
        digest = _tree_digest(src.parent)
        cache = Path(os.environ.get("KUBECTL_ASCEND_CACHE") or
                     Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubectl-ascend")
        root = cache / "charts" / digest
        dst = root / src.name
        if (root / ".complete").exists():
            return str(dst)
        self._tmp = tempfile.TemporaryDirectory(prefix="kubectl-ascend-")
        work = Path(self._tmp.name) / "charts"
        shutil.copytree(src.parent, work, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.tgz",
                                                                         "Chart.lock"))
        for built in dependency_order(work / src.name):
            self._helm_binary("dependency", "build", str(built), "--skip-refresh")
        (work / ".complete").touch()
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            work.rename(root)
        except OSError:  # a concurrent run won the race, or the cache is not writable: use our copy
            return str(work / src.name) if not (root / ".complete").exists() else str(dst)
        return str(dst)

    def template(self, chart_ref: str, release: str, namespace: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Render like `helm template` (schema and validations included); objects as dicts.

        Through pyhelm3's command runner rather than its template(), which parses the output
        with PyYAML's pure-Python loader: on the umbrella's render (77 kB, mostly Volcano CRDs)
        that takes 0.63 s against 0.08 s with libyaml (measured 2026-11-30), and
        Client.template_resources adds a `helm show chart` (0.3 s) on top.
        """
        import json

        import yaml

        async def go() -> bytes:
            out: bytes = await self._command().run(
                ["template", release, chart_ref, "--include-crds", "--namespace", namespace, "--values", "-"],
                json.dumps(values).encode())
            return out

        out = _run(go(), TEMPLATE_TIMEOUT, f"helm template {release}")
        return [d for d in yaml.load_all(out, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]

    def install_or_upgrade(self, chart_ref: str, release: str, namespace: str, values: dict[str, Any], *,
                           timeout: str = "10m", reset_values: bool = False,
                           force_conflicts: bool = False) -> dict[str, Any]:
        """`helm upgrade --install`; force_conflicts (install --adopt) lets Helm's server-side apply take
        over fields that another field manager (e.g. `kubectl apply` of Huawei's YAML) set."""
        async def go() -> dict[str, Any]:
            c = self._client()
            ch = await c.get_chart(chart_ref)
            rev = await c.install_or_upgrade_release(
                release, ch, values, namespace=namespace, create_namespace=True, timeout=timeout,
                reset_values=reset_values, rollback_on_failure=False, force_conflicts=force_conflicts)
            return {"release": release, "namespace": namespace, "revision": rev.revision,
                    "status": str(rev.status.value), "chartVersion": ch.metadata.version}

        return _run(go(), _seconds(timeout) + MARGIN, f"helm upgrade --install {release}")

    def release(self, release: str, namespace: str) -> dict[str, Any] | None:
        """Current revision of a release, or None when it is not installed (one `helm list`)."""
        async def go() -> Any:
            return await self._command().list(namespace=namespace, include_deployed=True, include_failed=True,
                                              include_pending=True)

        for r in _run(go(), LOOKUP_TIMEOUT, f"helm list -n {namespace}"):
            if r.get("name") == release:
                return {"release": release, "namespace": namespace, "revision": int(r.get("revision", 0)),
                        "status": r.get("status"), "chart": r.get("chart"), "appVersion": r.get("app_version")}
        return None

    def user_values(self, release: str, namespace: str) -> dict[str, Any] | None:
        """The values the release was installed with (`helm get values`), None when it is not installed."""
        if self.release(release, namespace) is None:
            return None

        async def go() -> Any:
            return await self._command().get_values(release, namespace=namespace)

        doc = _run(go(), LOOKUP_TIMEOUT, f"helm get values {release}")
        return doc if isinstance(doc, dict) else {}

    def computed_values(self, release: str, namespace: str) -> dict[str, Any]:
        """Every value the release's current revision was rendered with (`helm get values --all`)."""
        async def go() -> Any:
            return await self._command().get_values(release, namespace=namespace, computed=True)

        doc = _run(go(), LOOKUP_TIMEOUT, f"helm get values --all {release}")
        return doc if isinstance(doc, dict) else {}

    def uninstall(self, release: str, namespace: str, *, wait: bool = True, timeout: str = "5m") -> None:
        async def go() -> None:
            await self._command().uninstall(release, namespace=namespace, wait=wait, timeout=timeout)

        _run(go(), _seconds(timeout) + MARGIN, f"helm uninstall {release}")

    def release_names(self, namespace: str, *, timeout: float = 3.0) -> list[str]:
        """Names of the deployed, failed and pending releases in `namespace` (for shell completion).

        One `helm list` through pyhelm3, given at most `timeout` seconds.
        """
        import logging

        logging.getLogger("pyhelm3").setLevel(logging.ERROR)

        async def go() -> Any:
            return await self._command().list(namespace=namespace, include_deployed=True, include_failed=True,
                                              include_pending=True)

        rows = _run(go(), timeout, f"helm list -n {namespace}")
        return sorted({str(r.get("name")) for r in rows if r.get("name")})
