# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the jwt_rotation role's filters: state, host applications, lifetimes, retirement, summary."""

from __future__ import annotations

import os
import typing as t

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.filter import jwt_rotation_state as rotation

APPS = [{"name": "telemetry", "hosts": ["collectors"], "grace_period": 7200},
        {"name": "gateway", "hosts": ["gateways"], "key_name": "gw-key"}]
HOSTS = {"telemetry": ["c1", "c2"], "gateway": ["g1"]}
APP_RESULTS = [{"application": {"id": "a" * 32}, "changed": False}, {"application": {"id": "b" * 32}, "changed": True}]


def key_result(fingerprint: str, rotated: bool = False, previous: bool = False, **extra: t.Any) -> t.Dict[str, t.Any]:
    """An izuma_verification_key result as the module returns it."""
    result = {"changed": rotated, "public_key_fingerprint": fingerprint, "expires_at": "2027-12-01T00:00:00Z",
              "rotated": rotated, "rotation_reason": "rotation requested" if rotated else "",
              "verification_key": {"id": "k" * 32, "created_at": "2026-12-01T06:00:00Z"},
              "previous_verification_key": {"id": "p" * 32} if previous else None}
    result.update(extra)
    return result


def state(check_mode: bool = False, previous: bool = True) -> t.Dict[str, t.Dict[str, t.Any]]:
    keys = [key_result("f1" * 32, rotated=True, previous=previous), key_result("f2" * 32)]
    return rotation.jwt_rotation_state(APPS, APP_RESULTS, keys, HOSTS, "/keys", 86400, check_mode)


def token(name: str, fingerprint: str, verified: t.Optional[bool] = True, renewed: bool = True, **extra: t.Any) -> t.Dict[str, t.Any]:
    """An izuma_jwt loop result."""
    result = {"item": {"name": name}, "key_fingerprint": fingerprint, "renewed": renewed, "verified": verified, "changed": renewed}
    result.update(extra)
    return result


def test_registered_and_documented() -> None:
    names = set(rotation.FilterModule().filters())
    assert names == {"jwt_rotation_state", "jwt_rotation_host_applications", "jwt_rotation_lifetimes",
                     "jwt_rotation_retirement", "jwt_rotation_summary", "jwt_rotation_to_verify",
                     "jwt_rotation_ids", "jwt_rotation_id_record", "jwt_rotation_outcome"}
    for name in names:
        path = os.path.join(os.path.dirname(rotation.__file__), name + ".yml")
        with open(path, encoding="utf-8") as stream:
            doc = yaml.safe_load(stream)
        assert doc["DOCUMENTATION"]["name"] == name and "_value" in doc["RETURN"]


@pytest.mark.parametrize("name", sorted(rotation.FilterModule().filters()))
def test_documented_as_internal_to_the_role(name: str) -> None:
    """Each says first thing that it is the role's own and may change; the docsite's index keys on the short description."""
    with open(os.path.join(os.path.dirname(rotation.__file__), name + ".yml"), encoding="utf-8") as stream:
        doc = yaml.safe_load(stream)["DOCUMENTATION"]
    assert doc["short_description"].startswith("Internal to the jwt_rotation role: "), doc["short_description"]
    first = " ".join(doc["description"][0].split())
    assert first.startswith("Internal to the C(izuma.device_management.jwt_rotation) role and B(not part of the collection's public interface)")
    assert "may change" in first and "in any release" in first and "Use the role" in first
    assert "public so" not in " ".join(doc["description"])


def test_state() -> None:
    result = state()
    assert list(result) == ["telemetry", "gateway"]
    telemetry, gateway = result["telemetry"], result["gateway"]
    assert telemetry["id"] == "a" * 32 and telemetry["key_name"] == "telemetry-signing" and telemetry["key_path"] == "/keys/telemetry.key"
    assert telemetry["rotated"] and telemetry["previous"] and not telemetry["pending"] and telemetry["grace_period"] == 7200
    assert telemetry["hosts"] == ["c1", "c2"] and telemetry["created_at"] == "2026-12-01T06:00:00Z"
    assert gateway["key_name"] == "gw-key" and gateway["grace_period"] == 86400 and not gateway["previous"]
    assert gateway["application_changed"] and not gateway["key_changed"]


