# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded property-based run: schemathesis generates requests from the specification for every operation.

Bounded in count and time: a fixed seed (Hypothesis' derandomized mode), ``EXAMPLES`` examples per operation,
no shrinking and no example database, against an emulator on 127.0.0.1 only. Each generated request is sent
twice: as generated (its path ids name nothing, mostly) and with real ids of the account, so that the happy
paths are exercised too. Every answer must pass schemathesis' checks against the specification with the
recorded decisions applied (izuma_contract.patched_spec), and the emulator must never fail (5xx).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi import checks as openapi_checks
from schemathesis import checks as core_checks

from izuma_contract import Contract, patched_spec
from izuma_emulator.testing import ThreadedEmulator, start_in_thread

EXAMPLES = 12

CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]

SPEC = patched_spec()
# Never the real service: the generated requests go to the local emulator only.
SPEC["host"], SPEC["schemes"] = "127.0.0.1", ["http"]
schema = schemathesis.openapi.from_dict(SPEC)
CONTRACT = Contract()
SENT: list[str] = []


@pytest.fixture(scope="module")
def emulator() -> Iterator[ThreadedEmulator]:
    """An emulator of its own, on 127.0.0.1."""
    server = start_in_thread()
    assert server.url.startswith("http://127.0.0.1:")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def session() -> requests.Session:
    """A session that never goes through a proxy."""
    session = requests.Session()
    session.trust_env = False
    return session


def _account(emulator: ThreadedEmulator, session: requests.Session) -> dict[str, str]:
    """A fresh account with one application (in Developers), one access key: the ids real requests use."""
    emulator.reset()
    headers = {"Authorization": f"Bearer {emulator.admin_key}"}
    groups = session.get(emulator.url + "/v3/policy-groups", headers=headers, timeout=10).json()["data"]
    developers = next(group["id"] for group in groups if group["name"] == "Developers")
    application = session.post(emulator.url + "/v3/applications", json={"name": "property", "groups": [developers]},
                               headers=headers, timeout=10).json()
    key = session.post(f"{emulator.url}/v3/applications/{application['id']}/access-keys", json={"name": "property"},
                       headers=headers, timeout=10).json()
    return {"application_id": application["id"], "access_key_id": key["id"], "group_id": developers}


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_the_contract(case, emulator: ThreadedEmulator, session: requests.Session) -> None:
    """Generated requests, as generated and with real ids, get answers the contract allows."""
    ids = _account(emulator, session)
    headers = {"Authorization": f"Bearer {emulator.admin_key}"}
    for path_parameters in (case.path_parameters, {name: ids[name] for name in case.path_parameters or {} if name in ids}):
        if path_parameters is None:
            continue
        case.path_parameters = {**(case.path_parameters or {}), **path_parameters}
        response = case.call(base_url=emulator.url, session=session, headers=headers, timeout=10)
        assert response.request.url.startswith(emulator.url + "/v3/")
        SENT.append(f"{case.method} {case.path}")
        # A 204 has no content, so no content type (RFC 9110, 15.3.5): the media type is checked where there is a body.
        checks = [*CHECKS, openapi_checks.content_type_conformance] if response.content else CHECKS
        case.validate_response(response, checks=checks, headers=headers)
        # And the contract test's own validator agrees.
        path = response.request.path_url.split("?")[0]
        content_type = (response.headers.get("content-type") or [None])[0]
        assert CONTRACT.check(case.method, path, response.status_code, content_type, response.content).problems == []


def test_the_run_was_bounded() -> None:
    """Every operation was exercised, and no more than the example budget allows (two requests per example)."""
    operations = {f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item
                  if method in ("get", "put", "post", "delete")}
    assert operations <= set(SENT)
    assert len(SENT) <= 2 * EXAMPLES * len(operations)
