"""The one door to the Kubernetes API.

Only this package talks to the API server. Everything it returns is plain
Python (dicts as the API server sends them, as `kubectl get -o json` shows
them), and every API error leaves it as one of our error types with a
sentence saying what to do. One concern per module (the layout of kopf's
`_cogs/clients/`):

* `config.py`: kubeconfig files read and checked with kubectl's merge rules
  (a malformed file gets one line naming the file and the field), in-cluster config;
* `credentials.py`: credentials loaded by the official client's loader, their
  `*-data` and exec-plugin material in anonymous in-memory files, never on disk;
* `client.py`: one API call by raw path through the client's REST layer, retries
  only where they are safe, pagination, impersonation (`--as`, `--as-group`);
* `errors.py`: API answers and lost connections as our error types;
* `watching.py`: watches, and `observe` (several collections kept current);
* `resources.py`: `Kube`, with one method per object kind, and `quantity`.

The client is imported inside functions, so `kubectl ascend --help` never pays for it.
Every name below is importable from `kubectl_ascend.kube`.
"""
from __future__ import annotations

from kubectl_ascend.kube.client import PAGE_SIZE, RETRY_SECONDS, RETRY_STATUSES
from kubectl_ascend.kube.config import SA_DIR, KubeconfigInfo, kubeconfig_paths, read_kubeconfig
from kubectl_ascend.kube.resources import Kube, quantity

__all__ = ["PAGE_SIZE", "RETRY_SECONDS", "RETRY_STATUSES", "SA_DIR", "Kube", "KubeconfigInfo",
           "kubeconfig_paths", "quantity", "read_kubeconfig"]
