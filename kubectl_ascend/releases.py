"""MindCluster release profiles (26.0.0, 26.1.0) as the plugin reads them, and which one a command uses.

The facts live in one data file shared with the charts,
`charts/ascend-common/facts/mindcluster.json` (loaded once by `load`); this module turns
them into a `Release` and decides which release a command works with (`choose`):
the `--mindcluster-version` flag, else the version an -f/--set value names, else the
one recorded in the installed release (`global.mindcluster.version` in its values; a
release made before profiles existed is 26.0.0), else the default of the data file.

What differs between releases, and where upstream says so (Ascend/mind-cluster):
- 26.0.0 device plugin: one DaemonSet per chip family selecting `accelerator=...`
  (v26.0.0 component/ascend-device-plugin/build/ascendplugin-volcano.yaml), so the
  `accelerator` label is set by hand.
- 26.1.0 device plugin: one DaemonSet on `workerselector=dls-worker-node`
  (v26.1.0 component/ascend-device-plugin/build/ascendplugin-volcano.yaml) that sets
  `accelerator`, the chip name, `servertype` and the driver version itself
  (v26.1.0 component/ascend-device-plugin/pkg/server/manager.go `getNewNodeLabel`,
  `setAcceleratorLabel`). `accelerator-type` stays manual (the plugin sets it only for
  Atlas 300I A2 cards), and `servertype` only when absent on 910/310/310P nodes, so
  Atlas 200I SoC A1 nodes still need `servertype=soc` by hand: the SoC DaemonSet
  selects it (v26.1.0 build/ascendplugin-310P-1usoc-volcano.yaml).
- Volcano versions per release and the default: v26.1.0 helm-deploy-tool/app/values.yaml
  (`volcanoVersion: "v1.9.0"`); docs/domain.md, "MindCluster releases".
Pure logic apart from reading the data file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_ascend import errors

#: Where the version lives in the umbrella's values (the charts' interface).
VERSION_PATH = ("global", "mindcluster", "version")
#: Device-plugin layouts (ascend-device-plugin.layout).
PER_FAMILY, SINGLE = "perFamily", "single"


def load() -> dict[str, Any]:
    """The release facts: charts/ascend-common/facts/mindcluster.json (kubectl_ascend.facts, read once)."""
    from kubectl_ascend import facts

    try:
        return facts.load("mindcluster")
    except (OSError, ValueError) as e:
        raise errors.AscendError(f"cannot read the MindCluster release facts (charts/ascend-common/facts/"
                                 f"mindcluster.json): {e}; reinstall kubectl-ascend") from None


@dataclass(frozen=True)
class Release:
    """One MindCluster release as the plugin needs it."""

    version: str
    tag: str
    volcano_versions: tuple[str, ...]
    volcano_default: str
    layout: str                       # PER_FAMILY | SINGLE
    plugin_sets_labels: tuple[str, ...]  # node labels the device plugin writes itself

    @property
    def name(self) -> str:
        return f"MindCluster {self.version}"


def versions() -> list[str]:
    return list(load()["releases"])


def default_version() -> str:
    return str(load()["default"])


def release(version: str) -> Release:
    """The facts of `version`; InvalidInput naming the known ones when there is no profile for it."""
    r = load()["releases"].get(version)
    if r is None:
        raise errors.InvalidInput(f"MindCluster {version!r} has no profile; known: {', '.join(versions())}")
    return Release(version, r["tag"], tuple(r["volcano"]["versions"]), r["volcano"]["default"],
                   r["devicePluginLayout"], tuple(r["devicePluginSetsLabels"]))


def volcano_kubernetes(volcano_version: str) -> tuple[str, str] | None:
    """(min, max) Kubernetes minor versions ("1.21", "1.29") a Volcano version supports; None if unknown."""
    r = load().get("volcanoKubernetes", {}).get(volcano_version)
    return (str(r["min"]), str(r["max"])) if r else None


def _get(values: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    cur: Any = values
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def recorded_version(values: dict[str, Any] | None) -> str | None:
    """global.mindcluster.version of a values document (None when absent)."""
    v = _get(values, VERSION_PATH)
    return str(v) if v not in (None, "") else None


def installed_version(release_values: dict[str, Any] | None) -> str | None:
    """The version of an installed release (None: no release). A release without a record is 26.0.0:
    it was installed before the charts had profiles, which was the 26.0.0 stack."""
    if release_values is None:
        return None
    return recorded_version(release_values) or "26.0.0"


@dataclass(frozen=True)
class Choice:
    """Which release a command uses, and why."""

    release: Release
    source: str               # flag | values | release | default
    why: str                  # "from --mindcluster-version", "kept from release ascend-stack", ...
    previous: str | None      # version of the installed release (None: not installed)

    @property
    def version(self) -> str:
        return self.release.version

    @property
    def changes(self) -> bool:
        """True when this changes the version of an installed release."""
        return self.previous is not None and self.previous != self.version

    def summary(self) -> str:
        """"MindCluster 26.1.0 (from --mindcluster-version)"."""
        return f"{self.release.name} ({self.why})"

    def line(self) -> str:
        """The summary, plus what changing the version of an installed release is (install's line)."""
        out = self.summary()
        if self.changes:
            direction = "an upgrade" if _key(self.version) > _key(self.previous or "") else "a downgrade"
            out += f"; the installed release runs {self.previous}: this is {direction} to {self.version}"
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "source": self.source, "why": self.why, "previous": self.previous,
                "layout": self.release.layout, "volcanoVersions": list(self.release.volcano_versions),
                "line": self.line()}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def choose(flag: str | None, given: dict[str, Any] | None, release_values: dict[str, Any] | None,
           release_name: str) -> Choice:
    """The release a command uses (see the module docstring for the order); errors.InvalidInput when the
    version is unknown, or when the flag and an -f/--set global.mindcluster.version disagree."""
    previous = installed_version(release_values)
    in_values = recorded_version(given)
    if flag:
        if in_values and in_values != flag:
            raise errors.InvalidInput(f"--mindcluster-version {flag} and global.mindcluster.version={in_values} "
                                      "(-f/--set) disagree; give one of them")
        try:
            return Choice(release(flag), "flag", "from --mindcluster-version", previous)
        except errors.InvalidInput as e:
            raise errors.InvalidInput(f"--mindcluster-version: {e}; nothing was changed") from None
    if in_values:
        try:
            return Choice(release(in_values), "values", "from -f/--set global.mindcluster.version", previous)
        except errors.InvalidInput as e:
            raise errors.InvalidInput(f"global.mindcluster.version: {e}; nothing was changed") from None
    if previous is not None:
        try:
            return Choice(release(previous), "release", f"kept from release {release_name}", previous)
        except errors.InvalidInput as e:
            raise errors.InvalidInput(f"release {release_name} records {e}; pass --mindcluster-version") from None
    return Choice(release(default_version()), "default", "default", None)
