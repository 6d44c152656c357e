"""`mindie scale` without a cluster: ratio band, free NPUs, whole-gang placement, plan order, usage errors.

Scenarios:
- --ratio / scaling.ratio parsing (decimals, fractions; MIN above MAX, MAX 0, garbage refused);
- free NPUs per node: only nodes with the servers' nodeSelector, Ready, schedulable, tolerated;
  allocatable minus the requests of pods not finished;
- a Volcano queue's room: capability minus the minResources of its admitted PodGroups;
- placement is whole gangs only: a 2-pod gang with room for one pod is not placed;
- plans: growing only is one upgrade, shrinking only is one, growing one role and shrinking the
  other is two with the growing one first; refusals name what fits per role and what is missing;
- the global ranktable of a shrunk release is built without the removed instances;
- the upgrade sends the release's own values with only the instance counts changed;
- the --watch wish ConfigMap: whole numbers of at least 1 per role, anything else ignored with why;
- CLI usage errors (bad --ratio, numbers below 1, no count at all, --watch with counts or --dry-run)
  exit 2 before any cluster call;
  a single-mode release is refused with one line.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import cli, errors
from kubectl_ascend import scale as s
from kubectl_ascend.commands import _common

pytestmark = pytest.mark.unit
NPU = "huawei.com/Ascend910"


def values(mode="pd", prefill=1, decode=1, pods=1, npus=8, **extra):
    return {"mode": mode, "accelerator": {"family": "910", "type": "module-910b-8"},
            "prefill": {"instances": prefill, "podsPerInstance": pods, "npusPerPod": npus},
            "decode": {"instances": decode, "podsPerInstance": pods, "npusPerPod": npus},
            "gang": {"queue": "default"}, "schedulerName": "", **extra}


def node(name, npus=8, typ="module-910b-8", ready=True, taints=(), unschedulable=False):
    return {"metadata": {"name": name, "labels": {"accelerator": "huawei-Ascend910", "accelerator-type": typ}},
            "spec": {"taints": list(taints), "unschedulable": unschedulable},
            "status": {"allocatable": {NPU: str(npus)},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(node_name, npus, phase="Running"):
    return {"metadata": {"name": f"p-{node_name}-{npus}"}, "spec": {"nodeName": node_name, "containers": [
        {"resources": {"requests": {NPU: str(npus)}, "limits": {NPU: str(npus)}}}]}, "status": {"phase": phase}}


# -- ratio --------------------------------------------------------------------

def test_ratio_parses_decimals_and_fractions():
    band = s.parse_ratio("0.5:3/2")
    assert band.holds(1, 2) and band.holds(3, 2) and not band.holds(2, 1) and not band.holds(1, 3)
    assert s.parse_ratio("1:1").holds(2, 2) and not s.parse_ratio("1:1").holds(2, 1)


@pytest.mark.parametrize("text, why", [("3", "is not MIN:MAX"), ("2:1", "above MAX"), ("0:0", "MAX must be above 0"),
                                       ("a:b", "is not MIN:MAX"), ("-1:2", "is not MIN:MAX")])
def test_bad_ratio_is_refused(text, why):
    with pytest.raises(errors.InvalidInput, match=why):
        s.parse_ratio(text)


# -- capacity -----------------------------------------------------------------

def test_free_npus_counts_only_eligible_nodes_and_live_pods():
    shape = s.shape_of(values(tolerations=[{"key": "npu", "operator": "Exists", "effect": "NoSchedule"}]))
    nodes = [node("a"), node("b"), node("other", typ="module-a3-16"), node("down", ready=False),
             node("cordoned", unschedulable=True), node("tainted", taints=[{"key": "x", "effect": "NoSchedule"}]),
             node("tolerated", taints=[{"key": "npu", "effect": "NoSchedule"}])]
    pods = [pod("a", 2), pod("a", 4), pod("b", 8, phase="Succeeded"), pod("other", 8)]
    assert s.free_npus(nodes, pods, shape) == {"a": 2, "b": 8, "tolerated": 8}


def test_queue_room_is_capability_minus_admitted_podgroups():
    q = {"metadata": {"name": "llm"}, "spec": {"capability": {NPU: "16"}}}
    pgs = [{"spec": {"queue": "llm", "minResources": {NPU: "8"}}, "status": {"phase": "Running"}},
           {"spec": {"queue": "llm", "minResources": {NPU: "8"}}, "status": {"phase": "Pending"}},
           {"spec": {"queue": "other", "minResources": {NPU: "8"}}, "status": {"phase": "Running"}}]
    assert s.queue_room(q, pgs, NPU) == 8
    assert s.queue_room({"metadata": {"name": "llm"}, "spec": {}}, pgs, NPU) is None


def test_a_gang_is_placed_whole_or_not_at_all():
    gangs = [s.Gang("prefill", 1, pods=2, npus=8, queue="default")]
    placed, left = s.place(gangs, {"a": 8, "b": 4}, {})
    assert (placed, left) == ([], gangs)
    placed, left = s.place(gangs, {"a": 8, "b": 8}, {})
    assert (placed, left) == (gangs, [])
    # the queue's room is part of the gang's fit
    assert s.place(gangs, {"a": 8, "b": 8}, {"default": 8}) == ([], gangs)


# -- plans --------------------------------------------------------------------

def plan(v, target, free, room=None, band=None):
    return s.make_plan("r", "ns", s.shape_of(v), target, band, free, room or {}, [])


def test_growing_one_role_and_shrinking_the_other_is_two_upgrades_growing_first():
    p = plan(values(prefill=3, decode=1), {"prefill": 2, "decode": 2}, {"a": 8})
    assert [(st.instances, st.add, st.remove) for st in p.steps] == [
        ({"prefill": 3, "decode": 2}, {"decode": [1]}, {}),
        ({"prefill": 2, "decode": 2}, {}, {"prefill": [2]})]
    assert [f"{g.role}-{g.index}" for g in p.new] == ["decode-1"]


def test_growing_or_shrinking_both_is_one_upgrade():
    up = plan(values(), {"prefill": 2, "decode": 2}, {"a": 8, "b": 8})
    assert [(st.instances, st.add) for st in up.steps] == [({"prefill": 2, "decode": 2},
                                                            {"prefill": [1], "decode": [1]})]
    down = plan(values(prefill=2, decode=2), {"prefill": 1, "decode": 1}, {})
    assert [(st.instances, st.remove) for st in down.steps] == [({"prefill": 1, "decode": 1},
                                                                 {"prefill": [1], "decode": [1]})]
    assert plan(values(), {"prefill": 1, "decode": 1}, {}).steps == []


def test_beyond_capacity_is_refused_with_what_fits_per_role_and_what_is_missing():
    with pytest.raises(s.Refused) as e:
        plan(values(), {"prefill": 3, "decode": 2}, {"a": 8, "b": 8, "c": 4})
    msg = str(e.value)
    assert "prefill: 2 new (1 pod(s) x 8 huawei.com/Ascend910), 2 fit" in msg
    assert "decode: 1 new (1 pod(s) x 8 huawei.com/Ascend910), 1 fit" in msg
    assert "2 of 3 fit together" in msg and "missing: 8 huawei.com/Ascend910 for prefill-2" in msg
    assert "(free: a 8, b 8, c 4)" in msg and "nothing was changed" in msg


def test_removing_instances_needs_no_capacity():
    assert plan(values(prefill=2), {"prefill": 1, "decode": 1}, {}).new == []


def test_outside_the_band_is_refused_and_the_release_value_is_the_default_band():
    with pytest.raises(s.Refused, match=r"3.00 is outside the P:D band 1:2 \(--ratio\)"):
        plan(values(), {"prefill": 3, "decode": 1}, {"a": 8, "b": 8}, band=s.parse_ratio("1:2"))
    shape = s.shape_of(values(scaling={"ratio": "1:2"}))
    assert shape.ratio == "1:2"


def test_single_mode_is_refused():
    with pytest.raises(s.Refused, match="mode single"):
        s.shape_of(values(mode="single"))


def test_multi_pod_instances_use_the_gang_queue():
    shape = s.shape_of(values(pods=2, gang={"queue": "llm"}))
    assert shape.queues == {"prefill": "llm", "decode": "llm"}
    assert s.shape_of(values(gang={"queue": "llm"})).queues == {"prefill": "default", "decode": "default"}


# -- ranktable and values ----------------------------------------------------

def _cm(name, role=None, index=None, kind="instance", **anno):
    labels = {"app.kubernetes.io/instance": "r", "mindie.huawei.com/ranktable": kind}
    if role:
        labels.update({"mindie.huawei.com/role": role, "mindie.huawei.com/instance-index": str(index)})
    return {"metadata": {"name": name, "labels": labels, "annotations": dict(anno)}}


def test_without_instances_drops_removed_instances_and_lowers_the_counts():
    cms = [_cm("g", kind="global", **{"mindie.huawei.com/prefill-instances": "3",
                                      "mindie.huawei.com/decode-instances": "1"}),
           _cm("p0", "prefill", 0), _cm("p1", "prefill", 1), _cm("p2", "prefill", 2), _cm("d0", "decode", 0)]
    pods = [{"metadata": {"name": c["metadata"]["name"], "labels": c["metadata"]["labels"]}} for c in cms[1:]]
    kept_cms, kept_pods = s.without_instances(cms, pods, {"prefill": 1, "decode": 1})
    assert [c["metadata"]["name"] for c in kept_cms] == ["g", "p0", "d0"]
    assert [p["metadata"]["name"] for p in kept_pods] == ["p0", "d0"]
    assert kept_cms[0]["metadata"]["annotations"]["mindie.huawei.com/prefill-instances"] == "1"
    assert cms[0]["metadata"]["annotations"]["mindie.huawei.com/prefill-instances"] == "3"  # input untouched


def test_values_for_keeps_the_release_values_and_changes_only_the_counts():
    user = {"mode": "pd", "prefill": {"npusPerPod": 2}, "model": {"name": "m"}}
    assert s.values_for(user, {"prefill": 3, "decode": 2}) == {
        "mode": "pd", "prefill": {"npusPerPod": 2, "instances": 3}, "decode": {"instances": 2}, "model": {"name": "m"}}
    assert user["prefill"] == {"npusPerPod": 2}


# -- CLI ----------------------------------------------------------------------

def _run(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.mark.parametrize("args, why", [
    (["--prefill", "2", "--ratio", "2:1"], "above MAX"),
    (["--prefill", "2", "--ratio", "x"], "is not MIN:MAX"),
    (["--prefill=-1"], "at least 1"),
    (["--decode", "0"], "at least 1"),
    ([], "give --prefill N and/or --decode M"),
    (["--watch", "--prefill", "2"], "--watch takes the counts from ConfigMap"),
    (["--watch", "--dry-run"], "--watch takes the counts from ConfigMap"),
])
def test_usage_errors_exit_2_without_a_cluster(monkeypatch, capsys, args, why):
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: pytest.fail("no cluster call expected"))
    monkeypatch.setattr(_common.Settings, "helm", lambda self: pytest.fail("no helm call expected"))
    code, _, err = _run(capsys, ["-n", "llm", "mindie", "scale", "qwen", *args])
    assert code == 2 and why in err, err


class FakeHelm:
    def __init__(self, v):
        self.v = v
        self.upgrades = []

    def prepare_chart(self, chart, name="ascend-stack"):
        return "chart"

    def release(self, release, namespace):
        return {"revision": 4, "chart": "mindie-service-0.1.0"}

    def user_values(self, release, namespace):
        return self.v

    def computed_values(self, release, namespace):
        return self.v

    def install_or_upgrade(self, *a, **k):
        self.upgrades.append((a, k))
        return {"revision": 5, "status": "deployed"}


class FakeKube:
    def list_nodes(self, label_selector=None):
        return [node("a")]

    def list_pods(self, namespace=None, label_selector=None, field_selector=None):
        return []

    def list_podgroups(self, namespace=None):
        return []

    def get_object(self, path):
        return {"metadata": {"name": path.rsplit("/", 1)[1]}, "spec": {}}


def test_single_mode_release_is_refused_in_one_line(monkeypatch, capsys):
    helm = FakeHelm(values(mode="single"))
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: FakeKube())
    monkeypatch.setattr(_common.Settings, "helm", lambda self: helm)
    code, _, err = _run(capsys, ["-n", "llm", "mindie", "scale", "qwen", "--prefill", "2"])
    assert code == 1 and err.count("\n") == 1 and "only pd and pymotor releases" in err, err
    assert helm.upgrades == []


def test_dry_run_prints_the_plan_and_upgrades_nothing(monkeypatch, capsys):
    import json

    helm = FakeHelm(values())
    monkeypatch.setattr(_common.Settings, "kube", lambda self, **kw: FakeKube())
    monkeypatch.setattr(_common.Settings, "helm", lambda self: helm)
    code, out, err = _run(capsys, ["-n", "llm", "mindie", "scale", "qwen", "--decode", "2", "--dry-run", "-o", "json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dryRun"] is True and doc["target"] == {"prefill": 1, "decode": 2}
    assert doc["steps"] == [{"instances": {"prefill": 1, "decode": 2}, "add": {"decode": [1]}, "remove": {}}]
    assert helm.upgrades == []


def test_status_rows_count_instances_and_check_the_band():
    from kubectl_ascend.mindie import scale_rows

    def cm(role, index, release="r", band=None):
        return {"metadata": {"name": f"rings-config-{release}-{role}-{index}", "namespace": "ns",
                             "labels": {"app.kubernetes.io/instance": release, "mindie.huawei.com/ranktable": "instance",
                                        "mindie.huawei.com/role": role, "mindie.huawei.com/instance-index": str(index)},
                             "annotations": {"mindie.huawei.com/ratio-band": band} if band else {}}}
    cms = [cm("prefill", 0, band="1:2"), cm("prefill", 1, band="1:2"), cm("prefill", 2, band="1:2"),
           cm("decode", 0, band="1:2"), cm("prefill", 0, release="q"), cm("decode", 0, release="q"),
           {"metadata": {"name": "g", "namespace": "ns", "labels": {"app.kubernetes.io/instance": "r",
                                                                    "mindie.huawei.com/ranktable": "global"}}}]
    rows = scale_rows(cms)
    assert rows[("ns", "r")] == {"prefill": 3, "decode": 1, "ratio": "3:1 (3.00)", "band": "1:2", "inBand": False}
    assert rows[("ns", "q")] == {"prefill": 1, "decode": 1, "ratio": "1:1 (1.00)", "band": None, "inBand": None}


@pytest.mark.parametrize("data, want, why", [
    ({"prefill": "2", "decode": "3", "status": "x"}, {"prefill": 2, "decode": 3}, None),
    ({"prefill": "0", "decode": "3"}, None, "prefill: '0' is not a whole number of instances, at least 1"),
    ({"prefill": "2"}, None, "decode: '' is not a whole number"),
    ({"prefill": "2", "decode": "1.5"}, None, "decode: '1.5' is not a whole number"),
])
def test_watch_wish_is_read_strictly(data, want, why):
    got, reason = s.read_wish({"data": data})
    assert got == want
    assert (reason is None) if why is None else why in reason
