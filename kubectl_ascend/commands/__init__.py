"""Subcommands, one module per area. `register` attaches them to the root group."""
from __future__ import annotations

from typing import Any


def register(cli: Any) -> None:
    from kubectl_ascend.commands import onboarding

    onboarding.register(cli)
    for name in ("labels", "stack", "mindie"):
        try:
            mod = __import__(f"kubectl_ascend.commands.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name != f"kubectl_ascend.commands.{name}":
                raise
            continue
        mod.register(cli)
