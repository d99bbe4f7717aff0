# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tarball, installed as a user installs it, runs the quick start (make install-test).

For ansible-core 2.19 (Python 3.11, .venv/2.19) and 2.21 (Python 3.12, .venv/2.21): ``ansible-galaxy collection
install`` puts the tarball into the ``collections/`` folder of a separate project folder (nothing of the repository
on any path), the emulator starts from the installed collection (``tests/emulator``), and the quick start's plays,
taken from the installed ``docs/quickstart.md``, run from the project: section 2 twice (the second run changes
nothing), then section 3's JWT authentication. ``ansible-doc`` renders every plugin and the role.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import typing as t
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
# Every plugin and role of the tree: the installed collection must list and render each of them.
PLUGINS = {
    "module": sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("[!_]*.py")),
    "lookup": sorted(p.stem for p in (ROOT / "plugins" / "lookup").glob("[!_]*.py")),
    "filter": sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")),
    "role": sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()),
}


class Project:
    """A user's project folder with the collection installed into its collections/ folder."""

    def __init__(self, base: Path, venv: Path) -> None:
        self.base, self.venv = base, venv
        self.collections = base / "collections"
        self.env = {"PATH": "%s:/usr/bin:/bin" % (venv / "bin"), "HOME": str(base / "home"), "LANG": "C.UTF-8",
                    "ANSIBLE_COLLECTIONS_PATH": str(self.collections), "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCAL_TEMP": str(base / "ansible-tmp")}
        (base / "home").mkdir(parents=True)

    def run(self, *argv: str, **env: str) -> str:
        done = subprocess.run(list(argv), cwd=str(self.base), env=dict(self.env, **env), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, "%s\n%s\n%s" % (argv, done.stdout[-5000:], done.stderr[-3000:])
        return done.stdout

    @property
    def installed(self) -> Path:
        return self.collections / "ansible_collections" / "izuma" / "device_management"


def recap_changes(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output.split("PLAY RECAP", 1)[-1]))


