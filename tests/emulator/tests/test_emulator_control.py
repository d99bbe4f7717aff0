# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control interface: faults, hangs, rate limit, clock, settings, reset, state and the request log."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from email.utils import formatdate, parsedate_to_datetime

import pytest
import requests

from emulator_helpers import ApiClient, CertFactory, assert_error, make_jwt
from izuma_emulator.testing import ControlError


def _in_thread(function, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run a call in a thread; the dict receives its result or exception."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = function(*args, **kwargs)
        except requests.RequestException as error:
            outcome["error"] = error
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_sequence_answers_in_order_then_passes(api: ApiClient, emulator) -> None:
    http_date = formatdate(time.time() + 5, usegmt=True)
    emulator.faults({"method": "GET", "path": r"^/v3/applications$", "sequence": [
        {"status": 503, "retry_after": "2"},
        {"status": 429, "retry_after": http_date},
        {"pass": True},
        {"status": 502},
    ]})
    first = api.get("/v3/applications")
    assert_error(first, 503, "system_unavailable")
    assert first.headers["Retry-After"] == "2"
    second = api.get("/v3/applications")
    assert_error(second, 429, "rate_limit_exceeded")
    assert parsedate_to_datetime(second.headers["Retry-After"]).timestamp() == pytest.approx(time.time() + 5, abs=3)
    assert api.get("/v3/applications").status_code == 200
    assert_error(api.get("/v3/applications"), 502, "internal_server_error")
    assert api.get("/v3/applications").status_code == 200
    # Other paths and methods are untouched.
    assert api.get("/v3/policy-groups").status_code == 200
    assert [(entry["status"], entry["fault"]) for entry in emulator.log()] == [
        (503, "sequence"), (429, "sequence"), (200, None), (502, "sequence"), (200, None), (200, None)]


def test_sequence_answer_can_name_type_and_message(api: ApiClient, emulator) -> None:
    emulator.faults([{"path": "applications", "sequence": [{"status": 500, "type": "internal_server_error", "message": "boom"}]}])
    assert assert_error(api.get("/v3/applications"), 500, "internal_server_error")["message"] == "boom"


def test_delay(api: ApiClient, emulator) -> None:
    emulator.faults({"method": "GET", "path": "^/v3/applications$", "delay": 0.3})
    started = time.monotonic()
    assert api.get("/v3/applications").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("/v3/policy-groups")
    assert time.monotonic() - started < 0.3


def test_drop_before_commit(api: ApiClient, emulator) -> None:
    emulator.faults({"method": "POST", "path": "^/v3/applications$", "drop": "before"})
    with pytest.raises(requests.ConnectionError):
        api.post("/v3/applications", json={"name": "lost"})
    assert emulator.state()["applications"] == []
    assert [(entry["method"], entry["status"], entry["fault"]) for entry in emulator.log()] == [("POST", 0, "drop")]
    # Only the first matching request is dropped.
    assert api.post("/v3/applications", json={"name": "kept"}).status_code == 201


def test_drop_after_commit(api: ApiClient, emulator) -> None:
    emulator.faults({"method": "POST", "path": "^/v3/applications$", "drop": "after", "nth": 2})
    api.create_application("first")
    with pytest.raises(requests.ConnectionError):
        api.post("/v3/applications", json={"name": "committed"})
    assert [application["name"] for application in emulator.state()["applications"]] == ["first", "committed"]
    assert [entry["status"] for entry in emulator.writes()] == [201, 0]
    # A blind retry would now hit the duplicate rule: a client must read first.
    assert_error(api.post("/v3/applications", json={"name": "committed"}), 409, "duplicate")


@pytest.mark.parametrize("when", ["before", "after"])
def test_hang_status_and_release(api: ApiClient, emulator, when: str) -> None:
    emulator.faults({"method": "POST", "path": "^/v3/applications$", "hang": when, "max_seconds": 30})
    thread, outcome = _in_thread(api.post, "/v3/applications", json={"name": "slow"})
    assert emulator.wait_until_hanging() == {"method": "POST", "path": "/v3/applications"}
    committed = [application["name"] for application in emulator.state()["applications"]]
    assert committed == ([] if when == "before" else ["slow"])
    assert emulator.release() == 1
    thread.join(10)
    assert outcome["result"].status_code == 201
    assert emulator.status()["hanging"] is False and emulator.status()["hung_request"] is None


def test_hang_gives_up_after_max_seconds(api: ApiClient, emulator) -> None:
    emulator.faults({"path": "policy-groups", "hang": "before", "max_seconds": 0.2})
    started = time.monotonic()
    assert api.get("/v3/policy-groups").status_code == 200
    assert 0.2 <= time.monotonic() - started < 5


def test_clear_faults_releases_and_removes_rules(api: ApiClient, emulator) -> None:
    emulator.faults({"path": "applications", "sequence": [{"status": 503}] * 5})
    assert len(emulator.faults([])) == 1
    emulator.clear_faults()
    assert api.get("/v3/applications").status_code == 200


@pytest.mark.parametrize("rule", [
    {"path": "x"}, {"path": "(", "delay": 1}, {"path": "x", "drop": "sideways"}, {"path": "x", "sequence": [{"status": 200}]},
    {"path": "x", "delay": 1, "drop": "before"}, {"path": "x", "delay": -1}, {"path": "x", "delay": 1, "colour": "red"},
])
def test_bad_fault_rules_are_refused(emulator, rule: dict) -> None:
    with pytest.raises(ControlError, match="400"):
        emulator.faults(rule)


def test_rate_limit(api: ApiClient, emulator) -> None:
    emulator.rate_limit(requests=3, per_seconds=60)
    for _attempt in range(3):
        assert api.get("/v3/policy-groups").status_code == 200
    refused = api.get("/v3/policy-groups")
    assert_error(refused, 429, "rate_limit_exceeded")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert emulator.log()[-1]["fault"] == "rate_limit"
    emulator.rate_limit()
    assert api.get("/v3/policy-groups").status_code == 200


def test_rate_limit_window_slides(api: ApiClient, emulator) -> None:
    emulator.rate_limit(requests=2, per_seconds=0.3)
    assert [api.get("/v3/policy-groups").status_code for _attempt in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert api.get("/v3/policy-groups").status_code == 200


def test_clock_offset_moves_timestamps(api: ApiClient, emulator) -> None:
    emulator.clock(365 * 86400)
    application = api.create_application("future")
    assert application["created_at"][:4] == time.strftime("%Y", time.gmtime(time.time() + 365 * 86400))
    assert emulator.status()["clock_offset_seconds"] == 365 * 86400


def test_settings_are_validated_and_reset(api: ApiClient, emulator) -> None:
    assert emulator.settings(max_applications=1)["max_applications"] == 1
    with pytest.raises(ControlError, match="400"):
        emulator.settings(max_applications="many")
    with pytest.raises(ControlError, match="400"):
        emulator.settings(no_such_setting=1)
    with pytest.raises(ControlError, match="400"):
        emulator.settings(duplicate_status=200)
    emulator.settings(limit_exceeded_status=403)
    api.create_application("only")
    assert_error(api.post("/v3/applications", json={"name": "two"}), 403, "account_limit_exceeded")
    emulator.reset()
    assert emulator.settings()["max_applications"] == 25


def test_reset_empties_everything_but_keeps_the_admin_key(api: ApiClient, emulator) -> None:
    api.create_application("a")
    emulator.faults({"path": "x", "delay": 1})
    emulator.clock(100)
    emulator.rate_limit(requests=100, per_seconds=1)
    groups_before = api.get("/v3/policy-groups").json()["data"]
    emulator.reset()
    assert emulator.state()["applications"] == [] and emulator.log() == []
    assert emulator.faults([]) == []
    status = emulator.status()
    assert status["clock_offset_seconds"] == 0 and status["rate_limit"] is None
    assert api.get("/v3/policy-groups").json()["data"] == groups_before


def test_control_requests_are_not_logged_and_log_can_be_cleared(api: ApiClient, emulator) -> None:
    emulator.state()
    emulator.status()
    assert emulator.log() == []
    api.get("/v3/applications")
    assert len(emulator.log()) == 1
    emulator.clear_log()
    assert emulator.log() == []


def test_log_entries_have_the_documented_fields(api: ApiClient, emulator) -> None:
    api.get("/v3/applications", params={"limit": 5})
    api.session.get(api.url + "/v3/applications")
    entries = emulator.log()
    assert set(entries[0]) == {"seq", "time", "method", "path", "query", "status", "auth", "application_id", "fault"}
    assert entries[0]["query"] == "limit=5" and entries[0]["auth"] == "admin" and entries[0]["status"] == 200
    assert entries[1]["auth"] == "none" and entries[1]["status"] == 401
    assert entries[1]["seq"] > entries[0]["seq"]


def test_log_and_state_never_contain_secrets(api: ApiClient, emulator, certs: CertFactory) -> None:
    application = api.create_application("a", groups=[api.group_id("Administrators")])
    access_key = api.create_access_key(application["id"], "k")["key"]
    private_key = certs.ec()
    api.add_verification_key(application["id"], "v", certs.certificate(private_key))
    token = make_jwt(private_key, "ES256")
    api.get("/v3/applications", token=access_key)
    api.get("/v3/applications", token=token, application_id=application["id"])
    api.get("/v3/applications", token="ak_wrong")
    # A client that wrongly puts a secret in a URL must not get it logged either.
    api.get("/v3/applications", params={"after": access_key})
    api.get("/v3/applications", params={"after": token})
    dumped = json.dumps(emulator.log()) + json.dumps(emulator.state())
    for secret in (emulator.admin_key, access_key, token, "ak_wrong"):
        assert secret not in dumped
    assert {entry["auth"] for entry in emulator.log()} == {"admin", "access_key", "jwt", "none"}


def test_unknown_control_request(emulator) -> None:
    with pytest.raises(ControlError, match="404"):
        emulator._call("GET", "nothing-here")
    with pytest.raises(ControlError, match="405"):
        emulator._call("PUT", "log")


def test_client_killed_while_hung_after_commit(api: ApiClient, emulator) -> None:
    """The scenario a client's crash-safety test needs: the change is committed, the client dies before the answer."""
    emulator.faults({"method": "POST", "path": "^/v3/applications$", "hang": "after"})
    script = ("import requests, sys; session = requests.Session(); session.trust_env = False; "
              "session.post(sys.argv[1] + '/v3/applications', json={'name': 'orphan'}, "
              "headers={'Authorization': 'Bearer ' + sys.argv[2]}, timeout=60)")
    with subprocess.Popen([sys.executable, "-c", script, emulator.url, emulator.admin_key]) as client:
        try:
            assert emulator.wait_until_hanging()["method"] == "POST"
        finally:
            client.kill()
    assert [application["name"] for application in emulator.state()["applications"]] == ["orphan"]
    assert emulator.release() == 1
    # The server shrugs off the vanished client.
    assert api.get("/v3/applications").json()["data"][0]["name"] == "orphan"


def test_emulator_bug_is_a_500_not_a_dropped_connection(api: ApiClient, emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_group: object) -> dict:
        raise RuntimeError("simulated emulator bug")
    monkeypatch.setattr(emulator.app.store, "render_group", broken)
    assert_error(api.get("/v3/policy-groups"), 500, "internal_server_error")