def test_state_takes_paths_from_the_module() -> None:
    keys = [key_result("f1" * 32, private_key_path="/elsewhere/t.key", previous_private_key_path="/elsewhere/t.key.previous"),
            key_result("f2" * 32, rotation_under_way=True)]
    result = rotation.jwt_rotation_state(APPS, APP_RESULTS, keys, HOSTS, "/keys", 86400)
    assert result["telemetry"]["key_path"] == "/elsewhere/t.key" and result["telemetry"]["previous_file"]
    assert result["gateway"]["rotation_under_way"] and not result["gateway"]["previous_file"]


def test_state_takes_the_key_name_and_files_from_the_module_or_from_what_it_was_given() -> None:
    """The name and files the key module returned; where it did not run, the ones it was given (``keys``)."""
    given = {"telemetry": {"name": "telemetry-given", "private_key_path": "/given/t.key", "certificate_path": "/given/t.crt"},
             "gateway": {"name": "gw-given", "private_key_path": "/given/g.key", "certificate_path": "/given/g.crt"}}
    keys = [key_result("f1" * 32, name="telemetry-returned", private_key_path="/returned/t.key",
                       certificate_path="/returned/t.crt"), {"skipped": True}]
    result = rotation.jwt_rotation_state(APPS, APP_RESULTS, keys, HOSTS, "/keys", 86400, keys=given)
    assert (result["telemetry"]["key_name"], result["telemetry"]["key_path"], result["telemetry"]["certificate_path"]) \
        == ("telemetry-returned", "/returned/t.key", "/returned/t.crt")
    assert (result["gateway"]["key_name"], result["gateway"]["key_path"], result["gateway"]["certificate_path"]) \
        == ("gw-given", "/given/g.key", "/given/g.crt")
    # Without keys: the entry's key_name or <name>-signing, <key_dir>/<name>.key, and no certificate path.
    result = rotation.jwt_rotation_state(APPS, APP_RESULTS, [{"skipped": True}] * 2, HOSTS, "/keys", 86400)
    assert (result["telemetry"]["key_name"], result["telemetry"]["key_path"], result["telemetry"]["certificate_path"]) \
        == ("telemetry-signing", "/keys/telemetry.key", "")
    assert result["gateway"]["key_name"] == "gw-key"


def test_state_in_check_mode_marks_keys_still_to_be_made() -> None:
    result = state(check_mode=True)
    assert result["telemetry"]["pending"] and not result["gateway"]["pending"]
    missing = rotation.jwt_rotation_state(APPS[:1], [{"application": None}], [{"skipped": True}], HOSTS, "/k", 10, True)
    assert missing["telemetry"]["pending"] and missing["telemetry"]["id"] == "" and missing["telemetry"]["fingerprint"] == ""


def test_state_refuses_mismatched_results() -> None:
    with pytest.raises(AnsibleFilterError, match="one application result and one key result"):
        rotation.jwt_rotation_state(APPS, APP_RESULTS[:1], [], HOSTS, "/keys", 86400)


def test_state_without_the_application_module_takes_the_id_the_key_module_used() -> None:
    skipped = [{"skipped": True}, {"skipped": True}]
    keys = [key_result("f1" * 32, application_id="a" * 32), key_result("f2" * 32, application_id="b" * 32)]
    result = rotation.jwt_rotation_state(APPS, skipped, keys, HOSTS, "/keys", 86400)
    assert result["telemetry"]["id"] == "a" * 32 and result["gateway"]["id"] == "b" * 32
    assert not result["telemetry"]["application_changed"]


def test_state_prefers_the_later_loops_where_they_ran() -> None:
    """gateway's remembered id was gone: its first key run failed (tolerated), the application was created again by
    name and its key made; telemetry ran once."""
    skipped = [{"skipped": True}, {"skipped": True}]
    keys = [key_result("f1" * 32, application_id="a" * 32), {"failed": False, "msg": "There is no application",
                                                             "error": {"type": "not_found"}}]
    again_apps = [{"skipped": True}, {"application": {"id": "c" * 32}, "changed": True}]
    again_keys = [{"skipped": True}, key_result("f3" * 32, rotated=True, application_id="c" * 32)]
    result = rotation.jwt_rotation_state(APPS, skipped, keys, HOSTS, "/keys", 86400, False, again_apps, again_keys)
    assert result["telemetry"]["id"] == "a" * 32 and result["telemetry"]["fingerprint"] == "f1" * 32
    assert result["gateway"]["id"] == "c" * 32 and result["gateway"]["fingerprint"] == "f3" * 32
    assert result["gateway"]["application_changed"] and result["gateway"]["rotated"]
    # In check mode the application would be created: no id yet, so nothing to sign with.
    result = rotation.jwt_rotation_state(APPS, skipped, keys, HOSTS, "/keys", 86400, True,
                                         [{"skipped": True}, {"application": {"id": None}, "changed": True}], skipped)
    assert result["gateway"]["id"] == "" and result["gateway"]["pending"]
    with pytest.raises(AnsibleFilterError, match="one result per application"):
        rotation.jwt_rotation_state(APPS, skipped, keys, HOSTS, "/keys", 86400, False, again_apps[:1], [])


