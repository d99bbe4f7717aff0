# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_jwt's write through the connection (no module), in real ansible-playbook runs on the local connection.

The crash-safety and mode properties that hold for the module's write hold for this one:

* a run killed between writing the temporary file and the rename leaves dest as it was (a fake ``mv`` early in the
  PATH of the run blocks, deterministically, at the rename; the test's own hook, nothing in the plugin);
* with umask 000 neither the temporary file nor the token file is ever wider than 0600 or the mode asked for;
* a reader polling dest while tokens are written over it never sees a partial or an empty token;
* owner and group as asked, with become (su to nobody, writing into a directory it owns), with and without
  pipelining; and a step the command cannot do (an unknown owner) hands over to the module, which says why.

The ssh connection is tested in test_ssh.py, the counts of a rotation in test_counts.py.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fleet import BIN, COLLECTIONS_PATH, kill_tree, run_command

PLAYBOOK = """
- name: Deploy a token on the local connection
  hosts: all
  gather_facts: false
  tasks:
    - name: Sign on the controller, write through the connection
      izuma.device_management.izuma_jwt:
        private_key_path: "{{ key_path }}"
        dest: "{{ token_dir }}/app.jwt"
        mode: "{{ token_mode | default('0600') }}"
        owner: "{{ token_owner | default(omit) }}"
        group: "{{ token_group | default(omit) }}"
        subject: "{{ inventory_hostname }}-{{ item }}"
        force: "{{ force | default(false) | bool }}"
      loop: "{{ range(rounds | default(1) | int) | list }}"
      register: deployed
    - name: No module ran
      ansible.builtin.assert:
        that: deployed.results | map(attribute='module_runs') | unique | list == [0]
      when: not (modules_allowed | default(false) | bool)
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A signing key, a token directory, the playbook."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "signing.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    (tmp_path / "signing.key").chmod(0o600)
    (tmp_path / "tokens").mkdir()
    (tmp_path / "deploy.yml").write_text(PLAYBOOK, encoding="utf-8")
    return tmp_path


def command(project: Path, token_dir: Path, *extra: str) -> List[str]:
    """ansible-playbook on the local host, its token in ``token_dir``."""
    return [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(project / "deploy.yml"),
            "-e", "key_path=%s token_dir=%s" % (project / "signing.key", token_dir),
            # Where the module runs (the fallback), with the test's Python, not whatever interpreter discovery finds.
            "-e", "ansible_python_interpreter=%s" % (BIN / "python"), *extra]


def environment(project: Path, path_first: Optional[Path] = None, **extra: str) -> Dict[str, str]:
    """The run's environment; ``path_first`` is put at the front of PATH (the test's fake tools)."""
    path = "%s:%s" % (BIN, os.environ.get("PATH", ""))
    if path_first is not None:
        path = "%s:%s" % (path_first, path)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_LOCAL_TEMP=str(project / "ansible-tmp"), PATH=path)
    env.update(extra)
    return env


def run(project: Path, token_dir: Path, *extra: str, umask: Optional[int] = None, path_first: Optional[Path] = None,
        **env: str) -> Tuple[int, str]:
    """Run the playbook to completion."""
    if umask is None:
        return run_command(command(project, token_dir, *extra), environment(project, path_first, **env))
    done = subprocess.run(command(project, token_dir, *extra), env=environment(project, path_first, **env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False, preexec_fn=lambda: os.umask(umask))
    return done.returncode, done.stdout


def fake_mv(project: Path, body: str) -> Path:
    """A directory holding a fake ``mv`` with ``body`` (a shell script), to put first in the run's PATH."""
    directory = project / "fake-bin"
    directory.mkdir(exist_ok=True)
    (directory / "mv").write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    (directory / "mv").chmod(0o755)
    return directory


def others(directory: Path) -> List[str]:
    """Names in ``directory`` other than the token file."""
    return sorted(name for name in os.listdir(str(directory)) if name != "app.jwt")


