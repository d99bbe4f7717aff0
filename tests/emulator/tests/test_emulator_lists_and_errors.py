# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List envelope and paging, and the error envelope for routing and body problems."""

from __future__ import annotations

import pytest

from emulator_helpers import ApiClient, assert_error


def _names(body: dict) -> list[str]:
    return [item["name"] for item in body["data"]]


def _create(api: ApiClient, count: int) -> list[dict]:
    return [api.create_application(f"app-{index:02d}") for index in range(count)]


def test_list_envelope(api: ApiClient) -> None:
    _create(api, 3)
    body = api.get("/v3/applications").json()
    assert set(body) == {"object", "data", "has_more", "after", "limit", "order", "total_count"}
    assert body["object"] == "list" and body["has_more"] is False and body["after"] is None
    assert body["limit"] == 50 and body["order"] == "ASC" and len(body["data"]) == 3 and body["total_count"] == 3


def test_total_count_always_unless_settings_say_only_when_asked(api: ApiClient, emulator) -> None:
    _create(api, 3)
    body = api.get("/v3/applications", params={"include": "total_count", "limit": 2}).json()
    assert body["total_count"] == 3 and len(body["data"]) == 2 and body["has_more"] is True
    assert api.get("/v3/applications").json()["total_count"] == 3
    emulator.settings(always_total_count=False)
    assert "total_count" not in api.get("/v3/applications").json()
    assert api.get("/v3/applications", params={"include": "total_count"}).json()["total_count"] == 3


def test_order_is_by_creation_time_then_id(api: ApiClient) -> None:
    created = _create(api, 5)
    expected = [item["id"] for item in sorted(created, key=lambda item: (item["created_at"], item["id"]))]
    assert [item["id"] for item in api.get("/v3/applications").json()["data"]] == expected
    descending = api.get("/v3/applications", params={"order": "DESC"}).json()
    assert [item["id"] for item in descending["data"]] == expected[::-1] and descending["order"] == "DESC"


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_paging_with_after_visits_everything_once(api: ApiClient, order: str) -> None:
    created = _create(api, 7)
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 3, "order": order, **({"after": after} if after else {})}
        body = api.get("/v3/applications", params=params).json()
        assert body["after"] == after and body["limit"] == 3
        seen += [item["id"] for item in body["data"]]
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    expected = [item["id"] for item in sorted(created, key=lambda item: (item["created_at"], item["id"]), reverse=order == "DESC")]
    assert seen == expected


def test_cursor_survives_deletion_of_its_object(api: ApiClient) -> None:
    expected = [item["id"] for item in sorted(_create(api, 4), key=lambda item: (item["created_at"], item["id"]))]
    first_page = api.get("/v3/applications", params={"limit": 2}).json()
    api.delete(f"/v3/applications/{first_page['data'][-1]['id']}")
    rest = api.get("/v3/applications", params={"limit": 2, "after": first_page["data"][-1]["id"]}).json()
    assert [item["id"] for item in rest["data"]] == expected[2:]


@pytest.mark.parametrize("params,field", [
    ({"limit": 1}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"),
    ({"order": "UP"}, "order"), ({"include": "everything"}, "include"),
    ({"after": "0" * 32}, "after"), ({"name__eq": "x"}, "name__eq"),
])
def test_bad_list_parameters(api: ApiClient, params: dict, field: str) -> None:
    assert_error(api.get("/v3/applications", params=params), 400, "validation_error", field)


def test_limit_bounds_are_inclusive(api: ApiClient) -> None:
    assert api.get("/v3/applications", params={"limit": 2}).status_code == 200
    assert api.get("/v3/applications", params={"limit": 1000}).status_code == 200


def test_access_key_and_group_lists_page_too(api: ApiClient) -> None:
    application = api.create_application("a")
    for index in range(3):
        api.create_access_key(application["id"], f"k{index}")
    body = api.get(f"/v3/applications/{application['id']}/access-keys", params={"limit": 2, "include": "total_count"}).json()
    assert body["total_count"] == 3 and body["has_more"] is True and _names(body) == ["k0", "k1"]
    groups = api.get("/v3/policy-groups", params={"limit": 2, "include": "total_count"}).json()
    assert groups["total_count"] == 2 and groups["has_more"] is False


def test_unknown_route_is_not_found(api: ApiClient) -> None:
    assert_error(api.get("/v3/devices"), 404, "not_found")
    assert_error(api.get("/v3/applications/"), 404, "not_found")


@pytest.mark.parametrize("method,path", [("DELETE", "/v3/applications"), ("POST", "/v3/policy-groups"), ("PATCH", "/v3/applications")])
def test_wrong_method_is_method_not_supported(api: ApiClient, method: str, path: str) -> None:
    response = api.request(method, path)
    assert_error(response, 405, "method_not_supported")
    assert "Allow" in response.headers


def test_body_must_be_json(api: ApiClient) -> None:
    assert_error(api.post("/v3/applications", data="name=x", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    assert_error(api.post("/v3/applications", data="{not json", headers={"Content-Type": "application/json"}), 400, "validation_error")
    assert_error(api.post("/v3/applications", json=["a", "list"]), 400, "validation_error")
    assert_error(api.post("/v3/applications", data=b"", headers={"Content-Type": "application/json"}), 400, "validation_error")


def test_content_type_parameters_are_accepted(api: ApiClient) -> None:
    response = api.post("/v3/applications", data='{"name": "x"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201


def test_error_request_ids_are_fresh(api: ApiClient) -> None:
    first = assert_error(api.get("/v3/nothing"), 404, "not_found")
    second = assert_error(api.get("/v3/nothing"), 404, "not_found")
    assert first["request_id"] != second["request_id"]
