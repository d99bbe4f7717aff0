# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module run with IZUMA_API_KEY in its environment and JWT authentication in its task, against the emulator.

As docs/quickstart.md has users export IZUMA_API_KEY, a task that spells out auth_application_id with its key must
authenticate with a JWT (the emulator sees the application's JWT, never the access key), and say that the
variable was not used, without its value. The module's argument spec fills the options from the environment, so
this runs the real module (izuma_application_info) in this process, as tests/unit/plugins/module_utils/test_module.py does.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Dict, List, Tuple

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from izuma_emulator.testing import ThreadedEmulator

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates, issuing, keys
from ansible_collections.izuma.device_management.plugins.modules import izuma_application_info

ENVIRONMENT = ("IZUMA_API_KEY", "IZUMA_APPLICATION_ID", "IZUMA_PRIVATE_KEY_PATH", "IZUMA_PRIVATE_KEY", "IZUMA_VALIDATE_CERTS",
               "IZUMA_PKCS11_LIBRARY", "IZUMA_PKCS11_TOKEN", "IZUMA_PKCS11_PIN")


def run_info(args: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Tuple[Dict[str, Any], List[str], str]:
    """Run izuma_application_info in this process: its JSON result, the warnings it gave ``module.warn``, its output."""
    warnings: List[str] = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    stdout = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(stdout):
        with pytest.raises(SystemExit):
            izuma_application_info.main()
    return json.loads(stdout.getvalue()), warnings, stdout.getvalue()


@pytest.fixture
def application(emulator: ThreadedEmulator, admin_client: IzumaClient, monkeypatch: pytest.MonkeyPatch,
                tmp_path: Any) -> Dict[str, Any]:
    """An application whose verification key is a fresh EC key: its id, the key's PEM and the key file's path."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    key = keys.generate_private_key("EC")
    app = admin_client.create("/v3/applications", {"name": "automation"})
    pem = certificates.dump_certificate(issuing.create_certificate(key, "automation", 30))
    admin_client.create("/v3/applications/%s/verification-keys" % app["id"], {"name": "automation", "certificate": pem})
    path = tmp_path / "automation.pem"
    path.write_bytes(keys.dump_private_key(key))
    return {"id": app["id"], "key_pem": path.read_text(), "key_path": str(path)}


def calls(emulator: ThreadedEmulator) -> List[Dict[str, Any]]:
    return [entry for entry in emulator.log() if not str(entry["path"]).startswith("/_emulator")]


@pytest.mark.parametrize("key_option", ["auth_private_key_path", "auth_private_key_content"])
def test_the_tasks_jwt_wins_over_the_environments_access_key_and_says_so(emulator: ThreadedEmulator, application: Dict[str, Any],
                                                                         monkeypatch: pytest.MonkeyPatch, key_option: str) -> None:
    monkeypatch.setenv("IZUMA_API_KEY", emulator.admin_key)
    key = application["key_path"] if key_option == "auth_private_key_path" else application["key_pem"]
    emulator.clear_log()
    result, warnings, output = run_info({"api_host": emulator.url, "auth_application_id": application["id"], key_option: key,
                                         "application_id": application["id"]}, monkeypatch)
    assert not result.get("failed"), result
    assert [item["id"] for item in result["applications"]] == [application["id"]]
    made = calls(emulator)
    assert made and all(entry["auth"] == "jwt" and entry["application_id"] == application["id"] for entry in made), made
    [warning] = warnings
    assert warning.startswith("IZUMA_API_KEY is set in the environment but not used: the task asks for JWT authentication "
                              "(auth_application_id and %s)" % key_option), warning
    assert emulator.admin_key not in output and emulator.admin_key not in warning


def test_the_tasks_access_key_wins_over_jwt_options_from_the_environment(emulator: ThreadedEmulator, application: Dict[str, Any],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_APPLICATION_ID", application["id"])
    monkeypatch.setenv("IZUMA_PRIVATE_KEY_PATH", application["key_path"])
    emulator.clear_log()
    result, [warning], output = run_info({"api_host": emulator.url, "api_key": emulator.admin_key}, monkeypatch)
    assert [item["id"] for item in result["applications"]] == [application["id"]]
    assert [entry["auth"] for entry in calls(emulator)] == ["admin"]
    assert warning.startswith("IZUMA_APPLICATION_ID and IZUMA_PRIVATE_KEY_PATH are set in the environment but not used: the "
                              "task gives api_key"), warning
    assert emulator.admin_key not in output and application["key_path"] not in warning


def test_an_access_key_and_jwt_in_the_same_task_the_access_key_wins(emulator: ThreadedEmulator, application: Dict[str, Any],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.clear_log()
    result, [warning], _output = run_info({"api_host": emulator.url, "api_key": emulator.admin_key,
                                           "auth_application_id": application["id"], "auth_private_key_path": application["key_path"]},
                                          monkeypatch)
    assert not result.get("failed") and [entry["auth"] for entry in calls(emulator)] == ["admin"]
    assert "auth_application_id and auth_private_key_path are not used: the task gives api_key too" in warning


def test_a_task_key_beside_an_environment_key_is_no_longer_mutually_exclusive(emulator: ThreadedEmulator, application: Dict[str, Any],
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    emulator.clear_log()
    result, [warning], _output = run_info({"api_host": emulator.url, "auth_application_id": application["id"],
                                           "auth_private_key_path": application["key_path"], "application_id": application["id"]},
                                          monkeypatch)
    assert not result.get("failed"), result
    assert [entry["auth"] for entry in calls(emulator)] == ["jwt"]
    assert warning.startswith("IZUMA_PRIVATE_KEY is set in the environment but not used: the task gives auth_private_key_path")


def test_two_keys_in_the_task_are_still_refused(emulator: ThreadedEmulator, application: Dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.clear_log()
    result, _warnings, _output = run_info({"api_host": emulator.url, "auth_application_id": application["id"],
                                           "auth_private_key_path": application["key_path"],
                                           "auth_private_key_content": application["key_pem"]}, monkeypatch)
    assert result["failed"] and "Give one of auth_private_key_path, auth_private_key_content and auth_pkcs11_key_label" in result["msg"]
    assert calls(emulator) == []