@pytest.fixture(params=sorted(CORES), ids=lambda core: "ansible-core-" + core)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[Project]:
    venv, python = CORES[request.param]
    assert (venv / "bin" / ("python" + python)).exists(), "no %s (make venvs)" % venv
    assert TARBALL.is_file(), "no %s (make tarball)" % TARBALL
    where = Project(tmp_path / "project", venv)
    version = where.run(str(venv / "bin" / "ansible"), "--version")
    assert "core %s." % request.param in version.splitlines()[0], version
    output = where.run(str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--force", "-p", str(where.collections), str(TARBALL))
    assert "izuma.device_management:%s was installed successfully" % VERSION in output, output
    yield where


def start_emulator(project: Project) -> t.Tuple[subprocess.Popen, t.Dict[str, str]]:
    """The emulator as the installed collection ships it, on a free port; its ready file says where."""
    ready = project.base / "emulator.json"
    emulator = subprocess.Popen([str(project.venv / "bin" / "python"), "-m", "izuma_emulator", "--port", "0",
                                 "--ready-file", str(ready)], cwd=str(project.base),
                                env=dict(project.env, PYTHONPATH=str(project.installed / "tests" / "emulator")),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for dummy_try in range(300):
        if ready.is_file() and ready.stat().st_size:
            break
        assert emulator.poll() is None, "the installed emulator did not start"
        subprocess.run(["sleep", "0.1"], check=True)
    info = json.loads(ready.read_text(encoding="utf-8"))
    return emulator, {"IZUMA_API_HOST": info["url"], "IZUMA_API_KEY": info["admin_key"]}


def test_the_installed_collection_runs_the_quick_start(project: Project) -> None:
    guide = (project.installed / "docs" / "quickstart.md").read_text(encoding="utf-8")
    yaml_blocks = [text for language, text in FENCE.findall(guide) if language == "yaml"]
    section_2 = next(text for text in yaml_blocks if isinstance(yaml.safe_load(text), list))
    section_3 = next(yaml.safe_load(text) for text in yaml_blocks if isinstance(yaml.safe_load(text), dict))
    keys = project.base / "etc-izuma"  # /etc/izuma, in the project folder
    (project.base / "telemetry.yml").write_text(section_2.replace("/etc/izuma", str(keys)), encoding="utf-8")
    playbook = str(project.venv / "bin" / "ansible-playbook")

    emulator, connection = start_emulator(project)
    try:
        vault = "vault_izuma_admin_key=%s" % connection["IZUMA_API_KEY"]
        first = project.run(playbook, "telemetry.yml", "-e", vault, IZUMA_API_HOST=connection["IZUMA_API_HOST"])
        assert recap_changes(first) == 3, first  # the directory, the application, the key
        again = project.run(playbook, "telemetry.yml", "-e", vault, IZUMA_API_HOST=connection["IZUMA_API_HOST"])
        assert recap_changes(again) == 0, again
        assert (keys / "telemetry.key").stat().st_mode & 0o777 == 0o600

        # Section 3: the same application, made an administrator, now authenticates with a JWT it signs itself.
        admin = [{"hosts": "localhost", "gather_facts": False,
                  "module_defaults": {"group/izuma.device_management.izuma": {"api_key": "{{ vault_izuma_admin_key }}"}},
                  "tasks": [{"izuma.device_management.izuma_application": {"name": "telemetry", "groups": ["Developers", "Administrators"]},
                             "register": "app"},
                            {"ansible.builtin.copy": {"content": "{{ app.application.id }}", "dest": str(project.base / "app-id")}}]}]
        (project.base / "admin.yml").write_text(yaml.safe_dump(admin), encoding="utf-8")
        project.run(playbook, "admin.yml", "-e", vault, IZUMA_API_HOST=connection["IZUMA_API_HOST"])
        defaults = section_3["module_defaults"]["group/izuma.device_management.izuma"]
        assert set(defaults) == {"auth_application_id", "auth_private_key_path"}
        defaults["auth_private_key_path"] = str(keys / "telemetry.key")  # the key of section 2 instead of admin.key
        with_jwt = [{"hosts": "localhost", "gather_facts": False, "module_defaults": section_3["module_defaults"],
                     "tasks": [{"izuma.device_management.izuma_application_info": {"name": "telemetry"}, "register": "info"},
                               {"ansible.builtin.assert": {"that": ["info.applications | length == 1"]}}]}]
        (project.base / "jwt.yml").write_text(yaml.safe_dump(with_jwt), encoding="utf-8")
        app_id = (project.base / "app-id").read_text(encoding="utf-8").strip()
        # No access key in the environment: the JWT is the only credential.
        output = project.run(playbook, "jwt.yml", "-e", "admin_app_id=%s" % app_id, IZUMA_API_HOST=connection["IZUMA_API_HOST"])
        assert "failed=0" in output and recap_changes(output) == 0, output
    finally:
        os.killpg(emulator.pid, signal.SIGTERM)
        emulator.wait(timeout=30)


def test_ansible_doc_renders_every_plugin_of_the_installed_collection(project: Project) -> None:
    ansible_doc = str(project.venv / "bin" / "ansible-doc")
    for kind, names in PLUGINS.items():
        listed = json.loads(project.run(ansible_doc, "-t", kind, "--list", "--json", "izuma.device_management"))
        assert sorted(listed) == sorted("izuma.device_management." + name for name in names), listed
        # One call per kind renders all of them (a call costs seconds: ansible-core loads once).
        text = project.run(ansible_doc, "-t", kind, *("izuma.device_management." + name for name in names))
        for name in names:
            assert "%s izuma.device_management.%s" % (kind.upper(), name) in text or kind == "role", text[:2000]
        # A page per plugin, each with its examples (a role: its entry point).
        assert text.count("EXAMPLES:" if kind != "role" else "ENTRY POINT: *main*") == len(names), text[:3000]
        assert "ERROR" not in text, text[:2000]
