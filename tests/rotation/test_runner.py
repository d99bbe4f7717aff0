# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation playbook run the way AWX / Automation Controller runs a job: through ansible-runner.

The credential reaches the job the way the shipped credential type (extensions/awx/credential_type_izuma.yml)
delivers it: its injectors are rendered with Jinja2 as AWX renders them (an input left empty becomes ''), the
private key is written to a file of the job's private data directory, and the environment variables go to
env/envvars. The job authenticates as an "automation" application in the Administrators group with a JWT, then
again with an access key; it rotates two applications across four hosts against the emulator.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Dict, Iterator

import ansible_runner
import jinja2.sandbox
import pytest
import yaml

from fleet import BIN, COLLECTION_ROOT, COLLECTIONS_PATH, Fleet, recap_changes

APPLICATIONS = {"runner-telemetry": ["runner-c1", "runner-c2"], "runner-gateway": ["runner-g1", "runner-g2"]}
CREDENTIAL_TYPE = COLLECTION_ROOT / "extensions" / "awx" / "credential_type_izuma.yml"
PKCS11_CREDENTIAL_TYPE = COLLECTION_ROOT / "extensions" / "awx" / "credential_type_izuma_pkcs11.yml"
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


def inject(credential_type: dict, inputs: Dict[str, str], private_data_dir: Path) -> Dict[str, str]:
    """Render a credential type's injectors like AWX: files first (their paths as tower.filename.<name>), then env."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment()
    injectors = credential_type["injectors"]
    namespace: Dict[str, object] = {field["id"]: inputs[field["id"]] for field in credential_type["inputs"]["fields"]
                                    if field["id"] in inputs}
    filenames = {}
    for name, template in injectors.get("file", {}).items():
        path = private_data_dir / "env" / ("tmp-" + name.split(".", 1)[1])
        path.write_text(environment.from_string(template).render(**namespace), encoding="utf-8")
        path.chmod(0o600)
        filenames[name.split(".", 1)[1]] = str(path)
    namespace["tower"] = namespace["awx"] = {"filename": filenames}
    return {name: environment.from_string(template).render(**namespace) for name, template in injectors["env"].items()}


@pytest.fixture(scope="module")
def fleet(emulator, tmp_path_factory) -> Iterator[Fleet]:
    """Two applications of two hosts each, and an automation application that the AWX credential authenticates as."""
    emulator.reset()
    yield Fleet(tmp_path_factory.mktemp("runner"), emulator, APPLICATIONS)


@pytest.fixture(scope="module")
def automation(fleet: Fleet, tmp_path_factory) -> Dict[str, str]:
    """An application in the Administrators group with a verification key; its id and private key (PEM)."""
    workdir = tmp_path_factory.mktemp("automation")
    playbook = workdir / "automation.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "An application for the AWX jobs, with a verification key", "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "Application", "izuma.device_management.izuma_application": {"name": "awx-automation", "groups": ["Administrators"]},
             "register": "app"},
            {"name": "Key", "izuma.device_management.izuma_verification_key": {
                "application_id": "{{ app.application.id }}", "name": "awx-automation-signing",
                "private_key_path": str(workdir / "automation.key")}},
            {"name": "Id", "ansible.builtin.copy": {
                "content": "{{ app.application.id }}", "dest": str(workdir / "id"), "mode": "0600"}},
        ],
    }]), encoding="utf-8")
    status, output = fleet.run_playbook_file(str(playbook))
    assert status == 0, output[-4000:]
    return {"application_id": (workdir / "id").read_text(encoding="ascii"),
            "private_key": (workdir / "automation.key").read_text(encoding="ascii")}


def run_job(fleet: Fleet, tmp_path: Path, inputs: Dict[str, str], extravars: Dict[str, object]) -> ansible_runner.Runner:
    """An AWX-like job: private data directory with project, inventory, env/envvars (from the injectors), extravars."""
    data = tmp_path / "private_data_dir"
    (data / "project").mkdir(parents=True)
    (data / "env").mkdir()
    shutil.copy(COLLECTION_ROOT / "playbooks" / "jwt_rotation.yml", data / "project" / "jwt_rotation.yml")
    shutil.copytree(fleet.inventory, data / "inventory")
    credential_type = yaml.safe_load(CREDENTIAL_TYPE.read_text(encoding="utf-8"))
    envvars = inject(credential_type, inputs, data)
    envvars.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    (data / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    (data / "env" / "extravars").write_text(yaml.safe_dump(extravars), encoding="utf-8")
    return ansible_runner.run(private_data_dir=str(data), playbook="jwt_rotation.yml", quiet=True)


def artifacts(runner: ansible_runner.Runner) -> Dict[str, object]:
    """What the job published with set_stats, as AWX stores it: the playbook_on_stats event's artifact_data."""
    stats = [event for event in runner.events if event.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, [event.get("event") for event in runner.events][-5:]
    return stats[0]["event_data"]["artifact_data"]


def check_outcome(fleet: Fleet, runner: ansible_runner.Runner, rotated: bool, verified: bool) -> Dict[str, dict]:
    """The job's jwt_rotation_outcome artifact: one entry per application, its values those of the API and the hosts."""
    outcome = artifacts(runner)["jwt_rotation_outcome"]
    assert sorted(outcome) == sorted(APPLICATIONS)
    for name, hosts in APPLICATIONS.items():
        keys = fleet.keys(name)
        # One key left, the one the outcome names, and every host holds a token signed by it.
        assert [item["name"] for item in keys] == [name + "-signing"], keys
        item = outcome[name]
        assert item["application_id"] == fleet.application_id(name) and item["key"] == name + "-signing"
        assert all(fleet.signed_by(fleet.token(host, name), keys[0]) for host in hosts)
        assert item["key_expires_at"] == keys[0]["expires_at"] and len(item["key_fingerprint"]) == 64
        assert (item["rotated"], item["retired"], item["previous_key_uploaded"]) == (rotated, rotated, False)
        assert item["hosts"] == len(hosts) and item["tokens_refused"] == 0 and item["check_mode"] is False
        # Verified: hosts whose token this run sent to the API; a converged run reads them but sends none.
        assert (item["hosts_verified"], item["hosts_unchecked"]) == ((hosts, []) if verified else ([], hosts))
        assert item["hosts_not_verified"] == []
    return outcome


def job_output(runner: ansible_runner.Runner) -> str:
    """Everything the job printed, as AWX would show and store it."""
    return runner.stdout.read()


def assert_no_secret(text: str, *secrets: str) -> None:
    """No secret, token or private key in what a job printed or stored."""
    assert "PRIVATE KEY" not in text
    assert not JWT_PATTERN.search(text), "a token was printed"
    for secret in secrets:
        assert secret not in text


def test_rotation_job_with_the_jwt_credential(fleet: Fleet, automation: Dict[str, str], tmp_path: Path) -> None:
    """First a setup then a forced rotation, authenticated as the automation application with a JWT."""
    fleet.emulator.clear_log()
    inputs = {"api_host": fleet.emulator.url, **automation}
    runner = run_job(fleet, tmp_path / "setup", inputs, {})
    output = job_output(runner)
    assert (runner.status, runner.rc) == ("successful", 0), output[-6000:]
    runner = run_job(fleet, tmp_path / "rotate", inputs, {"jwt_rotation_force": True})
    output = job_output(runner)
    assert (runner.status, runner.rc) == ("successful", 0), output[-6000:]
    assert "rotated: rotation requested" in output and "previous key retired" in output, output[-3000:]
    # Every API request of the modules was made as the automation application (JWT), none with the admin key;
    # the verification calls were made as the fleet's applications with the hosts' tokens.
    entries = [entry for entry in fleet.emulator.log() if not entry["path"].startswith("/_emulator")]
    assert entries and all(entry["auth"] == "jwt" for entry in entries), {entry["auth"] for entry in entries}
    callers = {entry["application_id"] for entry in entries}
    assert automation["application_id"] in callers
    assert {fleet.application_id(name) for name in APPLICATIONS} <= callers
    assert fleet.refused_hosts() == []
    # Nothing secret in the job's output or its stored events.
    events = json.dumps(list(runner.events))
    assert_no_secret(output + events, automation["private_key"].strip().splitlines()[1])
    # What AWX passes to a workflow's next nodes (set_stats, per_host false): the run's outcome per application
    # (checked through the API after the request log above).
    rotated = check_outcome(fleet, runner, rotated=True, verified=True)
    assert all(item["tokens_issued"] == 2 for item in rotated.values())


def test_converged_job_with_the_access_key_credential(fleet: Fleet, automation: Dict[str, str], tmp_path: Path) -> None:
    """The same job with an access-key credential (no application id, no private key: AWX injects '') changes nothing."""
    inputs = {"api_host": fleet.emulator.url, "api_key": fleet.emulator.admin_key}
    runner = run_job(fleet, tmp_path, inputs, {})
    output = job_output(runner)
    assert (runner.status, runner.rc) == ("successful", 0), output[-6000:]
    assert set(recap_changes(output).values()) == {0}, output[-3000:]
    converged = check_outcome(fleet, runner, rotated=False, verified=False)
    assert all(item["tokens_issued"] == 0 for item in converged.values())
    assert_no_secret(output + json.dumps(list(runner.events)), fleet.emulator.admin_key)


def test_the_pkcs11_credential_type_injects_what_the_collection_reads(tmp_path: Path) -> None:
    """The "Izuma PKCS#11 token" type: library, token, serial and a secret PIN, as the IZUMA_PKCS11_* fallbacks read them.

    A job with it signs in SoftHSM2 in tests/pkcs11/test_awx_credential.py (python-pkcs11 is in that environment only).
    """
    credential_type = yaml.safe_load(PKCS11_CREDENTIAL_TYPE.read_text(encoding="utf-8"))
    (tmp_path / "env").mkdir()
    inputs = {"library": "/usr/lib/softhsm/libsofthsm2.so", "token": "pkcs11:token=izuma", "serial": "", "pin": "4711-secret"}
    # The names plugins/module_utils/_pkcs11/options.py falls back to.
    assert inject(credential_type, inputs, tmp_path) == {
        "IZUMA_PKCS11_LIBRARY": inputs["library"], "IZUMA_PKCS11_TOKEN": inputs["token"], "IZUMA_PKCS11_SERIAL": "",
        "IZUMA_PKCS11_PIN": "4711-secret"}
    fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
    assert [name for name, field in fields.items() if field.get("secret")] == ["pin"]
    # No key label: the environment never turns a task that signs with a key file into a PKCS#11 one.
    assert not any("LABEL" in name for name in credential_type["injectors"]["env"])


def test_the_izuma_credential_injects_no_key_file_path_without_a_private_key(tmp_path: Path) -> None:
    """An access key or a PKCS#11 key (auth_pkcs11_key_label) then needs no auth_private_key_path: it is empty."""
    credential_type = yaml.safe_load(CREDENTIAL_TYPE.read_text(encoding="utf-8"))
    (tmp_path / "env").mkdir()
    inputs = {"api_host": "http://127.0.0.1:1", "api_key": "", "application_id": "0" * 32, "private_key": "",
              "private_key_passphrase": ""}
    assert inject(credential_type, inputs, tmp_path)["IZUMA_PRIVATE_KEY_PATH"] == ""
    with_key = inject(credential_type, dict(inputs, private_key="-----BEGIN PRIVATE KEY-----\n"), tmp_path)
    assert with_key["IZUMA_PRIVATE_KEY_PATH"] == str(tmp_path / "env" / "tmp-private_key")
