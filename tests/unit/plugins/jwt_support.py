# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the unit tests of izuma_jwt (action plugin, module, lookup) and the JWT filters.

Keys are generated once per test process (RSA generation is the slow part).
``run_module`` runs the izuma_jwt module in this process, as the action plugin
would on a host; ``make_lookup`` loads the lookup through Ansible's plugin loader.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import typing as t

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible.module_utils.testing import patch_module_args
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader

from ansible_collections.izuma.device_management.plugins.modules import izuma_jwt as jwt_module

# Which key signs with which algorithm.
ALGORITHM_KEYS = {
    "RS256": "rsa", "RS384": "rsa", "RS512": "rsa", "PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
    "ES256": "P-256", "ES384": "P-384", "ES512": "P-521",
}
LOOKUP_NAME = "izuma.device_management.izuma_jwt"
PASSPHRASE = "correct horse battery staple 42"


@functools.lru_cache(maxsize=None)
def private_key(kind: str) -> t.Any:
    """A private key of ``kind``: rsa, rsa-other, rsa1024, P-256, P-256-other, P-384 or P-521 (made once per process)."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=1024 if kind == "rsa1024" else 2048)
    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
    return ec.generate_private_key(curves[kind.replace("-other", "")]())


def pem(key: t.Any, passphrase: t.Optional[str] = None) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted when a passphrase is given."""
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_key(path: t.Any, key: t.Any, passphrase: t.Optional[str] = None) -> str:
    """Write ``key`` to ``path`` (a new file, so a new inode) and return the path as a string."""
    data = pem(key, passphrase)
    target = str(path)
    tmp = target + ".new"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)
    return target


def pem_fragments(data: t.Union[str, bytes]) -> t.List[str]:
    """16-character pieces of a PEM body, to show that a text quotes none of it."""
    text = data.decode("ascii") if isinstance(data, bytes) else data
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    return [body[index:index + 16] for index in range(0, max(len(body) - 16, 1), 16)]


def assert_no_secret(text: t.Any, *secrets: t.Union[str, bytes, None]) -> None:
    """Assert that ``text`` (any JSON-able value) holds no JWT and none of ``secrets`` (PEM keys piece by piece)."""
    dumped = text if isinstance(text, str) else json.dumps(text, default=str)
    assert not re.search(r"eyJ[A-Za-z0-9_-]{8,}\.", dumped), dumped
    for secret in secrets:
        if not secret:
            continue
        value = secret.decode("latin-1") if isinstance(secret, bytes) else secret
        if "-----BEGIN" in value:
            for fragment in pem_fragments(value):
                assert fragment not in dumped, dumped
        else:
            assert value not in dumped, dumped


def run_module(args: t.Dict[str, t.Any], check_mode: bool = False, diff: bool = False) -> t.Dict[str, t.Any]:
    """Run the izuma_jwt module with ``args`` in this process and return its JSON result."""
    full = dict(args)
    full.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    stdout = io.StringIO()
    with patch_module_args(full), contextlib.redirect_stdout(stdout):
        try:
            jwt_module.main()
        except SystemExit:
            pass
    return json.loads(stdout.getvalue())


def make_lookup(basedir: t.Optional[str] = None) -> t.Any:
    """A ready izuma_jwt LookupModule, loaded by Ansible's plugin loader, whose relative paths resolve against ``basedir``.

    The loader reads the lookup's options from its documentation and doc fragments, as ansible-playbook does
    (tests/unit/conftest.py installs Ansible's collection loader).
    """
    loader = DataLoader()
    if basedir:
        loader.set_basedir(basedir)
    lookup = lookup_loader.get(LOOKUP_NAME, loader=loader, templar=None)
    if lookup is None:
        raise RuntimeError("Ansible's plugin loader did not find %s" % LOOKUP_NAME)
    return lookup
