# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After every other PKCS#11 test (conftest orders this file last): no private key material on disk."""

from __future__ import annotations

import os
import re
import tempfile
import typing as t
from pathlib import Path

PRIVATE_KEY_BLOCK = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def files_with_private_keys(roots: t.Iterable[Path]) -> t.List[str]:
    """Every file under ``roots`` that holds a PEM private key block (PRIVATE KEY, RSA/EC/ENCRYPTED PRIVATE KEY)."""
    found = []
    for root in roots:
        for directory, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                try:
                    with open(path, "rb") as stream:
                        if PRIVATE_KEY_BLOCK.search(stream.read()):
                            found.append(path)
                except OSError:
                    continue
    return found


def test_the_scanner_finds_a_pem_private_key_block(tmp_path) -> None:
    sample = tmp_path / "sample.pem"
    sample.write_bytes(b"-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n")
    try:
        assert files_with_private_keys([tmp_path]) == [str(sample)]
    finally:
        sample.unlink()
    assert files_with_private_keys([tmp_path]) == []


def test_no_private_key_material_in_any_file_the_run_leaves(hsm, pairs, tmp_path_factory) -> None:
    # Run at the end of each implementation's tests: its token files (SoftHSM2's token directory; tpm2-pkcs11's
    # store and the TPM's state), the run's temporary files.
    roots = [tmp_path_factory.getbasetemp()] + ([hsm.root] if hsm.root is not None else [])
    if os.environ.get("IZUMA_PKCS11_DIR"):
        # make pkcs11-test gives the run a temporary directory of its own (TMPDIR), so all of it is this run's.
        roots.append(Path(tempfile.gettempdir()))
    assert pairs and hsm.holds_data()
    assert files_with_private_keys(roots) == []
