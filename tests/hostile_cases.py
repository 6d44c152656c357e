"""The table of hostile and malformed command lines, shared by two layers.

tests/e2e/test_hostile.py runs every case that reaches the API against the real local cluster
(and proves the cluster did not change); tests/unit/test_hostile_usage.py runs the usage errors,
which must be refused before anything is sent, in-process with a Kube that fails if it is ever
built. `reaches_the_api` says which is which.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

EXISTING_NODE = "atlas-800i-a2-0"
TOKEN_SHAPE = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")


@dataclass
class Case:
    id: str
    args: list[str]
    code: int
    first: str  # the first stderr line starts with this
    setup: str | None = None  # name of a setup in SETUPS (changes the cluster before the "before" snapshot)
    #: kubeconfig parsing belongs to the transport module: only "a clean error:" is asserted for these.
    loose: bool = False
    env: dict[str, str] = field(default_factory=dict)
    #: a usage error (exit 2) that never needs the cluster runs in the unit layer; False keeps it on the cluster
    usage: bool | None = None


X = "{marker}"  # replaced by a path that must never be created

CASES: list[Case] = [
    # -- join-cmd flags ---------------------------------------------------------------------
    Case("ttl-zero", ["join-cmd", "--ttl", "0"], 2, "error: --ttl 0 makes a join credential that never expires"),
    Case("ttl-negative", ["join-cmd", "--ttl=-5m"], 2, "error: --ttl '-5m' has a sign"),
    Case("ttl-word", ["join-cmd", "--ttl", "forever"], 2, "error: --ttl 'forever' is not a Go duration"),
    Case("ttl-arabic-digit", ["join-cmd", "--ttl", "\u0661h"], 2, "error: --ttl '\u0661h' is not a Go duration"),
    Case("ttl-fullwidth", ["join-cmd", "--ttl", "\uff12h"], 2, "error: --ttl '\uff12h' is not a Go duration"),
    Case("ttl-below-floor", ["join-cmd", "--ttl", "30s"], 2, "error: --ttl '30s' is too short"),
    Case("ttl-overflow", ["join-cmd", "--ttl", "9999999999h"], 2, "error: --ttl '9999999999h' is too long"),
    Case("ttl-space", ["join-cmd", "--ttl", "2h "], 2, "error: --ttl '2h ' is not a Go duration"),
    Case("ttl-days", ["join-cmd", "--ttl", "1d"], 2, "error: --ttl '1d' is not a Go duration"),
    Case("ttl-exponent", ["join-cmd", "--ttl", "1e3s"], 2, "error: --ttl '1e3s' is not a Go duration"),
    Case("non-expiring-with-ttl", ["join-cmd", "--ttl", "2h", "--allow-non-expiring"], 2,
         "error: --allow-non-expiring only applies with --ttl 0"),
    Case("endpoint-cmd-subst", ["join-cmd", "--endpoint", f"https://$(touch {X}):6443"], 2,
         "error: --endpoint 'https://$(touch "),
    Case("endpoint-backticks", ["join-cmd", "--endpoint", f"`touch {X}`:6443"], 2, "error: --endpoint '`touch "),
    Case("endpoint-semicolon", ["join-cmd", "--endpoint", f"a;touch {X}"], 2, "error: --endpoint 'a;touch "),
    Case("endpoint-port-zero", ["join-cmd", "--endpoint", "10.0.0.1:0"], 2, "error: --endpoint '10.0.0.1:0' has port 0"),
    Case("endpoint-port-big", ["join-cmd", "--endpoint", "10.0.0.1:65536"], 2,
         "error: --endpoint '10.0.0.1:65536' has port 65536"),
    Case("endpoint-ipv6-bare", ["join-cmd", "--endpoint", "fd00::1"], 2,
         "error: --endpoint 'fd00::1': write IPv6 addresses in brackets"),
    Case("endpoint-path", ["join-cmd", "--endpoint", "10.0.0.1:6443/x"], 2,
         "error: --endpoint '10.0.0.1:6443/x' has an invalid port"),
    Case("endpoint-http", ["join-cmd", "--endpoint", "http://10.0.0.1:6443"], 2,
         "error: --endpoint 'http://10.0.0.1:6443': only https://"),
    Case("endpoint-bad-ipv4", ["join-cmd", "--endpoint", "10.0.0.300:6443"], 2, "error: --endpoint '10.0.0.300:6443'"),
    Case("endpoint-swallows-flag", ["join-cmd", "--endpoint", "--ttl", "2h"], 2,
         "error: option --endpoint needs a value but is followed by '--ttl'"),
    Case("node-name-double-dot", ["join-cmd", "--node-name", "a..b"], 2, "error: --node-name 'a..b' is not a valid name"),
    Case("node-name-upper", ["join-cmd", "--node-name", "Node_1"], 2, "error: --node-name 'Node_1' is not a valid name"),
    Case("node-name-shell", ["join-cmd", "--node-name", f"$(touch {X})"], 2, "error: --node-name '$(touch "),
    Case("node-name-long-label", ["join-cmd", "--node-name", "a" * 64], 2, "error: --node-name 'aaaa"),
    Case("node-name-exists", ["join-cmd", "--node-name", EXISTING_NODE], 1,
         f"error: a Node named '{EXISTING_NODE}' already exists"),
    Case("control-plane-no-key", ["join-cmd", "--control-plane"], 2, "error: --control-plane needs --certificate-key"),
    Case("cert-key-short", ["join-cmd", "--control-plane", "--certificate-key", "abc"], 2,
         "error: --certificate-key must be exactly 64 hexadecimal characters"),
    Case("cert-key-not-hex", ["join-cmd", "--control-plane", "--certificate-key", "g" * 64], 2,
         "error: --certificate-key must be exactly 64 hexadecimal characters"),
    Case("cert-key-without-cp", ["join-cmd", "--certificate-key", "0" * 64], 2,
         "error: --certificate-key only applies with --control-plane"),
    Case("dry-run-space-value", ["join-cmd", "--dry-run", "client"], 2,
         "error: too many arguments: client (a --dry-run mode is written with '=': --dry-run=client"),
    Case("dry-run-bogus", ["join-cmd", "--dry-run=bogus"], 2, "error: Invalid value for '--dry-run'"),
    Case("output-file-exists", ["join-cmd", "--output-file", "{existing_file}"], 1, "error: --output-file "),
    Case("output-file-no-dir", ["join-cmd", "--output-file", "/nonexistent-dir/join.sh"], 1,
         "error: --output-file /nonexistent-dir/join.sh: directory /nonexistent-dir does not exist"),
    Case("output-file-empty", ["join-cmd", "--output-file", ""], 2, "error: --output-file needs a path (it was empty)"),
    Case("output-file-empty-eq", ["join-cmd", "--output-file="], 2, "error: --output-file needs a path"),
    Case("output-file-json", ["join-cmd", "--output-file", "{new_file}", "-o", "json"], 2,
         "error: --output-file keeps the token off the terminal"),
    Case("description-newline", ["join-cmd", "--description", "a\nb"], 2,
         "error: --description must be at most 256 printable characters"),
    Case("output-format-bogus", ["join-cmd", "-o", "xml"], 2, "error: Invalid value for '-o' / '--output'"),
    Case("unknown-flag", ["join-cmd", "--tll", "2h"], 2, "error: No such option '--tll'. Did you mean '--ttl'?"),
    # -- cluster objects: kube-public/cluster-info ---------------------------------------------
    Case("cluster-info-cmd-subst", ["join-cmd"], 1,
         "error: the server in ConfigMap kube-public/cluster-info 'https://$(touch ", setup="ci-cmd-subst"),
    Case("cluster-info-space", ["join-cmd"], 1, "error: the server in ConfigMap kube-public/cluster-info 'https://a b:6443'",
         setup="ci-space"),
    Case("cluster-info-port-zero", ["join-cmd"], 1,
         "error: the server in ConfigMap kube-public/cluster-info 'https://10.0.0.1:0' has port 0", setup="ci-port-zero"),
    Case("cluster-info-list", ["join-cmd"], 1, "error: ConfigMap kube-public/cluster-info key kubeconfig is not a kubeconfig",
         setup="ci-list"),
    Case("cluster-info-clusters-map", ["join-cmd"], 1,
         "error: ConfigMap kube-public/cluster-info key kubeconfig: clusters must be a list", setup="ci-clusters-map"),
    Case("cluster-info-bad-ca", ["join-cmd"], 1,
         "error: ConfigMap kube-public/cluster-info key kubeconfig: clusters[0].cluster.certificate-authority-data is not valid base64",
         setup="ci-bad-ca"),
    Case("cluster-info-not-yaml", ["join-cmd"], 1, "error: ConfigMap kube-public/cluster-info key kubeconfig is not valid YAML",
         setup="ci-not-yaml"),
    Case("cluster-info-garbage-cert", ["join-cmd"], 1,
         "error: cannot compute the CA hash from ConfigMap kube-public/cluster-info", setup="ci-garbage-cert"),
    # -- kubeconfig files ----------------------------------------------------------------------
    Case("kubeconfig-missing", ["--kubeconfig", "/nonexistent/kubeconfig", "token", "list"], 1,
         "error: kubeconfig /nonexistent/kubeconfig does not exist"),
    Case("kubeconfig-list", ["--kubeconfig", "{kc:list}", "token", "list"], 1, "error: kubeconfig {kc:list} must be a mapping"),
    Case("kubeconfig-scalar", ["--kubeconfig", "{kc:scalar}", "token", "list"], 1,
         "error: kubeconfig {kc:scalar} must be a mapping"),
    Case("kubeconfig-clusters-map", ["--kubeconfig", "{kc:clusters-map}", "token", "list"], 1,
         "error: kubeconfig {kc:clusters-map}: clusters must be a list"),
    Case("kubeconfig-bad-ca", ["--kubeconfig", "{kc:bad-ca}", "token", "list"], 1, "error: kubeconfig {kc:bad-ca}: "),
    Case("kubeconfig-bad-port", ["--kubeconfig", "{kc:bad-port}", "token", "list"], 1, "error: kubeconfig {kc:bad-port}: "),
    # a query string or fragment would swallow every request path: token list said "none" while tokens existed
    Case("kubeconfig-server-query", ["--kubeconfig", "{kc:server-query}", "token", "list"], 1,
         "error: kubeconfig {kc:server-query}: cluster ", setup="token"),
    Case("kubeconfig-server-fragment", ["--kubeconfig", "{kc:server-fragment}", "status"], 1,
         "error: kubeconfig {kc:server-fragment}: cluster "),
    Case("kubeconfig-no-context", ["--context", "nope", "token", "list"], 1, "error: context 'nope' (--context) is not defined"),
    Case("kubeconfig-hostile-server", ["--kubeconfig", "{kc:hostile-server}", "join-cmd"], 1,
         "error: kubeconfig {kc:hostile-server}: "),
    # -- token -----------------------------------------------------------------------------------
    Case("revoke-not-an-id", ["token", "revoke", "not-an-id"], 2, "error: an argument of 9 character(s) is not a bootstrap token ID"),
    Case("revoke-upper", ["token", "revoke", "ABCDEF"], 2, "error: an argument of 6 character(s) is not a bootstrap token ID"),
    Case("revoke-secret-half", ["token", "revoke", "{token_secret_half}"], 2,
         "error: an argument of 16 character(s) is not a bootstrap token ID", setup="token"),
    Case("revoke-unknown", ["token", "revoke", "zzzzzz"], 1, "error: no bootstrap token with ID zzzzzz; nothing was revoked"),
    Case("revoke-known-and-unknown", ["token", "revoke", "{token}", "zzzzzz"], 1,
         "error: no bootstrap token with ID zzzzzz; nothing was revoked", setup="token"),
    Case("revoke-dry-run-server", ["token", "revoke", "--dry-run=server", "zzzzzz"], 2, "error: Invalid value for '--dry-run'"),
    Case("revoke-no-args", ["token", "revoke"], 2, "error: Missing argument 'ID...'"),
    Case("list-garbage-secret", ["token", "list"], 0, "", setup="garbage-token-secret"),
    # -- label-node --------------------------------------------------------------------------------
    Case("label-no-target", ["label-node"], 2, "error: name the nodes, or pass -l SELECTOR, or --all"),
    Case("label-bad-name", ["label-node", "Node_1"], 2, "error: node name 'Node_1' is not a valid name"),
    Case("label-path-name", ["label-node", "../../api"], 2, "error: node name '../../api' is not a valid name"),
    Case("label-unknown-node", ["label-node", "no-such-node-xyz"], 1, "error: node(s) not found: no-such-node-xyz"),
    Case("label-dry-run-server", ["label-node", "--all", "--dry-run=server"], 2, "error: Invalid value for '--dry-run'"),
    Case("label-bad-selector", ["label-node", "-l", "a b c"], 1, "error: list nodes: rejected by the API server (400)",
         loose=True),
    Case("label-workers-zero", ["label-node", "--all", "--workers", "0"], 2, "error: Invalid value for '--workers'"),
    Case("label-names-and-all", ["label-node", EXISTING_NODE, "--all"], 2, "error: name the nodes, or pass -l SELECTOR"),
    Case("label-master-model", ["label-node", "mgmt-0", "--role", "master", "--server-model", "atlas-800i-a2"], 2,
         "error: --accelerator, --server-model and --noded apply to --role worker only"),
    Case("label-master-noded", ["label-node", "mgmt-0", "--role", "master", "--noded"], 2,
         "error: --accelerator, --server-model and --noded apply to --role worker only"),
    Case("label-mc-unknown", ["label-node", "--all", "--mindcluster-version", "26.9.0"], 2,
         "error: --mindcluster-version '26.9.0': this plugin installs 26.0.0 or 26.1.0"),
    Case("label-mc-subst", ["label-node", "--all", "--mindcluster-version", "$(touch {marker})"], 2,
         "error: --mindcluster-version '$(touch {marker})': this plugin installs"),
    Case("label-bad-model", ["label-node", EXISTING_NODE, "--server-model", "bogus"], 2,
         "error: Invalid value for '--server-model'"),
    Case("label-foreign-value", ["label-node", EXISTING_NODE], 1, "error: 1 label(s) already set to other values",
         setup="foreign-label"),
    # -- install / chart values ----------------------------------------------------------------------
    Case("install-set-no-value", ["install", "--set", "novalue"], 2, "error: --set 'novalue': want KEY=VALUE"),
    Case("install-set-empty-segment", ["install", "--set", "a..b=1"], 2, "error: --set 'a..b=1': empty key segment"),
    Case("install-values-missing", ["install", "-f", "/nonexistent/values.yaml"], 1,
         "error: cannot read values file /nonexistent/values.yaml"),
    Case("install-values-list", ["install", "-f", "{values:list}"], 1, "error: values file "),
    Case("install-values-not-yaml", ["install", "-f", "{values:not-yaml}"], 1, "error: values file "),
    Case("install-timeout-zero", ["install", "--timeout", "0"], 2, "error: --timeout '0' is zero"),
    Case("install-bad-release", ["install", "--release", "Bad_Name"], 2, "error: Invalid value for '--release'"),
    Case("install-dry-run-server", ["install", "--dry-run=server"], 2, "error: Invalid value for '--dry-run'"),
    Case("install-schema-unknown-key", ["install", "--set", "ascend-volcano.bogusKey=1"], 1, "error: ",
         setup="npu-labels"),
    Case("install-schema-type", ["install", "--set", "ascend-operator.enabled=maybe"], 1, "error: ",
         setup="npu-labels"),
    Case("install-schema-global-type", ["install", "--set", "global.imageRegistry=[1,2]"], 1, "error: ",
         setup="npu-labels"),
    Case("install-not-a-chart", ["install", "--chart", "/etc"], 1, "error: --chart /etc is not a Helm chart",
         setup="npu-labels"),
    Case("install-unlabelled", ["install"], 1, "error: "),
    Case("install-mc-unknown", ["install", "--mindcluster-version", "26.0"], 2,
         "error: --mindcluster-version '26.0': this plugin installs 26.0.0 or 26.1.0"),
    Case("install-mc-disagree", ["install", "--mindcluster-version", "26.1.0", "--set",
                                 "global.mindcluster.version=26.0.0"], 1,
         "error: --mindcluster-version 26.1.0 and global.mindcluster.version=26.0.0 (-f/--set) disagree"),
    Case("install-mc-values-unknown", ["install", "--set", "global.mindcluster.version=25.0.0"], 1,
         "error: global.mindcluster.version: MindCluster '25.0.0' has no profile"),
    # -- uninstall, mindie, global options -------------------------------------------------------------
    Case("uninstall-not-installed", ["uninstall", "--release", "no-such-release"], 1,
         "error: release no-such-release is not installed"),
    Case("uninstall-bad-release", ["uninstall", "--release", "bad!"], 2, "error: Invalid value for '--release'"),
    Case("ranktable-bad-release", ["mindie", "ranktable", "Bad.Release"], 2, "error: release 'Bad.Release' is not a valid name"),
    Case("ranktable-missing", ["mindie", "ranktable", "no-such-release"], 1, "error: release no-such-release in namespace default"),
    Case("ranktable-timeout", ["mindie", "ranktable", "x", "--timeout=-1s"], 2, "error: --timeout '-1s' has a sign"),
    Case("ranktable-force-missing", ["mindie", "ranktable", "no-such-release", "--force"], 1,
         "error: release no-such-release in namespace default"),
    Case("doctor-mc-unknown", ["doctor", "--mindcluster-version", "latest"], 2,
         "error: --mindcluster-version 'latest': this plugin installs"),
    Case("namespace-upper", ["-n", "Bad_NS", "status"], 2, "error: -n/--namespace 'Bad_NS' is not a valid name"),
    Case("namespace-path", ["status", "-n../x"], 2, "error: -n/--namespace '../x' is not a valid name"),
    Case("namespace-slash", ["status", "--namespace=a/b"], 2, "error: -n/--namespace 'a/b' is not a valid name"),
    Case("output-bogus-eq", ["doctor", "-o=xml"], 2, "error: Invalid value for '-o' / '--output'"),
    Case("version-bogus-flag", ["version", "--bogus"], 2, "error: No such option '--bogus'"),
]


def fill(args: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for a in args:
        for k, v in values.items():
            a = a.replace("{" + k + "}", v)
        out.append(a)
    return out


def reaches_the_api(case: Case) -> bool:
    """Cases that need the cluster: a setup, a generated kubeconfig or token, or anything but a usage error."""
    if case.usage is not None:
        return not case.usage
    return case.code != 2 or case.setup is not None or any("{kc:" in a or "{token" in a for a in case.args)
