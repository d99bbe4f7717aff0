# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator held against the public specification (issue 10): each difference fixed, and its setting.

tests/emulator/README.md ("Held against the public specification") says what each test checks and why.
"""

from __future__ import annotations

import socket

import pytest

from emulator_helpers import ApiClient, CertFactory, assert_error


def _groups(api: ApiClient) -> tuple[str, str]:
    return api.group_id("Administrators"), api.group_id("Developers")


# ---- filters and list parameters --------------------------------------------------------------------------------


def test_applications_filter_on_status(api: ApiClient) -> None:
    api.create_application("on")
    api.create_application("off", status="INACTIVE")
    names = [item["name"] for item in api.get("/v3/applications", params={"status__eq": "INACTIVE"}).json()["data"]]
    assert names == ["off"]
    assert_error(api.get("/v3/applications", params={"status__eq": "SLEEPING"}), 400, "validation_error", "status__eq")


def test_access_keys_filter_on_status_including_expired(api: ApiClient, emulator) -> None:
    application = api.create_application("a")
    path = f"/v3/applications/{application['id']}/access-keys"
    api.create_access_key(application["id"], "active")
    api.create_access_key(application["id"], "inactive", status="INACTIVE")
    api.create_access_key(application["id"], "expiring", expiration="2099-01-01T00:00:00Z")

    def names(status: str) -> list[str]:
        return [item["name"] for item in api.get(path, params={"status__eq": status}).json()["data"]]

    assert names("ACTIVE") == ["active", "expiring"] and names("INACTIVE") == ["inactive"] and names("EXPIRED") == []
    emulator.clock(100 * 365 * 86400)
    assert names("ACTIVE") == ["active"] and names("EXPIRED") == ["expiring"]


def test_account_wide_access_keys_list_filters_and_get(api: ApiClient) -> None:
    first, second = api.create_application("first"), api.create_application("second")
    one = api.create_access_key(first["id"], "one")
    two = api.create_access_key(second["id"], "two", status="INACTIVE")
    body = api.get("/v3/access-keys").json()
    assert [item["id"] for item in body["data"]] == [one["id"], two["id"]] and body["total_count"] == 2
    assert [item["id"] for item in api.get("/v3/access-keys", params={"application_id__eq": second["id"]}).json()["data"]] == [two["id"]]
    assert [item["id"] for item in api.get("/v3/access-keys", params={"status__eq": "ACTIVE"}).json()["data"]] == [one["id"]]
    paged = api.get("/v3/access-keys", params={"limit": 2, "after": one["id"]}).json()
    assert [item["id"] for item in paged["data"]] == [two["id"]] and paged["after"] == one["id"]
    fetched = api.get(f"/v3/access-keys/{two['id']}")
    assert fetched.status_code == 200 and fetched.json() == api.get(f"/v3/applications/{second['id']}/access-keys/{two['id']}").json()
    assert_error(api.get(f"/v3/access-keys/{'0' * 32}"), 404, "not_found")


def test_only_administrators_list_the_account_access_keys(api: ApiClient) -> None:
    application = api.create_application("plain")
    key = api.create_access_key(application["id"], "k")
    assert_error(api.get("/v3/access-keys", token=key["key"]), 403, "access_denied")
    assert_error(api.get(f"/v3/applications/{application['id']}/groups", token=key["key"]), 403, "access_denied")


def test_empty_after_is_the_first_page_and_order_ignores_case(api: ApiClient) -> None:
    for name in ("a", "b", "c"):
        api.create_application(name)
    assert [item["name"] for item in api.get("/v3/applications", params={"after": ""}).json()["data"]] == ["a", "b", "c"]
    body = api.get("/v3/applications", params={"order": "desc"}).json()
    assert [item["name"] for item in body["data"]] == ["c", "b", "a"] and body["order"] == "DESC"
    assert api.get("/v3/applications", params={"order": "asc"}).json()["order"] == "ASC"
    assert_error(api.get("/v3/applications", params={"order": "sideways"}), 400, "validation_error", "order")


# ---- object shapes ----------------------------------------------------------------------------------------------


def test_group_summary_counts_the_applications_in_it(api: ApiClient) -> None:
    administrators, developers = _groups(api)
    api.create_application("a", groups=[administrators, developers])
    api.create_application("b", groups=[developers])
    counts = {group["name"]: (group["application_count"], group["apikey_count"], group["user_count"])
              for group in api.get("/v3/policy-groups").json()["data"]}
    assert counts == {"Administrators": (1, 1, 0), "Developers": (2, 2, 0)}


@pytest.mark.parametrize("absent_values,after,last_used_at", [("spec", None, False), ("null", None, None), ("omit", False, False)])
def test_absent_values_follow_the_setting(api: ApiClient, emulator, absent_values: str, after: object, last_used_at: object) -> None:
    emulator.settings(absent_values=absent_values)
    application = api.create_application("a")
    key = api.create_access_key(application["id"], "k")
    body = api.get("/v3/applications").json()
    fetched = api.get(f"/v3/applications/{application['id']}/access-keys/{key['id']}").json()
    for shown, expected in ((body.get("after", False), after), (body["data"][0].get("last_used_at", False), last_used_at),
                            (fetched.get("last_used_at", False), last_used_at), (fetched.get("expiration", False), last_used_at)):
        assert shown is expected  # False: left out
    with pytest.raises(Exception, match="absent_values"):
        emulator.settings(absent_values="sometimes")


# ---- bodies -----------------------------------------------------------------------------------------------------


def test_put_accepts_an_object_as_get_returned_it(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a", description="before")
    key = api.create_access_key(application["id"], "k", expiration="2099-01-01T00:00:00Z")
    verification_key = api.add_verification_key(application["id"], "v", certs.certificate(certs.ec()))
    for path in (f"/v3/applications/{application['id']}", f"/v3/applications/{application['id']}/access-keys/{key['id']}",
                 f"/v3/applications/{application['id']}/verification-keys/{verification_key['id']}"):
        read = api.get(path).json()
        response = api.put(path, json={**read, "description": "after"})
        assert response.status_code == 200, response.text
        assert response.json()["description"] == "after" and response.json()["id"] == read["id"]
    # Read-only fields are ignored, not applied; unknown fields are still refused.
    assert api.put(f"/v3/applications/{application['id']}", json={"id": "0" * 32, "etag": "99"}).json()["id"] == application["id"]
    assert_error(api.put(f"/v3/applications/{application['id']}", json={"colour": "red"}), 400, "validation_error", "colour")
    emulator.settings(accept_read_only_fields=False)
    assert_error(api.put(f"/v3/applications/{application['id']}", json={"id": application["id"]}), 400, "validation_error", "id")


def test_status_of_an_expired_verification_key_cannot_be_set(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a")
    key = api.add_verification_key(application["id"], "k", certs.certificate(certs.ec(), days=2))
    path = f"/v3/applications/{application['id']}/verification-keys/{key['id']}"
    emulator.clock(3 * 86400)
    for status in ("ACTIVE", "INACTIVE"):
        body = assert_error(api.put(path, json={"status": status}), 400, "validation_error", "status")
        assert "expired" in body["fields"][0]["message"]
    assert api.put(path, json={"description": "still editable"}).status_code == 200
    emulator.settings(allow_inactive_on_expired_key=True)
    assert api.put(path, json={"status": "INACTIVE"}).json()["status"] == "INACTIVE"
    assert_error(api.put(path, json={"status": "ACTIVE"}), 400, "validation_error", "status")


# ---- an application's groups ------------------------------------------------------------------------------------


def test_groups_of_an_application_list_add_and_remove(api: ApiClient) -> None:
    administrators, developers = _groups(api)
    application = api.create_application("a", groups=[developers])
    path = f"/v3/applications/{application['id']}/groups"
    listed = api.get(path).json()
    assert listed["object"] == "list" and [group["id"] for group in listed["data"]] == [developers]
    response = api.post(path + "/add", json=[administrators])
    assert response.status_code == 204 and response.content == b""
    after_add = api.get(f"/v3/applications/{application['id']}").json()
    assert sorted(after_add["groups"]) == sorted([administrators, developers]) and after_add["etag"] != application["etag"]
    assert_error(api.post(path + "/add", json=[administrators]), 409, "duplicate")
    assert_error(api.post(path + "/add", json=["0" * 32]), 404, "not_found")
    assert api.post(path + "/remove", json=[developers, developers]).status_code == 204
    assert api.get(f"/v3/applications/{application['id']}").json()["groups"] == [administrators]
    # Removing from a group it is not in changes nothing; an unknown group is bad input.
    unchanged = api.get(f"/v3/applications/{application['id']}").json()
    assert api.post(path + "/remove", json=[developers]).status_code == 204
    assert api.get(f"/v3/applications/{application['id']}").json() == unchanged
    assert_error(api.post(path + "/remove", json=["0" * 32]), 400, "validation_error", "body")
    assert_error(api.post(path + "/add", json={"groups": [developers]}), 400, "validation_error", "body")
    assert_error(api.post(path + "/add", data="[]"), 415, "unsupported_media_type")
    assert_error(api.post(f"/v3/applications/{'0' * 32}/groups/add", json=[developers]), 404, "not_found")
    assert_error(api.get(f"/v3/applications/{'0' * 32}/groups"), 404, "not_found")


def test_groups_change_by_put_too(api: ApiClient) -> None:
    administrators, developers = _groups(api)
    application = api.create_application("a")
    api.put(f"/v3/applications/{application['id']}", json={"groups": [developers, administrators]})
    assert sorted(group["id"] for group in api.get(f"/v3/applications/{application['id']}/groups").json()["data"]) == \
        sorted([administrators, developers])


def test_applications_of_a_policy_group(api: ApiClient) -> None:
    administrators, developers = _groups(api)
    first = api.create_application("first", groups=[developers])
    api.create_application("second", groups=[administrators])
    third = api.create_application("third", groups=[developers], status="INACTIVE")
    body = api.get(f"/v3/policy-groups/{developers}/applications").json()
    assert [item["id"] for item in body["data"]] == [first["id"], third["id"]] and body["total_count"] == 2
    inactive = api.get(f"/v3/policy-groups/{developers}/applications", params={"status__eq": "INACTIVE"}).json()
    assert [item["id"] for item in inactive["data"]] == [third["id"]]
    assert_error(api.get(f"/v3/policy-groups/{'0' * 32}/applications"), 404, "not_found")


# ---- the HTTP layer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW"])
def test_any_unknown_method_gets_the_json_error_envelope(api: ApiClient, method: str) -> None:
    response = api.request(method, "/v3/applications")
    body = assert_error(response, 405, "method_not_supported")
    assert response.headers["Content-Type"] == "application/json" and response.headers["Allow"] == "GET, POST"
    assert method in body["message"]
    assert_error(api.request(method, "/v3/nowhere"), 404, "not_found")
    assert_error(api.request(method, "/v3/applications", token="ak_wrong"), 401, "invalid_auth")


def test_a_malformed_request_gets_the_json_error_envelope(emulator) -> None:
    host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /v3/applications HTTP/1.1\r\nX-Long: " + b"x" * 70000 + b"\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _separator, body = answer.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 431") and "Content-Type: application/json" in head
    assert '"object": "error"' in body and '"code": 431' in body
