# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-builder: an execution environment with this collection gets cryptography, PyJWT and requests.

``ansible-builder create`` (no container engine needed) turns the shipped definition
(extensions/awx/execution-environment.yml, with the collection taken from a freshly built tarball instead of Galaxy)
into a build context. The test checks the context, then runs the context's own introspection script, exactly as the
image build does after installing the collections, and checks that it finds the collection's requirements
(meta/execution-environment.yml).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from fleet import BIN, COLLECTION_ROOT, run_command


def test_builder_context_pulls_the_collection_requirements(tmp_path: Path) -> None:
    """create -> context with the collection and the introspection step -> cryptography, PyJWT, requests."""
    env = {"PATH": "%s:/usr/bin:/bin" % BIN, "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")}
    status, output = run_command([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                                  str(COLLECTION_ROOT)], env)
    assert status == 0, output
    tarball = next(tmp_path.glob("izuma-device_management-*.tar.gz"))

    definition = yaml.safe_load((COLLECTION_ROOT / "extensions" / "awx" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert definition["version"] == 3
    assert definition["dependencies"]["galaxy"]["collections"][0]["name"] == "izuma.device_management"
    # The same definition, with the collection from the tarball built above (Galaxy is not reachable from tests).
    definition["dependencies"]["galaxy"] = {"collections": [{"name": "collections/" + tarball.name, "type": "file"}]}
    definition["additional_build_files"] = [{"src": str(tarball), "dest": "collections"}]
    definition["additional_build_steps"] = {"prepend_galaxy": ["COPY _build/collections/ collections/"]}
    ee_file = tmp_path / "execution-environment.yml"
    ee_file.write_text(yaml.safe_dump(definition), encoding="utf-8")

    context = tmp_path / "context"
    status, output = run_command([str(BIN / "ansible-builder"), "create", "--file", str(ee_file), "--context", str(context),
                                  "--output-filename", "Containerfile"],
                                 env, cwd=str(tmp_path))
    assert status == 0, output
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile and "--write-pip" in containerfile, containerfile
    assert "ansible-core==2.19.14" in containerfile and "ansible-runner==2.4.3" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements["collections"][0]["name"].endswith(tarball.name)
    assert (context / "_build" / "collections" / tarball.name).is_file()
    # python-pkcs11 (keys in an HSM) comes from the definition itself, not from the collection's requirements.txt.
    assert "python-pkcs11>=0.10" in (context / "_build" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    introspect = context / "_build" / "scripts" / "introspect.py"
    assert introspect.is_file()

    # The build's next steps, without a container: install the collection from the context, then introspect.
    installed = tmp_path / "installed"
    status, output = run_command([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(installed),
                                  str(context / "_build" / "collections" / tarball.name)], env)
    assert status == 0, output
    pip_file, bindep_file = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    status, output = run_command([str(BIN / "python"), str(introspect), "introspect", "--sanitize", "--write-pip", str(pip_file),
                                  "--write-bindep", str(bindep_file), str(installed)], env)
    assert status == 0, output
    pip_lines = pip_file.read_text(encoding="utf-8").splitlines()
    for package in ("cryptography", "PyJWT", "requests"):
        assert any(line.startswith(package) and "from collection izuma.device_management" in line for line in pip_lines), pip_lines
    assert "from collection izuma.device_management" in bindep_file.read_text(encoding="utf-8")
    assert not any("pkcs11" in line for line in pip_lines), pip_lines
