"""Driver (Ascend HDK "NPU" package) <-> CANN compatibility, and the order of Ascend version strings.

Source: the `ascend-deployer` package on PyPI, version 26.0.0 (Huawei's installer; `pip download
ascend-deployer==26.0.0 --no-deps`): every `ascend_deployer/downloader/software/CANN_<v>.json`
names the driver release it needs in `required_soft: [{"name": "NPU", "version": ...}]`, and
`downloader/version_match.json` lists the same NPU releases as matching no framework directly
("NoneMatched"). Our table holds those facts, not their files. The rule we apply is Huawei's
compatibility direction: a driver at least as new as the one a CANN release needs runs it; an
older driver does not (the CANN toolkit's `compatible_version` ranges in version.info say the
same thing per package).
"""
from __future__ import annotations

import re

#: CANN version -> the oldest Ascend HDK driver it needs (ascend-deployer 26.0.0,
#: downloader/software/CANN_*.json required_soft NPU).
CANN_DRIVER = {
    "8.1.RC1": "25.0.RC1",
    "8.2.RC1": "25.2.0",
    "8.3.RC1": "25.3.RC1",
    "8.5.0": "25.5.0",
    "9.0.0": "26.0.RC1",
}
SOURCE = "ascend-deployer 26.0.0 (PyPI), downloader/software/CANN_<version>.json required_soft"

_PART = re.compile(r"(rc|t|b|alpha|beta|spc)?(\d+)", re.I)


def version_key(version: str) -> tuple[tuple[int, int], ...]:
    """Order of Ascend versions: 25.0.RC1 < 25.0.RC2 < 25.0.0 < 25.0.0.1 < 25.2.0; case-insensitive.

    A release candidate (RCn) sorts before the final release of the same minor; further numeric
    parts (patches, hotfixes) after it.
    """
    parts = version.strip().lstrip("vV").split(".")
    out: list[tuple[int, int]] = []
    for p in parts:
        m = _PART.fullmatch(p)
        if not m:
            raise ValueError(f"not an Ascend version: {version!r}")
        tag, n = (m.group(1) or "").lower(), int(m.group(2))
        out.append((0 if tag in ("rc", "t", "b", "alpha", "beta") else 1, n))
    return tuple(out)


def normalise(version: str) -> str:
    """8.2.rc1 -> 8.2.RC1 (the table's spelling)."""
    return re.sub(r"rc(\d+)", lambda m: f"RC{m.group(1)}", version.strip().lstrip("vV"), flags=re.I)


def required_driver(cann: str) -> str | None:
    """The oldest driver a CANN release needs, None when the table does not know the release."""
    return CANN_DRIVER.get(normalise(cann))


def driver_supports(driver: str, cann: str) -> bool | None:
    """True/False when the table knows the CANN release; None when it does not."""
    need = required_driver(cann)
    if need is None:
        return None
    return version_key(driver) >= version_key(need)


_TAG_CANN = re.compile(r"^v?(\d+\.\d+\.(?:rc\d+|\d+))(?:[-_.]|$)", re.I)


def cann_from_image(image: str) -> str | None:
    """The CANN version an image's tag starts with (Huawei's CANN base images and the images built
    on them are tagged `<cann>-<chip>-<os>-<python>`, e.g. quay.io/ascend/cann:8.2.rc1-910b-ubuntu22.04-py3.11),
    when it is one the table knows; None otherwise (pass --cann)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    m = _TAG_CANN.match(last.split(":", 1)[1])
    if not m:
        return None
    v = normalise(m.group(1))
    return v if v in CANN_DRIVER else None
