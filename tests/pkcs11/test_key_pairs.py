# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key pairs generated inside SoftHSM2: attributes, description, lookup, relabelling, destruction."""

from __future__ import annotations

import textwrap

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import IzumaPkcs11Error

from conftest import KEY_SPECS, TOKEN_LABEL, run_python, spec_id


@pytest.mark.parametrize("spec", KEY_SPECS, ids=spec_id)
def test_private_key_is_sensitive_non_extractable_and_signs_only(pairs, spec) -> None:
    private = pairs[spec].private
    attributes = private.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ALWAYS_SENSITIVE,
                                         Attribute.NEVER_EXTRACTABLE, Attribute.TOKEN, Attribute.PRIVATE, Attribute.SIGN,
                                         Attribute.DECRYPT, Attribute.UNWRAP, Attribute.DERIVE])
    assert attributes == {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.ALWAYS_SENSITIVE: True,
                          Attribute.NEVER_EXTRACTABLE: True, Attribute.TOKEN: True, Attribute.PRIVATE: True,
                          Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False, Attribute.DERIVE: False}
    secret = Attribute.PRIVATE_EXPONENT if spec[0] == "RSA" else Attribute.VALUE
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        private[secret]  # pylint: disable=pointless-statement
    with pytest.raises(IzumaPkcs11Error, match="cannot be exported"):
        _pkcs11_signing.private_key(pairs[spec]).private_bytes()


@pytest.mark.parametrize("spec", KEY_SPECS, ids=spec_id)
def test_description_and_public_key(pairs, spec) -> None:
    pair = pairs[spec]
    desc = pair.describe()
    assert (desc["algorithm"], desc["key_size"] if spec[0] == "RSA" else desc["curve"]) == (spec[0], spec[1] or spec[2])
    assert desc["label"] == _pkcs11_keys.key_label("spec-" + spec_id(spec)) and desc["token"] == TOKEN_LABEL
    assert (desc["sensitive"], desc["extractable"], desc["never_extractable"]) == (True, False, True)
    assert len(desc["id"]) == 32 and bytes(pair.public.id) == pair.key_id
    # The public key is a cryptography object: _keys' fingerprint and rules apply to it as to a file key.
    assert desc["public_key_fingerprint"] == _keys.public_key_fingerprint(pair.public_key())
    assert _keys.key_problems(pair.public_key()) == []
    if spec[0] == "RSA":
        assert pair.public_key().public_numbers().e == 65537


def test_find_generate_refuses_duplicates_relabel_destroy(token) -> None:
    current, previous = _pkcs11_keys.key_label("lifecycle"), _pkcs11_keys.key_label("lifecycle", "previous")
    for label in (current, previous):
        _pkcs11_keys.destroy_key_pair(token, label)
    assert _pkcs11_keys.find_key_pair(token, current) is None
    pair = _pkcs11_keys.generate_key_pair(token, current, "EC", curve="p-384")
    fingerprint = pair.describe()["public_key_fingerprint"]
    count = len(list(token.session.get_objects()))
    with pytest.raises(IzumaPkcs11Error, match="already holds a key labelled 'izuma:lifecycle:current'"):
        _pkcs11_keys.generate_key_pair(token, current, "EC", curve="P-384")
    assert len(list(token.session.get_objects())) == count
    assert _pkcs11_keys.find_key_pair(token, current).describe()["public_key_fingerprint"] == fingerprint
    _pkcs11_keys.relabel_key_pair(pair, previous)
    assert _pkcs11_keys.find_key_pair(token, current) is None
    assert _pkcs11_keys.find_key_pair(token, previous).describe()["public_key_fingerprint"] == fingerprint
    assert [generation for generation in _pkcs11_keys.GENERATIONS
            if _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label("lifecycle", generation))] == ["previous"]
    assert _pkcs11_keys.destroy_key_pair(token, previous) is True
    assert _pkcs11_keys.destroy_key_pair(token, previous) is False
    assert len(list(token.session.get_objects())) == count - 2


