# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_applications.py: the resolver, desired fields, differences, planning, typed changes."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _applications as applications
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError

APP_ID = "0172c9f5a5c3ed9a0a5f5c8f00000000"
GROUP_ID = "016f0a6f2f8e4a6ee5a5e7c1000000aa"


class FakeClient:
    """Answers from a dict of applications and records every call, so that the request count is asserted."""

    def __init__(self, apps: t.Optional[t.List[t.Dict[str, t.Any]]] = None,
                 groups: t.Optional[t.List[t.Dict[str, t.Any]]] = None) -> None:
        self.apps = {app["id"]: dict(app) for app in apps or []}
        self.groups = groups or []
        self.calls: t.List[t.Tuple[str, str]] = []

    def list(self, path: str) -> t.List[t.Dict[str, t.Any]]:
        self.calls.append(("GET", path))
        return list(self.groups) if path == applications.POLICY_GROUPS_PATH else [dict(app) for app in self.apps.values()]

    def get_or_none(self, path: str) -> t.Optional[t.Dict[str, t.Any]]:
        self.calls.append(("GET", path))
        found = self.apps.get(path.rsplit("/", 1)[1])
        return dict(found) if found else None

    def create(self, path: str, body: t.Dict[str, t.Any], read_back: t.Any = None) -> t.Dict[str, t.Any]:
        self.calls.append(("POST", path))
        created = dict(body, id="new", etag="1")
        self.apps["new"] = created
        return dict(created)

    def update(self, path: str, body: t.Dict[str, t.Any], etag: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        self.calls.append(("PUT %s" % etag, path))
        app = self.apps[path.rsplit("/", 1)[1]]
        app.update(body)
        return dict(app)

    def delete(self, path: str, etag: t.Optional[str] = None) -> bool:
        self.calls.append(("DELETE %s" % etag, path))
        return self.apps.pop(path.rsplit("/", 1)[1], None) is not None


def app(**fields: t.Any) -> t.Dict[str, t.Any]:
    return dict({"id": APP_ID, "name": "telemetry", "description": "", "status": "ACTIVE", "groups": [], "etag": "7"}, **fields)


# -- the resolver -------------------------------------------------------------------------------------------


def test_resolve_by_id_is_one_get_and_by_name_one_list() -> None:
    client = FakeClient([app()])
    assert applications.resolve_application(client, application_id=APP_ID)["name"] == "telemetry"
    assert applications.resolve_application(client, name="telemetry")["id"] == APP_ID
    assert client.calls == [("GET", "/v3/applications/" + APP_ID), ("GET", "/v3/applications")]


@pytest.mark.parametrize("kwargs, words", [
    ({"application_id": "0" * 32}, "There is no application with application_id " + "0" * 32),
    ({"name": "nowhere"}, "There is no application named 'nowhere'"),
])
def test_a_missing_application_has_one_message_by_id_or_by_name(kwargs: t.Dict[str, str], words: str) -> None:
    with pytest.raises(IzumaConfigError) as info:
        applications.resolve_application(FakeClient([app()]), **kwargs)
    assert words in str(info.value) and "izuma_application" in str(info.value)
    assert applications.resolve_application(FakeClient([app()]), required=False, **kwargs) is None


def test_a_malformed_id_is_refused_before_any_request() -> None:
    client = FakeClient([app()])
    with pytest.raises(IzumaConfigError, match="application_id must be 32 lowercase hexadecimal characters"):
        applications.resolve_application(client, application_id="not-an-id")
    with pytest.raises(IzumaConfigError, match="Give an application name or application_id"):
        applications.resolve_application(client)
    assert client.calls == []


def test_an_id_can_be_trusted_without_a_request() -> None:
    client = FakeClient()
    assert applications.resolve_application(client, application_id=APP_ID, fetch=False) == {"id": APP_ID}
    assert client.calls == []


# -- groups and desired fields ---------------------------------------------------------------------------------


def test_group_ids_cost_no_request_and_names_one() -> None:
    client = FakeClient(groups=[{"id": GROUP_ID, "name": "Administrators"}])
    assert applications.resolve_groups(client, [GROUP_ID, GROUP_ID]) == [GROUP_ID]
    assert client.calls == []
    assert applications.resolve_groups(client, ["Administrators", GROUP_ID]) == [GROUP_ID]
    assert client.calls == [("GET", applications.POLICY_GROUPS_PATH)]


def test_an_unknown_group_names_the_groups_there_are() -> None:
    client = FakeClient(groups=[{"id": GROUP_ID, "name": "Administrators"}])
    with pytest.raises(IzumaConfigError, match="no policy group named 'Nobody'; the account has Administrators"):
        applications.resolve_groups(client, ["Nobody"])
    with pytest.raises(IzumaConfigError, match="the account has no groups"):
        applications.resolve_groups(FakeClient(), ["Nobody"])


def test_desired_fields_leave_out_what_the_task_does_not_set_and_check_limits() -> None:
    assert applications.desired_fields(None, None, None, None) == {}
    assert applications.desired_fields("a", "", "inactive", []) == {"name": "a", "description": "", "status": "INACTIVE", "groups": []}
    with pytest.raises(IzumaConfigError, match="name must be 1 to 100 characters"):
        applications.desired_fields("n" * 101, None, None, None)
    with pytest.raises(IzumaConfigError, match="name must be 1 to 100 characters"):
        applications.desired_fields("", None, None, None)
    with pytest.raises(IzumaConfigError, match="description must be at most 500"):
        applications.desired_fields(None, "d" * 501, None, None)


# -- planning -------------------------------------------------------------------------------------------------


def test_only_fields_that_differ_are_updated_groups_in_any_order_and_no_description_as_empty() -> None:
    observed = app(description=None, groups=["b", "a"])
    assert not applications.plan_application(observed, {"description": "", "groups": ["a", "b"]}, "present").changed
    plan = applications.plan_application(observed, {"description": "words", "groups": ["a"], "status": "ACTIVE"}, "present")
    (change,) = plan.changes
    assert isinstance(change, applications.UpdateApplication)
    assert change.body == {"description": "words", "groups": ["a"]}
    assert change.describe() == "update application 'telemetry': description, groups"
    assert change.details() == {"change": "update application 'telemetry': description, groups", "kind": "UpdateApplication",
                                "why": "description, groups differ from the task"}


def test_a_missing_application_is_created_from_its_name_or_refused_without_one() -> None:
    plan = applications.plan_application(None, {"name": "new-app"}, "present")
    (change,) = plan.changes
    assert isinstance(change, applications.CreateApplication)
    assert change.describe() == "create application 'new-app'"
    assert change.after == {"id": None, "name": "new-app", "description": "", "status": "ACTIVE", "groups": []}
    with pytest.raises(IzumaConfigError, match="give its name to create it"):
        applications.plan_application(None, {"description": "x"}, "present")


def test_absent_deletes_what_exists_and_nothing_else() -> None:
    assert not applications.plan_application(None, {}, "absent").changed
    (change,) = applications.plan_application(app(), {}, "absent").changes
    assert isinstance(change, applications.DeleteApplication) and change.why == "state=absent"
    assert applications.predicted_application(app(), applications.plan_application(app(), {}, "absent")) is None


# -- typed changes --------------------------------------------------------------------------------------------


def test_each_change_applies_itself_with_the_observed_etag_and_returns_the_result() -> None:
    client = FakeClient([app()])
    updated = applications.UpdateApplication(app(), {"description": "new"}).apply(client)
    assert updated["description"] == "new"
    assert applications.DeleteApplication(app()).apply(client) is None
    created = applications.CreateApplication({"name": "fresh"}, why="there is none").apply(client)
    assert created["id"] == "new"
    assert client.calls == [("PUT 7", "/v3/applications/" + APP_ID), ("DELETE 7", "/v3/applications/" + APP_ID),
                            ("POST", "/v3/applications")]


# -- entry points ---------------------------------------------------------------------------------------------


def test_converge_in_check_mode_predicts_and_writes_nothing() -> None:
    client = FakeClient([app()])
    result = applications.converge(client, {"name": "telemetry", "description": "new", "state": "present"}, True, True)
    assert result["changed"] and result["application"]["description"] == "new"
    assert result["diff"] == {"before": {"telemetry": {"id": APP_ID, "name": "telemetry", "description": "", "status": "ACTIVE",
                                                       "groups": []}},
                              "after": {"telemetry": {"id": APP_ID, "name": "telemetry", "description": "new", "status": "ACTIVE",
                                                      "groups": []}}}
    assert [method for method, _path in client.calls] == ["GET"]


def test_converge_by_a_missing_id_fails_when_present_and_is_done_when_absent() -> None:
    with pytest.raises(IzumaConfigError, match="There is no application with application_id"):
        applications.converge(FakeClient(), {"application_id": APP_ID, "state": "present"}, False, False)
    result = applications.converge(FakeClient(), {"application_id": APP_ID, "state": "absent"}, False, False)
    assert result["changed"] is False and result["application"] == {}


def test_info_filters_and_a_missing_id_is_an_empty_answer() -> None:
    client = FakeClient([app(), app(id="1" * 32, name="other", status="INACTIVE")])
    assert [a["name"] for a in applications.info(client, {"status": "inactive"})["applications"]] == ["other"]
    assert applications.info(client, {"application_id": "2" * 32})["applications"] == []
    assert [a["id"] for a in applications.info(client, {"name": "telemetry"})["applications"]] == [APP_ID]


def test_absent_lists_no_policy_groups() -> None:
    client = FakeClient([app()])
    result = applications.converge(client, {"name": "telemetry", "groups": ["Developers"], "state": "absent"}, True, False)
    assert result["changed"] and all(not path.startswith("/v3/policy-groups") for _method, path in client.calls)


def test_a_missing_application_can_be_told_apart() -> None:
    error = applications.missing_application(application_id=APP_ID)
    assert isinstance(error, IzumaConfigError)
    assert error.to_dict()["status"] == 404 and error.to_dict()["type"] == "not_found"


def test_an_api_error_is_not_turned_into_a_missing_application() -> None:
    class Failing(FakeClient):
        def get_or_none(self, path: str) -> t.Optional[t.Dict[str, t.Any]]:
            raise IzumaApiError("boom", status=500)

    with pytest.raises(IzumaApiError):
        applications.resolve_application(Failing(), application_id=APP_ID)
