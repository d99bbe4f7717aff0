# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CKM_RSA_PKCS fallback of RS256/384/512: DigestInfo || hash, signed with raw RSA, is cryptography's PKCS#1 v1.5.

A token with CKM_RSA_PKCS but without CKM_SHA256_RSA_PKCS gets ``signing.digest_info(...)`` and pads and exponentiates
it itself (PKCS#1 v1.5 block type 1). Here the token's part is done with the key's own private numbers, so the result
must be byte for byte what cryptography signs with PKCS1v15 and the same hash (the signature is deterministic).
"""

from __future__ import annotations

import typing as t

import pytest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MESSAGE = b'{"alg":"RS256","typ":"JWT"}.{"sub":"device-7"}'


def raw_rsa_pkcs(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """What a token's CKM_RSA_PKCS does with ``block`` for C_Sign: EMSA-PKCS1-v1_5 padding (type 1), then m^d mod n."""
    size = (key.key_size + 7) // 8
    padded = b"\x00\x01" + b"\xff" * (size - len(block) - 3) + b"\x00" + block
    numbers = key.private_numbers()
    return pow(int.from_bytes(padded, "big"), numbers.d, numbers.public_numbers.n).to_bytes(size, "big")


@pytest.mark.parametrize("bits", ["256", "384", "512"])
@pytest.mark.parametrize("key_name", ["rsa2048", "rsa4096"])
def test_digest_info_signed_raw_is_cryptographys_pkcs1v15_signature(bits: str, key_name: str, request: t.Any) -> None:
    key = request.getfixturevalue(key_name)
    fallback = raw_rsa_pkcs(key, signing.digest_info(bits, MESSAGE))
    assert fallback == key.sign(MESSAGE, padding.PKCS1v15(), HASHES[bits]())
    key.public_key().verify(fallback, MESSAGE, padding.PKCS1v15(), HASHES[bits]())


def test_digest_info_is_the_der_prefix_and_the_hash() -> None:
    block = signing.digest_info("256", b"abc")
    # SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.2.1, NULL }, OCTET STRING (32 bytes) }
    assert block[:19] == bytes.fromhex("3031300d060960864801650304020105000420")
    assert block[19:].hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert [len(signing.digest_info(bits, b"")) for bits in ("256", "384", "512")] == [51, 67, 83]
