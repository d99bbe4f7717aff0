# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_verification_key with key_backend=pkcs11 through ansible-playbook, against each implementation and the emulator.

The module runs in Ansible's own worker processes, as a user's task does; the token and PIN come from the
IZUMA_PKCS11_* environment (what an AWX credential injects). Each run's result is read back from a JSON file the
playbook writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import requests
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys

from conftest import COLLECTION_ROOT, fresh_session, pkcs11_env

BIN = Path(sys.executable).parent
PLAYBOOKS = Path(__file__).parent / "plays"


@pytest.fixture(scope="module")
def emulator() -> t.Iterator[t.Any]:
    server = start_in_thread()
    yield server
    server.stop()


class Runner:
    """ansible-playbook with the collection of this tree, the emulator and the token in its environment."""

    def __init__(self, hsm: t.Any, emulator: t.Any, work: Path) -> None:
        self.work = work
        self.pin = hsm.pin
        emulator.reset()
        self.emulator = emulator
        response = requests.post(emulator.url + "/v3/applications", json={"name": "pkcs11-playbook"},
                                 headers={"Authorization": "Bearer " + emulator.admin_key}, timeout=30)
        self.application_id = response.json()["id"]
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTION_ROOT.parents[2]), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                        ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                        IZUMA_API_HOST=emulator.url, IZUMA_API_KEY=emulator.admin_key, **pkcs11_env(hsm))

    def run(self, *args: str, pin: t.Optional[str] = None, **variables: t.Any) -> t.Tuple[int, str, t.Dict[str, t.Any]]:
        """Run the playbook once; its exit status, output and the module's result."""
        result = self.work / "result.json"
        if result.exists():
            result.unlink()
        extra = dict(vk_application_id=self.application_id, vk_dir=str(self.work), vk_result=str(result), **variables)
        env = dict(self.env, IZUMA_PKCS11_PIN=pin or self.pin)
        process = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOKS / "verification_key.yml"),
                                  "-e", json.dumps(extra), *args], capture_output=True, text=True, env=env, timeout=600, check=False)
        output = process.stdout + process.stderr
        return process.returncode, output, json.loads(result.read_text()) if result.exists() else {}


def labels(hsm: t.Any, name: str) -> t.List[str]:
    """The generations of ``name`` whose pair is in the token (as a new login sees it: the playbook's modules wrote it)."""
    token = fresh_session(hsm)
    return [generation for generation in ("current", "next", "previous")
            if _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label(name, generation)) is not None]


def test_the_lifecycle_through_ansible_playbook(hsm, emulator, tmp_path) -> None:
    runner = Runner(hsm, emulator, tmp_path)
    size = hsm.profile.spec(("RSA", 3072, None))[1]
    status, output, created = runner.run(vk_name="play", vk_key_type="RSA", vk_key_size=size)
    assert status == 0, output
    assert created["changed"] and created["pkcs11_key_label"] == "izuma:play:current" and labels(hsm, "play") == ["current"]
    assert created["verification_key"]["public_key_fingerprint"] == _pkcs11_keys.find_key_pair(
        fresh_session(hsm), "izuma:play:current").describe()["public_key_fingerprint"]

    emulator.clear_log()
    status, output, again = runner.run(vk_name="play", vk_key_type="RSA", vk_key_size=size)
    assert status == 0 and not again["changed"] and again["plan"] == [] and emulator.writes() == [], output

    status, output, checked = runner.run("--check", vk_name="play", vk_key_type="RSA", vk_key_size=size, vk_rotate=True)
    assert status == 0 and checked["changed"] and emulator.writes() == [] and labels(hsm, "play") == ["current"], output

    status, output, rotated = runner.run(vk_name="play", vk_key_type="RSA", vk_key_size=size, vk_rotate=True)
    assert status == 0 and rotated["rotated"] and labels(hsm, "play") == ["current", "previous"], output

    status, output, retired = runner.run(vk_name="play", vk_key_type="RSA", vk_key_size=size, vk_retire_previous="now",
                                         vk_remove_previous=True)
    assert status == 0 and [entry["kind"] for entry in retired["plan_details"]] == ["DeleteKey", "DestroyKey", "RemoveFile"], output
    assert labels(hsm, "play") == ["current"]

    status, output, deleted = runner.run(vk_name="play", vk_state="absent", vk_remove_files=True)
    assert status == 0 and deleted["changed"] and labels(hsm, "play") == [], output
    assert hsm.pin not in output and "PRIVATE KEY" not in output


