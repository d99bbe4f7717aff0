# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running playbooks against the built tree with the PKCS#11 environment's ansible-playbook, and the emulator's side.

The tests run from the tree ``make pkcs11-test`` builds (build/pkcs11/collections), so ``ansible-playbook`` of the
same virtual environment (.venv/pkcs11, python-pkcs11 included) finds the collection there. The emulator runs in a
thread of the test process; the playbooks reach it over loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import requests
import yaml

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as _issuing
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing

from conftest import COLLECTION_ROOT

BIN = Path(sys.executable).parent
COLLECTIONS_PATH = COLLECTION_ROOT.parents[2]
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")
RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def run_playbook(workdir: Path, tasks: t.List[t.Dict[str, t.Any]], env: t.Optional[t.Mapping[str, str]] = None,
                 *args: str) -> t.Tuple[int, str]:
    """Run ``tasks`` as a play on localhost (local connection, this interpreter); return (exit status, output)."""
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "PKCS#11", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]),
                        encoding="utf-8")
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-tmp"),
                       ANSIBLE_HOME=str(workdir / "ansible-home"), ANSIBLE_RETRY_FILES_ENABLED="false")
    environment.update(env or {})
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=%s" % sys.executable, *args, str(playbook)],
                            capture_output=True, text=True, env=environment, cwd=str(workdir), timeout=600, check=False)
    return result.returncode, result.stdout + result.stderr


def recap(output: str) -> t.Tuple[int, int, int]:
    """(ok, changed, failed) of the play's one host."""
    match = RECAP.search(output)
    assert match, output[-3000:]
    return int(match.group(1)), int(match.group(2)), int(match.group(4))


def assert_no_secret(text: str, *secrets: str) -> None:
    """No PIN, token or private key in what a run printed."""
    assert "PRIVATE KEY" not in text
    assert not JWT_PATTERN.search(text), "a token was printed"
    for secret in secrets:
        assert secret not in text


class Api:
    """The emulator as its administrator: applications and the certificates the token issues."""

    def __init__(self, emulator: t.Any) -> None:
        self.emulator = emulator
        self.url = emulator.url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never through a proxy

    def call(self, method: str, path: str, **kwargs: t.Any) -> t.Any:
        """One request as the administrator; the JSON answer."""
        response = self.session.request(method, self.url + path, headers={"Authorization": "Bearer %s" % self.emulator.admin_key},
                                        timeout=30, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.text else None

    def application_with_key(self, name: str, pair: t.Any, groups: t.Sequence[str] = ()) -> t.Tuple[str, str]:
        """An application with the token key's self-signed certificate as its verification key: (id, certificate PEM)."""
        application = self.call("POST", "/v3/applications", json={"name": name})
        pem = _certificates.dump_certificate(_issuing.create_certificate(_pkcs11_signing.private_key(pair), name, 30))
        self.call("POST", "/v3/applications/%s/verification-keys" % application["id"], json={"name": name, "certificate": pem})
        for group in groups:
            found = self.call("GET", "/v3/policy-groups", params={"name__eq": group})["data"]
            self.call("POST", "/v3/applications/%s/groups/add" % application["id"], json=[found[0]["id"]])
        return application["id"], pem
