# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API modules' cores in the controller process, compared with their modules, in real ansible-playbook runs.

One playbook runs each of the six API modules (creation, a converged run, check mode, diff mode, a warning, a clean
error, a secret under no_log, module_defaults through the action group, an environment fallback from the task's
``environment``) three ways against a fresh emulator account each time: on the implicit localhost (the core runs in the
controller process: no module execution), with another Python chosen for localhost, and with become (su to root): both
module paths. The results, the files written (modes, owners, the kind of content) and the API requests must be the same,
once the values that differ from run to run (ids, times, generated keys, secrets, the run's directory) are replaced by
placeholders numbered in order of appearance.
"""

from __future__ import annotations

import json
import pwd
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest

from fleet import BIN, CALLBACK_DIR, Fleet, run_command

APPLICATION = "in-controller-one"
PLAYBOOK = r"""
- name: The API modules, each way
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/izuma.device_management.izuma:
      api_host: "{{ lookup('env', 'TEST_API_HOST') }}"
      api_key: "{{ lookup('env', 'TEST_API_KEY') }}"
  vars:
    run_dir: "{{ lookup('env', 'TEST_RUN_DIR') }}"
  tasks:
    - name: izuma_application creates
      izuma.device_management.izuma_application:
        name: %(application)s
        description: first
      register: application
    - name: izuma_application in check mode
      izuma.device_management.izuma_application:
        name: in-controller-two
      check_mode: true
      register: application_check
    - name: izuma_application in diff mode
      izuma.device_management.izuma_application:
        name: %(application)s
        description: second
      diff: true
      register: application_diff
    - name: izuma_application_info with a warning, the timeout from the task's environment
      izuma.device_management.izuma_application_info:
        application_id: "{{ application.application.id }}"
        id: "{{ application.application.id }}"
      environment:
        IZUMA_TIMEOUT: "7"
      register: application_info
    - name: izuma_verification_key creates
      izuma.device_management.izuma_verification_key:
        application: %(application)s
        name: signing
        private_key_path: "{{ run_dir }}/keys/signing.pem"
      register: key
    - name: izuma_verification_key converged
      izuma.device_management.izuma_verification_key:
        application: %(application)s
        name: signing
        private_key_path: "{{ run_dir }}/keys/signing.pem"
      register: key_converged
    - name: izuma_verification_key_info
      izuma.device_management.izuma_verification_key_info:
        application: %(application)s
      register: key_info
    - name: izuma_verification_key_info fails cleanly
      izuma.device_management.izuma_verification_key_info:
        application: no-such-application
      register: key_info_error
      ignore_errors: true
    - name: izuma_access_key with its secret
      izuma.device_management.izuma_access_key:
        application: %(application)s
        name: access
        dest: "{{ run_dir }}/keys/access.key"
        return_secret: true
      register: access_key
    - name: izuma_access_key_info
      izuma.device_management.izuma_access_key_info:
        application: %(application)s
      register: access_key_info
    - name: The results
      ansible.builtin.copy:
        content: "{{ dict(names | zip(names | map('extract', vars))) | to_json }}"
        dest: "{{ run_dir }}/results.json"
        mode: "0600"
      vars:
        names: [application, application_check, application_diff, application_info, key, key_converged, key_info,
                key_info_error, access_key, access_key_info]
""" % {"application": APPLICATION}
IZUMA_TASKS = 10
WAYS = {
    "controller": [],
    # Another Python (a virtual environment of its own that sees the same libraries): chosen on purpose, so the module runs.
    "interpreter": ["-e", "ansible_python_interpreter={{ lookup('env', 'TEST_OTHER_PYTHON') }}"],
    # su to root (the tests run as root: su asks no password); allowed to the same user, so that su really runs.
    "become": ["-e", "ansible_become=true", "-e", "ansible_become_method=su", "-e", "ansible_become_user=root"],
}
WAY_ENV = {"become": {"ANSIBLE_BECOME_ALLOW_SAME_USER": "true"}}
# Values that differ from run to run, replaced by numbered placeholders (the same value, the same placeholder).
VOLATILE = [
    ("pem", re.compile(r"-----BEGIN [A-Z ]+-----[^-]+-----END [A-Z ]+-----\n?")),
    ("secret", re.compile(r"ak_[0-9a-zA-Z]+")),
    ("time", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")),
    ("hex", re.compile(r"\b(?:[0-9a-f]{2}:){15,}[0-9a-f]{2}\b|\b[0-9a-fA-F]{16,}\b")),
]
# Keys of a task result that legitimately differ between the ways.
DIFFERENT_KEYS = {"_ansible_parsed", "invocation"}


class Normalizer:
    """Replaces volatile values with placeholders numbered by first appearance."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = str(run_dir)
        self.seen: Dict[Tuple[str, str], str] = {}

    def text(self, value: str) -> str:
        value = value.replace(self.run_dir, "<run>")
        for kind, pattern in VOLATILE:
            value = pattern.sub(lambda match, kind=kind: self.placeholder(kind, match.group(0)), value)
        return value

    def placeholder(self, kind: str, value: str) -> str:
        return self.seen.setdefault((kind, value), "<%s%d>" % (kind, len([k for k in self.seen if k[0] == kind])))

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.text(str(key)): self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, float) and value > 1e9:
            return "<epoch>"
        return value