def test_ids_given_remembered_or_unknown() -> None:
    apps = [{"name": "telemetry", "id": "a" * 32}, {"name": "gateway"}, {"name": "other"}, {"name": "broken"},
            {"name": "elsewhere"}, {"name": "renamed"}]
    saved = {
        "telemetry": rotation.jwt_rotation_id_record("telemetry", "f" * 32, "https://api"),  # the given id wins
        "gateway": rotation.jwt_rotation_id_record("gateway", "b" * 32, "https://api/"),
        "broken": "{not json",
        "elsewhere": rotation.jwt_rotation_id_record("elsewhere", "c" * 32, "https://staging"),
        "renamed": rotation.jwt_rotation_id_record("old-name", "d" * 32, "https://api"),
    }
    assert rotation.jwt_rotation_ids(apps, saved, "https://api") == {
        "telemetry": {"id": "a" * 32, "source": "given"}, "gateway": {"id": "b" * 32, "source": "remembered"}}
    assert rotation.jwt_rotation_ids([{"name": "x"}], {"x": '{"name": "x", "id": "nope", "api_host": "h"}'}, "h") == {}


def test_id_record_holds_no_more_than_name_id_and_host() -> None:
    record = yaml.safe_load(rotation.jwt_rotation_id_record("gateway", "b" * 32, "https://api/"))
    assert record == {"name": "gateway", "id": "b" * 32, "api_host": "https://api"}


def test_host_applications() -> None:
    current = state()
    assert [app["name"] for app in rotation.jwt_rotation_host_applications(APPS, current, "c1")] == ["telemetry"]
    assert rotation.jwt_rotation_host_applications(APPS, current, "elsewhere") == []


def test_lifetimes() -> None:
    assert rotation.jwt_rotation_lifetimes(APPS, 86400, 7200) == []
    problems = rotation.jwt_rotation_lifetimes(APPS + [{"name": "short", "grace_period": 60, "token_lifetime": 3600}], 86400, 7200)
    assert problems == ["short: grace_period 60 s is shorter than token_lifetime 3600 s; set grace_period (or "
                        "jwt_rotation_grace_period) to at least 3600"]
    # The telemetry application's own grace period (7200) is checked against the default lifetime.
    assert [line.split(":")[0] for line in rotation.jwt_rotation_lifetimes(APPS, 86400, 10000)] == ["telemetry"]


