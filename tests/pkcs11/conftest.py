# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the PKCS#11 tests: real tokens of each implementation (implementations.py), no mock.

Every test that uses the ``hsm`` fixture (directly or through ``token`` or ``pairs``) runs once per implementation:
SoftHSM2 and tpm2-pkcs11 on swtpm unless IZUMA_PKCS11_IMPLEMENTATIONS names others (``make pkcs11-test
PKCS11_IMPLEMENTATIONS=tpm2``), or the user's own library (``library``, with IZUMA_PKCS11_LIBRARY, _TOKEN and _PIN).
Test ids start with the implementation's name, so ``-k tpm2`` selects its tests too.

Arguments that pytest fills per implementation, from its profile (implementations.PROFILES):

- ``spec``: each key spec the implementation makes (``pairs[spec]`` is its session-wide key pair);
- ``case``: each (key spec, JWT algorithm) it signs;
- ``refused_case``: each (key spec, JWT algorithm) a key could sign but this token has no mechanism for;
- ``refused_spec``: each (key spec, why) the implementation cannot make.

A test that gives its own ``spec`` or ``case`` values runs only with the implementations that make that spec; the
marker ``@pytest.mark.hsm_where(name="softhsm2")`` (any Profile attribute) limits a test to the implementations
whose profile matches, e.g. for SoftHSM2's own tools. Combinations so left out are deselected, and the run's summary
says how many and why.

