"""Retries of the Kubernetes door: only where repeating cannot do harm (local HTTPS stub, requests counted).

Scenarios: a GET answered 503, 503, 200 succeeds on the third try; Retry-After
is honoured; retries stop after the time budget with a 5xx message; the budget is
one per Kube (run): requests failing meanwhile share it, an answer starts a new one; a POST
answered 503 is not resent, one answered 429 is (the server refused it before
doing anything); a POST whose connection drops after it was sent is NOT resent
and raises OutcomeUnknown; an idempotent label PATCH is resent, a plain PATCH
is not; a server that is down from the start fails fast; join-cmd's token
Secret create checks, after a lost answer, whether its Secret exists.
"""
from __future__ import annotations

import base64
import time

import pytest
import yaml

from kubectl_ascend import errors
from kubectl_ascend.kube import Kube
from tests.stubapi import StubAPI, issue, make_ca

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    ca, ca_cert, ca_key = make_ca()
    s = StubAPI(issue(ca_cert, ca_key, "apiserver", ips=("127.0.0.1",)), ca).start(tmp_path_factory.mktemp("srv"))
    s.ca_b64 = ca.b64("cert")
    yield s
    s.stop()


@pytest.fixture
def kc(tmp_path, api):
    p = tmp_path / "config"
    p.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{api.port}",
                                               "certificate-authority-data": api.ca_b64}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
    return str(p)


def answers(*results):
    """A route that gives the results in turn (then repeats the last); None drops the connection."""
    it = iter(results)
    state = {"last": results[-1]}

    def route(handler, seen):
        try:
            state["last"] = next(it)
        except StopIteration:
            pass
        r = state["last"]
        return r() if callable(r) else r
    return route


OK = (200, {}, {"ok": True})
UNAVAILABLE = (503, {}, {"kind": "Status", "message": "etcd is unhappy"})


def test_get_retried_on_503_until_ok(api, kc):
    api.routes["/r1"] = answers(UNAVAILABLE, UNAVAILABLE, OK)
    assert Kube(kc).request("get x", "GET", "/r1") == {"ok": True}
    assert api.count("GET", "/r1") == 3


def test_retry_after_is_honoured(api, kc):
    api.routes["/r2"] = answers((429, {"Retry-After": "1"}, {"message": "slow down"}), OK)
    t = time.monotonic()
    assert Kube(kc).request("get x", "GET", "/r2") == {"ok": True}
    assert time.monotonic() - t >= 0.9 and api.count("GET", "/r2") == 2


def test_retries_are_bounded_in_time(api, kc):
    api.routes["/r3"] = answers(UNAVAILABLE)
    t = time.monotonic()
    with pytest.raises(errors.ClusterUnreachable, match=r"get x: the API server failed \(503\): etcd is unhappy"):
        Kube(kc, retry_seconds=1.5).request("get x", "GET", "/r3")
    assert time.monotonic() - t < 4 and api.count("GET", "/r3") >= 2


def test_one_retry_budget_for_the_whole_run(api, kc):
    """The second request after the budget ran out is not retried for another budget; a good answer resets it."""
    api.routes["/b1"] = answers(UNAVAILABLE)
    kube = Kube(kc, retry_seconds=1.5)
    t = time.monotonic()
    with pytest.raises(errors.ServerFailed, match=r"\(503\): etcd is unhappy") as e:
        kube.request("get x", "GET", "/b1")
    assert e.value.status == 503
    for _ in range(5):
        with pytest.raises(errors.ServerFailed):
            kube.request("get x", "GET", "/b1")
    assert time.monotonic() - t < 3.5, "each request got its own budget"
    assert kube.request("get ok", "GET", "/ok-b") == {"path": "/ok-b"}  # the server answers: budget reset
    api.routes["/b2"] = answers(UNAVAILABLE, UNAVAILABLE, OK)
    assert kube.request("get x", "GET", "/b2") == {"ok": True} and api.count("GET", "/b2") == 3