def files(run_dir: Path) -> Dict[str, Dict[str, Any]]:
    """What the tasks wrote: per file, its mode, owner, group and the kind of content (first line, or its length)."""
    found = {}
    for path in sorted((run_dir / "keys").rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if path.is_file() else b""
        found[str(path.relative_to(run_dir))] = {
            "mode": oct(stat.S_IMODE(info.st_mode)), "owner": pwd.getpwuid(info.st_uid).pw_name, "gid": info.st_gid,
            "kind": content.split(b"\n", 1)[0].decode("ascii", "replace") if content.startswith(b"-----") else len(content)}
    return found


def other_python(fleet_dir: Path) -> str:
    """A virtual environment of its own (so another Python for Ansible) whose site-packages include this one's."""
    venv = fleet_dir / "other-python"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python3*/site-packages"))
        (site / "tests.pth").write_text("\n".join(path for path in sys.path if path.endswith("site-packages")) + "\n", encoding="utf-8")
    return str(venv / "bin" / "python")


def run_way(fleet_dir: Path, emulator, way: str) -> Dict[str, Any]:
    """Run the playbook one way on a fresh account: results, files, requests, module runs, output, the secret."""
    emulator.reset()
    run_dir = fleet_dir / way
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "keys").mkdir(parents=True)
    playbook = fleet_dir / "in_controller.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    fleet = Fleet(fleet_dir / "fleet", emulator, {})
    env = fleet.env(ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR), ANSIBLE_CALLBACKS_ENABLED="module_runs",
                    IZUMA_MODULE_RUNS_LOG=str(run_dir / "runs.jsonl"), TEST_RUN_DIR=str(run_dir),
                    TEST_API_HOST=emulator.url, TEST_API_KEY=emulator.admin_key, TEST_OTHER_PYTHON=other_python(fleet_dir),
                    **WAY_ENV.get(way, {}))
    # The connection comes from module_defaults (the action group), not from the environment.
    for name in emulator.env():
        env.pop(name, None)
    # An inventory without hosts: the play runs on the implicit localhost.
    inventory = fleet_dir / "empty.ini"
    inventory.write_text("[nobody]\n", encoding="utf-8")
    status, output = run_command([str(BIN / "ansible-playbook"), "-i", str(inventory), "-vvv", str(playbook), *WAYS[way]], env)
    assert status == 0, output[-5000:]
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (run_dir / "runs.jsonl").read_text(encoding="utf-8").splitlines()]
    izuma_runs = [r for r in records if r["event"] == "module" and "izuma" in str(r["module"])]
    requests = ["%s %s" % (entry["method"], entry["path"]) for entry in emulator.log() if not str(entry["path"]).startswith("/_emulator")]
    normalize = Normalizer(run_dir)
    secret = results["access_key"]["secret"]
    comparable = {name: {key: value for key, value in result.items() if key not in DIFFERENT_KEYS} for name, result in results.items()}
    return {"results": normalize(comparable), "raw": results, "files": files(run_dir), "requests": normalize(requests),
            "izuma_runs": izuma_runs, "output": output, "secret": secret, "shown": normalize(shown_results(output))}


