# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_jwt over the ssh connection, against an sshd of the test's own on 127.0.0.1 (tests/rotation/sshd.py).

The read of a deployed token through the connection (one shell command, no module) is what makes a converged host
cost no module run, and the write through it (one more command, the token on its standard input) what makes a new
token cost none either; they must give the same answers over ssh as over the local connection, with and without
pipelining and with become: a host whose token is right costs one command and no module, a host that needs a new
token two commands and no module, and a wrong mode alone is mended by the module without a new token.
"""

from __future__ import annotations

import collections
import grp
import json
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fleet import BIN, CALLBACK_DIR, COLLECTIONS_PATH, run_command
from sshd import Sshd

HOSTS = ("ssh-a", "ssh-b")
PLAYBOOK = """
- name: Deploy a token over ssh
  hosts: all
  gather_facts: false
  tasks:
    - name: Sign on the controller, deploy where needed
      izuma.device_management.izuma_jwt:
        private_key_path: "{{ key_path }}"
        dest: "{{ token_dir }}/app.jwt"
        mode: "0640"
        subject: "{{ inventory_hostname }}"
        lifetime: 3600
        renew_margin: 600
"""


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Iterator[Sshd]:
    """One sshd for the module."""
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture()
def project(sshd: Sshd, tmp_path: Path) -> Path:
    """An inventory of two hosts reached over ssh, a key on the controller, the playbook."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "signing.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    (tmp_path / "signing.key").chmod(0o600)
    variables = " ".join("%s=%s" % item for item in sshd.inventory_vars().items() if item[0] != "ansible_ssh_common_args")
    lines = ["[all:vars]", "key_path=%s" % (tmp_path / "signing.key"),
             "ansible_ssh_common_args='%s'" % sshd.inventory_vars()["ansible_ssh_common_args"], "[all]"]
    for host in HOSTS:
        (tmp_path / "hosts" / host).mkdir(parents=True)
        lines.append("%s token_dir=%s %s" % (host, tmp_path / "hosts" / host, variables))
    (tmp_path / "hosts.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "deploy.yml").write_text(PLAYBOOK, encoding="utf-8")
    return tmp_path


def run(project: Path, sshd: Sshd, pipelining: bool, **extra_env: str) -> Tuple[Dict[str, collections.Counter], str]:
    """Run the playbook with the module_runs callback: per host, a Counter of 'module' and 'command' events, and the output."""
    log = project / "module-runs.jsonl"
    if log.exists():
        log.unlink()
    env = dict(sshd.env(), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING=str(pipelining),
               ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR), ANSIBLE_CALLBACKS_ENABLED="module_runs", IZUMA_MODULE_RUNS_LOG=str(log),
               ANSIBLE_LOCAL_TEMP=str(project / "ansible-tmp"), ANSIBLE_HOST_KEY_CHECKING="false",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), **extra_env)
    status, output = run_command([str(BIN / "ansible-playbook"), "-i", str(project / "hosts.ini"), str(project / "deploy.yml")], env)
    assert status == 0, output[-4000:]
    counts = {host: collections.Counter() for host in HOSTS}  # type: Dict[str, collections.Counter]
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    for record in records:
        if record["event"] in ("module", "command") and record.get("host") in counts:
            counts[record["host"]][record["event"]] += 1
    return counts, output


def token_of(project: Path, host: str) -> Tuple[str, int]:
    """The token a host holds and its mode bits."""
    path = project / "hosts" / host / "app.jwt"
    return path.read_text(encoding="ascii").strip(), stat.S_IMODE(path.stat().st_mode)


def changed_hosts(output: str) -> List[str]:
    """The hosts the recap shows with changed=1 or more."""
    return sorted(line.split()[0] for line in output.splitlines() if " changed=" in line and " changed=0 " not in line)


