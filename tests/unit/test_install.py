"""install's decisions that need no cluster (kubectl_ascend.install).

- which -f/--set values an install uses: a new release, --reset-values, a release without
  a record of them (helm, an older plugin), a release with one (kept, this run on top);
- the record round-trips through the release's values;
- the dry run's object rows: cluster-scoped kinds get no namespace, namespaced ones
  default to the release namespace.
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