def test_a_half_done_relabel_still_finds_the_whole_pair(token) -> None:
    # A run killed between the two label writes: the private key has the new label, the public key the old one.
    old, new = _pkcs11_keys.key_label("half", "next"), _pkcs11_keys.key_label("half")
    for label in (old, new):
        _pkcs11_keys.destroy_key_pair(token, label)
    pair = _pkcs11_keys.generate_key_pair(token, old, "EC")
    pair.private[Attribute.LABEL] = new
    found = _pkcs11_keys.find_key_pair(token, new)
    assert found is not None and found.public_key().public_numbers() == pair.public_key().public_numbers()
    _pkcs11_keys.relabel_key_pair(found, new)
    assert [str(obj.label) for obj in token.session.get_objects({Attribute.ID: pair.key_id})] == [new, new]
    assert _pkcs11_keys.destroy_key_pair(token, new) is True
    assert list(token.session.get_objects({Attribute.ID: pair.key_id})) == []


def test_relabel_onto_another_key_is_refused(token) -> None:
    first, second = _pkcs11_keys.key_label("clash"), _pkcs11_keys.key_label("clash", "next")
    for label in (first, second):
        _pkcs11_keys.destroy_key_pair(token, label)
    pair = _pkcs11_keys.generate_key_pair(token, first, "EC")
    _pkcs11_keys.generate_key_pair(token, second, "EC")
    with pytest.raises(IzumaPkcs11Error, match="another key labelled 'izuma:clash:next'"):
        _pkcs11_keys.relabel_key_pair(pair, second)
    assert _pkcs11_keys.find_key_pair(token, first) is not None
    for label in (first, second):
        assert _pkcs11_keys.destroy_key_pair(token, label)


@pytest.mark.parametrize("key_type, size, curve, fragment", [
    ("RSA", 1024, None, "RSA key size 1024 is not supported"),
    ("EC", None, "secp256k1", "EC curve 'secp256k1' is not supported"),
    ("DSA", None, None, "key type 'DSA' is not supported"),
])
def test_unsupported_key_specs_are_refused_before_the_token(token, key_type, size, curve, fragment) -> None:
    count = len(list(token.session.get_objects()))
    with pytest.raises(IzumaPkcs11Error, match=fragment):
        _pkcs11_keys.generate_key_pair(token, _pkcs11_keys.key_label("refused"), key_type, size, curve)
    assert len(list(token.session.get_objects())) == count


def test_duplicate_private_labels_are_reported(token) -> None:
    label = _pkcs11_keys.key_label("twice")
    _pkcs11_keys.destroy_key_pair(token, label)
    _pkcs11_keys.generate_key_pair(token, label, "EC")
    other = _pkcs11_keys.generate_key_pair(token, _pkcs11_keys.key_label("twice", "next"), "EC")
    other.private[Attribute.LABEL] = label  # changed by hand, outside the collection
    with pytest.raises(IzumaPkcs11Error, match="2 private keys labelled 'izuma:twice:current'"):
        _pkcs11_keys.find_key_pair(token, label)
    assert _pkcs11_keys.destroy_key_pair(token, label) is True
    assert not list(token.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
    _pkcs11_keys.destroy_key_pair(token, _pkcs11_keys.key_label("twice", "next"))


def test_keys_are_token_objects_that_another_process_finds(pairs, softhsm) -> None:
    spec = ("EC", None, "P-256")
    code = textwrap.dedent("""
        import os
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        session = _pkcs11.open_session(os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(%r), os.environ["IZUMA_TEST_PIN"])
        print(_pkcs11_keys.find_key_pair(session, %r).describe()["public_key_fingerprint"])
    """ % (TOKEN_LABEL, pairs[spec].label))
    assert run_python(code, softhsm).strip() == pairs[spec].describe()["public_key_fingerprint"]


def test_cached_pairs_are_reused_and_dropped_when_the_key_goes(token) -> None:
    label = _pkcs11_keys.key_label("cached")
    _pkcs11_keys.destroy_key_pair(token, label)
    assert _pkcs11_keys.cached_key_pair(token, label) is None
    pair = _pkcs11_keys.generate_key_pair(token, label, "EC")
    cached = _pkcs11_keys.cached_key_pair(token, label)
    assert cached is _pkcs11_keys.cached_key_pair(token, label)
    assert cached.describe()["public_key_fingerprint"] == pair.describe()["public_key_fingerprint"]
    # Destroyed behind the cache's back (as another process would): the next signature says so, and the cache forgets.
    for obj in list(token.session.get_objects({Attribute.ID: pair.key_id})):
        obj.destroy()
    with pytest.raises(IzumaPkcs11Error, match="'izuma:cached:current' is no longer in PKCS#11 token 'izuma-test'"):
        _pkcs11_signing.private_key(cached).sign_jws(b"signing input", "ES256")
    assert _pkcs11_keys.cached_key_pair(token, label) is None
