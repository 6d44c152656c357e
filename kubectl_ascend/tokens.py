"""Bootstrap tokens with kubeadm's semantics: format, Secret, durations. Pure logic, no I/O.

Facts (kubeadm / cluster-bootstrap): a token is `[a-z0-9]{6}.[a-z0-9]{16}` from a
CSPRNG; it lives in Secret `kube-system/bootstrap-token-<id>` of type
`bootstrap.kubernetes.io/token`; it authenticates as `system:bootstrap:<id>` in
group `system:bootstrappers` plus `auth-extra-groups`.
"""
from __future__ import annotations

import base64
import re
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from kubectl_ascend.errors import InvalidInput

TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
TOKEN_ID_RE = re.compile(r"^[a-z0-9]{6}$")
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_USAGES = ("authentication", "signing")
#: kubeadm's default token lifetime.
DEFAULT_TTL = timedelta(hours=24)
GROUP_RE = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")

#: Go's duration units in nanoseconds (time.ParseDuration: both micro signs are accepted).
_UNIT_NS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
            "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DUR_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
#: Go's time.Duration is an int64 of nanoseconds: about 2562047h47m.
MAX_DURATION_NS = 2**63 - 1


def generate_token() -> str:
    """A new token `<id>.<secret>` from the OS CSPRNG (os.urandom, uniform over [a-z0-9])."""
    out: list[str] = []
    while len(out) < 22:
        for b in os.urandom(32):
            if b < 252:  # 252 = 7 * 36: rejecting the rest keeps every character equally likely
                out.append(TOKEN_ALPHABET[b % 36])
    return "".join(out[:6]) + "." + "".join(out[6:22])


