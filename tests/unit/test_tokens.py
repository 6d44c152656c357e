"""Token format, Secret building, durations, ID parsing, masking.

Scenarios: generated tokens match kubeadm's format and differ; the Secret has
kubeadm's name/type/keys and an RFC3339 UTC expiration; ttl 0 omits it;
Go-style durations parse and negatives/garbage are refused; listings are built
without ever reading the secret half.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from kubectl_ascend import tokens
from kubectl_ascend.errors import InvalidInput

pytestmark = pytest.mark.unit


def test_generated_tokens_have_kubeadm_format_and_are_random():
    toks = {tokens.generate_token() for _ in range(200)}
    assert len(toks) == 200
    for t in toks:
        assert tokens.TOKEN_RE.match(t), t
    # every character of the alphabet shows up over many tokens: no reduced alphabet
    chars = set("".join(t.replace(".", "") for t in toks))
    assert chars == set(tokens.TOKEN_ALPHABET)


def test_secret_matches_kubeadm():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    s = tokens.build_secret("abcdef.0123456789abcdef", timedelta(hours=24), description="rack 7", now=now)
    assert s["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert s["type"] == "bootstrap.kubernetes.io/token"
    assert s["stringData"] == {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        "expiration": "2026-01-03T03:04:05Z",
        "description": "rack 7",
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
    }


def test_secret_without_ttl_never_expires():
    s = tokens.build_secret("abcdef.0123456789abcdef", None)
    assert "expiration" not in s["stringData"]


def test_bad_token_refused_without_echo():
    with pytest.raises(InvalidInput) as e:
        tokens.build_secret("ABCDEF.0123456789abcdef", None)
    assert "0123456789abcdef" not in str(e.value)


@pytest.mark.parametrize("text,seconds", [
    ("30m", 1800), ("2h", 7200), ("24h", 86400), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400),
    ("0", 0), ("0s", 0), ("1s", 1), ("1000ms", 1), ("1500ms", 1.5), ("2562047h", 2562047 * 3600),
])
def test_parse_duration(text, seconds):
    assert tokens.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", [
    "-1h", "+1h", "1d", "h", "", "10", "1h-5m", "abc", "1hh", " 2h", "2h ", "2h\n", "\u0661h", "\uff12h",
    "500ms", "999999us", "1ns", "2562048h", "9999999999999999999h", "1e3s", "1_000s", "0x10s", "1h 5m", "1.5.5h",
])
def test_parse_duration_rejects(text):
    with pytest.raises(InvalidInput):
        tokens.parse_duration(text)


def test_mask_hides_secret():
    assert tokens.mask("abcdef.0123456789abcdef") == "abcdef.****************"


def _api_secret(data: dict[str, str]) -> dict:
    return {"metadata": {"name": "bootstrap-token-" + data["token-id"]},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_info_from_secret_never_exposes_secret():
    sec = _api_secret({"token-id": "abcdef", "token-secret": "0123456789abcdef",
                       "expiration": "2030-01-01T00:00:00Z", "usage-bootstrap-signing": "true",
                       "usage-bootstrap-authentication": "true", "auth-extra-groups": "system:bootstrappers:x",
                       "description": "d"})
    info = tokens.info_from_secret(sec)
    d = info.as_dict(datetime(2029, 12, 31, 23, 0, tzinfo=timezone.utc))
    assert d == {"id": "abcdef", "expiration": "2030-01-01T00:00:00Z", "expired": False, "secondsLeft": 3600,
                 "usages": ["authentication", "signing"], "groups": ["system:bootstrappers:x"], "description": "d"}
    assert "0123456789abcdef" not in repr(info) + repr(d)


def test_token_id_of():
    assert tokens.token_id_of("abcdef") == "abcdef"
    assert tokens.token_id_of("abcdef.0123456789abcdef") == "abcdef"
    with pytest.raises(InvalidInput) as e:
        tokens.token_id_of("abcde.0123456789abcdefg")
    assert "0123456789abcdefg" not in str(e.value)


def test_format_duration():
    assert tokens.format_duration(timedelta(hours=23, minutes=59, seconds=3)) == "23h59m"
    assert tokens.format_duration(timedelta(days=2, hours=3)) == "2d3h"
    assert tokens.format_duration(timedelta(seconds=-5)) == "0s"
