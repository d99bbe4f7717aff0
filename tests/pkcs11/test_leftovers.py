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


def test_no_private_key_material_in_any_file_the_run_leaves(softhsm, pairs, tmp_path_factory) -> None:
    roots = [softhsm.root, tmp_path_factory.getbasetemp()]
    if os.environ.get("IZUMA_SOFTHSM_DIR"):
        # make pkcs11-test gives the run a temporary directory of its own (TMPDIR), so all of it is this run's.
        roots.append(Path(tempfile.gettempdir()))
    assert pairs and (softhsm.tokens / os.listdir(softhsm.tokens)[0]).is_dir()
    assert files_with_private_keys(roots) == []