def test_post_not_resent_on_503_but_on_429(api, kc):
    api.routes["/p1"] = answers(UNAVAILABLE, OK)
    with pytest.raises(errors.ClusterUnreachable, match="503"):
        Kube(kc).request("create x", "POST", "/p1", body={"a": 1})
    assert api.count("POST", "/p1") == 1
    api.routes["/p2"] = answers((429, {"Retry-After": "0"}, {"message": "too many"}), (201, {}, {"made": True}))
    assert Kube(kc).request("create x", "POST", "/p2", body={"a": 1}) == {"made": True}
    assert api.count("POST", "/p2") == 2


def test_post_with_lost_answer_is_never_resent(api, kc):
    api.routes["/p3"] = answers(None, OK)
    kube = Kube(kc)
    kube.server_version()  # the connection pool has a live connection, as mid-run
    with pytest.raises(errors.OutcomeUnknown, match="lost after the request was sent"):
        kube.request("create x", "POST", "/p3", body={"a": 1})
    assert api.count("POST", "/p3") == 1
    assert api.seen[-1].body == b'{"a": 1}'  # it did reach the server


def test_idempotent_patch_resent_plain_patch_not(api, kc):
    api.routes["/api/v1/nodes/n1"] = answers(None, OK)
    Kube(kc).patch_node_labels("n1", {"a": "b"})
    assert api.count("PATCH", "/api/v1/nodes/n1") == 2
    api.routes["/pp"] = answers(None, OK)
    with pytest.raises(errors.OutcomeUnknown):
        Kube(kc).request("patch x", "PATCH", "/pp", body={"a": 1})
    assert api.count("PATCH", "/pp") == 1


def test_get_resent_after_a_dropped_connection(api, kc):
    api.routes["/g"] = answers(None, None, OK)
    assert Kube(kc).request("get x", "GET", "/g") == {"ok": True}
    assert api.count("GET", "/g") == 3


def test_server_down_from_the_start_fails_fast(tmp_path, api):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = tmp_path / "down"
    p.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "certificate-authority-data": api.ca_b64}}],
        "contexts": [{"name": "x", "context": {"cluster": "c"}}], "current-context": "x"}))
    t = time.monotonic()
    with pytest.raises(errors.ClusterUnreachable, match=f"cannot reach the API server at https://127.0.0.1:{port}"):
        Kube(str(p)).server_version()
    assert time.monotonic() - t < 2


# -- join-cmd: the token Secret POST ----------------------------------------------------

def _secret():
    from kubectl_ascend import tokens

    return tokens.build_secret("abcdef.0123456789abcdef", None)


SECRETS = "/api/v1/namespaces/kube-system/secrets"


def test_join_token_lost_answer_but_created(api, kc):
    from kubectl_ascend.joincmd import _create_token_secret

    api.routes[SECRETS] = answers(None)  # the POST reaches the server, the answer is lost
    stored = {"metadata": {"name": "bootstrap-token-abcdef"},
              "data": {"token-secret": base64.b64encode(b"0123456789abcdef").decode()}}
    api.routes[SECRETS + "/bootstrap-token-abcdef"] = answers((200, {}, stored))
    _create_token_secret(Kube(kc), _secret())
    assert api.count("POST", SECRETS) == 1 and api.count("GET", SECRETS + "/bootstrap-token-abcdef") == 1


def test_join_token_lost_answer_and_not_created(api, kc):
    from kubectl_ascend.joincmd import _create_token_secret

    before = api.count("POST", SECRETS)
    api.routes[SECRETS] = answers(None)
    api.routes[SECRETS + "/bootstrap-token-abcdef"] = answers((404, {}, {"message": "not found"}))
    with pytest.raises(errors.ClusterUnreachable, match="the Secret does not exist, so no token was created"):
        _create_token_secret(Kube(kc), _secret())
    assert api.count("POST", SECRETS) == before + 1
