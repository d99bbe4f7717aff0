# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jwt_rotation role in check mode, and in serial batches.

* Check mode, on an empty account and on a converged fleet asked to rotate: reports what it would do, and writes
  nothing (no API write, no key file, no token file changed).
* The audit playbook: nothing to report on a converged fleet; then expiring and missing tokens.
* Serial batches of one host: the first batch rotates, the others do not rotate again, and the previous key is
  deleted only after the last host's token has been verified. That run is made at -vvv: no token, private key or
  access key may appear in its output; what it publishes with set_stats is true of the whole run.
"""

from __future__ import annotations

from typing import Dict, Iterator

import pytest

from fleet import Fleet, custom_stats

APPLICATIONS = {"modes-telemetry": ["modes-c1", "modes-c2"], "modes-gateway": ["modes-g1"]}
KEY_WRITE = r"/verification-keys"


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """Two applications, three hosts; grace period = token lifetime, so retirement is early or not at all."""
    emulator.reset()
    yield Fleet(tmp_path_factory.mktemp("modes"), emulator, APPLICATIONS)


def snapshot(fleet: Fleet) -> Dict[str, bytes]:
    """Every key and token file, by path."""
    return {str(path): path.read_bytes() for path in sorted(fleet.workdir.glob("keys/*")) + sorted(fleet.workdir.glob("hosts/*/*"))}


def writes(fleet: Fleet) -> list:
    """The API requests that changed something."""
    return [entry for entry in fleet.emulator.log() if entry["method"] != "GET"]


def test_check_mode_on_an_empty_account_writes_nothing(fleet: Fleet) -> None:
    """First setup in check mode: says what it would create, creates nothing."""
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_setup.yml", "--check")
    assert status == 0, output[-4000:]
    assert writes(fleet) == []
    assert snapshot(fleet) == {}
    assert "to be created, with the application" in output
    assert "a token signed by the new key would be issued to each" in output


def test_check_mode_of_a_rotation_writes_nothing(fleet: Fleet) -> None:
    """A converged fleet asked to rotate in check mode: reports the rotation, changes nothing."""
    status, output = fleet.run("jwt_setup.yml")
    assert status == 0, output[-4000:]
    before = snapshot(fleet)
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "--check", "-e", "jwt_rotation_force=true")
    assert status == 0, output[-4000:]
    assert writes(fleet) == []
    assert snapshot(fleet) == before
    assert output.count("rotated (would be, check mode)") == 2


def test_serial_batches_rotate_once_and_retire_after_the_last_batch(fleet: Fleet) -> None:
    """Batches of one host: one rotation per application, retirement only after every host is verified."""
    fleet.emulator.clear_log()
    status, output = fleet.run("jwt_rotation.yml", "-e", "jwt_rotation_force=true", "-e", "jwt_fleet_batch=1", "-vvv",
                               ANSIBLE_SHOW_CUSTOM_STATS="true")
    assert status == 0, output[-4000:]
    assert "eyJ" not in output and "PRIVATE KEY" not in output and fleet.emulator.admin_key not in output
    log = fleet.emulator.log()
    for name, hosts in APPLICATIONS.items():
        application_id = fleet.application_id(name)
        mine = [entry for entry in log if entry["application_id"] == application_id or application_id in entry["path"]]
        uploads = [entry for entry in mine if entry["method"] == "POST" and entry["path"].endswith(KEY_WRITE)]
        assert len(uploads) == 1, "%s was rotated %d times" % (name, len(uploads))
        verifications = [entry["seq"] for entry in mine if entry["method"] == "GET" and entry["auth"] == "jwt"]
        deletes = [entry["seq"] for entry in mine if entry["method"] == "DELETE"]
        assert len(verifications) >= len(hosts) and len(deletes) == 1
        assert deletes[0] > max(verifications), "the previous key of %s went before every host was verified" % name
        assert [item["name"] for item in fleet.keys(name)] == [name + "-signing"]
    assert fleet.refused_hosts() == []
    # set_stats (per_host false, aggregate): each of the three batches published; what stands is true of the whole
    # run, although the last batch rotated nothing and retired only modes-gateway's previous key (modes-telemetry's
    # went in the second batch, after modes-c2).
    outcome = custom_stats(output)["jwt_rotation_outcome"]
    assert sorted(outcome) == sorted(APPLICATIONS)
    for name, hosts in APPLICATIONS.items():
        item = outcome[name]
        assert (item["rotated"], item["retired"], item["previous_key_uploaded"]) == (True, True, False), (name, item)
        assert (item["hosts_verified"], item["hosts_not_verified"], item["hosts_unchecked"]) == (hosts, [], []), (name, item)
        assert item["tokens_issued"] == len(hosts) and item["key"] == name + "-signing"
        assert item["key_expires_at"] == fleet.keys(name)[0]["expires_at"]


def test_audit_reports_expiring_tokens_and_missing_ones(fleet: Fleet) -> None:
    """playbooks/jwt_audit.yml: all fine on a converged fleet; then tokens expiring within the window, and a missing one."""
    # The fleet's tokens live an hour, less than the default 12-hour window: with no window, all is fine.
    status, output = fleet.run("jwt_audit.yml", "-e", "jwt_audit_token_hours=0")
    assert status == 0, output[-4000:]
    assert "Every key and token is fine." in output
    (fleet.workdir / "hosts" / "modes-c2" / "modes-telemetry.jwt").unlink()
    # A two-hour window finds the two remaining tokens, and the missing one.
    status, output = fleet.run("jwt_audit.yml", "-e", "jwt_audit_token_hours=2")
    assert status != 0
    assert "modes-c2: modes-telemetry: no token at" in output
    assert "modes-g1: modes-gateway: token expires in" in output
    assert "3 finding(s)" in output
    assert "eyJ" not in output
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0 and fleet.refused_hosts() == [], output[-4000:]
