# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module adapter: the client's warnings reach the task result, naming the option or variable that caused them."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Dict, List, Tuple

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from izuma_emulator.testing import ThreadedEmulator

from ansible_collections.izuma.device_management.plugins.modules import izuma_application_info


def run_info(args: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Tuple[Dict[str, Any], List[str]]:
    """Run izuma_application_info in this process; return its JSON result and the warnings it gave ``module.warn``.

    ``module.warn`` is what puts a warning in the task result on a host (in a process that has loaded controller
    code, ansible-core 2.19+ displays it instead), so the test records the calls themselves.
    """
    warnings: List[str] = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    stdout = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(stdout):
        with pytest.raises(SystemExit):
            izuma_application_info.main()
    return json.loads(stdout.getvalue()), warnings


@pytest.fixture
def connection(emulator: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    monkeypatch.delenv("IZUMA_VALIDATE_CERTS", raising=False)
    return {"api_host": emulator.url, "api_key": emulator.admin_key}


def test_validate_certs_false_is_a_warning_naming_the_option(connection: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    result, [warning] = run_info(dict(connection, validate_certs=False), monkeypatch)
    assert result["applications"] == []
    assert "TLS certificate verification is off (validate_certs is false)" in warning
    assert connection["api_key"] not in warning


def test_izuma_validate_certs_false_is_a_warning_naming_the_variable(connection: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_VALIDATE_CERTS", "false")
    _result, [warning] = run_info(connection, monkeypatch)
    assert "TLS certificate verification is off (IZUMA_VALIDATE_CERTS is false in the environment)" in warning


def test_the_task_option_wins_over_the_variable_and_the_warning_says_so(connection: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_VALIDATE_CERTS", "true")
    _result, [warning] = run_info(dict(connection, validate_certs=False), monkeypatch)
    assert "(validate_certs is false)" in warning


def test_no_warning_while_verification_is_on(connection: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_info(connection, monkeypatch)[1] == []
    monkeypatch.setenv("IZUMA_VALIDATE_CERTS", "true")
    assert run_info(dict(connection, validate_certs=True), monkeypatch)[1] == []


def test_a_missing_application_fails_with_an_error_a_playbook_can_test(connection: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The jwt_rotation role tells a deleted application (error.type not_found) from other failures."""
    from ansible_collections.izuma.device_management.plugins.modules import izuma_verification_key_info  # pylint: disable=import-outside-toplevel

    stdout = io.StringIO()
    with patch_module_args(dict(connection, application_id="0" * 32)), contextlib.redirect_stdout(stdout):
        with pytest.raises(SystemExit):
            izuma_verification_key_info.main()
    result = json.loads(stdout.getvalue())
    assert result["failed"] and "There is no application with application_id " + "0" * 32 in result["msg"]
    assert result["error"]["type"] == "not_found" and result["error"]["status"] == 404
