# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill the jwt_rotation role at each phase; the next run must finish the job.

A fleet of three local hosts uses one application. The first-time setup is killed twice, then a rotation
(``jwt_rotation_force=true``) is killed at every phase: locally before and after each of its writes to the API (a
hang fault holds the request while the whole ansible-playbook session gets SIGKILL), half-way through deploying the
tokens, during the verification calls, and before and after the retirement of the previous key. After each kill:

* the application still has a usable verification key, and every host's token is accepted by the API;

and after the next scheduled run (``playbooks/jwt_rotation.yml``, no force):

* the rotation is complete: one key, a new one, and every host holds a token signed by it that the API accepts.

The tests share one fleet and run in order, each starting from where the previous one left it: converged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

from fleet import Fleet, recap_changes, wait_for_hang, wait_for_output

APPLICATION = "kill-telemetry"
HOSTS = ["kill-1", "kill-2", "kill-3"]
KEY_PATH = r"^/v3/applications/[0-9a-f]{32}/verification-keys"


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """Three hosts of one application; a rotation finishes in one run, which verifies every host (early retirement)."""
    emulator.reset()
    yield Fleet(tmp_path_factory.mktemp("kill"), emulator, {APPLICATION: HOSTS})


def check_safe(fleet: Fleet, first_setup: bool = False) -> None:
    """What must hold whenever a run stops: a usable key, and no host holding a refused token.

    During the first setup there may be no key yet, and hosts without a token: none may hold a refused one.
    """
    if not first_setup:
        assert fleet.usable_keys(APPLICATION), "the application was left without a usable verification key"
    assert fleet.refused_hosts(missing_ok=first_setup) == [], "hosts hold tokens the API refuses"


def check_complete(fleet: Fleet, old_key_id: Optional[str]) -> None:
    """The rotation (or setup) is finished: one usable key, new, and every token signed by it and accepted."""
    keys = fleet.keys(APPLICATION)
    assert [item["name"] for item in keys] == [APPLICATION + "-signing"], keys
    assert keys[0]["id"] != old_key_id, "the key was not rotated"
    for host in HOSTS:
        token = fleet.token(host, APPLICATION)
        assert fleet.signed_by(token, keys[0]), "%s holds a token not signed by the current key" % host
        assert fleet.call(APPLICATION, token) == 200


def kill_and_resume(fleet: Fleet, tmp_path: Path, playbook: str, args: List[str],
                    wait: Callable, fault: Optional[Dict[str, object]] = None) -> None:
    """Run a playbook, kill it where ``wait`` says, check it left things safe, then run the scheduled rotation."""
    emulator = fleet.emulator
    if fault:
        emulator.faults(dict(fault, max_seconds=120))
    try:
        output = fleet.run_and_kill(playbook, args, wait, tmp_path / "killed.log")
    finally:
        emulator.release()
        emulator.clear_faults()
    assert "PLAY RECAP" not in output, "the run finished before it could be killed"
    check_safe(fleet, first_setup=playbook == "jwt_setup.yml")
    status, output = fleet.run("jwt_rotation.yml")
    (tmp_path / "resumed.log").write_text(output, encoding="utf-8")
    assert status == 0, output[-6000:]


def current_key_id(fleet: Fleet) -> str:
    """The id of the application's key named <application>-signing."""
    return next(item["id"] for item in fleet.keys(APPLICATION) if item["name"] == APPLICATION + "-signing")


@pytest.mark.parametrize("fault", [
    pytest.param({"method": "POST", "path": r"^/v3/applications$", "hang": "after"}, id="setup-application-created"),
    pytest.param({"method": "POST", "path": KEY_PATH + "$", "hang": "after"}, id="setup-key-uploaded"),
])
def test_first_setup_killed(fleet: Fleet, tmp_path: Path, fault: Dict[str, object]) -> None:
    """The first-time setup, killed once the application, then once the key, was created."""
    fleet.wipe()
    kill_and_resume(fleet, tmp_path, "jwt_setup.yml", [], wait_for_hang(fleet.emulator), fault)
    check_complete(fleet, None)


def after_header(header: str, needle: str) -> Callable[[str], bool]:
    """True once ``needle`` appears in the output after the task header ``header``."""
    def predicate(output: str) -> bool:
        return header in output and needle in output.split(header, 1)[1]
    return predicate


ROTATION_KILLS = [
    # Phase 1, the rotation itself: the new private key is on disk (.next); the current key is renamed, then the new
    # one uploaded, then the key files are promoted.
    pytest.param({"method": "PUT", "path": KEY_PATH + "/", "hang": "before"}, None, id="rotate-before-rename"),
    pytest.param({"method": "PUT", "path": KEY_PATH + "/", "hang": "after"}, None, id="rotate-after-rename"),
    pytest.param({"method": "POST", "path": KEY_PATH + "$", "hang": "after"}, None, id="rotate-after-upload"),
    # Phase 2, tokens: one fork, killed once the first host has its new token and before the others do.
    pytest.param(None, after_header("Sign each token", "changed: ["), id="deploy-first-host-only"),
    # Phase 2, the verification of the tokens: the second call hangs.
    pytest.param({"method": "GET", "path": r"^/v3/applications/[0-9a-f]{32}$", "hang": "before", "nth": 2}, None,
                 id="verify-second-call"),
    # Phase 3, retirement of the previous key.
    pytest.param({"method": "DELETE", "path": KEY_PATH + "/", "hang": "before"}, None, id="retire-before-delete"),
    pytest.param({"method": "DELETE", "path": KEY_PATH + "/", "hang": "after"}, None, id="retire-after-delete"),
]


@pytest.mark.parametrize("fault, output_predicate", ROTATION_KILLS)
def test_rotation_killed(fleet: Fleet, tmp_path: Path, fault: Optional[Dict[str, object]],
                         output_predicate: Optional[Callable[[str], bool]]) -> None:
    """A forced rotation killed at one point; the next scheduled run completes it."""
    old_key_id = current_key_id(fleet)
    if fault:
        kill_and_resume(fleet, tmp_path, "jwt_rotation.yml", ["-e", "jwt_rotation_force=true"], wait_for_hang(fleet.emulator), fault)
    else:
        kill_and_resume(fleet, tmp_path, "jwt_rotation.yml", ["-e", "jwt_rotation_force=true", "--forks", "1"],
                        wait_for_output(output_predicate))
    check_complete(fleet, old_key_id)


def test_converged_after_all_that(fleet: Fleet) -> None:
    """After every kill and resume, a run changes nothing."""
    status, output = fleet.run("jwt_rotation.yml")
    assert status == 0, output[-6000:]
    assert set(recap_changes(output).values()) == {0}, output[-3000:]