``make pkcs11-test`` sets IZUMA_PKCS11_DIR to build/pkcs11/tokens (emptied first): each implementation keeps its
files in a directory of its own there; without it they go to a temporary directory. The implementation's environment
(SOFTHSM2_CONF; the D-Bus address and TPM2_PKCS11_* for tpm2) is set in this process before the module is first
loaded, and passed to every subprocess (``hsm.subprocess_env()``, ``hsm.env``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pkcs11
import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11

import implementations

# The tests import these from here.
COLLECTION_ROOT = implementations.COLLECTION_ROOT
spec_id = implementations.spec_id

# The user's library settings are read once, then removed from this process's environment: the tests pass the
# library, token and PIN explicitly wherever they mean to, and a test that means to leave them out must not find them.
LIBRARY_ENVIRON = {name: os.environ.pop(name) for name in implementations.LIBRARY_VARIABLES if name in os.environ}
SELECTED = implementations.selected(dict(os.environ, **LIBRARY_ENVIRON))
PROFILES = {name: (implementations.library_profile(dict(os.environ, **LIBRARY_ENVIRON)) if name == "library" else implementations.PROFILES[name])
            for name in SELECTED}
SPEC_ARGUMENTS = ("spec", "case", "refused_case", "refused_spec")
DESELECTED = {}  # type: t.Dict[str, int]


def _cases(profile: implementations.Profile, argument: str) -> t.List[t.Any]:
    if argument == "spec":
        return list(profile.key_specs)
    if argument == "case":
        return [(spec, algorithm) for spec in profile.key_specs for algorithm in profile.algorithms(spec)]
    if argument == "refused_case":
        return [(spec, algorithm) for spec in profile.key_specs for algorithm in profile.refused_algorithms(spec)]
    return list(profile.refused_specs)


def _case_id(argument: str, value: t.Any) -> str:
    if argument == "spec":
        return spec_id(value)
    if argument == "refused_spec":
        return spec_id(value[0])
    return "%s-%s" % (spec_id(value[0]), value[1])


def _profile_matches(profile: implementations.Profile, marker: t.Any) -> bool:
    return marker is None or all(getattr(profile, name) == value for name, value in marker.kwargs.items())


def pytest_generate_tests(metafunc: t.Any) -> None:
    """Parametrise every test that needs a token by implementation, and its key specs and algorithms by the profile."""
    if "hsm" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("hsm_where")
    names = [name for name in SELECTED if _profile_matches(PROFILES[name], marker)] or ["(none)"]
    given = {argument for mark in metafunc.definition.iter_markers("parametrize")
             for argument in (mark.args[0].replace(" ", "").split(",") if isinstance(mark.args[0], str) else mark.args[0])}
    own = [argument for argument in SPEC_ARGUMENTS if argument in metafunc.fixturenames and argument not in given]
    if own:
        argument = own[0]
        values = [(name, case) for name in names if name in PROFILES for case in _cases(PROFILES[name], argument)]
        metafunc.parametrize(["hsm", argument], values or [("(none)", None)], indirect=["hsm"], scope="session",
                             ids=["%s-%s" % (name, _case_id(argument, case)) for name, case in values] or ["(none)"])
    else:
        metafunc.parametrize("hsm", names, indirect=True, scope="session")


def _left_out(item: t.Any) -> t.Optional[str]:
    """Why this parametrised test does not run with its implementation, or None when it does."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    name = params.get("hsm")
    if name is None:
        return None
    if name == "(none)":
        return "no selected implementation fits the test"
    profile = PROFILES[name]
    spec = params.get("spec")
    if spec is None and isinstance(params.get("case"), tuple):
        spec = params["case"][0]
    if spec is not None and spec not in profile.key_specs:
        return "%s does not make %s keys" % (name, spec_id(spec))
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: t.Any, items: t.List[t.Any]) -> None:
    """Deselect what an implementation cannot run; run test_leftovers.py last within each implementation's group.

    trylast: after pytest has grouped the tests by implementation (one start and stop of each), so that the
    leftovers check ends each group instead of starting an implementation again after the others.
    """
    kept, dropped = [], []
    for item in items:
        reason = _left_out(item)
        if reason is None:
            kept.append(item)
        else:
            dropped.append(item)
            DESELECTED[reason] = DESELECTED.get(reason, 0) + 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    groups = {}  # type: t.Dict[t.Any, int]
    for item in kept:
        groups.setdefault(getattr(getattr(item, "callspec", None), "params", {}).get("hsm"), len(groups))

    def order(item: t.Any) -> t.Tuple[int, bool]:
        return groups[getattr(getattr(item, "callspec", None), "params", {}).get("hsm")], item.fspath.basename == "test_leftovers.py"

    items[:] = sorted(kept, key=order)


def pytest_configure(config: t.Any) -> None:
    config.addinivalue_line("markers", "hsm_where(**attributes): run only with the implementations whose profile has these attributes")


def pytest_report_header(config: t.Any) -> t.List[str]:
    lines = []
    for name in SELECTED:
        profile = PROFILES[name]
        lines.append("PKCS#11 %s: key specs %s; RSA-PSS %s%s" % (
            name, ", ".join(spec_id(spec) for spec in profile.key_specs),
            ("yes" if profile.pss_listed else "yes, not listed") if profile.pss else "no (PS* refused)",
            "; " + LIBRARY_ENVIRON["IZUMA_PKCS11_LIBRARY"] if name == "library" else ""))
    return lines


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    for reason, count in sorted(DESELECTED.items()):
        terminalreporter.write_line("deselected %d: %s" % (count, reason))


@pytest.fixture(scope="session")
def hsm(request: t.Any) -> t.Iterator[implementations.Running]:
    """The running implementation this test is parametrised with: module, environment, tokens, profile."""
    configured = os.environ.get("IZUMA_PKCS11_DIR")
    base = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="izuma-pkcs11-"))
    root = base / request.param
    shutil.rmtree(root, ignore_errors=True)
    running = implementations.start(request.param, root, dict(os.environ, **LIBRARY_ENVIRON))
    try:
        if running.root is None:
            _refuse_a_token_in_use(running)
        yield running
        if running.root is None:
            _destroy_collection_objects(running)
    finally:
        end_logins(running.module)
        running.stop()
        if not configured:
            shutil.rmtree(base, ignore_errors=True)


def _collection_objects(hsm: implementations.Running) -> t.List[t.Any]:
    """The key objects labelled ``izuma:...`` in the user's token."""
    session = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin).session
    return [obj for object_class in (pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY)
            for obj in session.get_objects({pkcs11.Attribute.CLASS: object_class})
            if str(obj.label).startswith(_pkcs11_keys.LABEL_PREFIX + ":")]


def _refuse_a_token_in_use(hsm: implementations.Running) -> None:
    """Fail when the user's token already holds ``izuma:...`` keys: the tests would take them for their own (an
    interrupted run's keys), or destroy keys that are in use."""
    found = sorted({str(obj.label) for obj in _collection_objects(hsm)})
    if found:
        raise RuntimeError("the PKCS#11 token %r already holds %d key objects labelled izuma:... (%s): the tests generate and "
                           "destroy such keys, so they need a token without them; remove them (pkcs11-tool --delete-object) "
                           "or give another token in IZUMA_PKCS11_TOKEN" % (hsm.label, len(found), ", ".join(found[:5])))


def _destroy_collection_objects(hsm: implementations.Running) -> None:
    """Destroy the ``izuma:...`` key objects the run made in the user's token (it held none before)."""
    end_logins(hsm.module)
    for obj in _collection_objects(hsm):
        obj.destroy()


