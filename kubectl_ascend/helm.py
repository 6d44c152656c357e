"""The one door to Helm: pyhelm3 (async, bridged here with asyncio.run) and the helm binary.

Everything else gets plain Python back. Charts ship inside the package
(kubectl_ascend/charts in a wheel) or come from the checkout's charts/ in a
development install; the umbrella's file:// dependencies are packaged into a
private copy with `helm dependency build`, which works offline.
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


def _run(coro: Awaitable[T]) -> T:
    """The single bridge from our synchronous code to pyhelm3's coroutines."""
    return asyncio.run(coro)  # type: ignore[arg-type]


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


def _explain(e: Exception, what: str) -> errors.AscendError:
    stderr = getattr(e, "stderr", b"")
    msg = stderr.decode(errors="replace").strip() if isinstance(stderr, bytes) else str(stderr or e)
    msg = msg.replace("Error: ", "").strip() or str(e)
    return errors.HelmError(f"{what}: {msg}")


class Helm:
    """Helm operations against one cluster."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        self.exe = helm_executable()
        self.kubeconfig = kubeconfig
        self.context = context
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def _client(self) -> Any:
        import logging

        from pyhelm3 import Client

        # pyhelm3 logs every failed helm call as a warning; we report the failure ourselves, once.
        logging.getLogger("pyhelm3").setLevel(logging.ERROR)

        return Client(executable=self.exe, kubeconfig=Path(self.kubeconfig) if self.kubeconfig else None,
                      kubecontext=self.context)

    def _helm(self, *args: str) -> str:
        cmd = [self.exe, *args]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        if self.context:
            cmd += ["--kube-context", self.context]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise errors.HelmError(f"helm {args[0]}: {proc.stderr.strip().replace('Error: ', '')}")
        return proc.stdout

    def prepare_chart(self, chart: str | None) -> str:
        """A chart reference helm can install.

        --chart values (OCI/repo refs, archives, directories) go to helm as given, exactly as
        `helm install` would take them (a directory must have its dependencies built). The
        bundled umbrella gets its file:// dependencies built in a private cached copy.
        """
        if chart:
            if not chart.startswith("oci://") and Path(chart).is_dir() and not (Path(chart) / "Chart.yaml").is_file():
                raise errors.InvalidInput(f"--chart {chart} is not a Helm chart (no Chart.yaml)")
            return chart
        src = charts_root() / UMBRELLA
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
        self._helm("dependency", "build", str(work / src.name), "--skip-refresh")
        (work / ".complete").touch()
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            work.rename(root)
        except OSError:  # a concurrent run won the race, or the cache is not writable: use our copy
            return str(work / src.name) if not (root / ".complete").exists() else str(dst)
        return str(dst)

    def template(self, chart_ref: str, release: str, namespace: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Render like `helm template` (schema and validations included); objects as dicts.

        Called directly rather than through pyhelm3, whose template path runs
        `helm show chart` first and costs a second more.
        """
        import json

        import yaml

        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(values, f)
            f.flush()
            out = self._helm("template", release, chart_ref, "-n", namespace, "-f", f.name, "--include-crds")
        return [d for d in yaml.load_all(out, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]

    def install_or_upgrade(self, chart_ref: str, release: str, namespace: str, values: dict[str, Any], *,
                           timeout: str = "10m", reset_values: bool = False) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            c = self._client()
            ch = await c.get_chart(chart_ref)
            rev = await c.install_or_upgrade_release(
                release, ch, values, namespace=namespace, create_namespace=True, timeout=timeout,
                reset_values=reset_values, rollback_on_failure=False)
            return {"release": release, "namespace": namespace, "revision": rev.revision,
                    "status": str(rev.status.value), "chartVersion": ch.metadata.version}

        try:
            return _run(go())
        except errors.AscendError:
            raise
        except Exception as e:
            raise _explain(e, f"helm upgrade --install {release}") from None

    def release(self, release: str, namespace: str) -> dict[str, Any] | None:
        """Current revision of a release, or None when it is not installed (one `helm list`)."""
        import json
        import re

        rows = json.loads(self._helm("list", "-n", namespace, "--deployed", "--failed", "--pending", "--filter", f"^{re.escape(release)}$",
                                     "-o", "json") or "[]")
        for r in rows:
            if r.get("name") == release:
                return {"release": release, "namespace": namespace, "revision": int(r.get("revision", 0)),
                        "status": r.get("status"), "chart": r.get("chart"), "appVersion": r.get("app_version")}
        return None

    def user_values(self, release: str, namespace: str) -> dict[str, Any] | None:
        """The values the release was installed with (`helm get values`), None when it is not installed."""
        import json

        try:
            out = self._helm("get", "values", release, "-n", namespace, "-o", "json")
        except errors.HelmError as e:
            if "not found" in str(e):
                return None
            raise
        doc = json.loads(out or "null")
        return doc if isinstance(doc, dict) else {}

    def uninstall(self, release: str, namespace: str, *, wait: bool = True, timeout: str = "5m") -> None:
        async def go() -> None:
            await self._client().uninstall_release(release, namespace=namespace, wait=wait, timeout=timeout)

        try:
            _run(go())
        except Exception as e:
            raise _explain(e, f"helm uninstall {release}") from None

    def release_names(self, namespace: str, *, timeout: float = 3.0) -> list[str]:
        """Names of the deployed, failed and pending releases in `namespace` (for shell completion).

        One `helm list` through pyhelm3, given at most `timeout` seconds.
        """
        from pyhelm3 import Command

        import logging

        logging.getLogger("pyhelm3").setLevel(logging.ERROR)
        cmd = Command(executable=self.exe, kubeconfig=Path(self.kubeconfig) if self.kubeconfig else None,
                      kubecontext=self.context)

        async def go() -> Any:
            return await asyncio.wait_for(cmd.list(namespace=namespace, include_deployed=True, include_failed=True,
                                                  include_pending=True), timeout)

        try:
            rows = _run(go())
        except Exception as e:
            raise _explain(e, f"helm list -n {namespace}") from None
        return sorted({str(r.get("name")) for r in rows if r.get("name")})
