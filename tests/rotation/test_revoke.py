# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revoke now: playbooks/jwt_revoke.yml (the jwt_rotation role's tasks_from: revoke) against the emulator.

A fleet of two applications on local hosts: "revoke-telemetry" (three hosts) is revoked, "revoke-gateway" (one host)
is not and must be left alone. The tests share the fleet and run in order:

* without the explicit variables the run is refused, naming them, and nothing changes (no API write, no file);
* a full revocation: the old key is gone from the API, every host holds a token signed by the new key that the API
  accepts, the old tokens are refused, and the summary and set_stats say so;
* a host that cannot be reached: listed in the summary and in set_stats as without a new token, the others fine, the
  key deleted all the same; jwt_rotation.yml then gives it a token (what the runbook says to do);
* killed in the middle (inside the rotation, during the deployment, before and after the deletion): running the same
  command again deletes the revoked key without a second rotation and never revokes the new key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from fleet import Fleet, custom_stats, recap_changes, set_up_fleet, wait_for_hang, wait_for_output

APPLICATION = "revoke-telemetry"
HOSTS = ["revoke-1", "revoke-2", "revoke-3"]
OTHER = "revoke-gateway"
KEY_PATH = r"^/v3/applications/[0-9a-f]{32}/verification-keys"
CONFIRMED = json.dumps({"jwt_rotation_revoke": [APPLICATION], "jwt_rotation_revoke_confirm": True})


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """The two applications, set up (keys and tokens) by jwt_setup.yml."""
    yield set_up_fleet(emulator, tmp_path_factory.mktemp("revoke"), {APPLICATION: HOSTS, OTHER: ["revoke-g1"]})


def current_key(fleet: Fleet, name: str = APPLICATION) -> dict:
    """The application's key named <name>-signing, as the API lists it."""
    return next(item for item in fleet.keys(name) if item["name"] == name + "-signing")


def tokens(fleet: Fleet) -> Dict[str, str]:
    """The token each host of the revoked application holds."""
    return {host: fleet.token(host, APPLICATION) for host in HOSTS}


def record(fleet: Fleet) -> Path:
    return fleet.key_dir / (APPLICATION + ".revocation.json")


def revoke(fleet: Fleet, *args: str) -> tuple:
    """jwt_revoke.yml with the custom stats shown."""
    return fleet.run("jwt_revoke.yml", *args, ANSIBLE_SHOW_CUSTOM_STATS="true")


def check_revoked(fleet: Fleet, old_key: dict, old_tokens: Dict[str, str], hosts: Optional[List[str]] = None) -> dict:
    """The old key is gone and refuses nothing any more; ``hosts`` (default: all) hold accepted tokens of the new key."""
    keys = fleet.keys(APPLICATION)
    assert [item["name"] for item in keys] == [APPLICATION + "-signing"], keys
    new_key = keys[0]
    assert new_key["id"] != old_key["id"] and new_key["certificate"] != old_key["certificate"]
    for host in hosts if hosts is not None else HOSTS:
        token = fleet.token(host, APPLICATION)
        assert fleet.signed_by(token, new_key) and not fleet.signed_by(token, old_key), host
        assert fleet.call(APPLICATION, token) == 200, host
    # Every token the old key signed is refused by the API now.
    assert {host: fleet.call(APPLICATION, token) for host, token in old_tokens.items()} == {host: 401 for host in old_tokens}
    return new_key


def test_refused_without_the_explicit_variables(fleet: Fleet) -> None:
    """No confirmation, or no application names: refused, naming the variable; nothing written anywhere."""
    key, before, other = current_key(fleet), tokens(fleet), current_key(fleet, OTHER)
    fleet.emulator.clear_log()
    for args, variable in [(["-e", "jwt_rotation_revoke=" + APPLICATION], "jwt_rotation_revoke_confirm=true"),
                           (["-e", "jwt_rotation_revoke_confirm=true"], "jwt_rotation_revoke (the names"),
                           (["-e", '{"jwt_rotation_revoke": ["nonesuch"], "jwt_rotation_revoke_confirm": true}'],
                            "Not in jwt_rotation_applications: nonesuch")]:
        status, output = revoke(fleet, *args)
        assert status == 2, output[-3000:]
        assert variable in output and "Nothing was changed." in output, output[-3000:]
    assert fleet.emulator.writes() == []
    assert [entry for entry in fleet.emulator.log() if not entry["path"].startswith("/_emulator")] == []
    assert current_key(fleet) == key and current_key(fleet, OTHER) == other and tokens(fleet) == before
    assert not record(fleet).exists()


def test_full_revocation(fleet: Fleet) -> None:
    """Rotated, deployed, old key deleted in one run; the summary and set_stats say every host has a new token."""
    old_key, old_tokens, other = current_key(fleet), tokens(fleet), current_key(fleet, OTHER)
    other_token = fleet.token("revoke-g1", OTHER)
    status, output = revoke(fleet, "-e", CONFIRMED)
    assert status == 0, output[-6000:]
    new_key = check_revoked(fleet, old_key, old_tokens)
    assert "DELETED from the API" in output and "all 3 host(s) hold a token signed by the new key" in output, output[-3000:]
    outcome = custom_stats(output)["jwt_rotation_revoke_outcome"]
    assert list(outcome) == [APPLICATION]
    item = outcome[APPLICATION]
    assert (item["revoked"], item["rotated"], item["resumed"], item["hosts"]) == (True, True, False, 3)
    assert item["hosts_with_new_token"] == HOSTS and item["hosts_without_new_token"] == []
    assert item["application_id"] == fleet.application_id(APPLICATION) and item["key"] == APPLICATION + "-signing"
    assert item["revoked_key_fingerprint"] != item["key_fingerprint"]
    # No secret in what it printed; the other application untouched; the record gone.
    assert "PRIVATE KEY" not in output and not any(token in output for token in old_tokens.values())
    assert not any(fleet.token(host, APPLICATION) in output for host in HOSTS)
    assert current_key(fleet, OTHER) == other and fleet.token("revoke-g1", OTHER) == other_token
    assert not record(fleet).exists()
    # A scheduled run afterwards changes nothing.
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0 and set(recap_changes(output).values()) == {0}, output[-3000:]
    assert current_key(fleet)["id"] == new_key["id"]


