# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tarball on every ansible-core the collection claims, at both ends of its dependency range.

``make compat-test`` makes a virtual environment per pair of an ansible-core release and an end of the range that
requirements.txt declares for cryptography, PyJWT and requests ("newest": what the package index serves at the time
of the run; "lowest": the declared floors, exactly), and names them in IZUMA_COMPAT ("<core>:<end>:<venv> ...").
For each pair, as a user of the tarball would:

- a fresh project folder with an ``ansible.cfg`` (``collections_path = ./collections``), the tarball installed into it
  with ``ansible-galaxy collection install -p``, and the emulator started from the installed collection
  (``PYTHONPATH=<collection>/tests/emulator python -m izuma_emulator``) on that environment's Python;
- a first playbook made of the modules' and the lookup's EXAMPLES: an application, its verification key, an API call
  with a JWT from the lookup (HTTP 200), a token deployed with izuma_jwt;
- the jwt_rotation role through the shipped playbooks, called by name: setup, a forced rotation, a converged run
  (changed=0);
- no warning or deprecation line that the same ansible-core does not print for a bare playbook in the same project
  (core's own lines, such as ansible-core 2.21 importing DSA under cryptography 51, do not count). Python's
  DeprecationWarnings, hidden by default, are shown (PYTHONWARNINGS), so a deprecated call fails here before users
  see a warning.

A deprecated call planted in a scratch installation shows that the check fails when the collection causes a warning.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
TARBALL = Path(os.environ.get("IZUMA_TARBALL", ROOT / "build" / "release" / ("izuma-device_management-%s.tar.gz" % VERSION)))
# (ansible-core minor version, end of the dependency range, virtual environment), from make compat-test.
RUNS = [tuple(entry.split(":", 2)) for entry in os.environ.get("IZUMA_COMPAT", "").split()]
# A line of output that is a warning or a deprecation, whoever prints it: ansible-core's display, Python's warnings
# module, or ansible-core 2.19+ reporting what a worker process wrote to stderr.
WARNING_MARKERS = ("[WARNING]", "[DEPRECATION WARNING]", "Warning:", "DeprecationWarning", "errantly sent data")
PYTHON_WARNINGS = "default::DeprecationWarning"

INVENTORY = """\
[collectors]
collector-1 jwt_rotation_token_dir={base}/hosts/collector-1
collector-2 jwt_rotation_token_dir={base}/hosts/collector-2

[all:vars]
ansible_connection=local
ansible_python_interpreter="{{{{ ansible_playbook_python }}}}"
"""
# What ansible-core prints without the collection: a module, a lookup and a fact on the same inventory.
BARE_PLAYBOOK = [{
    "name": "A bare playbook", "hosts": "all", "gather_facts": False,
    "tasks": [{"name": "Ping", "ansible.builtin.ping": {}},
              {"name": "A lookup", "ansible.builtin.set_fact": {"home": "{{ lookup('ansible.builtin.env', 'HOME') }}"}},
              {"name": "Debug", "ansible.builtin.debug": {"var": "home"}}],
}]
# A user's first playbook, taken from the EXAMPLES of izuma_application, izuma_verification_key, the izuma_jwt lookup
# (the ansible.builtin.uri call) and the izuma_jwt module.
FIRST_PLAYBOOK = [{
    "name": "A first playbook", "hosts": "localhost", "gather_facts": False,
    "vars": {"api_host": "{{ lookup('ansible.builtin.env', 'IZUMA_API_HOST') }}"},
    "tasks": [
        {"name": "Directories for the private key and the token",
         "ansible.builtin.file": {"path": "{{ item }}", "state": "directory", "mode": "0700"}, "loop": ["keys", "tokens"]},
        {"name": "An application for the collectors",
         "izuma.device_management.izuma_application": {"name": "telemetry", "groups": ["Developers"]}, "register": "app"},
        {"name": "A verification key for it",
         "izuma.device_management.izuma_verification_key": {
             "application": "telemetry", "name": "telemetry-signing",
             "private_key_path": "keys/telemetry.key", "certificate_path": "keys/telemetry.crt"}},
        {"name": "Call the API as the application, with a token signed on the controller",
         "ansible.builtin.uri": {
             "url": "{{ api_host }}/v3/applications/{{ app.application.id }}",
             "headers": {"Authorization": "Bearer {{ lookup('izuma.device_management.izuma_jwt', private_key_path='keys/telemetry.key') }}",
                         "X-Application-ID": "{{ app.application.id }}"}},
         "register": "call", "no_log": True},
        {"name": "The API answered the application", "ansible.builtin.assert": {"that": ["call.status == 200"]}},
        {"name": "Deploy a token",
         "izuma.device_management.izuma_jwt": {"private_key_path": "keys/telemetry.key", "subject": "{{ inventory_hostname }}",
                                               "lifetime": 3600, "dest": "tokens/telemetry.jwt"}},
    ],
}]


def warning_lines(output: str) -> t.List[str]:
    return [line.strip() for line in output.splitlines() if any(marker in line for marker in WARNING_MARKERS)]


def normal(line: str) -> str:
    """A warning line without what changes from run to run (process ids, counts, times)."""
    return re.sub(r"\d+", "N", line)


def new_warnings(outputs: t.Dict[str, str], baseline: str) -> t.List[str]:
    """Each warning line of ``outputs`` (what ran: its output) that the bare playbook's output does not have."""
    known = {normal(line) for line in warning_lines(baseline)}
    return ["%s: %s" % (what, line) for what, output in outputs.items() for line in warning_lines(output) if normal(line) not in known]


def recap_changes(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


class Project:
    """A user's project folder: ansible.cfg, an inventory of two local hosts, the tarball installed under collections/."""

    def __init__(self, base: Path, core: str, venv: Path) -> None:
        self.base, self.core, self.venv = base, core, venv
        (base / "home").mkdir(parents=True)
        (base / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\ninventory = ./inventory.ini\n", encoding="utf-8")
        (base / "inventory.ini").write_text(INVENTORY.format(base=base), encoding="utf-8")
        (base / "bare.yml").write_text(yaml.safe_dump(BARE_PLAYBOOK, sort_keys=False), encoding="utf-8")
        self.env = {"PATH": "%s:/usr/bin:/bin" % (venv / "bin"), "HOME": str(base / "home"), "LANG": "C.UTF-8",
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(base / "ansible-tmp"), "PYTHONWARNINGS": PYTHON_WARNINGS}
        self.outputs = {}  # type: t.Dict[str, str]

    @property
    def installed(self) -> Path:
        return self.base / "collections" / "ansible_collections" / "izuma" / "device_management"

    def run(self, *argv: str, **env: str) -> str:
        """Run a command of the environment to completion in the project; keep and return its whole output."""
        done = subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]], cwd=str(self.base), env=dict(self.env, **env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 0, "%s\n%s" % (" ".join(argv), output[-6000:])
        self.outputs[" ".join(argv)] = output
        return output

    def install(self) -> None:
        version = self.run("ansible", "--version")
        assert version.startswith("ansible [core %s." % self.core), version
        output = self.run("ansible-galaxy", "collection", "install", "-p", "collections", str(TARBALL))
        assert "izuma.device_management:%s was installed successfully" % VERSION in output, output

    def baseline(self) -> str:
        """ansible-core's own output for a bare playbook, in this project (not kept with the collection's outputs)."""
        output = self.run("ansible-playbook", "bare.yml")
        del self.outputs["ansible-playbook bare.yml"]
        return output


def start_emulator(project: Project) -> t.Tuple[subprocess.Popen, t.Dict[str, str]]:
    """The emulator from the installed collection, on this environment's Python; its ready file says where it listens."""
    ready, log = project.base / "emulator.json", project.base / "emulator.log"
    with open(log, "w", encoding="utf-8") as stream:  # a file, not a pipe that nobody reads while it runs
        emulator = subprocess.Popen([str(project.venv / "bin" / "python"), "-m", "izuma_emulator", "--port", "0", "--ready-file", str(ready)],
                                    cwd=str(project.base), env=dict(project.env, PYTHONPATH=str(project.installed / "tests" / "emulator")),
                                    stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (ready.is_file() and ready.stat().st_size):
        if emulator.poll() is not None:
            pytest.fail("the installed emulator did not start:\n%s" % log.read_text(encoding="utf-8"))
        assert time.monotonic() < deadline, "the installed emulator did not start within 60 s"
        time.sleep(0.1)
    info = json.loads(ready.read_text(encoding="utf-8"))
    return emulator, {"IZUMA_API_HOST": info["url"], "IZUMA_API_KEY": info["admin_key"]}


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_make_compat_test_names_the_environments() -> None:
    assert RUNS, "IZUMA_COMPAT names no environment: run make compat-test"
    for core, end, venv in RUNS:
        assert end in ("newest", "lowest") and (Path(venv) / "bin" / "ansible-playbook").exists(), (core, end, venv)


@pytest.mark.parametrize("core,end,venv", RUNS, ids=["%s-%s" % run[:2] for run in RUNS])
def test_a_first_playbook_and_the_role_run_without_a_warning(tmp_path: Path, core: str, end: str, venv: str) -> None:
    project = Project(tmp_path / "project", core, Path(venv))
    project.install()
    baseline = project.baseline()
    fleet = project.base / "group_vars"
    fleet.mkdir()
    (fleet / "all.yml").write_text(yaml.safe_dump({
        "jwt_rotation_key_dir": str(project.base / "fleet-keys"),
        "jwt_rotation_applications": [{"name": "fleet", "hosts": ["collectors"], "groups": ["Developers"], "token_lifetime": 3600}],
    }), encoding="utf-8")
    for host in ("collector-1", "collector-2"):
        (project.base / "hosts" / host).mkdir(parents=True)
    (project.base / "first.yml").write_text(yaml.safe_dump(FIRST_PLAYBOOK, sort_keys=False), encoding="utf-8")

    emulator, connection = start_emulator(project)
    try:
        first = project.run("ansible-playbook", "first.yml", **connection)
        assert recap_changes(first) == 4, first  # the directories, the application, the key, the token
        assert (project.base / "tokens" / "telemetry.jwt").stat().st_mode & 0o777 == 0o600

        setup = project.run("ansible-playbook", "izuma.device_management.jwt_setup", **connection)
        assert "fleet: key fleet-signing" in setup and "created; 2 host(s): 2 token(s) issued" in setup, setup
        rotated = project.run("ansible-playbook", "izuma.device_management.jwt_rotation", "-e", "jwt_rotation_force=true", **connection)
        assert "rotated: rotation requested; 2 host(s): 2 token(s) issued" in rotated, rotated
        converged = project.run("ansible-playbook", "izuma.device_management.jwt_rotation", **connection)
        assert "no rotation due; 2 host(s): 0 token(s) issued, 2 kept" in converged and recap_changes(converged) == 0, converged
    finally:
        stop(emulator)
    problems = new_warnings(project.outputs, baseline)
    assert problems == [], "warnings the collection causes on ansible-core %s with the %s dependencies:\n%s" % (core, end, "\n".join(problems))


# A deprecated call, planted at the end of a module_utils file that the lookup and the action plugin import on the
# controller: Python's warnings module directly, or cryptography 51's module-level deprecation of DSA, which naming
# dsa.DSAPublicKey sets off (as the collection's key descriptions did before).
PLANTS = {
    "warnings.warn": "import warnings\nwarnings.warn('planted: a deprecated call', DeprecationWarning)\n",
    "dsa.DSAPublicKey": "from cryptography.hazmat.primitives.asymmetric import dsa\nPLANTED = (dsa.DSAPublicKey,)\n",
}
PLANTED_IN = Path("plugins") / "module_utils" / "_x509" / "keys.py"
SIGN_PLAYBOOK = [{
    "name": "Sign a token with the lookup, deploy one with izuma_jwt", "hosts": "localhost", "gather_facts": False,
    "tasks": [
        {"name": "Sign",
         "ansible.builtin.set_fact": {"token": "{{ lookup('izuma.device_management.izuma_jwt', private_key_path='signing.key', lifetime=300) }}"}},
        {"name": "Deploy",
         "izuma.device_management.izuma_jwt": {"private_key_path": "signing.key", "subject": "planted", "lifetime": 3600, "dest": "planted.jwt"}},
    ],
}]
# The oldest and the newest ansible-core of the runs (raw warnings on stderr up to 2.18, the worker's "errantly sent
# data" from 2.19), with the newest dependencies where they run: cryptography 51 and later deprecate DSA.
PLANT_FROM = [run for run in RUNS if run[1] == "newest"] or RUNS
PLANT_RUNS = sorted({PLANT_FROM[0], PLANT_FROM[-1]}) if PLANT_FROM else []


@pytest.mark.parametrize("core,end,venv", PLANT_RUNS, ids=["%s-%s" % run[:2] for run in PLANT_RUNS])
def test_the_check_fails_on_a_deprecated_call_planted_in_the_collection(tmp_path: Path, core: str, end: str, venv: str) -> None:
    project = Project(tmp_path / "project", core, Path(venv))
    project.install()
    baseline = project.baseline()
    key = "from cryptography.hazmat.primitives.asymmetric import ec; from cryptography.hazmat.primitives import serialization as s; " \
          "open('signing.key', 'wb').write(ec.generate_private_key(ec.SECP256R1()).private_bytes(" \
          "s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))"
    project.run("python", "-c", key)
    (project.base / "sign.yml").write_text(yaml.safe_dump(SIGN_PLAYBOOK, sort_keys=False), encoding="utf-8")
    planted_in = project.installed / PLANTED_IN
    shipped = planted_in.read_text(encoding="utf-8")
    cryptography = int(project.run("python", "-c", "import cryptography; print(cryptography.__version__)").split(".")[0])
    plants = [("warnings.warn", "DeprecationWarning: planted: a deprecated call")]
    if end == "newest" or cryptography >= 51:
        plants.append(("dsa.DSAPublicKey", "DSA is deprecated"))

    project.outputs.clear()
    project.run("ansible-playbook", "sign.yml")
    assert new_warnings(project.outputs, baseline) == [], "the collection as shipped"
    for plant, expected in plants:
        planted_in.write_text(shipped + "\n" + PLANTS[plant], encoding="utf-8")
        project.outputs.clear()
        project.run("ansible-playbook", "sign.yml")
        problems = new_warnings(project.outputs, baseline)
        assert any(expected in line for line in problems), "the planted %s went unnoticed: %s" % (plant, problems or project.outputs)