def parse_duration(text: str, what: str = "duration", minimum: timedelta = timedelta(seconds=1)) -> timedelta:
    """Parse a Go duration (`30m`, `2h`, `1h30m`, `1.5h`, `0`) strictly.

    Only ASCII digits, '.', and the units ns us µs ms s m h; no sign, no spaces. `0`
    (with or without a unit) is zero; anything else below `minimum`, or beyond what Go's
    time.Duration holds, is refused. (durationpy is not used: it accepts negative values.)
    """
    from fractions import Fraction

    def bad(reason: str) -> InvalidInput:
        shown = text if len(text) <= 40 else text[:37] + "..."
        return InvalidInput(f"{what} {shown!r} {reason}")

    if not isinstance(text, str) or not text:
        raise bad("is empty: use a Go duration such as 30m, 2h or 1h30m")
    if text[0] in "+-":
        raise bad("has a sign: use a positive Go duration such as 30m, 2h or 1h30m")
    if text == "0":
        return timedelta(0)
    pos, total = 0, Fraction(0)
    for m in _DUR_PART.finditer(text):
        if m.start() != pos:
            break
        total += Fraction(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
        if total > MAX_DURATION_NS:
            raise bad("is too long: Go durations end at 2562047h")
    if pos != len(text) or pos == 0:
        raise bad("is not a Go duration: use digits with the units ns, us, ms, s, m, h, e.g. 30m, 2h or 1h30m")
    if total == 0:
        return timedelta(0)
    if total < Fraction(int(minimum.total_seconds() * 1_000_000)) * 1_000:
        raise bad(f"is too short: the minimum is {format_duration(minimum)} (or 0 where it is allowed)")
    return timedelta(microseconds=int(total // 1_000))


def format_duration(td: timedelta) -> str:
    """Short human form, e.g. `23h59m`, `4m10s`, `2d3h`."""
    secs = int(td.total_seconds())
    if secs <= 0:
        return "0s"
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d{h}h" if h else f"{d}d"
    if h:
        return f"{h}h{m}m" if m else f"{h}h"
    if m:
        return f"{m}m{s}s" if s else f"{m}m"
    return f"{s}s"


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mask(token: str) -> str:
    """The token with its secret half hidden: safe to print anywhere."""
    m = TOKEN_RE.fullmatch(token)
    return f"{m.group(1)}.{'*' * 16}" if m else "******.****************"


def validate_groups(groups: list[str]) -> None:
    for g in groups:
        if not GROUP_RE.fullmatch(g):
            raise InvalidInput(f"group {g!r} is not allowed: extra groups must start with 'system:bootstrappers:'")


def build_secret(token: str, ttl: timedelta | None, *, description: str | None = None,
                 usages: tuple[str, ...] = DEFAULT_USAGES, groups: tuple[str, ...] = (DEFAULT_GROUP,),
                 now: datetime | None = None) -> dict[str, Any]:
    """The Secret kubeadm would create for `token`. ttl None or 0 means it never expires."""
    m = TOKEN_RE.fullmatch(token)
    if not m:
        raise InvalidInput("token has the wrong format (want [a-z0-9]{6}.[a-z0-9]{16})")
    token_id, secret = m.groups()
    data = {"token-id": token_id, "token-secret": secret}
    if ttl:
        data["expiration"] = rfc3339((now or datetime.now(timezone.utc)) + ttl)
    if description:
        data["description"] = description
    for u in usages:
        data[f"usage-bootstrap-{u}"] = "true"
    if groups:
        data["auth-extra-groups"] = ",".join(groups)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_PREFIX + token_id, "namespace": NAMESPACE},
        "type": SECRET_TYPE,
        "stringData": data,
    }


class TokenInfo:
    """What may be shown about a token: everything but its secret."""

    def __init__(self, id: str, expiration: datetime | None, usages: list[str] | None = None,
                 groups: list[str] | None = None, description: str = "", secret_name: str | None = None) -> None:
        self.id, self.expiration, self.usages = id, expiration, usages or []
        self.groups, self.description = groups or [], description
        #: The Secret that holds the token (normally bootstrap-token-<id>; revoke deletes this one).
        self.secret_name = secret_name or SECRET_PREFIX + id

    def __repr__(self) -> str:
        return f"TokenInfo(id={self.id!r}, expiration={self.expiration!r})"

    def ttl_left(self, now: datetime | None = None) -> timedelta | None:
        if self.expiration is None:
            return None
        return self.expiration - (now or datetime.now(timezone.utc))

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        left = self.ttl_left(now)
        return {
            "id": self.id,
            "expiration": rfc3339(self.expiration) if self.expiration else None,
            "expired": bool(left is not None and left.total_seconds() <= 0),
            "secondsLeft": int(left.total_seconds()) if left is not None else None,
            "usages": self.usages,
            "groups": self.groups,
            "description": self.description,
        }


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def info_from_secret(secret: dict[str, Any]) -> TokenInfo | None:
    """TokenInfo from a Secret as the API returns it (base64 data). The secret half is never read."""
    import binascii

    raw = secret.get("data") or {}
    dec: dict[str, str] = {}
    for k, v in raw.items() if isinstance(raw, dict) else ():
        if k == "token-secret":
            continue
        try:
            dec[k] = base64.b64decode(str(v), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            dec[k] = ""
    name = str((secret.get("metadata") or {}).get("name") or "")
    token_id = dec.get("token-id") or name.removeprefix(SECRET_PREFIX)
    if not TOKEN_ID_RE.fullmatch(token_id):
        return None
    exp = None
    if dec.get("expiration"):
        try:
            exp = parse_rfc3339(dec["expiration"])
        except ValueError:
            exp = None
    usages = sorted(k.removeprefix("usage-bootstrap-") for k, v in dec.items()
                    if k.startswith("usage-bootstrap-") and v == "true")
    groups = [g for g in dec.get("auth-extra-groups", "").split(",") if g]
    return TokenInfo(token_id, exp, usages, groups, dec.get("description", ""), name or None)


def token_id_of(arg: str) -> str:
    """Accept an ID or a whole token (its secret half is dropped unseen); refuse anything else."""
    m = TOKEN_RE.fullmatch(arg)
    if m:
        return m.group(1)
    if TOKEN_ID_RE.fullmatch(arg):
        return arg
    # Never echoed: a mistyped argument may be (part of) a token secret.
    raise InvalidInput(f"an argument of {len(arg)} character(s) is not a bootstrap token ID "
                       "(want 6 characters of [a-z0-9], as `kubectl ascend token list` shows)")