def test_a_wrong_pin_is_refused_clearly_and_changes_nothing(hsm, emulator, tmp_path) -> None:
    runner = Runner(hsm, emulator, tmp_path)
    emulator.clear_log()
    status, output, result = runner.run(vk_name="wrong-pin", pin="not-the-pin-4711")
    assert status != 0 and result == {}
    assert "the PIN for the PKCS#11 token with label '%s' is wrong" % hsm.label in output and "nothing was changed" in output
    assert "not-the-pin-4711" not in output and "Traceback" not in output
    assert emulator.writes() == [] and labels(hsm, "wrong-pin") == [] and sorted(os.listdir(tmp_path)) == ["ansible-tmp"]


KEY_PATH = r"^/v3/applications/[^/]+/verification-keys"


@pytest.mark.parametrize("fault", [
    pytest.param({"method": "DELETE", "path": KEY_PATH + "/", "hang": "after"}, id="after-make-room"),
    pytest.param({"method": "PUT", "path": KEY_PATH + "/", "hang": "before"}, id="before-rename"),
    pytest.param({"method": "PUT", "path": KEY_PATH + "/", "hang": "after"}, id="after-rename"),
    pytest.param({"method": "POST", "path": KEY_PATH + "$", "hang": "after"}, id="after-upload"),
])
def test_a_rotation_whose_process_is_killed_converges_on_the_next_run(hsm, emulator, tmp_path, fault) -> None:
    # A real SIGKILL of the whole ansible-playbook session while the emulator holds one request: the killed worker
    # held a logged-in session on the token and had generated the new pair.
    from izuma_emulator.testing import kill_tree  # pylint: disable=import-outside-toplevel

    runner = Runner(hsm, emulator, tmp_path)
    name = "sigkill-" + fault["method"].lower() + "-" + fault["hang"]
    assert runner.run(vk_name=name)[0] == 0
    assert runner.run(vk_name=name, vk_rotate=True, vk_grace_period=0)[0] == 0
    emulator.faults(fault)
    result = tmp_path / "killed.json"
    extra = dict(vk_application_id=runner.application_id, vk_dir=str(tmp_path), vk_result=str(result), vk_name=name,
                 vk_rotate=True, vk_grace_period=0)
    with open(tmp_path / "killed.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOKS / "verification_key.yml"),
                                    "-e", json.dumps(extra)], env=runner.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            emulator.wait_until_hanging(timeout=120)
        finally:
            kill_tree(process)
    emulator.clear_faults()
    assert not result.exists(), "the run finished before it was killed"
    # Killed at an API request, before the promotion: the new pair waits as :next, nothing was destroyed.
    assert labels(hsm, name) == ["current", "next", "previous"]

    # The scheduled run (no rotate) finishes the rotation; the one after it changes and writes nothing.
    status, output, resumed = runner.run(vk_name=name, vk_grace_period=0)
    assert status == 0, output
    assert labels(hsm, name) in (["current", "previous"], ["current"]), labels(hsm, name)
    fingerprint = _pkcs11_keys.find_key_pair(fresh_session(hsm), _pkcs11_keys.key_label(name)).describe()["public_key_fingerprint"]
    assert resumed["verification_key"]["public_key_fingerprint"] == fingerprint
    emulator.clear_log()
    status, output, final = runner.run(vk_name=name, vk_retire_previous="never")
    assert status == 0 and not final["changed"] and emulator.writes() == [], output
