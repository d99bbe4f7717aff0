# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tarball as Galaxy and its users get it (make release-test builds it first; IZUMA_TARBALL names it).

- its file list: what galaxy.yml's build_ignore decides (and the reasons written there) holds;
- galaxy-importer, as Galaxy runs it but without containers and without its own ansible-test, with its ansible-lint:
  no error, no warning, and every plugin it lists is documented;
- antsibull-docs lint-collection-docs --plugin-docs on the installed tarball, antsibull-changelog lint;
- one version: galaxy.yml, the changelog's latest release, the API client's User-Agent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
VERSION = GALAXY["version"]
TARBALL = Path(os.environ.get("IZUMA_TARBALL", ROOT / "build" / "release" / ("izuma-device_management-%s.tar.gz" % VERSION)))

# What a user gets, at least: each of these is in the tarball.
SHIPPED = [
    "MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "requirements.txt", "bindep.txt",
    "meta/runtime.yml", "meta/execution-environment.yml", "changelogs/changelog.yaml", "changelogs/config.yaml",
    "plugins/modules/izuma_application.py", "plugins/filter/jwt_claims.py", "plugins/filter/jwt_claims.yml",
    "plugins/lookup/izuma_jwt.py", "plugins/action/izuma_jwt.py", "roles/jwt_rotation/meta/argument_specs.yml",
    "playbooks/jwt_setup.yml", "playbooks/jwt_rotation.yml", "playbooks/jwt_audit.yml", "playbooks/jwt_revoke.yml",
    "docs/quickstart.md", "extensions/awx/credential_type_izuma.yml", "extensions/awx/credential_type_izuma_pkcs11.yml",
    "extensions/awx/execution-environment.yml", "extensions/molecule/jwt_rotation/molecule.yml",
    "tests/emulator/izuma_emulator/__main__.py", "tests/emulator/README.md", "tests/unit/conftest.py",
    "tests/integration/targets/setup_emulator/emulator.sh",
]
# What only a developer of this repository needs: nothing in the tarball starts with these.
NOT_SHIPPED = [
    "Makefile", "hack/", ".ci/", ".git", ".ansible-lint", ".venv", "build/", "benchmarks/", "requirements/",
    "playbooks/demo.yml", "playbooks/inventory/", "changelogs/fragments/", "changelogs/.plugin-cache.yaml",
    "tests/rotation/", "tests/docs/", "tests/release/", "tests/compat/", "tests/output/", "tests/README.md",
    # Suites that cannot run from the installed collection: a SoftHSM2 set up by make pkcs11-test; the emulator's own
    # tests and its contract tests (requirements/contract.txt), with the specification that only they read.
    "tests/pkcs11/", "tests/emulator/tests/", "tests/emulator/contract/", "tests/emulator/spec/",
]
# Under tests/, the tarball holds only what runs from the installed collection: the unit and integration tests
# (ansible-test units / integration in the installed collection) and the emulator they start, which users may start
# too (PYTHONPATH=<collection>/tests/emulator python -m izuma_emulator).
SHIPPED_TESTS = ["tests/unit/", "tests/integration/", "tests/emulator/izuma_emulator/", "tests/emulator/README.md"]


