"""Verbose messages without paying for `logging` unless -v configured it."""
from __future__ import annotations

import sys


def info(msg: str, *args: object) -> None:
    """Log at INFO under the kubectl_ascend logger, if -v has set logging up."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("kubectl_ascend").info(msg, *args)