def end_logins(module: str) -> None:
    """End this process's use of ``module``: close its cached sessions and initialise the module again.

    The collection keeps one login per token for the life of a process, and a test process lives long. tpm2-pkcs11
    keeps every key a login generated or used loaded in the TPM (two objects per generated pair, not freed when the
    pair is destroyed), and logins hold objects too, while tpm2-abrmd gives a connection 27 loaded objects: after a
    dozen keys, generation and login fail (GeneralError; the library prints "out of memory for object contexts"). A
    module run generates one or two keys; this process generates over a hundred. C_Finalize closes the connection,
    which frees them all; SoftHSM2 only reads its token files again.
    """
    library = os.path.realpath(module)
    with _pkcs11._LOCK:  # pylint: disable=protected-access
        for physical in [key for key, entry in _pkcs11._SESSIONS.items() if entry.library_path == library]:  # pylint: disable=protected-access
            _pkcs11._SESSIONS.pop(physical).close()  # pylint: disable=protected-access
        for ref in [ref for ref in _pkcs11._REFS if ref[0] in (module, library)]:  # pylint: disable=protected-access
            del _pkcs11._REFS[ref]  # pylint: disable=protected-access
        pkcs11.lib(library).reinitialize()


@pytest.fixture(autouse=True)
def one_login_per_test(request: t.Any) -> t.Iterator[None]:
    """After each test that uses an implementation, end this process's logins on it (``end_logins``)."""
    yield
    if "hsm" in request.fixturenames:
        end_logins(request.getfixturevalue("hsm").module)


@pytest.fixture()
def token(hsm: implementations.Running) -> t.Any:
    """The process's logged-in session on the tests' token (a login of this test's own: ``one_login_per_test``)."""
    return _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)


def fresh_session(hsm: implementations.Running) -> t.Any:
    """A new login on the tests' token, which sees what other processes (a playbook's modules) wrote meanwhile.

    tpm2-pkcs11 reads a token's objects when a process logs in: a key another process generates, relabels or destroys
    later is not seen (or still seen) by a process that stays logged in. SoftHSM2 reads its token files on every search.
    """
    end_logins(hsm.module)
    return _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)


def run_python(code: str, hsm: implementations.Running) -> str:
    """Run ``code`` in a new Python process (same interpreter, paths and implementation) and return its stdout.

    The code finds the module, token label and PIN in IZUMA_TEST_MODULE, IZUMA_TEST_TOKEN and IZUMA_TEST_PIN.
    """
    env = hsm.subprocess_env(IZUMA_TEST_MODULE=hsm.module, IZUMA_TEST_TOKEN=hsm.label, IZUMA_TEST_PIN=hsm.pin)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def pkcs11_env(hsm: implementations.Running, pin: t.Optional[str] = None, **extra: str) -> t.Dict[str, str]:
    """The module's environment and the IZUMA_PKCS11_* variables an AWX credential would inject, for a playbook run."""
    return dict(hsm.env, IZUMA_PKCS11_LIBRARY=hsm.module, IZUMA_PKCS11_TOKEN=hsm.label,
                IZUMA_PKCS11_PIN=hsm.pin if pin is None else pin, **extra)


def spec_label(spec: implementations.Spec) -> str:
    """The label of the session-wide key pair of ``spec`` (the ``pairs`` fixture)."""
    return _pkcs11_keys.key_label("spec-" + spec_id(spec))


class Pairs(t.Mapping[implementations.Spec, t.Any]):
    """The session-wide key pair of each key spec, found in this process's current login (``token`` ends logins)."""

    def __init__(self, hsm: implementations.Running) -> None:
        self.hsm = hsm

    def __getitem__(self, spec: implementations.Spec) -> t.Any:
        if spec not in self.hsm.profile.key_specs:
            raise KeyError(spec)
        pair = _pkcs11_keys.cached_key_pair(_pkcs11.open_session(self.hsm.module, _pkcs11.token_ref(self.hsm.label), self.hsm.pin),
                                            spec_label(spec))
        assert pair is not None, "the key pair of %s is gone from the token" % spec_id(spec)
        return pair

    def __iter__(self) -> t.Iterator[implementations.Spec]:
        return iter(self.hsm.profile.key_specs)

    def __len__(self) -> int:
        return len(self.hsm.profile.key_specs)


@pytest.fixture(scope="session")
def pairs(hsm: implementations.Running) -> t.Iterator[Pairs]:
    """One key pair per key spec of the implementation, generated in the token once per test session.

    RSA generation takes seconds on some tokens. In the user's library the pairs are destroyed at the end (and any an
    interrupted run left behind, first); the other implementations' tokens are thrown away with their directory.
    """
    session = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)
    for spec in hsm.profile.key_specs:
        _pkcs11_keys.destroy_key_pair(session, spec_label(spec))
        _pkcs11_keys.generate_key_pair(session, spec_label(spec), *spec)
    end_logins(hsm.module)
    yield Pairs(hsm)
    if hsm.root is None:
        session = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)
        for spec in hsm.profile.key_specs:
            _pkcs11_keys.destroy_key_pair(session, spec_label(spec))