@pytest.mark.parametrize("pipelining", [False, True], ids=["no-pipelining", "pipelining"])
def test_izuma_jwt_over_ssh_reads_through_the_connection(project: Path, sshd: Sshd, pipelining: bool) -> None:
    public = serialization.load_pem_private_key((project / "signing.key").read_bytes(), None).public_key()

    # First run: a token to write on each host, through the connection: a read and a write, no module.
    counts, output = run(project, sshd, pipelining)
    assert changed_hosts(output) == sorted(HOSTS), output[-3000:]
    first = {}
    for host in HOSTS:
        assert counts[host] == collections.Counter(command=2), (host, counts[host])
        token, mode = token_of(project, host)
        assert mode == 0o640
        assert jwt.decode(token, public, algorithms=["ES256"])["sub"] == host
        first[host] = token

    # Converged: one read through the connection per host, no module run, nothing written.
    counts, output = run(project, sshd, pipelining)
    assert changed_hosts(output) == [], output[-3000:]
    for host in HOSTS:
        assert counts[host] == collections.Counter(command=1), (host, counts[host])
        assert token_of(project, host) == (first[host], 0o640)

    # A wrong mode on one host: that host alone costs a module run, which mends the mode and keeps the token.
    (project / "hosts" / HOSTS[0] / "app.jwt").chmod(0o644)
    counts, output = run(project, sshd, pipelining)
    assert changed_hosts(output) == [HOSTS[0]], output[-3000:]
    assert counts[HOSTS[0]]["module"] == 1, counts[HOSTS[0]]
    assert counts[HOSTS[1]]["module"] == 0, counts[HOSTS[1]]
    assert token_of(project, HOSTS[0]) == (first[HOSTS[0]], 0o640)


BECOME_PLAYBOOK = """
- name: Deploy a token over ssh with become
  hosts: all
  gather_facts: false
  tasks:
    - name: Sign on the controller, write through the connection as the become user
      izuma.device_management.izuma_jwt:
        private_key_path: "{{ key_path }}"
        dest: "{{ token_dir }}/app.jwt"
        mode: "0640"
        owner: "{{ token_owner }}"
        group: "{{ token_group }}"
        subject: "{{ inventory_hostname }}"
        force: "{{ force | default(false) }}"
      become: true
      become_method: su
      become_user: "{{ become_to }}"
      become_flags: "-s /bin/sh"
"""


@pytest.mark.skipif(os.getuid() != 0, reason="su without a password and chown to another user need root")
@pytest.mark.parametrize("pipelining", [False, True], ids=["no-pipelining", "pipelining"])
@pytest.mark.parametrize("become_to", ["root", "nobody"])
def test_izuma_jwt_over_ssh_writes_through_the_connection_with_become(project: Path, sshd: Sshd, pipelining: bool, become_to: str) -> None:
    """become_method su (no password): to root, the file is given to nobody:nogroup; to nobody, into a directory it owns.

    The ssh user is root: become_allow_same_user makes su run for root too."""
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    # A directory nobody can reach (the test's own tmp_path is private to root).
    base = Path(tempfile.mkdtemp(prefix="izuma-ssh-become-", dir="/tmp"))
    try:
        base.chmod(0o755)
        for host in HOSTS:
            (base / host).mkdir()
            os.chown(str(base / host), nobody.pw_uid, nobody.pw_gid)
        lines = (project / "hosts.ini").read_text(encoding="utf-8").splitlines()
        lines = [line.replace("token_dir=%s" % (project / "hosts" / line.split()[0]), "token_dir=%s" % (base / line.split()[0]))
                 if line.split() and line.split()[0] in HOSTS else line for line in lines]
        lines.insert(1, "become_to=%s\ntoken_owner=nobody\ntoken_group=%s" % (become_to, group))
        (project / "hosts.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (project / "deploy.yml").write_text(BECOME_PLAYBOOK, encoding="utf-8")
        counts, output = run(project, sshd, pipelining, ANSIBLE_BECOME_ALLOW_SAME_USER="true")
        assert changed_hosts(output) == sorted(HOSTS), output[-3000:]
        first = {}
        for host in HOSTS:
            assert counts[host] == collections.Counter(command=2), (host, counts[host])
            info = (base / host / "app.jwt").stat()
            assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o640)
            first[host] = (base / host / "app.jwt").read_text(encoding="ascii")
            assert sorted(os.listdir(str(base / host))) == ["app.jwt"]
        # Converged, then forced: a new token written the same way, over the old one.
        counts, output = run(project, sshd, pipelining, ANSIBLE_BECOME_ALLOW_SAME_USER="true")
        assert changed_hosts(output) == [], output[-3000:]
        assert all(counts[host] == collections.Counter(command=1) for host in HOSTS), counts
        (project / "deploy.yml").write_text(BECOME_PLAYBOOK.replace("force | default(false)", "true"), encoding="utf-8")
        counts, output = run(project, sshd, pipelining, ANSIBLE_BECOME_ALLOW_SAME_USER="true")
        assert changed_hosts(output) == sorted(HOSTS), output[-3000:]
        for host in HOSTS:
            assert counts[host] == collections.Counter(command=2), (host, counts[host])
            assert (base / host / "app.jwt").read_text(encoding="ascii") != first[host]
            assert (base / host / "app.jwt").stat().st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(str(base), ignore_errors=True)
