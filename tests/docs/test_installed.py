# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tarball, installed as a user installs it, runs its own guides as written (make install-test).

For ansible-core 2.19 (Python 3.11, .venv/2.19) and 2.21 (Python 3.12, .venv/2.21), in a project folder apart from
the repository: a home folder of its own, the core's virtual environment first on PATH, no ANSIBLE_COLLECTIONS_PATH
(the guide's ansible.cfg says where the collections are), pip kept off the network (PIP_NO_INDEX: the environment
already holds what requirements.txt asks for, and must).

The guides are the ones the tarball installs, docs/quickstart.md, then docs/emulator.md in the same project, and
every block of them is used in order, as a user follows them. A block whose first line is ``# <file name>``
(ansible.cfg, inventory.ini, telemetry.yml, ci/emulator-test.sh, ...) is that file, written as it stands where the
user is; every other ``sh`` block runs line by line in a terminal (a pseudo-terminal: ``ansible-vault create`` opens
an editor only at one), each line's exports and folder carried on to the next. A line that starts the emulator in
the foreground runs in the background, as in "a terminal of its own", and its two printed lines are exported, as the
emulator guide says. What the user brings comes the way the quick start asks for it: the release tarball in the
empty project folder; no account, so the emulator, started (with the emulator guide's command) once step 1 has
installed the collection, its ``IZUMA_API_HOST`` exported (step 4) and its administrator key typed into the Vault
file (an ``EDITOR`` that writes the guide's Vault line with that key).

Asserted: the quick start's last task, a ``uri`` call with a JWT from the ``izuma_jwt`` lookup, got HTTP 200 on
both runs (its debug line, and the emulator's request log: a GET of the application authenticated by ``jwt``,
answered 200), the second run changed nothing, the Vault file is encrypted, no warning; section 5's fragment
authenticates the modules with a JWT; the emulator guide's control requests are accepted, and its CI script runs, in
the project and in a fresh checkout of it, and is what its GitHub Actions workflow runs. ``ansible-doc`` renders every
plugin and the role of the installed collection.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import time
import typing as t
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
TARBALL = Path(os.environ.get("IZUMA_TARBALL", ROOT / "build" / "release" / ("izuma-device_management-%s.tar.gz" % VERSION)))
CORES = {
    "2.19": (Path(os.environ.get("VENV_219", ROOT / ".venv" / "2.19")), "3.11"),
    "2.21": (Path(os.environ.get("VENV_221", ROOT / ".venv" / "2.21")), "3.12"),
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
# The first line of a block that is a file: "# ansible.cfg", "# ci/emulator-test.sh", ...
FILE_HEADER = re.compile(r"^# ([\w.-]+(?:/[\w.-]+)*\.\w+)$")
EMULATOR = "-m izuma_emulator"
# Every plugin and role of the tree: the installed collection must list and render each of them.
PLUGINS = {
    "module": sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("[!_]*.py")),
    "lookup": sorted(p.stem for p in (ROOT / "plugins" / "lookup").glob("[!_]*.py")),
    "filter": sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")),
    "role": sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()),
}
ANSWERED = re.compile(r"HTTP 200: application telemetry \(([0-9a-f]{32})\) called the API with its own JWT")


def blocks(path: Path) -> t.List[t.Tuple[str, str]]:
    """(language, text) of every fenced block of a Markdown file, in order."""
    return FENCE.findall(path.read_text(encoding="utf-8"))


def file_name(text: str) -> t.Optional[str]:
    match = FILE_HEADER.match(text.split("\n", 1)[0])
    return match.group(1) if match else None


def recap_changes(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


def in_terminal(argv: t.List[str], cwd: Path, env: t.Dict[str, str], timeout: float = 600) -> t.Tuple[int, str]:
    """Run argv with its output on a pseudo-terminal, as at a user's terminal (stdin stays empty: nothing may ask)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                               start_new_session=True)
    os.close(slave)
    chunks: t.List[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                raise AssertionError("%s: no end after %s s\n%s" % (argv, timeout, b"".join(chunks)[-3000:]))
            ready, dummy_write, dummy_error = select.select([master], [], [], min(left, 1.0))
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


class Server:
    """A foreground emulator line, run in the background; what it printed first."""

    def __init__(self, process: subprocess.Popen, lines: t.List[str]) -> None:
        self.process, self.lines = process, lines
        self.settings = dict(line.split("=", 1) for line in lines if line.startswith("IZUMA_"))

    def control(self, path: str) -> t.Any:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.settings["IZUMA_API_HOST"] + "/_emulator/" + path, timeout=30) as answer:
            return json.loads(answer.read().decode("utf-8"))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            assert self.process.wait(timeout=30) == 0, "the emulator did not stop cleanly on SIGTERM"


class Terminal:
    """A user's shell in a project folder: lines run in order, exports and the current folder carried on."""

    def __init__(self, base: Path, venv: Path, folder: Path) -> None:
        self.base, self.venv = base, venv
        self.home = base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.state = base / "exports.sh"
        self.state.write_text("", encoding="utf-8")
        self.where = base / "cwd"
        self.where.write_text(str(folder), encoding="utf-8")
        self.editor_input = base / "typed-into-the-editor.yml"
        editor = base / "editor"
        editor.write_text('#!/bin/sh\ncat %s > "$1"\n' % shlex.quote(str(self.editor_input)), encoding="utf-8")
        editor.chmod(0o755)
        self.env = {"PATH": "%s:/usr/bin:/bin" % (venv / "bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
                    "TERM": "xterm", "EDITOR": str(editor), "ANSIBLE_NOCOLOR": "1", "PIP_NO_INDEX": "1",
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_PROGRESS_BAR": "off", "PIP_NO_COLOR": "1"}
        self.servers: t.List[Server] = []

    @property
    def folder(self) -> Path:
        return Path(self.where.read_text(encoding="utf-8").strip())

    def export(self, **variables: str) -> None:
        with self.state.open("a", encoding="utf-8") as state:
            for name, value in variables.items():
                state.write("export %s=%s\n" % (name, shlex.quote(value)))

    def run(self, line: str) -> str:
        return self.run_lines([line])[0][1]

    def run_lines(self, lines: t.List[str]) -> t.List[t.Tuple[str, str]]:
        """Lines of one block, in one shell (as typed one after the other); the output of each."""
        marks = ["printf '\\n\\036%d\\n'" % number for number in range(len(lines) + 1)]
        body = "\n".join(mark + "\n" + line for mark, line in zip(marks, lines + [""]))
        script = 'set -euo pipefail\nsource %s\ncd "$(cat %s)"\n%s\nexport -p > %s\npwd > %s\n' % (
            shlex.quote(str(self.state)), shlex.quote(str(self.where)), body, shlex.quote(str(self.state)),
            shlex.quote(str(self.where)))
        status, output = in_terminal(["bash", "-c", script], self.folder, self.env)
        pieces = re.split(r"\n?\036(\d+)\n", output)
        outputs = {int(number): text for number, text in zip(pieces[1::2], pieces[2::2])}
        assert status == 0, "%s (status %s)\n%s" % (lines[min(max(outputs or [0]), len(lines) - 1)], status, output[-8000:])
        return [(line, outputs[number]) for number, line in enumerate(lines)]

    def serve(self, line: str) -> Server:
        """A line that serves in the foreground, started in the background; its first lines exported."""
        process = subprocess.Popen(["bash", "-c", "source %s\nexec env %s" % (shlex.quote(str(self.state)), line)],
                                   cwd=str(self.folder), env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        lines: t.List[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("Izuma emulator listening")):
            printed = process.stdout.readline()
            if not printed:
                break
            lines.append(printed.rstrip("\n"))
        assert process.poll() is None, "%s stopped: %s" % (line, lines)
        server = Server(process, lines)
        self.servers.append(server)
        return server

    def write(self, name: str, text: str) -> None:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def follow(self, guide: Path, after_block: t.Callable[[str], None] = lambda text: None) -> t.List[t.Tuple[str, str]]:
        """Every block of a guide in order: files written, command lines run; (line, output) of each line run."""
        ran: t.List[t.Tuple[str, str]] = []
        for language, text in blocks(guide):
            name = file_name(text)
            if name:
                self.write(name, text)
            elif language == "sh":
                lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
                assert not any(line.endswith("\\") for line in lines), "a command block continues a line: %s" % text
                servers = [line for line in lines if EMULATOR in line and not line.rstrip().endswith("&")]
                if servers:
                    assert lines == servers[:1], "a block that starts a server holds nothing else: %s" % text
                    server = self.serve(lines[0])
                    # "Export those two lines": the guide's instruction, followed.
                    self.export(**server.settings)
                    ran.append((lines[0], "\n".join(server.lines)))
                else:
                    ran.extend(self.run_lines(lines))
            after_block(text)
        return ran

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []


@pytest.fixture(params=sorted(CORES), ids=lambda core: "ansible-core-" + core)
def core(request: pytest.FixtureRequest) -> t.Tuple[str, Path]:
    venv, python = CORES[request.param]
    assert (venv / "bin" / ("python" + python)).exists(), "no %s (make venvs)" % venv
    assert TARBALL.is_file(), "no %s (make tarball)" % TARBALL
    done = subprocess.run([str(venv / "bin" / "ansible"), "--version"], capture_output=True, text=True, check=True)
    assert "core %s." % request.param in done.stdout.splitlines()[0], done.stdout
    return request.param, venv


@pytest.fixture()
def terminal(core: t.Tuple[str, Path], tmp_path: Path) -> t.Iterator[Terminal]:
    """A user with an empty project folder that holds the release tarball, and a terminal in it."""
    project = tmp_path / "telemetry"
    project.mkdir()
    shutil.copyfile(str(TARBALL), str(project / TARBALL.name))
    user = Terminal(tmp_path, core[1], project)
    try:
        yield user
    finally:
        user.stop()


def assert_quiet(output: str) -> None:
    """No warning or deprecation in what the user sees."""
    assert "[WARNING]" not in output and "[DEPRECATION WARNING]" not in output, output[-6000:]


def test_the_quick_start_and_the_emulator_guide_run_as_written(terminal: Terminal) -> None:
    installed = terminal.folder / "collections" / "ansible_collections" / "izuma" / "device_management"
    guides = installed / "docs"
    quickstart = ROOT / "docs" / "quickstart.md"
    start_line = next(line for language, text in blocks(ROOT / "docs" / "emulator.md") if language == "sh" and not file_name(text)
                      for line in text.splitlines() if EMULATOR in line)
    emulators: t.List[Server] = []

    def after_block(text: str) -> None:
        # Once step 1 has installed the collection: the emulator, started as its guide says, instead of an account.
        if "ansible-galaxy collection install" in text and not emulators:
            for guide in ("quickstart.md", "emulator.md"):  # the guides followed are the installed ones
                assert (guides / guide).read_text(encoding="utf-8") == (ROOT / "docs" / guide).read_text(encoding="utf-8")
            emulators.append(terminal.serve(start_line))
            settings = emulators[0].settings
            terminal.export(IZUMA_API_HOST=settings["IZUMA_API_HOST"])  # step 4, for the emulator
            vault_line = next(text for language, text in blocks(guides / "quickstart.md")
                              if language == "yaml" and "vault_izuma_admin_key:" in text and not file_name(text))
            typed = re.sub(r"\bak_\w+", settings["IZUMA_API_KEY"], vault_line)  # step 2: your key in the editor
            assert typed != vault_line
            terminal.editor_input.write_text(typed, encoding="utf-8")

    # The quick start, from the installed collection's copy (the repository's is the same, checked above).
    assert sorted(p.name for p in terminal.folder.iterdir()) == [TARBALL.name]
    ran = terminal.follow(quickstart, after_block)
    assert emulators, "the quick start installs no collection"
    assert json.loads((installed / "MANIFEST.json").read_text(encoding="utf-8"))["collection_info"]["version"] == VERSION
    vault = (terminal.folder / "vault.yml").read_text(encoding="utf-8")
    assert vault.startswith("$ANSIBLE_VAULT;1.1;AES256") and emulators[0].settings["IZUMA_API_KEY"] not in vault
    assert (terminal.home / ".izuma-vault-pass").stat().st_mode & 0o777 == 0o600
    assert (terminal.folder / "keys").stat().st_mode & 0o777 == 0o700
    assert (terminal.folder / "keys" / "telemetry.key").stat().st_mode & 0o777 == 0o600

    for dummy_line, output in ran:
        assert_quiet(output)
    runs = [output for line, output in ran if line.startswith("ansible-playbook ")]
    assert len(runs) == 2, ran
    assert recap_changes(runs[0]) == 3, runs[0]  # the folder, the application, the key
    assert recap_changes(runs[1]) == 0, runs[1]
    # The last task: the API answered 200 to the application's own JWT, as the playbook says and the emulator saw it.
    app_ids = {ANSWERED.search(output).group(1) if ANSWERED.search(output) else None for output in runs}
    assert len(app_ids) == 1 and None not in app_ids, runs
    app_id = app_ids.pop()
    calls = [entry for entry in emulators[0].control("log") if entry["path"] == "/v3/applications/" + app_id]
    assert [(call["method"], call["auth"], call["application_id"], call["status"]) for call in calls] == \
        [("GET", "jwt", app_id, 200)] * 2, calls

    modules_authenticate_with_a_jwt(terminal, app_id)

    # The emulator guide, in the same project: its own emulator, its control requests, its CI script.
    terminal.editor_input.unlink()
    ran = terminal.follow(guides / "emulator.md")
    started = [output for line, output in ran if EMULATOR in line]
    assert len(started) == 1 and re.match(r"IZUMA_API_HOST=http://127\.0\.0\.1:\d+\nIZUMA_API_KEY=ak_[0-9a-f]{32}\n", started[0]), started
    against = [output for line, output in ran if line.startswith("ansible-playbook ")]
    assert len(against) == 1 and ANSWERED.search(against[0]) and recap_changes(against[0]) > 0, against
    controls = [(line, output) for line, output in ran if line.startswith("curl ")]
    assert len(controls) >= 10, ran
    for line, output in controls:
        assert '"object": "error"' not in output, (line, output)
    rules = json.loads(next(output for line, output in controls if line == "curl $E/faults"))
    assert {"hang": "after", "kind": "hang"}.items() <= rules[3].items() and rules[4]["hang"] == "before", rules
    assert terminal.servers[-1].control("faults") == [] and terminal.servers[-1].control("state")["applications"] == []
    ci_runs = [output for line, output in ran if line == "bash ci/emulator-test.sh"]
    assert len(ci_runs) == 1, ran
    assert_ci_job(ci_runs[0])
    workflow = yaml.safe_load((terminal.folder / ".github" / "workflows" / "playbooks.yml").read_text(encoding="utf-8"))
    steps = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    assert steps[-1] == "bash ci/emulator-test.sh", steps

    # The same CI script in a fresh checkout of the project: what the repository holds, nothing installed or made.
    checkout = terminal.base / "checkout"
    for name in ("ansible.cfg", "inventory.ini", "telemetry.yml", "vault.yml", "ci/emulator-test.sh", TARBALL.name):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(terminal.folder / name), str(checkout / name))
    terminal.where.write_text(str(checkout), encoding="utf-8")
    assert_ci_job(terminal.run("bash ci/emulator-test.sh"))
    assert (checkout / "keys" / "telemetry.key").is_file() and not (checkout / "emulator.json").exists()


def assert_ci_job(output: str) -> None:
    """The emulator guide's CI script: three runs, the second changing nothing, the third through two 503s."""
    recaps = output.split("PLAY RECAP")[1:]
    assert len(recaps) == 3, output[-6000:]
    assert recap_changes("PLAY RECAP" + recaps[1]) == 0 and all("failed=0" in recap for recap in recaps), output[-6000:]
    assert len(ANSWERED.findall(output)) == 3, output[-6000:]
    assert_quiet(output)


def modules_authenticate_with_a_jwt(terminal: Terminal, app_id: str) -> None:
    """Section 5: the application, made an administrator, runs the modules with the JWT it signs itself."""
    fragment = next(yaml.safe_load(text) for language, text in blocks(ROOT / "docs" / "quickstart.md")
                    if language == "yaml" and isinstance(yaml.safe_load(text), dict) and "module_defaults" in yaml.safe_load(text))
    defaults = fragment["module_defaults"]["group/izuma.device_management.izuma"]
    assert set(defaults) == {"auth_application_id", "auth_private_key_path"}, defaults
    defaults["auth_private_key_path"] = defaults["auth_private_key_path"].replace("admin.key", "telemetry.key")
    admin = [{"name": "The telemetry application becomes an administrator", "hosts": "localhost", "gather_facts": False,
              "module_defaults": {"group/izuma.device_management.izuma": {"api_key": "{{ vault_izuma_admin_key }}"}},
              "tasks": [{"name": "Join Administrators",
                         "izuma.device_management.izuma_application": {"name": "telemetry", "groups": ["Developers", "Administrators"]}}]}]
    with_jwt = [{"name": "Modules authenticated by a JWT", "hosts": "localhost", "gather_facts": False,
                 "module_defaults": fragment["module_defaults"],
                 "tasks": [{"name": "Read the application", "register": "info",
                            "izuma.device_management.izuma_application_info": {"name": "telemetry"}},
                           {"name": "Found", "ansible.builtin.assert": {"that": ["info.applications | length == 1"]}}]}]
    terminal.write("admin.yml", yaml.safe_dump(admin, sort_keys=False))
    terminal.write("jwt.yml", yaml.safe_dump(with_jwt, sort_keys=False))
    vault_run = "ansible-playbook admin.yml -e @vault.yml --vault-password-file ~/.izuma-vault-pass"
    assert recap_changes(terminal.run(vault_run)) == 1
    # No access key anywhere: the JWT is the only credential.
    output = terminal.run("ansible-playbook jwt.yml -e admin_app_id=%s" % app_id)
    assert "failed=0" in output and recap_changes(output) == 0, output
    assert_quiet(output)


def test_the_installed_guides_speak_to_a_user_of_the_installed_collection() -> None:
    """No command of the repository (make, its virtual environments, hack/) in the guides this test follows."""
    for guide in ("quickstart.md", "emulator.md"):
        for language, text in blocks(ROOT / "docs" / guide):
            for line in text.splitlines():
                assert not re.match(r"\s*(make\b|\.venv/|hack/)", line), (guide, line)
    quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    assert "izuma-device_management-%s.tar.gz" % VERSION in quickstart
    assert "izuma-device_management-%s.tar.gz" % VERSION in (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")


@pytest.fixture()
def project(core: t.Tuple[str, Path], tmp_path: Path) -> t.Tuple[Path, Path, t.Dict[str, str]]:
    """The collection installed into a project's collections/ folder."""
    venv = core[1]
    base = tmp_path / "project"
    (base / "home").mkdir(parents=True)
    env = {"PATH": "%s:/usr/bin:/bin" % (venv / "bin"), "HOME": str(base / "home"), "LANG": "C.UTF-8",
           "ANSIBLE_COLLECTIONS_PATH": str(base / "collections"), "ANSIBLE_NOCOLOR": "1"}
    output = run(base, env, str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--force", "-p",
                 str(base / "collections"), str(TARBALL))
    assert "izuma.device_management:%s was installed successfully" % VERSION in output, output
    return base, venv, env


def run(cwd: Path, env: t.Dict[str, str], *argv: str) -> str:
    done = subprocess.run(list(argv), cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, "%s\n%s\n%s" % (argv, done.stdout[-5000:], done.stderr[-3000:])
    return done.stdout


def test_ansible_doc_renders_every_plugin_of_the_installed_collection(project: t.Tuple[Path, Path, t.Dict[str, str]]) -> None:
    base, venv, env = project
    ansible_doc = str(venv / "bin" / "ansible-doc")
    for kind, names in PLUGINS.items():
        listed = json.loads(run(base, env, ansible_doc, "-t", kind, "--list", "--json", "izuma.device_management"))
        assert sorted(listed) == sorted("izuma.device_management." + name for name in names), listed
        # One call per kind renders all of them (a call costs seconds: ansible-core loads once).
        text = run(base, env, ansible_doc, "-t", kind, *("izuma.device_management." + name for name in names))
        for name in names:
            assert "%s izuma.device_management.%s" % (kind.upper(), name) in text or kind == "role", text[:2000]
        # A page per plugin, each with its examples (a role: its entry point).
        assert text.count("EXAMPLES:" if kind != "role" else "ENTRY POINT: *main*") == len(names), text[:3000]
        assert "ERROR" not in text, text[:2000]
