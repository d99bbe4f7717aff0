# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet of local hosts for the rotation tests: an inventory, the shipped playbooks, and checks through the API.

Every host is this machine (``ansible_connection=local``) with its own token directory, so a test can run the
jwt_rotation role the way a user does, kill it, and look at what each "host" holds.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import jwt
from cryptography import x509

# tests/rotation/fleet.py -> the collection root, which must sit in .../ansible_collections/izuma/device_management.
COLLECTION_ROOT = Path(__file__).resolve().parents[2]
if COLLECTION_ROOT.parent.parent.name != "ansible_collections":
    raise RuntimeError("Run these tests in a collection tree (hack/build-tree.sh DIR), not in the work tree: %s" % COLLECTION_ROOT)
sys.path.insert(0, str(COLLECTION_ROOT / "tests" / "emulator"))

from izuma_emulator.testing import kill_tree, wait_until_held  # noqa: E402  pylint: disable=wrong-import-position
COLLECTIONS_PATH = str(COLLECTION_ROOT.parents[2])
BIN = Path(sys.executable).parent
# The test callback that counts module executions per host and task (callback/module_runs.py).
CALLBACK_DIR = Path(__file__).resolve().parent / "callback"
# The fleet's token lifetime, and so the shortest grace period the role accepts.
TOKEN_LIFETIME = 3600


def run_command(command: List[str], env: Dict[str, str], cwd: Optional[str] = None, timeout: float = 600) -> Tuple[int, str]:
    """Run a command to completion; return its exit status and combined output."""
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                          check=False, text=True)
    return done.returncode, done.stdout


def recap_changes(output: str) -> Dict[str, int]:
    """changed= per host from a PLAY RECAP."""
    changes: Dict[str, int] = {}
    for line in output.splitlines():
        if " : ok=" in line and "changed=" in line:
            host = line.split(":", 1)[0].strip()
            changes[host] = int(line.split("changed=", 1)[1].split()[0])
    return changes


def custom_stats(output: str) -> Dict[str, object]:
    """What a run published with set_stats (per_host false), from the default callback's CUSTOM STATS block.

    Run the playbook with ANSIBLE_SHOW_CUSTOM_STATS=true; the callback prints the data on one line, as JSON.
    """
    lines = [line for line in output.splitlines() if line.startswith("\tRUN: ")]
    assert len(lines) == 1, output[-3000:]
    return json.loads(lines[0][len("\tRUN: "):])


