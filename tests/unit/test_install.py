"""install's decisions that need no cluster (kubectl_ascend.install).

- which -f/--set values an install uses: a new release, --reset-values, a release without
  a record of them (helm, an older plugin), a release with one (kept, this run on top);
- the record round-trips through the release's values;
- the dry run's object rows: cluster-scoped kinds get no namespace, namespaced ones
  default to the release namespace;
- a two-step apply: helm without mindie-service, the CRDs established, then helm with
  it; one helm call when nothing waits for a CRD; a CRD that never establishes stops
  before the second step;
- helm's server-side apply conflicting only on a rings-config-* hccl.json (the operator
  rewrote it between render and apply) is applied again, up to 5 times; other failures
  are not retried.
"""
from __future__ import annotations

import pytest

from kubectl_ascend import install
from kubectl_ascend.profile import Profile, facts_from_nodes

pytestmark = pytest.mark.unit

GIVEN = {"ascend-operator": {"enabled": False}}


def test_a_new_release_uses_this_runs_values():
    values, note = install.user_values(None, GIVEN, reset=False)
    assert values == GIVEN
    assert note == "user values: ascend-operator.enabled (new release)"
    assert install.user_values(None, {}, reset=False)[1] == "user values: none (new release)"


def test_an_upgrade_keeps_the_recorded_values_and_puts_this_run_on_top():
    installed = install.with_user_record({"global": {"imageRegistry": "r.local"}, "ascend-operator": {"enabled": True}})
    assert install.previous_user_values(installed) == {"global": {"imageRegistry": "r.local"},
                                                       "ascend-operator": {"enabled": True}}
    values, note = install.user_values(installed, GIVEN, reset=False)
    assert values == {"global": {"imageRegistry": "r.local"}, "ascend-operator": {"enabled": False}}
    assert note.startswith("user values: kept from the installed release (--reset-values drops them): ")
    assert "global.imageRegistry" in note and note.endswith("; this run adds/overrides: ascend-operator.enabled")


def test_reset_values_and_a_release_without_a_record_use_only_this_run():
    installed = install.with_user_record({"global": {"imageRegistry": "r.local"}})
    values, note = install.user_values(installed, GIVEN, reset=True)
    assert values == GIVEN and "dropped (--reset-values)" in note
    values, note = install.user_values({"global": {"imageRegistry": "by-helm"}}, {}, reset=False)
    assert values == {} and "has no record of its -f/--set values" in note and note.endswith(": none")
    assert install.previous_user_values({"global": {install.USER_VALUES_KEY: "not json"}}) is None


