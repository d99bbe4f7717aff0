# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract test's own checks: the specification is a valid Swagger 2.0 document, the decisions change only
what they say, and the validator catches each difference issue 10 found in the emulator before it was corrected."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

import izuma_contract
from izuma_contract import Contract, load_spec, patched_spec

ID = "0123456789abcdef0123456789abcdef"
TIME = "2026-12-01T06:00:00.000Z"


def _application(**changes: object) -> dict[str, object]:
    return {"object": "application", "id": ID, "account_id": ID, "name": "a", "description": "", "status": "ACTIVE",
            "groups": [], "created_at": TIME, "updated_at": TIME, "etag": "1", **changes}


def _access_key(**changes: object) -> dict[str, object]:
    return {"object": "access-key", "id": ID, "account_id": ID, "application_id": ID, "name": "k", "description": "",
            "status": "ACTIVE", "key": "ak_2" + ID, "created_at": TIME, "updated_at": TIME, "etag": "1", **changes}


def _group(**changes: object) -> dict[str, object]:
    return {"object": "group", "id": ID, "account_id": ID, "name": "Developers", "created_at": TIME, "updated_at": TIME,
            "etag": "1", "apikey_count": 0, "application_count": 0, "user_count": 0, **changes}


def _list(*items: dict[str, object], **changes: object) -> dict[str, object]:
    return {"object": "list", "data": list(items), "has_more": False, "after": None, "limit": 50, "order": "ASC",
            "total_count": len(items), **changes}


def _check(method: str, path: str, status: int, body: object, content_type: str = "application/json") -> list[str]:
    raw = b"" if body is None else json.dumps(body).encode()
    return Contract().check(method, path, status, content_type, raw).problems


def test_the_copy_names_its_source_and_is_a_valid_swagger_document() -> None:
    with open(izuma_contract.SPEC_PATH, encoding="utf-8") as handle:
        header = handle.read(2000)
    assert header.startswith("# Excerpt of the public Pelion Device Management OpenAPI (Swagger 2.0)")
    assert "PelionIoT/mbed-cloud-sdk-python" in header and "ee192257348181d90cf8d523fff2e16ae07562f0" in header
    validate(load_spec(), cls=OpenAPIV2SpecValidator)
    validate(patched_spec(), cls=OpenAPIV2SpecValidator)


def test_the_decisions_change_nothing_but_what_they_name() -> None:
    original, patched = load_spec(), patched_spec()
    assert original["definitions"].keys() == patched["definitions"].keys()
    assert set(patched["paths"]) - set(original["paths"]) == {"/v3/policy-groups/{group_id}/applications"}
    for name, definition in original["definitions"].items():
        if name not in ("AccessKeyList", "ApplicationList", "GroupSummaryList"):
            assert patched["definitions"][name] == definition, name
    # No documented response was replaced, except the one decision says so.
    for path, item in original["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                if (path, method, status) != ("/v3/applications/{application_id}", "put", "200"):
                    assert patched["paths"][path][method]["responses"][status] == response


def test_what_the_emulator_answers_now_passes() -> None:
    assert _check("GET", "/v3/applications", 200, _list(_application(last_used_at=TIME))) == []
    assert _check("GET", f"/v3/applications/{ID}/access-keys/{ID}", 200, _access_key(expiration=TIME)) == []
    assert _check("GET", "/v3/policy-groups", 200, _list(_group())) == []
    assert _check("PUT", f"/v3/applications/{ID}", 200, _application()) == []
    assert _check("DELETE", f"/v3/applications/{ID}", 204, None, content_type="") == []
    assert _check("POST", f"/v3/applications/{ID}/groups/add", 204, None, content_type="") == []
    assert _check("GET", f"/v3/applications/{ID}/verification-keys", 200, {"anything": "goes"}) == []  # not in the specification


@pytest.mark.parametrize("method,path,status,body,content_type,problem", [
    # GroupSummary: object "group", apikey_count and user_count required.
    ("GET", "/v3/policy-groups", 200, _list(_group(object="policy-group")), "application/json", "'policy-group' is not one of ['group']"),
    ("GET", f"/v3/policy-groups/{ID}", 200, {k: v for k, v in _group().items() if k != "user_count"}, "application/json",
     "'user_count' is a required property"),
    # Typed fields as null.
    ("GET", f"/v3/applications/{ID}", 200, _application(last_used_at=None), "application/json", "None is not of type 'string'"),
    ("GET", f"/v3/applications/{ID}/access-keys/{ID}", 200, _access_key(key=None), "application/json", "None is not of type 'string'"),
    ("GET", f"/v3/applications/{ID}/access-keys/{ID}", 200, _access_key(expiration=None), "application/json",
     "None is not of type 'string'"),
    # Formats: date-time and id patterns.
    ("GET", f"/v3/applications/{ID}", 200, _application(created_at="yesterday"), "application/json", "is not a 'date-time'"),
    ("GET", f"/v3/applications/{ID}", 200, _application(created_at="2026-12-01 06:00:00"), "application/json", "is not a 'date-time'"),
    ("GET", "/v3/access-keys", 200, _list(_access_key(status="GONE")), "application/json", "'GONE' is not one of"),
    ("GET", "/v3/applications", 200, _list(total_count=None), "application/json", "None is not of type 'integer'"),
    ("GET", "/v3/applications", 200, {k: v for k, v in _list().items() if k != "total_count"}, "application/json",
     "'total_count' is a required property"),
    ("GET", "/v3/applications", 200, _list(limit=2 ** 40), "application/json", "is not a 'int32'"),
    # An unknown method answered with an HTML page; an undocumented status.
    ("TRACE", "/v3/applications", 405, None, "text/html", "not application/json"),
    ("GET", "/v3/applications", 418, {"object": "error"}, "application/json", "status 418 is not documented"),
    ("GET", "/v3/applications", 400, {"object": "error", "code": 400, "message": "m", "type": "t"}, "application/json",
     "'request_id' is a required property"),
])
def test_the_validator_catches_what_issue_10_found(method: str, path: str, status: int, body: object, content_type: str,
                                                   problem: str) -> None:
    problems = _check(method, path, status, body, content_type)
    assert any(problem in text for text in problems), problems