def test_unreachable_host(fleet: Fleet) -> None:
    """A host that cannot be reached keeps its old token, refused now: listed; the others get new tokens; key deleted."""
    old_key, old_tokens = current_key(fleet), tokens(fleet)
    hosts_file = fleet.inventory / "hosts.ini"
    original = hosts_file.read_text(encoding="utf-8")
    lines = [line + " ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=9" if line.startswith("revoke-3 ") else line
             for line in original.splitlines()]
    hosts_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        status, output = revoke(fleet, "-e", CONFIRMED)
    finally:
        hosts_file.write_text(original, encoding="utf-8")
    assert status == 4 and "UNREACHABLE" in output, output[-6000:]
    check_revoked(fleet, old_key, old_tokens, hosts=HOSTS[:2])
    assert fleet.token("revoke-3", APPLICATION) == old_tokens["revoke-3"]
    assert ("1 of 3 host(s) did NOT get a token signed by the new key and have no access until they do: revoke-3."
            in output), output[-3000:]
    item = custom_stats(output)["jwt_rotation_revoke_outcome"][APPLICATION]
    assert item["revoked"] is True and item["hosts_with_new_token"] == HOSTS[:2] and item["hosts_without_new_token"] == ["revoke-3"]
    assert not record(fleet).exists()
    # What the runbook says to do for the hosts listed, once they can be reached: the scheduled rotation.
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-3000:]
    assert fleet.refused_hosts() == []


def uploads_and_deletes(fleet: Fleet) -> Dict[str, int]:
    """The verification-key uploads (a rotation) and deletions that the emulator logged since its log was cleared."""
    counts = {"POST": 0, "DELETE": 0}
    for entry in fleet.emulator.log():
        if entry["method"] in counts and "/verification-keys" in entry["path"]:
            counts[entry["method"]] += 1
    return counts


KILLS = [
    # Inside the rotation: the new key is uploaded, its files not promoted yet. The re-run finishes that rotation
    # (with the key already uploaded).
    pytest.param({"method": "POST", "path": KEY_PATH + "$", "hang": "after"}, None, id="rotation-uploaded"),
    # Between the rotation and the deletion: one host has its new token, the others not yet.
    pytest.param(None, "Sign each token", id="deploy-first-host-only"),
    # At the deletion: the DELETE request is held, and goes through when the emulator lets it go after the kill (as a
    # request already sent would); and held after the API deleted the key. Either way the record is still there and
    # the re-run must not revoke the new key.
    pytest.param({"method": "DELETE", "path": KEY_PATH + "/", "hang": "before"}, None, id="at-delete"),
    pytest.param({"method": "DELETE", "path": KEY_PATH + "/", "hang": "after"}, None, id="after-delete"),
]


@pytest.mark.parametrize("fault, header", KILLS)
def test_killed_then_run_again(fleet: Fleet, tmp_path: Path, fault: Optional[Dict[str, object]], header: Optional[str],
                               request: pytest.FixtureRequest) -> None:
    """Killed at one point (SIGKILL to the whole session); the same command again finishes that revocation, no other."""
    old_key, old_tokens = current_key(fleet), tokens(fleet)
    fleet.emulator.clear_log()
    if fault:
        fleet.emulator.faults(dict(fault, max_seconds=120))
        wait = wait_for_hang(fleet.emulator)
        args = ["-e", CONFIRMED]
    else:
        wait = wait_for_output(lambda output: header in output and "changed: [" in output.split(header, 1)[1])
        args = ["-e", CONFIRMED, "--forks", "1"]
    try:
        output = fleet.run_and_kill("jwt_revoke.yml", args, wait, tmp_path / "killed.log")
    finally:
        fleet.emulator.release()
        fleet.emulator.clear_faults()
    assert "PLAY RECAP" not in output, "the run finished before it could be killed"
    assert record(fleet).exists(), "the revocation record must outlive the kill"
    assert json.loads(record(fleet).read_text(encoding="utf-8"))["application"] == APPLICATION
    status, output = revoke(fleet, "-e", CONFIRMED)
    (tmp_path / "again.log").write_text(output, encoding="utf-8")
    assert status == 0, output[-6000:]
    # Over both runs: one rotation (one upload, by the killed run) and one deletion.
    assert uploads_and_deletes(fleet) == {"POST": 1, "DELETE": 1}, output[-3000:]
    check_revoked(fleet, old_key, old_tokens)
    item = custom_stats(output)["jwt_rotation_revoke_outcome"][APPLICATION]
    finished_rotation = request.node.callspec.id == "rotation-uploaded"
    assert (item["revoked"], item["rotated"], item["resumed"]) == (True, finished_rotation, True)
    assert item["hosts_with_new_token"] == HOSTS and item["hosts_without_new_token"] == []
    assert not record(fleet).exists()


def test_converged_after_all_that(fleet: Fleet) -> None:
    """After every kill and re-run, a scheduled run changes nothing and every host is accepted."""
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-6000:]
    assert set(recap_changes(output).values()) == {0}, output[-3000:]
    assert fleet.refused_hosts() == []
