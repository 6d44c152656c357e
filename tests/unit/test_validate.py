"""Strict parsers: endpoints from every source, RFC 1123 names, certificate keys.

Scenarios: accepted endpoint forms normalise to HOST:PORT (default 6443 for a bare
host, 443 for an https URL without a port); shell metacharacters, paths, user info,
other schemes, port 0/65536/non-ASCII digits, unbracketed IPv6, bad IPv4 and
empty labels are refused with a message naming the source; node/namespace/release
names follow RFC 1123 (no `a..b`, labels 1-63, 253 in all, no trailing newline);
--certificate-key is exactly 64 hex digits.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import validate
from kubectl_ascend.errors import InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text,want", [
    ("10.0.0.10:6443", "10.0.0.10:6443"),
    ("10.0.0.10", "10.0.0.10:6443"),
    ("api.example.com", "api.example.com:6443"),
    ("API.Example.com:443", "api.example.com:443"),
    ("https://10.0.0.10:6443", "10.0.0.10:6443"),
    ("https://10.0.0.10:6443/", "10.0.0.10:6443"),
    ("https://api.example.com", "api.example.com:443"),
    ("[fd00::1]:6443", "[fd00::1]:6443"),
    ("[FD00:0::1]", "[fd00::1]:6443"),
    ("https://[::1]:8443", "[::1]:8443"),
    ("node-1:1", "node-1:1"),
    ("a" * 63 + ".example:65535", "a" * 63 + ".example:65535"),
])
def test_endpoint_accepts(text, want):
    assert validate.endpoint(text) == want


@pytest.mark.parametrize("text", [
    "", "https://$(touch /tmp/x):6443", "$(touch /tmp/x):6443", "`id`:6443", "a;b:6443", "a b:6443",
    "10.0.0.10:0", "10.0.0.10:65536", "10.0.0.10:-1", "10.0.0.10:", "10.0.0.10:6443x", "10.0.0.10:\u0666443",
    "10.0.0.256:6443", "1.2.3:6443", "fd00::1", "fd00::1:6443", "[fd00::1", "[fd00::1]x", "[not-ip]:6443",
    "[fe80::1%eth0]:6443", "http://10.0.0.10:6443", "ftp://x:21", "https://u:p@host:6443",
    "https://host:6443/path", "https://host:6443?x=1", "host..example:6443", "-host:6443", "host-:6443",
    "a" * 64 + ":6443", "h\u00f6st:6443", "host\n:6443", "host:6443\n", "123:6443", "_srv.example:6443",
])
def test_endpoint_refuses(text):
    with pytest.raises(InvalidInput) as e:
        validate.endpoint(text, "the server in ConfigMap kube-public/cluster-info")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(("the server in ConfigMap kube-public/cluster-info"))


@pytest.mark.parametrize("name", ["a", "node-1", "atlas-800i-a2-0.rack1", "a" * 63, ".".join(["a" * 63] * 3) + ".abc"])
def test_subdomain_accepts(name):
    assert validate.dns_subdomain(name, "--node-name") == name


@pytest.mark.parametrize("name", [
    "", "A", "a..b", ".a", "a.", "-a", "a-", "a_b", "a b", "a\n", "a" * 64, ".".join(["a" * 63] * 4) + ".ab",
    "n\u00f6de", "$(id)", "a/b", "a;b",
])
def test_subdomain_refuses(name):
    with pytest.raises(InvalidInput) as e:
        validate.dns_subdomain(name, "--node-name")
    assert str(e.value).startswith("--node-name ") and "\n" not in str(e.value)


@pytest.mark.parametrize("name,ok", [
    ("mindx-dl", True), ("a" * 63, True), ("a" * 64, False), ("Mindx", False), ("a.b", False),
    ("../x", False), ("kube-system\n", False), ("", False), ("x%2f", False),
])
def test_namespace(name, ok):
    if ok:
        assert validate.namespace(name) == name
    else:
        with pytest.raises(InvalidInput):
            validate.namespace(name)


def test_release_name_limit():
    assert validate.release_name("a" * 53) == "a" * 53
    with pytest.raises(InvalidInput):
        validate.release_name("a" * 54)


@pytest.mark.parametrize("key,ok", [
    ("0" * 64, True), ("aB" * 32, True), ("0" * 63, False), ("0" * 65, False), ("g" * 64, False),
    ("0" * 63 + "\n", False), ("\uff10" * 64, False), (" " + "0" * 63, False),
])
def test_certificate_key(key, ok):
    if ok:
        assert validate.certificate_key(key) == key.lower()
    else:
        with pytest.raises(InvalidInput) as e:
            validate.certificate_key(key)
        assert key.strip() not in str(e.value) or not key.strip()
