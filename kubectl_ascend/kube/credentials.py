"""Credentials from the kubeconfig, loaded by the client's loader without touching the disk.

The `kubernetes` client's kubeconfig loader resolves credentials (client certificates,
tokens, tokenFile, basic auth, exec and auth-provider plugins with refresh) but writes the
material of `*-data` fields and exec-plugin certificates to temp files, removed only at a
clean exit. `api_client` gives it paths of anonymous in-memory files (Linux memfd) instead,
which vanish with the process, even after `kill -9`. It does so by replacing the loader's
private writer `kubernetes.config.kube_config._create_temp_file_with_content`
(`HOOK_TARGET`); setup.cfg pins the client's major version, and `install_memory_files`
refuses to run when that function is gone (tests/unit/test_credential_hook.py fails first).
"""
from __future__ import annotations

import os
import threading
from typing import Any

from kubectl_ascend import errors
from kubectl_ascend.kube import config
from kubectl_ascend.kube.config import KubeconfigInfo, Merged, Selected

#: The loader's private temp-file writer that `install_memory_files` replaces.
HOOK_TARGET = "_create_temp_file_with_content"


_MEMFILES: dict[bytes, str] = {}
_MEMLOCK = threading.Lock()


def _memory_file(content: Any, temp_file_path: Any = None, force_recreate: bool = False) -> str:
    """Stand-in for the client loader's temp-file writer: an anonymous in-memory file.

    The loader (and ssl, via urllib3) wants file paths for CA, client certificate
    and key. A memfd has a path (/proc/self/fd/N) but no directory entry: nothing
    is left behind when the process ends, however it ends. The fd stays open for
    the life of the process (urllib3 reopens the files for every new connection);
    it is close-on-exec, so helm and plugin commands never inherit it.
    """
    data = content.encode() if isinstance(content, str) else bytes(content)
    with _MEMLOCK:
        if data in _MEMFILES and not force_recreate:
            return _MEMFILES[data]
        fd = os.memfd_create("kubectl-ascend-credential", os.MFD_CLOEXEC)  # type: ignore[attr-defined]
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        path = f"/proc/{os.getpid()}/fd/{fd}"
        _MEMFILES[data] = path
        return path


def _memory_files_available() -> bool:
    return hasattr(os, "memfd_create") and os.path.isdir(f"/proc/{os.getpid()}/fd")


def _loader_config(merged: Merged, sel: Selected) -> Any:
    """The merged kubeconfig as the client's loader reads it (each entry remembers its file)."""
    from kubernetes.config.kube_config import ConfigNode

    def entries(kind: str) -> list[Any]:
        return [ConfigNode(f"{path}/{kind}[name={name}]", entry, path)
                for name, (entry, path) in merged.items[kind].items()]

    root = {"current-context": sel.context, "contexts": entries("contexts"), "clusters": entries("clusters"),
            "users": entries("users")}
    return ConfigNode(merged.files[0], root, merged.files[0])


def install_memory_files(kube_config: Any) -> None:
    """Make the loader module `kube_config` write credentials to in-memory files.

    Raises AscendError when the loader no longer has the function replaced here: assigning
    it anyway would change nothing, and the loader would write credentials to disk.
    """
    if not callable(getattr(kube_config, HOOK_TARGET, None)):
        import kubernetes

        raise errors.AscendError(
            f"the installed kubernetes client {getattr(kubernetes, '__version__', '?')} has no "
            f"kube_config.{HOOK_TARGET} to keep credentials off the disk; install the version "
            "kubectl-ascend pins (pip install kubectl-ascend again)")
    setattr(kube_config, HOOK_TARGET, _memory_file)


def api_client(info: KubeconfigInfo, merged: Merged | None, sel: Selected | None, pool_size: int,
               token: str | None) -> Any:
    """The client's ApiClient for the selected context (or the in-cluster ServiceAccount)."""
    import urllib3
    from kubernetes import client
    from kubernetes.config import ConfigException
    from kubernetes.config import kube_config

    cfg = client.Configuration()
    try:
        if merged is None or sel is None:
            from kubernetes.config import incluster_config

            incluster_config.InClusterConfigLoader(
                token_filename=os.path.join(config.SA_DIR, "token"),
                cert_filename=os.path.join(config.SA_DIR, "ca.crt")).load_and_set(cfg)
        else:
            if _memory_files_available():
                install_memory_files(kube_config)
            loader = kube_config.KubeConfigLoader(config_dict=_loader_config(merged, sel),
                                                  active_context=sel.context, config_base_path=None)
            loader.load_and_set(cfg)
            if sel.user.get("exec") and not (cfg.api_key or cfg.cert_file):
                raise errors.KubeConfigError(
                    f"kubeconfig {sel.user_path}: user {sel.user_name}: the exec plugin "
                    f"{sel.user['exec'].get('command')!r} gave no credentials (run it by hand to see why)")
    except ConfigException as e:
        raise errors.KubeConfigError(f"cannot load credentials from the kubeconfig: {e}") from None
    except OSError as e:  # an exec plugin that cannot start, an unreadable file
        raise errors.KubeConfigError(f"cannot load credentials from the kubeconfig: {e}") from None
    if token is not None:
        cfg.api_key = {"BearerToken": f"Bearer {token}"}
        cfg.refresh_api_key_hook = None
        cfg.cert_file = cfg.key_file = None
    if not cfg.verify_ssl:  # the user chose insecure-skip-tls-verify; kubectl does not nag either
        import warnings

        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    cfg.connection_pool_maxsize = max(1, pool_size)
    # urllib3 itself never retries (redirects neither): Kube.request decides what is safe to repeat.
    cfg.retries = urllib3.Retry(total=0, redirect=False, raise_on_redirect=False)
    return client.ApiClient(cfg)
