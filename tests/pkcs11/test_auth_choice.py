# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An access key in the environment beside the task's JWT authentication with a key in the token (issue 19, item 5).

With IZUMA_API_KEY exported, as docs/quickstart.md has users do, a task that gives auth_application_id and
auth_pkcs11_key_label authenticates with a JWT the token signs, and a warning says IZUMA_API_KEY was not used; the
access key appears nowhere in the output. Through ansible-playbook, against SoftHSM2 and the emulator (no mock).
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys

from conftest import pkcs11_env
from playbooks import Api, assert_no_secret, recap, run_playbook

LABEL = _pkcs11_keys.key_label("auth-choice")


@pytest.fixture(scope="module")
def api() -> t.Iterator[Api]:
    server = start_in_thread()
    yield Api(server)
    server.stop()


@pytest.fixture()
def pair(token: t.Any) -> t.Iterator[t.Any]:
    made = _pkcs11_keys.generate_key_pair(token, LABEL, "EC", curve="P-256")
    yield made
    _pkcs11_keys.destroy_key_pair(token, LABEL)


def api_calls(api: Api) -> t.List[t.Dict[str, t.Any]]:
    return [entry for entry in api.emulator.log() if not str(entry["path"]).startswith("/_emulator")]


def test_the_tasks_token_key_wins_over_the_environments_access_key(hsm, pair, api, tmp_path: Path) -> None:
    api.emulator.reset()
    automation, _pem = api.application_with_key("auth-choice", pair)
    task = {"name": "Read the application as itself", "izuma.device_management.izuma_application_info": {
        "api_host": api.url, "application_id": automation, "auth_application_id": automation, "auth_pkcs11_key_label": LABEL},
        "register": "found"}
    check = {"name": "Check", "ansible.builtin.assert": {"that": ["found.applications | map(attribute='id') | list == ['%s']" % automation]}}
    env = pkcs11_env(hsm, IZUMA_API_KEY=api.emulator.admin_key)
    api.emulator.clear_log()
    status, output = run_playbook(tmp_path / "run", [task, check], env, "-vvv")
    assert status == 0 and recap(output)[2] == 0, output[-6000:]
    calls = api_calls(api)
    assert calls and all(entry["auth"] == "jwt" and entry["application_id"] == automation for entry in calls), calls
    warning = " ".join(output.split())
    assert ("IZUMA_API_KEY is set in the environment but not used: the task asks for JWT authentication (auth_application_id "
            "and auth_pkcs11_key_label)") in warning, output[-6000:]
    assert_no_secret(output, hsm.pin, api.emulator.admin_key)

    # The same task with the access key in the task as well: the access key wins, and the JWT options are named.
    task["izuma.device_management.izuma_application_info"]["api_key"] = api.emulator.admin_key
    api.emulator.clear_log()
    status, output = run_playbook(tmp_path / "both", [task, check], env, "-vvv")
    assert status == 0, output[-6000:]
    assert [entry["auth"] for entry in api_calls(api)] == ["admin"]
    assert "auth_application_id and auth_pkcs11_key_label are not used: the task gives api_key too" in " ".join(output.split())
    assert_no_secret(output, hsm.pin, api.emulator.admin_key)
