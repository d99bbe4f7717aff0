# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A public key the token gives in a form that is not a valid key: a clear error, and a generated pair destroyed.

tpm2-pkcs11 1.9.0 does this with every EC P-521 key (its CKA_EC_POINT is not valid DER): tests/pkcs11 asks it for
one (test_key_pairs.py, refused_spec). Here with stand-ins for python-pkcs11, which the unit environments lack.
"""

from __future__ import annotations

import types
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import generation, key_pairs, session
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.errors import IzumaPkcs11Error

KeyType = types.SimpleNamespace(RSA="rsa", EC="ec")
ObjectClass = types.SimpleNamespace(PRIVATE_KEY="private", PUBLIC_KEY="public")


def malformed(_public: t.Any) -> bytes:
    raise ValueError("Insufficient data - 17183381693 bytes requested but only 128 available")  # asn1crypto's words


@pytest.fixture()
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_pairs, "KeyType", KeyType, raising=False)
    monkeypatch.setattr(key_pairs, "ObjectClass", ObjectClass, raising=False)
    monkeypatch.setattr(key_pairs, "pkcs11_ec", types.SimpleNamespace(encode_ec_public_key=malformed), raising=False)


def public_object(label: str = "izuma:k:next") -> t.Any:
    return types.SimpleNamespace(key_type=KeyType.EC, label=label, id=b"\x01" * 16)


def test_an_ec_point_that_is_not_valid_der_is_named_not_a_value_error(stand_ins: None) -> None:
    with pytest.raises(IzumaPkcs11Error) as caught:
        key_pairs.public_key_of(public_object())
    assert caught.value.message == ("the public key of the PKCS#11 key 'izuma:k:next' cannot be read: the token gives an EC point "
                                    "(CKA_EC_POINT) that is not a valid key (ValueError)")


def test_a_generated_pair_whose_public_key_cannot_be_read_is_destroyed_and_refused(stand_ins: None,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token = session.Pkcs11Session("/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so", session.token_ref("izuma-tpm"),
                                  types.SimpleNamespace(label="izuma-tpm"), None, "digest",
                                  library="/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so")
    private = types.SimpleNamespace(label="izuma:k:next", id=b"\x01" * 16)
    destroyed = []  # type: t.List[str]
    monkeypatch.setattr(key_pairs, "_objects", lambda *_args, **_kwargs: [])
    monkeypatch.setattr(generation, "generate", lambda *_args: (public_object(), private, "token-default"))
    monkeypatch.setattr(key_pairs, "destroy_key_pair", lambda _session, label: destroyed.append(label) or True)
    with pytest.raises(IzumaPkcs11Error) as caught:
        key_pairs.generate_key_pair(token, "izuma:k:next", "EC", curve="P-521")
    assert caught.value.message == (
        "PKCS#11 token 'izuma-tpm' (library libtpm2_pkcs11.so) generated an EC P-521 key pair it cannot use (the public key of "
        "the PKCS#11 key 'izuma:k:next' cannot be read: the token gives an EC point (CKA_EC_POINT) that is not a valid key "
        "(ValueError)); the pair was destroyed: choose another curve (P-256 or P-384)")
    assert destroyed == ["izuma:k:next"]
