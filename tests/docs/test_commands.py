# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation's command blocks, run as a newcomer runs them (make docs-test).

A fresh copy of the repository (the files git tracks or would track, nothing built) in a temporary folder, a
clean environment (no make variables, no virtual environment on PATH, a home folder of its own), and then every
``sh`` block of README.md, CONTRIBUTING.md, docs/awx.md and docs/hsm.md, line by line and in order, as written:
``make demo`` first, as CONTRIBUTING.md says, exports carried from one line to the next as in one terminal. A line
that starts a server in the foreground (``make emulator``) runs in the background, as in "another terminal", until
the document's next server or its end. Every ``yaml`` block of README.md that is a play runs twice against an
emulator (as the docs say, the second run changes nothing); a fragment of a play in the quick start is checked
against the options it names.
docs/quickstart.md and docs/emulator.md speak to a user of the installed collection, not of this repository:
tests/docs/test_installed.py (``make install-test``) follows them, as written, in a project where the release
tarball is installed.

What the docs claim about the output is asserted too: the emulator's first lines are the IZUMA_* lines, the
demo's output has no terminal codes when it goes to a pipe, the demo runs its playbook four times, and without
Python 3.11 ``make demo`` says which Python is missing and how to install it.
Not run, with the reason: ``make test`` (it is what runs this test) and docs/awx.md's image build and push (they
need a container engine and a registry; ``make ee-test`` runs ``ansible-builder create``). Run otherwise, with the
reason: docs/hsm.md's line that reads the token's PIN from the terminal gets the PIN the token was made with.
docs/hsm.md's playbook by hand runs twice (the second changes nothing), and ``make hsm-demo`` runs on SoftHSM2 of its
own, then on the token the document made by hand (``IZUMA_PKCS11_*``).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "CONTRIBUTING.md", "docs/awx.md", "docs/hsm.md"]
# Lines that are not run, and why (each must still be in the documents: a stale entry fails the test).
NOT_RUN = {
    "make test": "the suite that runs this test",
    "pip install ansible-builder==3.2.0": "docs/awx.md's image build: no container engine here (make ee-test covers create)",
    "ansible-builder build -f extensions/awx/execution-environment.yml -t registry.example.com/izuma-ee:1": "no container engine",
    "podman push registry.example.com/izuma-ee:1": "no registry",
}
# Lines run otherwise: (what runs instead, why).
INSTEAD = {
    "read -rsp 'PIN of the token: ' IZUMA_PKCS11_PIN && export IZUMA_PKCS11_PIN": (
        "export IZUMA_PKCS11_PIN=user-secret", "reads the PIN from a terminal: the PIN the token was made with is typed in"),
}
SERVERS = ("make emulator",)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def blocks(document: str) -> t.List[t.Tuple[str, str]]:
    """(language, text) of every fenced block of a Markdown file."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer((ROOT / document).read_text(encoding="utf-8"))]


def command_lines(text: str) -> t.List[str]:
    """A block's commands: one per line, the comment after it dropped (blank and comment lines too)."""
    commands = []
    for line in text.splitlines():
        code = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if code:
            commands.append(code)
    return commands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Newcomer:
    """A shell in a fresh copy of the repository: runs lines, keeps exports, runs servers in the background."""

    def __init__(self, base: Path) -> None:
        self.repo = base / "repo"
        self.home = base / "home"
        self.home.mkdir()
        # pyenv's Pythons are where a developer's pyenv puts them (the Makefile looks under ~/.pyenv).
        real_pyenv = Path(os.path.expanduser("~/.pyenv"))
        if real_pyenv.is_dir():
            (self.home / ".pyenv").symlink_to(real_pyenv)
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=str(ROOT),
                               capture_output=True, check=True).stdout.decode().split("\0")
        self.repo.mkdir()
        for name in filter(None, files):
            source, target = ROOT / name, self.repo / name
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
                target.chmod(source.stat().st_mode & 0o777)
        subprocess.run(["git", "init", "-q"], cwd=str(self.repo), check=True)
        self.env_file = base / "exports.sh"
        self.env_file.write_text("", encoding="utf-8")
        path = "/usr/local/bin:/usr/bin:/bin"
        if real_pyenv.is_dir():
            path = "%s/shims:%s/bin:%s" % (real_pyenv, real_pyenv, path)
        self.env = {"PATH": path, "HOME": str(self.home), "LANG": "C.UTF-8", "TERM": "dumb"}
        self.servers: t.List[subprocess.Popen] = []

    def script(self, line: str) -> str:
        return "set -euo pipefail\nsource %s\n%s\nexport -p > %s\n" % (
            shlex.quote(str(self.env_file)), line, shlex.quote(str(self.env_file)))

    def attempt(self, line: str, timeout: int = 900) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", self.script(line)], cwd=str(self.repo), env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def run(self, line: str, timeout: int = 900) -> str:
        done = self.attempt(line, timeout)
        assert done.returncode == 0, "%s\n--- stdout\n%s\n--- stderr\n%s" % (line, done.stdout[-6000:], done.stderr[-4000:])
        return done.stdout

    def serve(self, line: str) -> t.List[str]:
        """Start a foreground server line in the background; return its first lines (up to IZUMA_API_KEY=...)."""
        self.stop()
        server = subprocess.Popen(["bash", "-c", "source %s\nexec %s" % (shlex.quote(str(self.env_file)), line)],
                                  cwd=str(self.repo), env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.servers.append(server)
        first: t.List[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(first) < 5:
            output = server.stdout.readline()
            if not output:
                break
            first.append(output.rstrip("\n"))
            if first[-1].startswith("IZUMA_API_KEY=") and "TLS=1" not in line:
                break
            if first[-1].startswith("IZUMA_CA_BUNDLE="):
                break
        assert server.poll() is None, "%s stopped: %s" % (line, first)
        return first

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
        self.servers = []


def recap_changes(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


@pytest.fixture(scope="module")
def newcomer() -> t.Iterator[Newcomer]:
    with tempfile.TemporaryDirectory(prefix="izuma-newcomer-") as base:
        person = Newcomer(Path(base))
        try:
            yield person
        finally:
            person.stop()


@pytest.fixture(scope="module")
def demo(newcomer: Newcomer) -> str:
    """make demo, once: the README and CONTRIBUTING.md both start with it."""
    # First as on a machine without Python 3.11: a message that names it and how to get it, and nothing built.
    missing = newcomer.attempt("make demo PY311=")
    assert missing.returncode != 0
    assert "Python 3.11 is missing" in missing.stderr and "pyenv install 3.11" in missing.stderr, missing.stderr
    assert "command not found" not in missing.stderr and not (newcomer.repo / ".venv").exists()
    return newcomer.run("make demo")


def test_every_not_run_line_is_in_the_documents() -> None:
    lines = {line for document in DOCUMENTS for language, text in blocks(document) if language == "sh"
             for line in command_lines(text)}
    assert set(NOT_RUN) | set(INSTEAD) <= lines, (set(NOT_RUN) | set(INSTEAD)) - lines
    # The docs' command blocks say which shell they are for; an unlabelled block holds no command to copy.
    for document in DOCUMENTS:
        for language, text in blocks(document):
            if language == "":
                assert not any(line.startswith(("make ", ".venv/", "export ", "ansible")) for line in text.splitlines()), (document, text)


def test_make_demo_tells_the_story_in_plain_text(demo: str) -> None:
    assert "\x1b[" not in demo, "terminal codes in make demo's output to a pipe"
    first = demo.splitlines()[0] if demo.strip() else ""
    assert not first.startswith("PATH="), "make demo echoes its recipe: %s" % first
    # Four runs of the playbook, as CONTRIBUTING.md says: setup, rotate, retire, converged.
    runs = re.findall(r"^==> Run (\d),", demo, re.M)
    assert runs == ["1", "2", "3", "4"], runs
    assert "Run 4 changed nothing" in demo and "Demo finished" in demo
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "four times" in contributing.split("## The demo")[1].split("\n## ")[0]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_command_blocks_run_as_written(newcomer: Newcomer, demo: str, document: str) -> None:
    ran: t.List[t.Tuple[str, str]] = []
    try:
        for language, text in blocks(document):
            if language != "sh":
                continue
            for line in command_lines(text):
                if line in NOT_RUN or line == "make demo":  # make demo ran once, for every document
                    continue
                if line.startswith(SERVERS):
                    first = newcomer.serve(line)
                    # Its first lines are the variables to export (nothing echoed before them).
                    assert first[0].startswith("IZUMA_API_HOST=http"), first
                    assert first[1].startswith("IZUMA_API_KEY=ak_"), first
                    if "TLS=1" in line:
                        assert first[0].startswith("IZUMA_API_HOST=https://") and first[2].startswith("IZUMA_CA_BUNDLE="), first
                    if "PORT=" in line:
                        scheme = "https" if "TLS=1" in line else "http"
                        port = re.search(r"PORT=(\d+)", line).group(1)
                        assert first[0] == "IZUMA_API_HOST=%s://127.0.0.1:%s" % (scheme, port), first
                    if "ADMIN_KEY=" in line:
                        assert first[1] == "IZUMA_API_KEY=" + re.search(r"ADMIN_KEY=(\S+)", line).group(1), first
                    ran.append((line, "\n".join(first)))
                elif line in INSTEAD:
                    ran.append((line, newcomer.run(INSTEAD[line][0])))
                else:
                    ran.append((line, newcomer.run(line)))
    finally:
        newcomer.stop()
    if document == "CONTRIBUTING.md":
        plays = [output for line, output in ran if "ansible-playbook" in line]
        assert len(plays) == 3, ran
        # Set up, rotated, then nothing to change, as the guide says.
        assert recap_changes(plays[0]) > 0 and recap_changes(plays[1]) > 0 and recap_changes(plays[2]) == 0, plays[2][-3000:]
    if document == "docs/hsm.md":
        plays = [output for line, output in ran if "ansible-playbook" in line]
        assert len(plays) == 2 and recap_changes(plays[0]) > 0 and recap_changes(plays[1]) == 0, plays[-1][-3000:]
        demos = [output for line, output in ran if line == "make hsm-demo"]
        assert len(demos) == 2 and all("Run 3 changed nothing" in output for output in demos), demos
        assert "a token of the demo's own" in demos[0] and "token 'izuma' through" in demos[1], demos
    if document == "README.md":
        assert any("Installing collection 'izuma.device_management:" in output or "was installed successfully" in output
                   for dummy_line, output in ran), ran
        # Into the project's own collections/ folder (-p ./collections), not ~/.ansible/collections.
        installed = newcomer.repo / "collections" / "ansible_collections" / "izuma" / "device_management"
        assert (installed / "MANIFEST.json").is_file() and not (installed / "Makefile").exists()
        assert not (newcomer.home / ".ansible" / "collections" / "ansible_collections" / "izuma").exists()


def plays(document: str) -> t.List[t.Any]:
    return [yaml.safe_load(text) for language, text in blocks(document) if language == "yaml"]


@pytest.mark.parametrize("document", ["README.md"])
def test_the_plays_run_against_the_emulator(newcomer: Newcomer, demo: str, document: str, tmp_path: Path) -> None:
    """Each play as written, with the Vault variable given and /etc/izuma moved into a temporary folder."""
    port = free_port()
    first = newcomer.serve("make emulator PORT=%d" % port)
    key = first[1].split("=", 1)[1]
    try:
        found = 0
        for language, text in blocks(document):
            if language != "yaml" or not isinstance(yaml.safe_load(text), list):
                continue
            found += 1
            playbook = tmp_path / ("play-%d.yml" % found)
            playbook.write_text(text.replace("/etc/izuma", str(tmp_path / "etc-izuma")), encoding="utf-8")
            command = ("IZUMA_API_HOST=http://127.0.0.1:%d ANSIBLE_COLLECTIONS_PATH=$PWD/build/demo/collections "
                       ".venv/2.19/bin/ansible-playbook %s -e vault_izuma_admin_key=%s" % (port, playbook, key))
            assert recap_changes(newcomer.run(command)) > 0
            again = newcomer.run(command)
            assert recap_changes(again) == 0, again[-3000:]
        assert found >= 1
    finally:
        newcomer.stop()


def test_the_play_fragments_name_documented_options() -> None:
    """A block that is part of a play (quick start section 5) uses options the connection fragment documents."""
    fragment = (ROOT / "plugins" / "doc_fragments" / "connection.py").read_text(encoding="utf-8")
    checked = 0
    for language, text in blocks("docs/quickstart.md"):
        if language == "yaml" and isinstance(yaml.safe_load(text), dict) and "module_defaults" in yaml.safe_load(text):
            options = yaml.safe_load(text)["module_defaults"]["group/izuma.device_management.izuma"]
            for option in options:
                assert re.search(r"^\s+%s:$" % option, fragment, re.M), option
                checked += 1
    assert checked >= 2
