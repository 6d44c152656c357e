"""Strict parsers for what users and clusters hand us: endpoints, names, keys. Pure logic, no I/O.

Every function either returns the normalised value or raises InvalidInput with one
line that names the input (`what`) and the rule it broke. Nothing here echoes a
secret: none of these inputs is one.
"""
from __future__ import annotations

import ipaddress
import re

from kubectl_ascend.errors import InvalidInput

#: kubeadm's default API server port: `kubeadm join HOST` without a port uses it.
DEFAULT_API_PORT = 6443

#: RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, 1-63 characters.
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
LABEL_RE = re.compile(rf"^{_LABEL}$")
SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
#: Host names in endpoints may be upper case (DNS is case-insensitive); labels as above otherwise.
_HOST_LABEL = r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?$")
IPV4_RE = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")
CERT_KEY_RE = re.compile(r"^[0-9a-fA-F]{64}$")
#: Helm release names: an RFC 1123 label of at most 53 characters (helm's own limit).
RELEASE_MAX = 53


def _show(value: str) -> str:
    """A value for an error message: repr() so control characters and spaces are visible."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def dns_subdomain(value: str, what: str) -> str:
    """An RFC 1123 subdomain (Node, Secret, ConfigMap names): labels of 1-63, 253 characters in all."""
    if not value or len(value) > 253 or not value.isascii() or not SUBDOMAIN_RE.fullmatch(value):
        raise InvalidInput(f"{what} {_show(value)} is not a valid name: use lower-case letters, digits, '-' "
                           "and '.', starting and ending with a letter or digit, dot-separated parts of "
                           "1-63 characters, 253 in all (RFC 1123 subdomain)")
    return value


def dns_label(value: str, what: str, max_len: int = 63) -> str:
    """An RFC 1123 label (namespace names, release names)."""
    if not value or len(value) > max_len or not value.isascii() or not LABEL_RE.fullmatch(value):
        raise InvalidInput(f"{what} {_show(value)} is not a valid name: use at most {max_len} lower-case "
                           "letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label)")
    return value


def namespace(value: str, what: str = "namespace") -> str:
    return dns_label(value, what)


def release_name(value: str, what: str = "release name") -> str:
    return dns_label(value, what, RELEASE_MAX)


def certificate_key(value: str) -> str:
    if not value.isascii() or not CERT_KEY_RE.fullmatch(value):
        raise InvalidInput("--certificate-key must be exactly 64 hexadecimal characters (the 32-byte key "
                           "`kubeadm init phase upload-certs --upload-certs` prints)")
    return value.lower()


def _port(text: str, origin: str, value: str) -> int:
    if not text or not text.isascii() or not text.isdigit() or len(text) > 5:
        raise InvalidInput(f"{origin} {_show(value)} has an invalid port {_show(text)}: want a number 1-65535")
    port = int(text)
    if not 1 <= port <= 65535:
        raise InvalidInput(f"{origin} {_show(value)} has port {port}: want 1-65535")
    return port


def _host(text: str, origin: str, value: str) -> str:
    bad = f"{origin} {_show(value)}: host {_show(text)} is not an IPv4 address, a [bracketed] IPv6 address " \
          "or a DNS name"
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidInput(bad)
        inner = text[1:-1]
        try:
            ip = ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidInput(bad) from None
        if ip.scope_id is not None:
            raise InvalidInput(f"{origin} {_show(value)}: IPv6 zone indexes are not supported")
        return f"[{ip.compressed}]"
    if not text.isascii():
        raise InvalidInput(bad)
    if IPV4_RE.fullmatch(text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise InvalidInput(bad) from None
    if len(text.rstrip(".")) > 253 or not HOSTNAME_RE.fullmatch(text) or text.replace(".", "").isdigit():
        raise InvalidInput(bad)
    return text.rstrip(".").lower()


def endpoint(value: str, origin: str = "--endpoint") -> str:
    """`HOST[:PORT]`, optionally written as `https://HOST[:PORT]` (a kubeconfig server URL) -> `HOST:PORT`.

    HOST: IPv4, [IPv6] or an RFC 1123 DNS name; PORT: 1-65535. Without a port, `HOST` means
    HOST:6443 (kubeadm's default) and a URL `https://HOST` means HOST:443 (where that URL points).
    Anything else (paths, queries, user info, other schemes, shell characters) is refused.
    `origin` names where the value came from, for the message.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{origin} is empty: want HOST:PORT")
    s = value
    default_port = DEFAULT_API_PORT
    if "://" in s:
        scheme, _, s = s.partition("://")
        if scheme.lower() != "https":
            raise InvalidInput(f"{origin} {_show(value)}: only https:// API servers can be joined")
        if s.endswith("/"):
            s = s[:-1]
        default_port = 443  # a URL without a port means the scheme's port, as for every https client
    if s.startswith("["):
        close = s.find("]")
        if close < 0:
            raise InvalidInput(f"{origin} {_show(value)}: unclosed '[' in an IPv6 address")
        host_text, rest = s[:close + 1], s[close + 1:]
        if rest and not rest.startswith(":"):
            raise InvalidInput(f"{origin} {_show(value)}: want HOST:PORT, found {_show(rest)} after the host")
        port_text = rest[1:] if rest else None
    elif s.count(":") > 1:
        raise InvalidInput(f"{origin} {_show(value)}: write IPv6 addresses in brackets, e.g. [fd00::1]:6443")
    else:
        host_text, sep, port_text_raw = s.partition(":")
        port_text = port_text_raw if sep else None
    host = _host(host_text, origin, value)
    port = default_port if port_text is None else _port(port_text, origin, value)
    return f"{host}:{port}"
