# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key source seam: a PKCS#11 key reached through _key_source.load_signing_key like a PEM file."""

from __future__ import annotations

import jwt
import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source as _key_source
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import Pkcs11KeySource, pkcs11_source

from conftest import spec_id, spec_label


def _source(hsm, spec, **changes):
    values = dict(library=hsm.module, label=spec_label(spec), token=hsm.label, pin=hsm.pin)
    values.update(changes)
    return Pkcs11KeySource(**values)


@pytest.mark.parametrize("spec", [("RSA", 2048, None), ("EC", None, "P-256")], ids=spec_id)
def test_load_signing_key_gives_a_key_that_signs_in_the_token(hsm, pairs, spec) -> None:
    key = _key_source.load_signing_key(pkcs11=_source(hsm, spec))
    token = _tokens.sign_token(key, lifetime=300, subject="seam")
    claims = jwt.decode(token, pairs[spec].public_key(), algorithms=[_tokens.default_algorithm(key)])
    assert claims["sub"] == "seam"


def test_one_login_per_process_across_calls(hsm, pairs) -> None:
    spec = ("EC", None, "P-256")
    _key_source.load_signing_key(pkcs11=_source(hsm, spec))
    logins = _pkcs11.STATS["logins"]
    for _round in range(5):
        _tokens.sign_token(_key_source.load_signing_key(pkcs11=_source(hsm, spec)), lifetime=300)
    assert _pkcs11.STATS["logins"] == logins


def test_missing_key_label_names_the_option(hsm, pairs) -> None:
    with pytest.raises(IzumaKeyError, match="no private key labelled 'izuma:nope:current'.*pkcs11_key_label"):
        _key_source.load_signing_key(pkcs11=_source(hsm, ("EC", None, "P-256"), label="izuma:nope:current"))


def test_a_file_and_a_pkcs11_key_together_are_refused(hsm, tmp_path) -> None:
    with pytest.raises(IzumaTokenError, match="private_key_path and pkcs11_key_label were given, not both"):
        _key_source.load_signing_key(str(tmp_path / "key.pem"), pkcs11=_source(hsm, ("EC", None, "P-256")))


def test_pkcs11_source_takes_the_environment_fallbacks_and_names_what_is_missing() -> None:
    environ = {"IZUMA_PKCS11_LIBRARY": "/lib/p11.so", "IZUMA_PKCS11_TOKEN": "t1", "IZUMA_PKCS11_PIN": "1234"}
    source = pkcs11_source({"pkcs11_key_label": "izuma:k:current"}, environ=environ)
    assert (source.library, source.token, source.pin, source.label) == ("/lib/p11.so", "t1", "1234", "izuma:k:current")
    assert "1234" not in repr(source) and "1234" not in source.describe()
    assert pkcs11_source({"pkcs11_key_label": None}, environ=environ) is None
    with pytest.raises(IzumaKeyError, match="auth_pkcs11_library or the IZUMA_PKCS11_LIBRARY"):
        pkcs11_source({"auth_pkcs11_key_label": "x"}, prefix="auth_", environ={})
    with pytest.raises(IzumaKeyError, match="pkcs11_token given without pkcs11_key_label"):
        pkcs11_source({"pkcs11_token": "t1", "pkcs11_key_label": None}, environ={})


def test_the_same_pair_gives_the_same_key_object(hsm, pairs) -> None:
    # The lookup's token cache knows a key by its object: a new object per call would make it work out the key's
    # fingerprint again on every call.
    spec = ("EC", None, "P-256")
    first = _key_source.load_signing_key(pkcs11=_source(hsm, spec))
    assert _key_source.load_signing_key(pkcs11=_source(hsm, spec)) is first
    assert _key_source.load_signing_key(pkcs11=_source(hsm, ("RSA", 2048, None))) is not first