class Fleet:
    """Applications with their hosts, an inventory under ``workdir``, and the emulator they talk to."""

    def __init__(self, workdir: Path, emulator, applications: Dict[str, List[str]], grace_period: int = TOKEN_LIFETIME,
                 extra_vars: Optional[Dict[str, object]] = None) -> None:
        self.workdir = workdir
        self.emulator = emulator
        self.applications = applications
        self.key_dir = workdir / "keys"
        self.inventory = workdir / "inventory"
        (self.inventory / "group_vars").mkdir(parents=True, exist_ok=True)
        lines = ["[all:vars]", "ansible_connection=local", 'ansible_python_interpreter="{{ ansible_playbook_python }}"']
        for application, hosts in applications.items():
            lines.append("[%s]" % application.replace("-", "_"))
            for host in hosts:
                (workdir / "hosts" / host).mkdir(parents=True, exist_ok=True)
                lines.append("%s jwt_rotation_token_dir=%s" % (host, workdir / "hosts" / host))
        (self.inventory / "hosts.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
        group_vars = {
            "jwt_rotation_key_dir": str(self.key_dir),
            "jwt_rotation_grace_period": grace_period,
            "jwt_rotation_applications": [
                {"name": name, "hosts": [name.replace("-", "_")], "groups": ["Developers"],
                 "key_type": "EC" if index % 2 == 0 else "RSA", "token_lifetime": TOKEN_LIFETIME, "token_renew_margin": 600}
                for index, name in enumerate(applications)
            ],
        }
        group_vars.update(extra_vars or {})
        (self.inventory / "group_vars" / "all.json").write_text(json.dumps(group_vars, indent=2), encoding="utf-8")

    def wipe(self) -> None:
        """Start from nothing: an empty account, no key files, no tokens."""
        self.emulator.reset()
        for path in list(self.key_dir.glob("*")) + list((self.workdir / "hosts").glob("*/*")):
            path.unlink()

    # -- running ------------------------------------------------------------------------------------------

    def env(self, **extra: str) -> Dict[str, str]:
        """The environment of a run: the emulator's connection variables and the collection tree."""
        env = dict(os.environ)
        env.update(self.emulator.env())
        env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_RETRY_FILES_ENABLED="false",
                   ANSIBLE_LOCAL_TEMP=str(self.workdir / "ansible-tmp"), PATH="%s:%s" % (BIN, env.get("PATH", "")))
        env.update(extra)
        return env

    def command(self, playbook: str, *args: str) -> List[str]:
        """ansible-playbook on one of the collection's playbooks with this fleet's inventory."""
        return [str(BIN / "ansible-playbook"), "-i", str(self.inventory / "hosts.ini"),
                str(COLLECTION_ROOT / "playbooks" / playbook), *args]

    def run(self, playbook: str, *args: str, **env: str) -> Tuple[int, str]:
        """Run one of the collection's playbooks to completion."""
        return run_command(self.command(playbook, *args), self.env(**env))

    def run_counted(self, playbook: str, *args: str, **env: str) -> Tuple[int, str, List[Dict[str, object]]]:
        """Run a playbook with the module_runs test callback; return status, output and its records."""
        log = self.workdir / "module-runs.jsonl"
        if log.exists():
            log.unlink()
        status, output = self.run(playbook, *args, ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR), ANSIBLE_CALLBACKS_ENABLED="module_runs",
                                  IZUMA_MODULE_RUNS_LOG=str(log), **env)
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
        return status, output, records

    def run_playbook_file(self, path: str, *args: str) -> Tuple[int, str]:
        """Run a playbook given by its path to completion."""
        return run_command([str(BIN / "ansible-playbook"), "-i", str(self.inventory / "hosts.ini"), path, *args], self.env())

    def run_and_kill(self, playbook: str, args: Iterable[str], wait: Callable[[subprocess.Popen, Path], None],
                     log: Path) -> str:
        """Start a playbook, call ``wait(process, log)`` until the moment to kill it, then SIGKILL its whole session.

        The output goes to ``log`` (a file, not a pipe: nobody could block on it); its text is returned.
        """
        with open(log, "w", encoding="utf-8") as stream:
            process = subprocess.Popen(self.command(playbook, *args), env=self.env(), stdout=stream, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                wait(process, log)
            finally:
                kill_tree(process)
        return log.read_text(encoding="utf-8")

    # -- looking ------------------------------------------------------------------------------------------

    def _admin(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(self.emulator.url + path, method=method,
                                         headers={"Authorization": "Bearer " + self.emulator.admin_key})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as answer:
            return json.load(answer) if answer.status != 204 else None

    def delete_application(self, name: str) -> None:
        """Delete an application (and with it its keys) behind the role's back, as an administrator might."""
        self._admin("/v3/applications/" + self.application_id(name), method="DELETE")

    def application_id(self, name: str) -> str:
        """The id of an application, by name."""
        for item in self._admin("/v3/applications?limit=1000")["data"]:
            if item["name"] == name:
                return item["id"]
        raise AssertionError("no application named %s" % name)

    def keys(self, name: str) -> List[dict]:
        """The application's verification keys, as the API lists them."""
        return self._admin("/v3/applications/%s/verification-keys" % self.application_id(name))["data"]

    def usable_keys(self, name: str) -> List[dict]:
        """The keys that can verify tokens now: ACTIVE and unexpired."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return [item for item in self.keys(name) if item["status"] == "ACTIVE"
                and datetime.datetime.fromisoformat(item["expires_at"].replace("Z", "+00:00")) > now]

    def token(self, host: str, application: str) -> str:
        """The token a host holds for an application."""
        return (self.workdir / "hosts" / host / (application + ".jwt")).read_text(encoding="ascii").strip()

    def call(self, application: str, token: str) -> int:
        """The status of GET /v3/applications/<id> made with a token, the way the host's service would call."""
        application_id = self.application_id(application)
        request = urllib.request.Request(self.emulator.url + "/v3/applications/" + application_id,
                                         headers={"X-Application-ID": application_id, "Authorization": "Bearer " + token})
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def signed_by(self, token: str, key: dict) -> bool:
        """Whether a token verifies with an uploaded key's certificate."""
        public_key = x509.load_pem_x509_certificate(key["certificate"].encode("ascii")).public_key()
        try:
            jwt.decode(token, public_key, algorithms=["ES256", "ES384", "ES512", "RS256", "PS256"], options={"verify_aud": False})
        except jwt.InvalidTokenError:
            return False
        return True

    def refused_hosts(self, missing_ok: bool = False) -> List[str]:
        """Hosts holding a token the API refuses (or no token at all, unless ``missing_ok``)."""
        refused = []
        for application, hosts in self.applications.items():
            for host in hosts:
                path = self.workdir / "hosts" / host / (application + ".jwt")
                if not path.exists():
                    if not missing_ok:
                        refused.append("%s/%s (no token)" % (host, application))
                elif self.call(application, self.token(host, application)) != 200:
                    refused.append("%s/%s" % (host, application))
        return refused


def set_up_fleet(emulator, workdir: Path, applications: Dict[str, List[str]]) -> Fleet:
    """A fleet on an emptied emulator, after a first setup run (jwt_setup.yml)."""
    emulator.reset()
    fleet = Fleet(workdir, emulator, applications)
    status, output = fleet.run("jwt_setup.yml")
    assert status == 0, output[-4000:]
    return fleet


def wait_for_output(predicate: Callable[[str], bool], timeout: float = 120) -> Callable[[subprocess.Popen, Path], None]:
    """A ``wait`` for Fleet.run_and_kill: poll the playbook's output until ``predicate(output so far)`` is true."""
    def wait(process: subprocess.Popen, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(log.read_text(encoding="utf-8")):
                return
            if process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("the playbook ended before the moment to kill it:\n" + log.read_text(encoding="utf-8")[-4000:])
    return wait


def wait_for_hang(emulator, timeout: float = 120) -> Callable[[subprocess.Popen, Path], None]:
    """A ``wait`` for Fleet.run_and_kill: until the emulator holds a request that a hang fault caught."""
    def wait(process: subprocess.Popen, log: Path) -> None:
        if not wait_until_held(emulator, process, timeout=timeout):
            raise AssertionError("no request hung before the playbook ended:\n" + log.read_text(encoding="utf-8")[-4000:])
    return wait
