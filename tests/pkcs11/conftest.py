# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the PKCS#11 tests: a real SoftHSM2 with its own configuration and tokens, no mock.

``make pkcs11-test`` sets IZUMA_SOFTHSM_DIR to build/softhsm (emptied first); without it the tokens go to a
temporary directory. SOFTHSM2_CONF is set for this process before the library is first loaded (SoftHSM reads it in
C_Initialize), and for every subprocess the tests start, which inherit the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pytest

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
USER_PIN = "pkcs11-test-pin"
SO_PIN = "pkcs11-test-so-pin"
TOKEN_LABEL = "izuma-test"
OTHER_TOKEN_LABEL = "izuma-other"
RSA_SIZES = (2048, 3072, 4096)
EC_CURVES = ("P-256", "P-384", "P-521")
KEY_SPECS = [("RSA", size, None) for size in RSA_SIZES] + [("EC", None, curve) for curve in EC_CURVES]
# Which JWT algorithms each key type signs.
ALGORITHMS_FOR = {
    ("RSA", 2048, None): ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    ("RSA", 3072, None): ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    ("RSA", 4096, None): ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    ("EC", None, "P-256"): ("ES256",),
    ("EC", None, "P-384"): ("ES384",),
    ("EC", None, "P-521"): ("ES512",),
}


def spec_id(spec: t.Tuple[str, t.Optional[int], t.Optional[str]]) -> str:
    """A readable test id for a key spec: RSA-2048, EC-P-256."""
    return "%s-%s" % (spec[0], spec[1] or spec[2])


def softhsm_module() -> str:
    """The SoftHSM2 PKCS#11 module, installing SoftHSM2 first where it is missing (the project's own script)."""
    result = subprocess.run([str(COLLECTION_ROOT / "hack" / "install-softhsm.sh")], check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


class SoftHsm:
    """A SoftHSM2 configuration of its own: token directory, softhsm2.conf, initialised tokens."""

    def __init__(self, root: Path, module: str) -> None:
        self.root = root
        self.module = module
        self.tokens = root / "tokens"
        self.conf = root / "softhsm2.conf"
        self.tokens.mkdir(parents=True, exist_ok=True)
        self.conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
                             % self.tokens, encoding="utf-8")
        os.environ["SOFTHSM2_CONF"] = str(self.conf)

    def init_token(self, label: str, pin: str = USER_PIN, so_pin: str = SO_PIN) -> str:
        """Initialise a token in a free slot and return its serial."""
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
                       check=True, capture_output=True, env=dict(os.environ, SOFTHSM2_CONF=str(self.conf)))
        shown = subprocess.run(["softhsm2-util", "--show-slots"], check=True, capture_output=True, text=True,
                               env=dict(os.environ, SOFTHSM2_CONF=str(self.conf))).stdout
        return _serial_of(shown, label)


def _serial_of(show_slots: str, label: str) -> str:
    """The serial number softhsm2-util --show-slots prints for the token labelled ``label``."""
    serial = None
    for line in show_slots.splitlines():
        key, _sep, value = line.strip().partition(":")
        if key.strip() == "Serial number":
            serial = value.strip()
        if key.strip() == "Label" and value.strip() == label:
            return t.cast(str, serial)
    raise AssertionError("token %s not in softhsm2-util --show-slots" % label)


@pytest.fixture(scope="session")
def softhsm() -> t.Iterator[SoftHsm]:
    """SoftHSM2 with two tokens: TOKEN_LABEL (the tests' keys) and OTHER_TOKEN_LABEL (token selection)."""
    configured = os.environ.get("IZUMA_SOFTHSM_DIR")
    root = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="izuma-softhsm-"))
    hsm = SoftHsm(root, softhsm_module())
    hsm.serial = hsm.init_token(TOKEN_LABEL)  # type: ignore[attr-defined]
    hsm.other_serial = hsm.init_token(OTHER_TOKEN_LABEL)  # type: ignore[attr-defined]
    yield hsm
    if not configured:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def token(softhsm: SoftHsm) -> t.Any:
    """The process's logged-in session on the tests' token."""
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11  # pylint: disable=import-outside-toplevel
    return _pkcs11.open_session(softhsm.module, _pkcs11.token_ref(TOKEN_LABEL), USER_PIN)


def run_python(code: str, softhsm: SoftHsm) -> str:
    """Run ``code`` in a new Python process (same interpreter, paths and SoftHSM) and return its stdout."""
    env = dict(os.environ, SOFTHSM2_CONF=str(softhsm.conf), IZUMA_TEST_MODULE=softhsm.module, IZUMA_TEST_PIN=USER_PIN)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def pairs(softhsm: SoftHsm) -> t.Dict[t.Tuple[str, t.Optional[int], t.Optional[str]], t.Any]:
    """One key pair per key spec, generated in the token once per test session (RSA 4096 takes seconds)."""
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys  # pylint: disable=import-outside-toplevel
    session = _pkcs11.open_session(softhsm.module, _pkcs11.token_ref(TOKEN_LABEL), USER_PIN)
    return {spec: _pkcs11_keys.generate_key_pair(session, _pkcs11_keys.key_label("spec-" + spec_id(spec)), *spec)
            for spec in KEY_SPECS}


def pytest_collection_modifyitems(items: t.List[t.Any]) -> None:
    """Run test_leftovers.py last: it checks what the whole run left on disk."""
    items.sort(key=lambda item: item.fspath.basename == "test_leftovers.py")