def run(argv: t.List[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")), ANSIBLE_NOCOLOR="1", **env)
    return subprocess.run(argv, cwd=str(cwd), env=environment, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def files() -> t.List[str]:
    assert TARBALL.is_file(), "no tarball %s: make release-test builds it" % TARBALL
    with tarfile.open(TARBALL) as archive:
        return [member.name.rstrip("/") for member in archive.getmembers()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball installed with ansible-galaxy, as a user installs it."""
    where = tmp_path_factory.mktemp("installed")
    done = run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "-p", str(where), str(TARBALL)], where)
    assert done.returncode == 0, done.stdout + done.stderr
    return where / "ansible_collections" / "izuma" / "device_management"


def test_the_tarball_ships_what_users_need(files: t.List[str]) -> None:
    missing = [name for name in SHIPPED if name not in files]
    assert not missing, missing
    for name in files:
        for prefix in NOT_SHIPPED:
            assert not (name == prefix.rstrip("/") or name.startswith(prefix)), "%s is shipped (build_ignore: %s)" % (name, prefix)
        assert "__pycache__" not in name and not name.endswith((".pyc", ".tar.gz")), name


def test_the_tarball_holds_only_tests_that_run_from_the_installed_collection(files: t.List[str]) -> None:
    under_tests = [name for name in files if name.startswith("tests/")]
    assert any(name.startswith("tests/emulator/izuma_emulator/") for name in under_tests), files
    # A folder on the way to a shipped suite (tests/emulator) is no stray.
    strays = [name for name in under_tests if not any(name.startswith(prefix) or prefix.startswith(name + "/") for prefix in SHIPPED_TESTS)]
    assert strays == [], "shipped, but not runnable from the installed collection (build_ignore them, or add to SHIPPED_TESTS): %s" % strays


def test_every_tracked_file_is_either_shipped_or_ignored_on_purpose(files: t.List[str]) -> None:
    """A new top-level file or folder gets a decision: shipped, or in build_ignore (and then in NOT_SHIPPED above)."""
    tracked = run(["git", "ls-files"], ROOT)
    if tracked.returncode != 0:
        pytest.fail("not a git checkout: %s" % tracked.stderr)
    # galaxy.yml is shipped as MANIFEST.json.
    decided = NOT_SHIPPED + [".gitignore", "galaxy.yml"]
    undecided = [name for name in tracked.stdout.split()
                 if name not in files and not any(name == p.rstrip("/") or name.startswith(p) for p in decided)]
    assert not undecided, "neither shipped nor in NOT_SHIPPED: %s" % undecided


def test_galaxy_importer_finds_no_error_and_no_warning(tmp_path: Path, files: t.List[str]) -> None:
    config = tmp_path / "galaxy-importer.cfg"
    # As Galaxy runs it, but no container (none here) and no ansible-test of its own (make sanity runs ansible-test).
    config.write_text("[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nLOCAL_IMAGE_DOCKER = False\n"
                      "ANSIBLE_LOCAL_TMP = %s\n" % (tmp_path / "ansible-tmp"), encoding="utf-8")
    done = run([str(BIN / "python"), "-m", "galaxy_importer.main", str(TARBALL)], tmp_path,
               GALAXY_IMPORTER_CONFIG=str(config), HOME=str(tmp_path))
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "Importer processing completed successfully" in log, log
    assert "Linting collection via ansible-lint" in log and "ansible-lint run complete" in log, log
    problems = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert problems == [], "\n".join(problems)

    result = json.loads((tmp_path / "importer_result.json").read_text(encoding="utf-8"))
    listed = {(c["content_type"], c["name"]) for c in result["contents"]}
    documented = {(c["content_type"], c["content_name"]) for c in result["docs_blob"]["contents"] if c.get("doc_strings")}
    assert ("filter", "jwt") not in listed
    expected = {("module", p.stem) for p in (ROOT / "plugins" / "modules").glob("[!_]*.py")}
    expected |= {("lookup", p.stem) for p in (ROOT / "plugins" / "lookup").glob("[!_]*.py")}
    expected |= {("filter", p.stem) for p in (ROOT / "plugins" / "filter").glob("*.yml")}
    assert expected <= documented, expected - documented
    # Every module, lookup and filter Galaxy lists is documented (action plugins, doc fragments and module_utils
    # are listed without documentation, as for every collection).
    undocumented = {c for c in listed if c[0] in ("module", "lookup", "filter")} - documented
    assert not undocumented, ("Galaxy lists these without documentation: %s. A filter file holding several documented "
                              "filters takes the name of one of them (as plugins/filter/jwt_claims.py does)" % sorted(undocumented))
    assert result["metadata"]["version"] == VERSION
    assert result["requires_ansible"] == ">=2.17.0"
    # The README that Galaxy shows is the repository's.
    assert "module_utils" in result["docs_blob"]["collection_readme"]["html"]


def test_antsibull_docs_finds_no_documentation_error(installed: Path) -> None:
    done = run([str(BIN / "antsibull-docs"), "lint-collection-docs", "--plugin-docs", str(installed)], installed,
               ANSIBLE_COLLECTIONS_PATH=str(installed.parents[2]))
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


# The Python libraries that plugins' documentation names in its requirements.
LIBRARIES = ("requests", "cryptography", "PyJWT", "python-pkcs11")


def test_each_plugin_lists_each_library_once_in_its_requirements(installed: Path) -> None:
    """ansible-doc merges the requirements of the doc fragments with the plugin's own: a library is in one entry."""
    docs = {}  # type: t.Dict[str, t.Any]
    for kind, folder in (("module", "modules"), ("lookup", "lookup")):
        names = ["izuma.device_management." + p.stem for p in sorted((installed / "plugins" / folder).glob("[!_]*.py"))]
        done = run([str(BIN / "ansible-doc"), "--json", "-t", kind] + names, installed,
                   ANSIBLE_COLLECTIONS_PATH=str(installed.parents[2]))
        assert done.returncode == 0, done.stderr
        docs.update(("%s %s" % (name, kind), doc) for name, doc in json.loads(done.stdout).items())
    assert len(docs) >= 8, sorted(docs)
    twice = {}
    for name, doc in docs.items():
        requirements = doc["doc"].get("requirements") or []
        assert requirements, "%s documents no requirements" % name
        for library in LIBRARIES:
            entries = [entry for entry in requirements if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(library), entry)]
            if len(entries) > 1:
                twice["%s: %s" % (name, library)] = entries
    assert twice == {}


def test_the_changelog_lints_and_has_the_release(files: t.List[str]) -> None:
    done = run([str(BIN / "antsibull-changelog"), "lint"], ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
    done = run([str(BIN / "antsibull-changelog"), "lint-changelog-yaml", "changelogs/changelog.yaml"], ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))
    assert list(changes["releases"]) == [VERSION]
    release = changes["releases"][VERSION]
    assert release["changes"]["release_summary"].startswith("First release")
    if list(changes["releases"]) == ["1.0.0"]:
        # The first release: what the collection offers, nothing that changed or was fixed since an earlier one (a
        # change made while 1.0.0 was being written is a trivial fragment, or part of the feature it refines).
        history = set(release["changes"]) & {"breaking_changes", "deprecated_features", "removed_features",
                                             "security_fixes", "bugfixes"}
        assert history == set(), "the first release has no %s: rewrite those fragments as features or trivial" % sorted(history)
    # Every fragment is in the release (make changelog regenerates it after a fragment is added).
    fragments = sorted(p.name for p in (ROOT / "changelogs" / "fragments").glob("*.y*ml"))
    assert sorted(release["fragments"]) == fragments, "run make changelog"
    assert {m["name"] for m in release["modules"]} == {p.stem for p in (ROOT / "plugins" / "modules").glob("[!_]*.py")}
    assert "## v%s" % VERSION.replace(".", "\\.") in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_one_version_everywhere() -> None:
    # A version the plugins carry (the API client's User-Agent may name it) is the release's.
    for path in (ROOT / "plugins").rglob("*.py"):
        for found in re.findall(r'^COLLECTION_VERSION = "([^"]*)"', path.read_text(encoding="utf-8"), re.M):
            assert found == VERSION, path
    ee = yaml.safe_load((ROOT / "extensions" / "awx" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert ee["dependencies"]["galaxy"]["collections"][0]["version"] == ">=%s" % VERSION
    # A plugin is not older than the first release.
    for path in list((ROOT / "plugins").rglob("*.py")) + list((ROOT / "plugins").rglob("*.yml")):
        for found in re.findall(r"^\s*version_added: *['\"]?([0-9.]+)", path.read_text(encoding="utf-8"), re.M):
            assert tuple(map(int, found.split("."))) >= (1, 0, 0), (path, found)


def test_links_to_the_project_use_galaxy_yml_repository() -> None:
    """Every link to the project's GitHub pages (changelog issue links, docs) starts with galaxy.yml's repository."""
    assert GALAXY["issues"] == GALAXY["repository"] + "/issues"
    pattern = r"https?://github\.com/izuma/[A-Za-z0-9_.#/-]*"
    found = run(["git", "grep", "-h", "-o", "-I", "-E", pattern], ROOT)
    assert found.returncode in (0, 1), found.stderr
    links = found.stdout.split()
    # CHANGELOG.md escapes its punctuation (https\://github\.com/...).
    links += re.findall(pattern, (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").replace("\\", ""))
    wrong = sorted({link for link in links if not re.match(r"%s(/|$)" % re.escape(GALAXY["repository"]), link)})
    assert wrong == [], "links that are not under %s: %s" % (GALAXY["repository"], wrong)
    # The changelog's issue links are among them.
    assert any(link.startswith(GALAXY["issues"] + "/") for link in links), links


def test_the_repository_stands_on_its_own() -> None:
    """No tracked file points into the design folder that the repository was written from."""
    tracked = run(["git", "grep", "-l", "-E", "shared/(design|specs|seed)/"], ROOT)
    assert tracked.stdout.strip() == "", tracked.stdout


def test_runtime_requirements_are_where_users_and_ansible_builder_look() -> None:
    names = [re.split(r"[<>=]", line)[0] for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert names == ["cryptography", "PyJWT", "requests"]
    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert ee["dependencies"]["python"] == "requirements.txt"


def test_make_help_lists_every_suite_that_make_test_runs() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    suites = re.search(r"^test: (.*)$", makefile, re.M).group(1).split()
    shown = run(["make", "--no-print-directory", "help"], ROOT, MAKEFLAGS="", MAKELEVEL="").stdout
    listed = set(re.findall(r"^\s*make ([\w.-]+)", shown, re.M))
    assert set(suites) <= listed, set(suites) - listed
    assert len(suites) >= 13


# Targets that only other targets use (collection trees, system packages): make help need not name them.
INTERNAL_TARGETS = {"help", "tree", "rotation-tree", "pythons", "softhsm", "tpm2", "chromium"}


def test_make_help_names_every_target_a_user_may_want() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = {name for line in re.findall(r"^\.PHONY: (.*)$", makefile, re.M) for name in line.split()}
    shown = run(["make", "--no-print-directory", "help"], ROOT, MAKEFLAGS="", MAKELEVEL="").stdout
    assert targets - INTERNAL_TARGETS - set(re.findall(r"[\w.-]+", shown)) == set()
    assert {"demo", "test", "tarball", "docs", "bench", "clean"} <= set(re.findall(r"^\s*make ([\w.-]+)", shown, re.M))


def test_a_test_file_name_stands_in_one_suite_only() -> None:
    """tests/README.md: pytest imports test files by their base name, and the name says which suite to run again."""
    places = {}  # type: t.Dict[str, t.List[str]]
    for path in (ROOT / "tests").rglob("test_*.py"):
        if "output" not in path.relative_to(ROOT / "tests").parts:
            places.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in places.items() if len(paths) > 1} == {}