def hostvars(**hosts: t.List[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    return {host: {rotation.TOKEN_RESULTS_VAR: {"results": results}} for host, results in hosts.items()}


def test_retirement_now_when_every_host_is_verified() -> None:
    current = state()
    plan = rotation.jwt_rotation_retirement(current, hostvars(
        c1=[token("telemetry", "f1" * 32)], c2=[token("telemetry", "f1" * 32, renewed=False)], g1=[token("gateway", "f2" * 32)]))
    assert plan["telemetry"] == {"waiting": [], "unchecked": [], "retire": "now", "reissued": 1, "kept": 1, "verified": 2, "refused": 0}
    # No previous key: nothing to retire.
    assert plan["gateway"]["retire"] is None and plan["gateway"]["waiting"] == []


@pytest.mark.parametrize("c2", [
    pytest.param(None, id="host-outside-the-run"),
    pytest.param([token("telemetry", "f1" * 32, verified=None)], id="not-verified"),
    pytest.param([token("telemetry", "f1" * 32, verified=False, failed=True)], id="refused"),
    pytest.param([token("telemetry", "00" * 32)], id="signed-by-another-key"),
    pytest.param([token("telemetry", "f1" * 32, failed=True, verified=None)], id="failed"),
    pytest.param([token("telemetry", "f1" * 32, skipped=True)], id="skipped"),
    pytest.param([token("gateway", "f1" * 32)], id="other-application-only"),
])
def test_retirement_waits_for_the_grace_period_when_a_host_is_not_proven(c2: t.Optional[t.List[t.Dict[str, t.Any]]]) -> None:
    hosts = {"c1": [token("telemetry", "f1" * 32)]}
    if c2 is not None:
        hosts["c2"] = c2
    plan = rotation.jwt_rotation_retirement(state(), hostvars(**hosts))
    assert plan["telemetry"]["waiting"] == ["c2"] and plan["telemetry"]["retire"] == "auto"


def test_retirement_refused_count() -> None:
    plan = rotation.jwt_rotation_retirement(state(), hostvars(c1=[token("telemetry", "f1" * 32, verified=False, failed=True)]))
    assert plan["telemetry"]["refused"] == 1 and plan["telemetry"]["verified"] == 0


def test_retirement_without_early_or_without_verification_waits() -> None:
    ready = hostvars(c1=[token("telemetry", "f1" * 32)], c2=[token("telemetry", "f1" * 32)])
    assert rotation.jwt_rotation_retirement(state(), ready, early=False)["telemetry"]["retire"] == "auto"
    unverified = hostvars(c1=[token("telemetry", "f1" * 32, verified=None)], c2=[token("telemetry", "f1" * 32, verified=None)])
    plan = rotation.jwt_rotation_retirement(state(), unverified, verify=False)
    assert plan["telemetry"]["waiting"] == [] and plan["telemetry"]["retire"] == "auto"


def test_retirement_in_check_mode_before_the_key_exists() -> None:
    plan = rotation.jwt_rotation_retirement(state(check_mode=True), hostvars())
    assert plan["telemetry"]["retire"] is None and plan["telemetry"]["waiting"] == ["c1", "c2"]


def test_summary() -> None:
    current = state()
    plan = rotation.jwt_rotation_retirement(current, hostvars(c1=[token("telemetry", "f1" * 32)], g1=[token("gateway", "f2" * 32)]))
    lines = rotation.jwt_rotation_summary(current, plan, [{"changed": False, "previous_verification_key": {"id": "p"}},
                                                          {"skipped": True}])
    assert lines[0] == ("telemetry: key telemetry-signing (public key f1f1f1f1f1f1f1f1..., expires 2027-12-01T00:00:00Z); "
                        "rotated: rotation requested; 2 host(s): 1 token(s) issued, 0 kept, 1 verified by the API; previous key kept "
                        "until the grace period (7200 s after 2026-12-01T06:00:00Z) has passed, or until a run verifies every "
                        "host: 1 host(s) not verified in this run (c2).")
    assert lines[1].endswith("no rotation due; 1 host(s): 1 token(s) issued, 0 kept, 1 verified by the API; no previous key.")


def test_summary_of_a_first_setup_and_of_kept_tokens() -> None:
    created = key_result("f2" * 32, changed=True, plan_details=[{"kind": "UploadKey", "why": "no verification key yet"}])
    current = rotation.jwt_rotation_state(APPS, APP_RESULTS, [key_result("f1" * 32), created], HOSTS, "/keys", 86400)
    hosts = hostvars(c1=[token("telemetry", "f1" * 32, renewed=False)], c2=[token("telemetry", "f1" * 32, renewed=False)],
                     g1=[token("gateway", "f2" * 32)])
    lines = rotation.jwt_rotation_summary(current, rotation.jwt_rotation_retirement(current, hosts), [{"skipped": True}] * 2)
    assert "; no rotation due; 2 host(s): 0 token(s) issued, 2 kept, 2 verified by the API; no previous key." in lines[0]
    assert "; created; 1 host(s): 1 token(s) issued, 0 kept, 1 verified by the API; no previous key." in lines[1]


def test_summary_of_a_retirement_and_of_check_mode() -> None:
    current = state()
    ready = hostvars(c1=[token("telemetry", "f1" * 32)], c2=[token("telemetry", "f1" * 32, verified=False)])
    plan = rotation.jwt_rotation_retirement(current, ready)
    lines = rotation.jwt_rotation_summary(current, plan, [{"changed": True, "previous_verification_key": None}, {"skipped": True}])
    assert "previous key retired (grace period over)" in lines[0] and "1 REFUSED" in lines[0]
    pending = state(check_mode=True)
    lines = rotation.jwt_rotation_summary(pending, rotation.jwt_rotation_retirement(pending, {}), [{"skipped": True}] * 2, check_mode=True)
    assert "rotated (would be, check mode)" in lines[0] and "a token signed by the new key would be issued to each" in lines[0]
    assert "the current key would become the previous key" in lines[0]
    kept = rotation.jwt_rotation_summary(current, plan, [{"skipped": True}] * 2, retire=False)
    assert "previous key kept (jwt_rotation_retire is false)" in kept[0]


def test_to_verify_lists_the_tokens_to_check_from_the_hosts() -> None:
    current = state()
    variables = hostvars(c1=[token("telemetry", "f1" * 32, renewed=False, token="T1")], c2=[token("telemetry", "f1" * 32, token="T2")],
                         g1=[token("gateway", "f2" * 32, renewed=False, token="T3")])
    items = rotation.jwt_rotation_to_verify(current, variables, ["c1", "c2", "g1"])
    # telemetry is under way (rotated): every host; gateway: only new tokens.
    assert [(item["host"], item["application"], item["token"]) for item in items] == [("c1", "telemetry", "T1"), ("c2", "telemetry", "T2")]
    assert items[0]["application_id"] == "a" * 32
    assert [item["host"] for item in rotation.jwt_rotation_to_verify(current, variables, ["c2", "g1"], unchanged=True)] == ["c2", "g1"]


def test_retirement_counts_the_calls_made_from_the_hosts() -> None:
    current = state()
    variables = hostvars(c1=[token("telemetry", "f1" * 32, verified=None)], c2=[token("telemetry", "f1" * 32, verified=None)])
    calls = [{"item": {"host": "c1", "application": "telemetry"}, "status": 200},
             {"item": {"host": "c2", "application": "telemetry"}, "status": 401}]
    plan = rotation.jwt_rotation_retirement(current, variables, host_calls=calls)
    assert plan["telemetry"]["waiting"] == ["c2"] and plan["telemetry"]["refused"] == 1 and plan["telemetry"]["retire"] == "auto"
    calls[1]["status"] = 200
    assert rotation.jwt_rotation_retirement(current, variables, host_calls=calls)["telemetry"]["retire"] == "now"


def test_outcome_for_set_stats() -> None:
    """Per application, for AWX: the key, rotated, retired, and the hosts in three lists; no secret in it."""
    current = state()
    hosts = hostvars(c1=[token("telemetry", "f1" * 32)], c2=[token("telemetry", "f1" * 32, verified=None, renewed=False)],
                     g1=[token("gateway", "00" * 32)])
    plan = rotation.jwt_rotation_retirement(current, hosts)
    outcome = rotation.jwt_rotation_outcome(current, plan, [{"changed": True, "previous_verification_key": {}}, {"skipped": True}])
    assert outcome["telemetry"] == {
        "application_id": "a" * 32, "key": "telemetry-signing", "key_fingerprint": "f1" * 32,
        "key_expires_at": "2027-12-01T00:00:00Z", "rotated": True, "retired": True, "previous_key_uploaded": False,
        "hosts": 2, "hosts_verified": ["c1"], "hosts_unchecked": ["c2"], "hosts_not_verified": [], "tokens_issued": 1,
        "tokens_refused": 0, "check_mode": False}
    # g1 holds a token signed by another key: not verified; nothing retired, no previous key.
    assert outcome["gateway"]["hosts_not_verified"] == ["g1"] and outcome["gateway"]["hosts_verified"] == []
    assert outcome["gateway"]["retired"] is False and outcome["gateway"]["rotated"] is False


def test_outcome_of_a_later_serial_batch_describes_the_whole_run() -> None:
    """A later batch neither rotates nor (here) retires: what earlier batches did stays true in its outcome."""
    keys = [key_result("f1" * 32, previous=True), key_result("f2" * 32)]
    later = rotation.jwt_rotation_state(APPS, APP_RESULTS, keys, HOSTS, "/keys", 86400)
    plan = rotation.jwt_rotation_retirement(later, hostvars(c1=[token("telemetry", "f1" * 32)]))
    outcome = rotation.jwt_rotation_outcome(later, plan, [{"skipped": True}] * 2, ["telemetry"], ["gateway"])
    assert outcome["telemetry"]["rotated"] is True and outcome["telemetry"]["retired"] is False
    assert outcome["telemetry"]["previous_key_uploaded"] is True and outcome["telemetry"]["hosts_not_verified"] == ["c2"]
    assert outcome["gateway"]["retired"] is True and outcome["gateway"]["rotated"] is False
