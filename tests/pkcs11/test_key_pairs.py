# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key pairs generated inside the token: attributes, description, lookup, relabelling, destruction; what a token cannot make."""

from __future__ import annotations

import re
import textwrap

import pkcs11
import pytest
from pkcs11 import Attribute, Mechanism, ObjectClass

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import IzumaPkcs11Error

import implementations
from conftest import run_python, spec_label


def test_private_key_is_sensitive_non_extractable_and_signs(hsm, pairs, spec) -> None:
    private = pairs[spec].private
    attributes = private.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ALWAYS_SENSITIVE,
                                         Attribute.NEVER_EXTRACTABLE, Attribute.TOKEN, Attribute.PRIVATE, Attribute.SIGN])
    assert attributes == {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.ALWAYS_SENSITIVE: True,
                          Attribute.NEVER_EXTRACTABLE: True, Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SIGN: True}
    # SoftHSM2 makes the key sign-only as asked; tpm2-pkcs11 makes every key sign and decrypt (never unwrap or derive).
    if hsm.profile.sign_only is not None:
        assert private.get_attributes([Attribute.DECRYPT, Attribute.UNWRAP, Attribute.DERIVE]) == {
            Attribute.DECRYPT: not hsm.profile.sign_only, Attribute.UNWRAP: False, Attribute.DERIVE: False}
    secret = Attribute.PRIVATE_EXPONENT if spec[0] == "RSA" else Attribute.VALUE
    # SoftHSM2 says the value is sensitive; tpm2-pkcs11 that the key has no such attribute (it holds a TPM-wrapped blob).
    with pytest.raises((pkcs11.exceptions.AttributeSensitive, pkcs11.exceptions.AttributeTypeInvalid)):
        private[secret]  # pylint: disable=pointless-statement
    with pytest.raises(IzumaPkcs11Error, match="cannot be exported"):
        _pkcs11_signing.private_key(pairs[spec]).private_bytes()


def test_description_and_public_key(hsm, pairs, spec) -> None:
    pair = pairs[spec]
    desc = pair.describe()
    assert (desc["algorithm"], desc["key_size"] if spec[0] == "RSA" else desc["curve"]) == (spec[0], spec[1] or spec[2])
    assert desc["label"] == spec_label(spec) and desc["token"] == hsm.label
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
    pair = _pkcs11_keys.generate_key_pair(token, current, "EC", curve="p-256")
    fingerprint = pair.describe()["public_key_fingerprint"]
    count = len(list(token.session.get_objects()))
    with pytest.raises(IzumaPkcs11Error, match="already holds a key labelled 'izuma:lifecycle:current'"):
        _pkcs11_keys.generate_key_pair(token, current, "EC", curve="P-256")
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


def test_keys_are_token_objects_that_another_process_finds(pairs, hsm) -> None:
    spec = ("EC", None, "P-256")
    code = textwrap.dedent("""
        import os
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        session = _pkcs11.open_session(os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(os.environ["IZUMA_TEST_TOKEN"]),
                                       os.environ["IZUMA_TEST_PIN"])
        print(_pkcs11_keys.find_key_pair(session, %r).describe()["public_key_fingerprint"])
    """ % pairs[spec].label)
    assert run_python(code, hsm).strip() == pairs[spec].describe()["public_key_fingerprint"]


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
    with pytest.raises(IzumaPkcs11Error, match="'izuma:cached:current' is no longer in PKCS#11 token '%s'" % re.escape(token.token_label)):
        _pkcs11_signing.private_key(cached).sign_jws(b"signing input", "ES256")
    assert _pkcs11_keys.cached_key_pair(token, label) is None


def test_a_key_spec_the_token_cannot_make_is_refused_clearly(token, refused_spec) -> None:
    # What the token lacks (swtpm: RSA above 3072 bits; tpm2-pkcs11 1.9.0: a usable P-521 key) is refused with a
    # message that names the key spec, and leaves no object behind.
    (key_type, size, curve), _why = refused_spec
    label = _pkcs11_keys.key_label("refused-%s" % (size or curve))
    _pkcs11_keys.destroy_key_pair(token, label)
    count = len(list(token.session.get_objects()))
    with pytest.raises(IzumaPkcs11Error, match="%s %s" % (key_type, size or curve)) as caught:
        _pkcs11_keys.generate_key_pair(token, label, key_type, size, curve)
    assert "Traceback" not in caught.value.message
    assert len(list(token.session.get_objects())) == count and _pkcs11_keys.find_key_pair(token, label) is None


def test_the_profile_is_what_the_token_lists(hsm, token) -> None:
    # The expectations the tests take from implementations.PROFILES hold for the token: a newer release that lists
    # RSA-PSS, or makes larger RSA keys, shows up here rather than as a test that checks less than it could.
    slot = token.token.slot
    mechanisms = {int(mechanism) for mechanism in slot.get_mechanisms()}
    for algorithm in ("RS256", "RS384", "RS512", "ES256"):
        assert implementations.signs_with(mechanisms, algorithm), algorithm
    for algorithm in ("PS256", "PS384", "PS512"):
        assert implementations.signs_with(mechanisms, algorithm) == hsm.profile.pss_listed, algorithm
    largest = slot.get_mechanism_info(Mechanism.RSA_PKCS_KEY_PAIR_GEN).max_key_length
    assert all(spec[1] <= largest for spec in hsm.profile.key_specs if spec[0] == "RSA"), largest
    assert all(spec[1] > largest for spec, _why in hsm.profile.refused_specs if spec[0] == "RSA"), largest