def test_object_rows_give_cluster_scoped_kinds_no_namespace():
    plan = install.InstallPlan(Profile(facts_from_nodes([]), {}), "chart", "rel", "mindx-dl", None, [
        {"kind": "ClusterRole", "metadata": {"name": "cr"}},
        {"kind": "Deployment", "metadata": {"name": "d"}},
        {"kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "kube-system"}},
        None,
    ])
    assert plan.object_rows() == [{"kind": "ClusterRole", "namespace": "", "name": "cr"},
                                  {"kind": "Deployment", "namespace": "mindx-dl", "name": "d"},
                                  {"kind": "DaemonSet", "namespace": "kube-system", "name": "ds"}]


class _Cluster:
    """What apply_plan asks of the API and of Helm, recorded in order; a CRD is established once a
    helm step whose values hold the stack has run."""

    def __init__(self):
        self.calls: list[str] = []
        self.crds: list[dict] = []

    def get_namespace(self, name):
        return {"metadata": {"name": name}}

    def list_crds(self):
        self.calls.append("list_crds")
        return self.crds

    def observe(self, what, sources, timeout):
        """The CRDs now, once: a wait whose condition does not hold then has timed out."""
        self.calls.append(f"observe {', '.join(sources)}")
        yield {"crds": self.crds}

    def install_or_upgrade(self, chart_ref, release, namespace, values, **kw):
        self.calls.append(f"helm mindie-service.enabled={values['mindie-service']['enabled']}")
        self.crds = [{"metadata": {"name": "podgroups.scheduling.volcano.sh"},
                      "status": {"conditions": [{"type": "Established", "status": "True"}]}}]
        return {"revision": self.calls.count("helm mindie-service.enabled=False")
                + self.calls.count("helm mindie-service.enabled=True"), "status": "deployed"}


def _plan(values):
    return install.InstallPlan(Profile(facts_from_nodes([]), values), "chart", "rel", "mindx-dl", None, [])


def test_two_step_apply_runs_the_stack_then_mindie_service():
    values = {"mindie-service": {"enabled": True}}
    plan = _plan(values)
    pending = [install.Pending("PodGroup", "p", "podgroups.scheduling.volcano.sh", "mindie-service")]
    plan.first_values, plan.first_creates = install.first_step(values, pending)
    c, said = _Cluster(), []
    result = install.apply_plan(c, c, plan, timeout="1m", reset_values=False, say=said.append)
    assert c.calls == ["helm mindie-service.enabled=False", "observe crds", "helm mindie-service.enabled=True"]
    assert result["revision"] == 2
    assert said == ["step 1 of 2: release rel revision 1 without mindie-service; waiting for "
                    "podgroups.scheduling.volcano.sh", "step 2 of 2: mindie-service"]


def test_one_step_apply_when_the_crds_are_served():
    c, said = _Cluster(), []
    install.apply_plan(c, c, _plan({"mindie-service": {"enabled": True}}), timeout="1m", reset_values=False,
                       say=said.append)
    assert c.calls == ["helm mindie-service.enabled=True"] and said == []


def test_a_crd_that_never_establishes_stops_before_step_two():
    c = _Cluster()
    c.install_or_upgrade = lambda *a, **kw: c.calls.append("helm") or {"revision": 1}
    plan = _plan({"mindie-service": {"enabled": True}})
    plan.first_values, plan.first_creates = {"mindie-service": {"enabled": False}}, ["jobs.batch.volcano.sh"]
    with pytest.raises(install.errors.AscendError, match="CRDs not established after 60s: jobs.batch.volcano.sh"):
        install.apply_plan(c, c, plan, timeout="1m", reset_values=False, say=lambda s: None)
    assert c.calls.count("helm") == 1


#: helm 4's answer when the operator rewrote hccl.json between the render and the apply (CI, 2026-11-30)
RACE = ('helm upgrade --install ascend-stack: level=WARN msg="upgrade failed" name=ascend-stack error="conflict '
        'occurred while applying object mindx-dl/rings-config-ascend-stack-mindie-service-prefill-0 /v1, '
        'Kind=ConfigMap: Apply failed with 1 conflict: conflict with \\"kubectl-ascend\\" using v1: .data.hccl.json"; '
        'UPGRADE FAILED: conflict occurred while applying object mindx-dl/rings-config-ascend-stack-mindie-service-'
        'prefill-0 /v1, Kind=ConfigMap: Apply failed with 1 conflict: conflict with "kubectl-ascend" using v1: '
        '.data.hccl.json')


class _RacingHelm:
    def __init__(self, errors_first):
        self.errors, self.calls = list(errors_first), 0

    def install_or_upgrade(self, *a, **kw):
        self.calls += 1
        if self.errors:
            raise install.errors.HelmError(self.errors.pop(0))
        return {"revision": 7, "status": "deployed"}


def test_a_ranktable_rewritten_during_the_apply_is_applied_again(monkeypatch):
    monkeypatch.setattr(install.time, "sleep", lambda s: None)
    helm, said = _RacingHelm([RACE, RACE]), []
    result = install.apply_plan(_Cluster(), helm, _plan({"mindie-service": {"enabled": True}}), timeout="1m",
                                reset_values=False, say=said.append)
    assert (result["revision"], helm.calls) == (7, 3)
    assert said[-1] == ("the Ascend Operator rewrote a ranktable ConfigMap while helm applied; applying again "
                        "(attempt 3 of 5)")


@pytest.mark.parametrize("message", [
    RACE.replace(".data.hccl.json", ".data.other"),  # a field the operator does not write
    RACE.replace("rings-config-", "my-config-"),  # not a ranktable ConfigMap
    "UPGRADE FAILED: context deadline exceeded",
])
def test_other_helm_failures_are_not_retried(monkeypatch, message):
    monkeypatch.setattr(install.time, "sleep", lambda s: None)
    helm = _RacingHelm([message])
    with pytest.raises(install.errors.HelmError):
        install.apply_plan(_Cluster(), helm, _plan({"mindie-service": {"enabled": True}}), timeout="1m",
                           reset_values=False, say=lambda s: None)
    assert helm.calls == 1


def test_a_race_that_never_ends_gives_up_after_five_applies(monkeypatch):
    monkeypatch.setattr(install.time, "sleep", lambda s: None)
    helm = _RacingHelm([RACE] * 9)
    with pytest.raises(install.errors.HelmError, match="hccl.json"):
        install.apply_plan(_Cluster(), helm, _plan({"mindie-service": {"enabled": True}}), timeout="1m",
                           reset_values=False, say=lambda s: None)
    assert helm.calls == install.RANKTABLE_RACE_ATTEMPTS == 5
