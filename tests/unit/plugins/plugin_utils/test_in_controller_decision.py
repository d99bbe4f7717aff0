# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an API module's core runs (plugin_utils _in_controller): the decision, validation, the finished result."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import TaskDefinition
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import application, verification_key
from ansible_collections.izuma.device_management.plugins.plugin_utils import _in_controller as ic

PY = sys.executable


@pytest.mark.parametrize("interpreter", [None, "", "auto", "auto_silent", "auto_legacy", PY, " %s " % PY])
def test_the_controller_itself_runs_the_core(interpreter) -> None:
    assert ic.module_path_reason("local", False, interpreter, PY) is None


@pytest.mark.parametrize("facts, reason", [
    (dict(transport="ssh"), "the connection is ssh, not local"),
    (dict(transport=None), "the connection is unknown, not local"),
    (dict(transport="community.docker.docker"), "not local"),
    (dict(become=True), "become"),
    (dict(async_seconds=30), "asynchronously"),
    (dict(interpreter="/usr/bin/python3.8"), "the host's Python is /usr/bin/python3.8"),
    (dict(interpreter="/usr/bin/env python3"), "the host's Python is /usr/bin/env python3"),
    (dict(missing=["python-pkcs11"]), "cannot import python-pkcs11"),
])
def test_everything_else_runs_the_module(facts, reason) -> None:
    arguments = dict(transport="local", become=False, interpreter=None, controller_python=PY)
    arguments.update(facts)
    found = ic.module_path_reason(**arguments)
    assert found is not None and reason in found


def test_the_same_python_by_another_path_is_the_controller_s(tmp_path) -> None:
    """A symbolic link to the controller's Python, in the same virtual environment or outside any, is the same Python;
    the same executable started from another virtual environment is not (its libraries differ)."""
    link = tmp_path / "python-link"
    link.symlink_to(PY)
    same_env = os.path.dirname(os.path.dirname(os.path.abspath(PY)))
    expected_same = not os.path.exists(os.path.join(same_env, "pyvenv.cfg"))
    assert (ic.module_path_reason("local", False, str(link), PY) is None) is expected_same
    other = tmp_path / "venv"
    (other / "bin").mkdir(parents=True)
    (other / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (other / "bin" / "python").symlink_to(os.path.realpath(PY))
    assert ic.module_path_reason("local", False, str(other / "bin" / "python"), PY) is not None
    in_env = tmp_path / "venv" / "bin" / "python3"
    in_env.symlink_to(os.path.realpath(PY))
    assert ic.python_identity(str(in_env)) == ic.python_identity(str(other / "bin" / "python"))


def test_a_delegated_localhost_is_the_local_connection_too() -> None:
    """delegate_to: localhost gives the action the local connection and localhost's variables (the implicit localhost's
    interpreter is the controller's Python)."""
    assert ic.module_path_reason("local", False, PY, PY) is None


def test_pkcs11_is_needed_only_when_a_key_is_in_a_token(monkeypatch) -> None:
    monkeypatch.setattr(ic, "HAS_PKCS11", False)
    assert ic.missing_libraries(verification_key.TASK, {"key_backend": "file"}) == []
    assert ic.missing_libraries(verification_key.TASK, {"key_backend": "pkcs11"}) == ["python-pkcs11"]
    assert ic.missing_libraries(application.TASK, {"auth_pkcs11_key_label": "auth"}) == ["python-pkcs11"]
    missing = TaskDefinition(argument_spec={}, core=dict, libraries=(("cryptography", False, "no"),))
    assert ic.missing_libraries(missing, {}) == ["cryptography"]


def test_validation_reads_the_task_environment_and_notes_its_source(monkeypatch) -> None:
    monkeypatch.delenv("IZUMA_TIMEOUT", raising=False)
    with ic.environment({"IZUMA_TIMEOUT": 7, "IZUMA_API_KEY": "ak_secret"}):
        validated = ic.validate(application.INFO_TASK, {"name": "one"}, "izuma.device_management.izuma_application_info")
    assert "IZUMA_TIMEOUT" not in os.environ
    assert validated.error is None
    assert validated.params["timeout"] == 7.0 and validated.params["api_key"] == "ak_secret"
    assert validated.sources["timeout"] == "IZUMA_TIMEOUT"
    assert "ak_secret" in validated.no_log_values


def test_the_environment_is_restored(monkeypatch) -> None:
    monkeypatch.setenv("IZUMA_RETRIES", "3")
    with pytest.raises(RuntimeError):
        with ic.environment({"IZUMA_RETRIES": "9"}):
            assert os.environ["IZUMA_RETRIES"] == "9"
            raise RuntimeError("boom")
    assert os.environ["IZUMA_RETRIES"] == "3"


def test_bad_arguments_fail_as_the_module_fails() -> None:
    validated = ic.validate(application.TASK, {"name": "one", "colour": "red", "api_key": "ak_hidden"}, "izuma.device_management.izuma_application")
    result = ic.run_in_controller(application.TASK, validated, False, False, True)
    assert result["failed"] is True
    assert result["msg"].startswith("Unsupported parameters for (izuma.device_management.izuma_application) module: colour.")
    assert result["invocation"]["module_args"]["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_the_result_is_finished_as_exit_json_finishes_it(tmp_path) -> None:
    """Warnings in order (validation, then the core's), no_log values removed (booleans and None kept), path facts,
    invocation only when asked, a JSON round trip."""
    dest = tmp_path / "secret"
    dest.write_text("x", encoding="utf-8")
    os.chmod(str(dest), 0o600)

    def core(izuma):
        assert izuma.check_mode and not izuma.diff_mode
        return {"changed": False, "echo": "key=ak_hidden", "dest": str(dest), "pair": ("a", 1), "warnings": ["core says"]}

    task = TaskDefinition(argument_spec={"name": {"type": "str"}, "id": {"type": "str", "aliases": ["ident"]}}, core=core)
    validated = ic.validate(task, {"name": "n", "id": "1", "ident": "1", "api_key": "ak_hidden"}, "m")
    result = ic.run_in_controller(task, validated, True, False, False)
    assert result["warnings"] == ["Both option id and its alias ident are set.", "core says"]
    assert result["echo"] == "key=********"
    assert result["changed"] is False and result["pair"] == ["a", 1]
    assert result["mode"] == "0600" and result["state"] == "file" and result["size"] == 1
    assert "invocation" not in result


def test_an_izuma_error_is_a_clean_failure() -> None:
    def core(izuma):
        raise IzumaConfigError("name is wrong: set it right")

    task = TaskDefinition(argument_spec={}, core=core)
    result = ic.run_in_controller(task, ic.validate(task, {}, "m"), False, False, True)
    assert result["failed"] is True and result["msg"] == "name is wrong: set it right"
    assert "exception" not in result and result["invocation"]["module_args"]["timeout"] > 0
