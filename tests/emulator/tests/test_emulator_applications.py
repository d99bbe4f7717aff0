# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applications and policy groups: fields, validation, uniqueness, limits, etags, cascade delete."""

from __future__ import annotations

import re

from emulator_helpers import ApiClient, CertFactory, assert_error

HEX32 = re.compile(r"^[0-9a-f]{32}$")
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_policy_groups_are_administrators_and_developers(api: ApiClient) -> None:
    body = api.get("/v3/policy-groups").json()
    assert body["object"] == "list"
    assert sorted(group["name"] for group in body["data"]) == ["Administrators", "Developers"]
    for group in body["data"]:
        # The specification's GroupSummary: object "group", with the counts it requires.
        assert group["object"] == "group" and HEX32.match(group["id"])
        assert set(group) == {"object", "id", "name", "account_id", "created_at", "updated_at", "etag",
                              "apikey_count", "application_count", "user_count"}
        assert (group["apikey_count"], group["application_count"], group["user_count"]) == (0, 0, 0)
        assert api.get(f"/v3/policy-groups/{group['id']}").json() == group
    assert [group["name"] for group in api.get("/v3/policy-groups", params={"name__eq": "Developers"}).json()["data"]] == ["Developers"]


def test_create_application_returns_every_field(api: ApiClient) -> None:
    response = api.post("/v3/applications", json={"name": "fleet", "description": "the fleet"})
    assert response.status_code == 201
    application = response.json()
    # last_used_at is left out until the application is used (the schema types it as a date-time string).
    assert set(application) == {"object", "id", "account_id", "name", "description", "status", "groups",
                                "created_at", "updated_at", "etag"}
    assert application["object"] == "application"
    assert HEX32.match(application["id"]) and HEX32.match(application["account_id"])
    assert application["status"] == "ACTIVE" and application["groups"] == []
    assert RFC3339_Z.match(application["created_at"]) and RFC3339_Z.match(application["updated_at"])
    assert response.headers["ETag"] == f"\"{application['etag']}\""
    assert api.get(f"/v3/applications/{application['id']}").json() == application


def test_admin_key_belongs_to_no_application(api: ApiClient) -> None:
    assert api.get("/v3/applications").json()["data"] == []


def test_application_name_is_required_and_bounded(api: ApiClient) -> None:
    assert_error(api.post("/v3/applications", json={}), 400, "validation_error", "name")
    assert_error(api.post("/v3/applications", json={"name": "   "}), 400, "validation_error", "name")
    assert_error(api.post("/v3/applications", json={"name": 7}), 400, "validation_error", "name")
    assert_error(api.post("/v3/applications", json={"name": "x" * 101}), 400, "validation_error", "name")
    assert api.post("/v3/applications", json={"name": "x" * 100}).status_code == 201


def test_application_description_status_and_groups_are_validated(api: ApiClient) -> None:
    body = assert_error(api.post("/v3/applications", json={"name": "a", "description": "d" * 501, "status": "on", "groups": ["nope"]}),
                        400, "validation_error")
    assert {item["name"] for item in body["fields"]} == {"description", "status", "groups"}
    created = api.create_application("a", description="d" * 500, status="INACTIVE", groups=[api.group_id("Developers")])
    assert created["status"] == "INACTIVE" and created["groups"] == [api.group_id("Developers")]


def test_unknown_fields_are_refused_unless_settings_allow(api: ApiClient, emulator) -> None:
    assert_error(api.post("/v3/applications", json={"name": "a", "colour": "red"}), 400, "validation_error", "colour")
    emulator.settings(reject_unknown_fields=False)
    assert api.post("/v3/applications", json={"name": "a", "colour": "red"}).status_code == 201


def test_application_names_are_unique(api: ApiClient) -> None:
    first = api.create_application("same")
    assert_error(api.post("/v3/applications", json={"name": "same"}), 409, "duplicate", "name")
    other = api.create_application("other")
    assert_error(api.put(f"/v3/applications/{other['id']}", json={"name": "same"}), 409, "duplicate", "name")
    # Renaming an application to its own name is not a conflict.
    assert api.put(f"/v3/applications/{first['id']}", json={"name": "same"}).status_code == 200


def test_application_limit_is_a_setting(api: ApiClient, emulator) -> None:
    emulator.settings(max_applications=4)
    for index in range(4):
        api.create_application(f"app-{index}")
    assert_error(api.post("/v3/applications", json={"name": "fifth"}), 400, "account_limit_exceeded")
    # A duplicate name is reported as such even at the limit (a retried POST learns the name exists).
    assert_error(api.post("/v3/applications", json={"name": "app-0"}), 409, "duplicate")


def test_application_limit_defaults_to_25(api: ApiClient) -> None:
    for index in range(25):
        api.create_application(f"app-{index}")
    assert_error(api.post("/v3/applications", json={"name": "one-too-many"}), 400, "account_limit_exceeded")


def test_put_updates_given_fields_and_bumps_etag(api: ApiClient) -> None:
    created = api.create_application("a", description="before")
    response = api.put(f"/v3/applications/{created['id']}", json={"status": "INACTIVE"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["status"] == "INACTIVE" and updated["description"] == "before" and updated["name"] == "a"
    assert updated["etag"] != created["etag"]
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] >= created["updated_at"]
    cleared = api.put(f"/v3/applications/{created['id']}", json={"description": None}).json()
    assert cleared["description"] == "" and cleared["etag"] not in (created["etag"], updated["etag"])


def test_if_match_guards_put_and_delete(api: ApiClient) -> None:
    created = api.create_application("a")
    path = f"/v3/applications/{created['id']}"
    assert_error(api.put(path, json={"description": "x"}, headers={"If-Match": "\"stale\""}), 412, "precondition_failed")
    updated = api.put(path, json={"description": "x"}, headers={"If-Match": f"\"{created['etag']}\""})
    assert updated.status_code == 200
    assert_error(api.delete(path, headers={"If-Match": created["etag"]}), 412, "precondition_failed")
    assert api.delete(path, headers={"If-Match": updated.json()["etag"]}).status_code == 204


def test_if_match_can_be_switched_off(api: ApiClient, emulator) -> None:
    emulator.settings(honour_if_match=False)
    created = api.create_application("a")
    assert api.put(f"/v3/applications/{created['id']}", json={"description": "x"}, headers={"If-Match": "\"stale\""}).status_code == 200


def test_delete_cascades_to_keys(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a")
    api.add_verification_key(application["id"], "k1", certs.certificate(certs.ec()))
    access_key = api.create_access_key(application["id"], "ak1")
    response = api.delete(f"/v3/applications/{application['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_error(api.get(f"/v3/applications/{application['id']}"), 404, "not_found")
    assert_error(api.get(f"/v3/applications/{application['id']}/verification-keys"), 404, "not_found")
    assert emulator.state()["applications"] == []
    # The deleted access key no longer authenticates.
    assert_error(api.get("/v3/applications", token=access_key["key"]), 401, "invalid_auth")


def test_unknown_application_is_404(api: ApiClient) -> None:
    missing = "0" * 32
    for method in ("GET", "PUT", "DELETE"):
        assert_error(api.request(method, f"/v3/applications/{missing}", json={}), 404, "not_found")