def test_a_kill_between_write_and_rename_leaves_the_token_as_it_was(project: Path) -> None:
    tokens = project / "tokens"
    status, output = run(project, tokens)
    assert status == 0, output[-3000:]
    old = (tokens / "app.jwt").read_bytes()
    blocked = project / "blocked"
    fake = fake_mv(project, "touch %s\nexec sleep 120" % blocked)
    with open(str(project / "killed.log"), "w", encoding="utf-8") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command(project, tokens, "-e", "force=true"), env=environment(project, fake), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=lambda: os.umask(0))
        try:
            deadline = time.monotonic() + 120
            while not blocked.exists():
                assert process.poll() is None and time.monotonic() < deadline, (project / "killed.log").read_text()
                time.sleep(0.05)
            # At the rename: the new token is in a temporary file of mode 0600 (umask 000), owner and mode final.
            temporary = [name for name in others(tokens) if name.startswith(".app.jwt.")]
            assert len(temporary) == 1, others(tokens)
            assert stat.S_IMODE((tokens / temporary[0]).stat().st_mode) == 0o600
            assert (tokens / temporary[0]).read_bytes() != old and (tokens / temporary[0]).read_bytes().count(b".") == 2
            assert (tokens / "app.jwt").read_bytes() == old
        finally:
            kill_tree(process)
    assert (tokens / "app.jwt").read_bytes() == old and stat.S_IMODE((tokens / "app.jwt").stat().st_mode) == 0o600
    # The next run (a real mv) writes a new token; the killed run's lock is free (flock dies with its holder).
    status, output = run(project, tokens, "-e", "force=true")
    assert status == 0, output[-3000:]
    assert (tokens / "app.jwt").read_bytes() not in (old, b"")


def test_umask_000_never_opens_the_token(project: Path) -> None:
    tokens = project / "tokens"
    seen = project / "seen"
    fake = fake_mv(project, "ls -ln \"$3\" >> %s\nexec %s \"$@\"" % (seen, shutil.which("mv")))
    status, output = run(project, tokens, "-e", "token_mode=0640", umask=0, path_first=fake)
    assert status == 0, output[-3000:]
    status, output = run(project, tokens, "-e", "token_mode=0640 force=true", umask=0, path_first=fake)
    assert status == 0, output[-3000:]
    # Just before each rename the temporary file already had the mode asked for, and no more; then the token file.
    lines = seen.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(line.startswith("-rw-r----- ") for line in lines), lines
    assert stat.S_IMODE((tokens / "app.jwt").stat().st_mode) == 0o640
    assert others(tokens) == []


def test_a_concurrent_reader_never_sees_a_partial_token(project: Path) -> None:
    tokens = project / "tokens"
    status, output = run(project, tokens)
    assert status == 0, output[-3000:]
    seen = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.add((tokens / "app.jwt").read_bytes())

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        status, output = run(project, tokens, "-e", "force=true rounds=8")
    finally:
        stop.set()
        reader.join()
    assert status == 0, output[-3000:]
    assert len(seen) >= 2
    for content in seen:
        assert content.endswith(b"\n") and content.count(b".") == 2 and len(content) > 100, content


@pytest.fixture()
def nobodys_directory() -> Iterator[Path]:
    """A directory owned by nobody, which nobody can reach (the test's own tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="izuma-shell-write-", dir="/tmp"))
    base.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    os.chown(str(base), nobody.pw_uid, nobody.pw_gid)
    try:
        yield base
    finally:
        shutil.rmtree(str(base), ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="su without a password and chown to another user need root")
@pytest.mark.parametrize("pipelining", ["false", "true"], ids=["no-pipelining", "pipelining"])
@pytest.mark.parametrize("become_to", ["root", "nobody"])
def test_become_owner_and_group_as_asked(project: Path, nobodys_directory: Path, pipelining: str, become_to: str) -> None:
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    become = ["-b", "--become-method", "su", "--become-user", become_to, "-e", "ansible_become_flags='-s /bin/sh'",
              "-e", "token_owner=nobody token_group=%s token_mode=0640" % group]
    for force in ("false", "true"):
        status, output = run(project, nobodys_directory, "-e", "force=%s" % force, *become, ANSIBLE_PIPELINING=pipelining,
                             ANSIBLE_BECOME_ALLOW_SAME_USER="true")
        assert status == 0, output[-3000:]
        info = (nobodys_directory / "app.jwt").stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o640)
        assert others(nobodys_directory) == []


def test_an_unknown_owner_hands_over_to_the_module_which_says_why(project: Path) -> None:
    tokens = project / "tokens"
    status, output = run(project, tokens)
    assert status == 0, output[-3000:]
    old = (tokens / "app.jwt").read_bytes()
    status, output = run(project, tokens, "-e", "force=true token_owner=no-such-user-izuma modules_allowed=true")
    assert status != 0
    assert "owner 'no-such-user-izuma' does not exist on this host" in output, output[-3000:]
    assert (tokens / "app.jwt").read_bytes() == old and others(tokens) == []