def shown_results(output: str) -> Dict[str, Dict[str, Any]]:
    """The task results the default callback printed at -vvv (invocation included), by task name."""
    shown: Dict[str, Dict[str, Any]] = {}
    for match in re.finditer(r"^TASK \[(.+?)\] \*+$", output, re.M):
        start = output.find(" => {\n", match.end())
        end = output.find("\n}\n", start)
        if start < 0 or end < 0:
            continue
        next_task = output.find("\nTASK [", match.end())
        if 0 <= next_task < start:
            continue
        shown[match.group(1)] = json.loads(output[start + 4:end + 2])
    return shown


@pytest.fixture(scope="module")
def ways(emulator, tmp_path_factory) -> Dict[str, Dict[str, Any]]:
    """The playbook run each way, once."""
    fleet_dir = tmp_path_factory.mktemp("in-controller")
    return {way: run_way(fleet_dir, emulator, way) for way in WAYS}


def test_the_controller_way_runs_no_module_and_the_others_do(ways: Dict[str, Dict[str, Any]]) -> None:
    assert ways["controller"]["izuma_runs"] == []
    for way in ("interpreter", "become"):
        # Every izuma task ran its module once (the failing one included).
        assert len(ways[way]["izuma_runs"]) == IZUMA_TASKS, ways[way]["izuma_runs"]


@pytest.mark.parametrize("way", ["interpreter", "become"])
def test_results_files_and_requests_are_the_same(ways: Dict[str, Dict[str, Any]], way: str) -> None:
    controller, module = ways["controller"], ways[way]
    for name in controller["results"]:
        assert controller["results"][name] == module["results"][name], name
    assert controller["files"] == module["files"]
    assert controller["requests"] == module["requests"]


def test_what_each_way_reports(ways: Dict[str, Dict[str, Any]]) -> None:
    for way, run in ways.items():
        results = run["raw"]
        assert results["application"]["changed"] is True, way
        # check mode: reported, not done (no application in-controller-two was created)
        assert results["application_check"]["changed"] is True, way
        assert not any("in-controller-two" in request for request in run["requests"] if request.startswith("POST")), way
        assert results["application_diff"]["diff"], way
        assert "Both option application_id and its alias id are set." in str(results["application_info"]["warnings"]), way
        assert results["key"]["changed"] is True and results["key_converged"]["changed"] is False, way
        assert results["key_info_error"]["failed"] is True and "no-such-application" in results["key_info_error"]["msg"], way
        assert "Traceback" not in run["output"], way
        assert run["files"]["keys/signing.pem"]["mode"] == "0o600", (way, run["files"])
        assert run["files"]["keys/access.key"]["mode"] == "0o600", (way, run["files"])
        # A secret never shows, at -vvv; the registered result keeps it.
        assert run["secret"].startswith("ak_") and run["secret"] not in run["output"], way
        assert run["raw"]["access_key"]["dest"].endswith("access.key")


def test_invocation_and_no_log(ways: Dict[str, Dict[str, Any]]) -> None:
    """invocation as the module reports it, where Ansible shows it (-vvv; ansible-core 2.21 only with INJECT_INVOCATION):
    options from module_defaults and from the task's environment, the api_key hidden; the same each way."""
    if not ways["interpreter"]["shown"]["izuma_application_info with a warning, the timeout from the task's environment"].get("invocation"):
        pytest.skip("this ansible-core does not return invocation")
    for way, run in ways.items():
        arguments = run["shown"]["izuma_application_info with a warning, the timeout from the task's environment"]["invocation"]["module_args"]
        assert arguments["timeout"] == 7.0, way
        assert arguments["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", way
        assert run["raw"]["access_key"]["secret"] not in json.dumps(run["shown"]), way
    for name, shown in ways["controller"]["shown"].items():
        if "izuma" not in name:
            continue
        for way in ("interpreter", "become"):
            assert shown.get("invocation") == ways[way]["shown"][name].get("invocation"), (way, name)


def test_the_become_way_really_became(ways: Dict[str, Dict[str, Any]]) -> None:
    """su ran the modules (Ansible skips become to the same user unless told otherwise)."""
    assert ways["become"]["output"].count("'su  root -c ") >= IZUMA_TASKS
