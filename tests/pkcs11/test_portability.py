# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Portability: signing fallbacks and refusals that name the mechanism, on real tokens with fewer mechanisms.

Each restricted token is a SoftHSM2 of its own (implementations.restricted_softhsm2, its own directory) whose
softhsm2.conf allows only the mechanisms listed in ``slots.mechanisms`` (SoftHSM2 2.6 ignores a ``-CKM_...``
deny-list for CKM_SHA256_RSA_PKCS; an allow-list without it works). SoftHSM2 reads its configuration once per
process, so the restricted tokens are used in processes of their own (``run_python``); their one initialised token
sits beside SoftHSM2's free, uninitialised slot and is found without a token label. These tests are SoftHSM2's only
(``hsm_where(name="softhsm2")``): no other implementation here can take mechanisms away. The rest runs on every
implementation: tpm2-pkcs11 is itself a token without RSA-PSS (test_pkcs11_signing.py asks it for every PS algorithm).
"""

from __future__ import annotations

import json
import os
import textwrap
import typing as t
from pathlib import Path

import jwt
import pytest
from jwt.utils import base64url_decode
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import pkcs11
from pkcs11 import Attribute, KeyType, MechanismFlag

from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import converge as vk
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import IzumaPkcs11Error

import implementations
from conftest import run_python

DIGESTS = "CKM_SHA256,CKM_SHA384,CKM_SHA512"
# RSA through the raw mechanisms only (no CKM_SHA*_RSA_PKCS, no CKM_SHA*_RSA_PKCS_PSS), EC as usual.
RAW_RSA = "CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_RSA_PKCS,CKM_RSA_PKCS_PSS,CKM_EC_KEY_PAIR_GEN,CKM_ECDSA," + DIGESTS
# Everything a verification key needs except EC key generation.
NO_EC_GENERATION = "CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_RSA_PKCS,CKM_SHA256_RSA_PKCS,CKM_SHA256_RSA_PKCS_PSS,CKM_ECDSA," + DIGESTS
# Neither a hashing nor a raw RSA-PSS mechanism.
NO_PSS = "CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_RSA_PKCS,CKM_SHA256_RSA_PKCS," + DIGESTS


RESTRICTED = "izuma-restricted"


@pytest.fixture(scope="module")
def raw_rsa(hsm: implementations.Running, tmp_path_factory: t.Any) -> implementations.Running:
    return implementations.restricted_softhsm2(tmp_path_factory.mktemp("softhsm-raw-rsa"), hsm.module, RAW_RSA, RESTRICTED)


@pytest.fixture(scope="module")
def no_ec(hsm: implementations.Running, tmp_path_factory: t.Any) -> implementations.Running:
    return implementations.restricted_softhsm2(tmp_path_factory.mktemp("softhsm-no-ec"), hsm.module, NO_EC_GENERATION, RESTRICTED)


@pytest.fixture(scope="module")
def no_pss(hsm: implementations.Running, tmp_path_factory: t.Any) -> implementations.Running:
    return implementations.restricted_softhsm2(tmp_path_factory.mktemp("softhsm-no-pss"), hsm.module, NO_PSS, RESTRICTED)


# The code run in the restricted token's own process: no token label (the one initialised token), the key source path
# that izuma_jwt, the lookup and the API client use, and a certificate issued with the token key. Prints JSON.
SIGN_IN_RESTRICTED_TOKEN = textwrap.dedent("""
    import json, os
    import pkcs11
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import Pkcs11KeySource
    from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source as _key_source
    from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as _issuing
    module, pin, spec, algorithms = os.environ["IZUMA_TEST_MODULE"], os.environ["IZUMA_TEST_PIN"], %r, %r
    session = _pkcs11.open_session(module, _pkcs11.token_ref(), pin)
    label = _pkcs11_keys.key_label("portable")
    pair = _pkcs11_keys.generate_key_pair(session, label, *spec)
    key = _key_source.load_signing_key(pkcs11=Pkcs11KeySource(library=module, label=label, pin=pin))
    out = {"token": session.token_label, "describe": pair.describe(), "tokens": {}, "mechanisms": {},
           "certificate": _certificates.dump_certificate(_issuing.create_certificate(key, "izuma-portable", 30))}
    for algorithm in algorithms:
        out["tokens"][algorithm] = _tokens.sign_token(key, algorithm, lifetime=600, subject="portable-" + algorithm)
        out["mechanisms"][algorithm] = session.signers[algorithm].name
    # The token really refuses the hashing mechanisms it does not allow (so the fallback above was needed).
    out["refused"] = {}
    for name in ("SHA256_RSA_PKCS", "SHA256_RSA_PKCS_PSS"):
        try:
            parameter = (pkcs11.Mechanism.SHA256, pkcs11.MGF.SHA256, 32) if name.endswith("PSS") else None
            pair.private.sign(b"x", mechanism=getattr(pkcs11.Mechanism, name), mechanism_param=parameter)
            out["refused"][name] = None
        except pkcs11.PKCS11Error as exc:
            out["refused"][name] = type(exc).__name__
    print(json.dumps(out))
""")


def _public_key(result: t.Dict[str, t.Any]) -> t.Any:
    return x509.load_pem_x509_certificate(result["certificate"].encode("ascii")).public_key()


@pytest.mark.hsm_where(name="softhsm2")
def test_rs256_and_ps256_fall_back_to_the_raw_rsa_mechanisms_and_verify(raw_rsa: implementations.Running) -> None:
    algorithms = ["RS256", "RS384", "RS512", "PS256", "PS512"]
    result = json.loads(run_python(SIGN_IN_RESTRICTED_TOKEN % (("RSA", 2048, None), algorithms), raw_rsa))
    assert result["token"] == RESTRICTED
    assert result["refused"] == {"SHA256_RSA_PKCS": "MechanismInvalid", "SHA256_RSA_PKCS_PSS": "MechanismInvalid"}
    assert result["mechanisms"] == {"RS256": "CKM_RSA_PKCS", "RS384": "CKM_RSA_PKCS", "RS512": "CKM_RSA_PKCS",
                                    "PS256": "CKM_RSA_PKCS_PSS", "PS512": "CKM_RSA_PKCS_PSS"}
    # The self-signed certificate (sha256WithRSAEncryption, signed through CKM_RSA_PKCS) verifies with cryptography.
    certificate = x509.load_pem_x509_certificate(result["certificate"].encode("ascii"))
    public_key = certificate.public_key()
    public_key.verify(certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(), certificate.signature_hash_algorithm)
    assert certificate.signature_hash_algorithm.name == "sha256"
    for algorithm, token in result["tokens"].items():
        assert jwt.decode(token, public_key, algorithms=[algorithm])["sub"] == "portable-" + algorithm
        signing_input, _dot, signature = token.rpartition(".")
        raw = base64url_decode(signature)
        digest = getattr(hashes, "SHA" + algorithm[2:])()
        if algorithm.startswith("RS"):
            public_key.verify(raw, signing_input.encode("ascii"), padding.PKCS1v15(), digest)
        else:  # MGF1 over the same hash, salt as long as the hash (RFC 7518)
            public_key.verify(raw, signing_input.encode("ascii"), padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    desc = result["describe"]
    assert (desc["template"], desc["capabilities"], desc["sensitive"], desc["extractable"]) == ("sign-only", ["sign", "verify"], True, False)


@pytest.mark.hsm_where(name="softhsm2")
def test_es256_still_signs_on_the_restricted_token(raw_rsa: implementations.Running) -> None:
    code = SIGN_IN_RESTRICTED_TOKEN.replace('label = _pkcs11_keys.key_label("portable")', 'label = _pkcs11_keys.key_label("portable-ec")')
    result = json.loads(run_python(code % (("EC", None, "P-256"), ["ES256"]), raw_rsa))
    assert result["mechanisms"] == {"ES256": "CKM_ECDSA"}
    assert jwt.decode(result["tokens"]["ES256"], _public_key(result), algorithms=["ES256"])["sub"] == "portable-ES256"


REFUSE_IN_RESTRICTED_TOKEN = textwrap.dedent("""
    import os
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
    session = _pkcs11.open_session(os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(), os.environ["IZUMA_TEST_PIN"])
    before = len(list(session.session.get_objects()))
    spec, algorithm = %r, %r
    try:
        pair = _pkcs11_keys.generate_key_pair(session, _pkcs11_keys.key_label("refused"), *spec)
        _pkcs11_signing.sign(pair, b"signing input", algorithm)
        print("ACCEPTED")
    except _pkcs11.IzumaPkcs11Error as exc:
        print("REFUSED", exc.message)
    print("LEFT", len(list(session.session.get_objects())) - before)
""")


@pytest.mark.hsm_where(name="softhsm2")
def test_an_ec_key_on_a_token_without_ec_key_generation_is_refused_naming_the_mechanism(no_ec: implementations.Running) -> None:
    lines = run_python(REFUSE_IN_RESTRICTED_TOKEN % (("EC", None, "P-256"), "ES256"), no_ec).splitlines()
    assert lines == ["REFUSED PKCS#11 token 'izuma-restricted' (library libsofthsm2.so) cannot generate EC keys: it has no "
                     "CKM_EC_KEY_PAIR_GEN; use key_type: RSA", "LEFT 0"]


@pytest.mark.hsm_where(name="softhsm2")
def test_ps256_on_a_token_without_any_pss_mechanism_is_refused_naming_both(no_pss: implementations.Running) -> None:
    lines = run_python(REFUSE_IN_RESTRICTED_TOKEN % (("RSA", 2048, None), "PS256"), no_pss).splitlines()
    assert lines[0] == ("REFUSED PKCS#11 token 'izuma-restricted' (library libsofthsm2.so) cannot sign PS256 with the key "
                        "'izuma:refused:current': it has neither CKM_SHA256_RSA_PKCS_PSS nor CKM_RSA_PKCS_PSS; use RS256 (PKCS#1 v1.5)")
    assert lines[1] == "LEFT 2"  # the key pair was made (RSA generation is allowed); only PS256 is refused


@pytest.mark.hsm_where(second_token=True)
def test_without_a_token_name_several_initialised_tokens_are_listed(hsm: implementations.Running) -> None:
    # Two initialised tokens and a free slot (SoftHSM2 and tpm2-pkcs11 alike): neither is guessed, both are named.
    with pytest.raises(IzumaPkcs11Error) as caught:
        _pkcs11.open_session(hsm.module, _pkcs11.token_ref(), hsm.pin)
    message = caught.value.message
    assert message.startswith("no PKCS#11 token is named and the library %s has %d initialised tokens ("
                              % (os.path.basename(hsm.module), len(hsm.token_labels)))
    for label, serial in ((hsm.label, hsm.serial), (hsm.other_label, hsm.other_serial)):
        assert "%r (serial %s)" % (label, serial) in message
    assert "set pkcs11_token" in message and "only" not in message


# SoftHSM2's only: tpm2-pkcs11 makes no key that may not sign (nor one that cannot be changed), and the return value
# quoted is SoftHSM2's.
@pytest.mark.hsm_where(name="softhsm2")
def test_found_pairs_report_their_capabilities_and_refusals_quote_the_return_value(hsm: implementations.Running, token: t.Any) -> None:
    label, target = _pkcs11_keys.key_label("verify-only"), _pkcs11_keys.key_label("verify-only", "previous")
    for name in (label, target):
        _pkcs11_keys.destroy_key_pair(token, name)
    # A pair made outside the collection: its private key may not sign (CKA_SIGN false), nor be changed (CKA_MODIFIABLE false).
    params = token.session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: pkcs11.util.ec.encode_named_curve_parameters(
        "secp256r1")}, local=True)
    params.generate_keypair(id=os.urandom(16), label=label, store=True, capabilities=MechanismFlag.VERIFY,
                            private_template={Attribute.SIGN: False, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                              Attribute.MODIFIABLE: False})
    pair = _pkcs11_keys.find_key_pair(token, label)
    described = pair.describe()
    assert (described["template"], described["capabilities"], described["library"]) == (None, ["verify"], "libsofthsm2.so")
    with pytest.raises(IzumaPkcs11Error, match="the key %r in PKCS#11 token %r \\(library libsofthsm2.so\\) may not sign \\(the token "
                                               "reports CKA_SIGN false\\)" % (label, hsm.label)):
        _pkcs11_signing.sign(pair, b"signing input", "ES256")
    with pytest.raises(IzumaPkcs11Error) as caught:
        _pkcs11_keys.relabel_key_pair(pair, target)
    # SoftHSM2 answers CKR_ACTION_PROHIBITED, which python-pkcs11 passes on unmapped ("Unmapped error code 0x1b").
    assert caught.value.message == ("PKCS#11 token %r (library libsofthsm2.so) refused to relabel the key %r as %r: "
                                    "CKR_ACTION_PROHIBITED (0x0000001B)" % (hsm.label, label, target))
    assert _pkcs11_keys.find_key_pair(token, label) is not None
    assert _pkcs11_keys.destroy_key_pair(token, label)


def test_a_relabel_is_read_back_in_another_session(hsm: implementations.Running, token: t.Any) -> None:
    old, new = _pkcs11_keys.key_label("readback", "next"), _pkcs11_keys.key_label("readback")
    for label in (old, new):
        _pkcs11_keys.destroy_key_pair(token, label)
    pair = _pkcs11_keys.generate_key_pair(token, old, "EC")
    if hsm.profile.template is not None:
        assert pair.describe()["template"] == hsm.profile.template and pair.describe()["capabilities"] == hsm.profile.capabilities
    _pkcs11_keys.relabel_key_pair(pair, new)
    other = token.token.open()  # a second session of this process: logged in too, so it sees the private key
    try:
        assert sorted(str(obj.label) for obj in other.get_objects({Attribute.ID: pair.key_id})) == [new, new]
    finally:
        other.close()
    assert _pkcs11_keys.find_key_pair(token, new) is not None and _pkcs11_keys.find_key_pair(token, old) is None
    assert _pkcs11_keys.destroy_key_pair(token, new)


def test_the_module_result_reports_the_generated_keys_template_and_capabilities(hsm: implementations.Running, token: t.Any,
                                                                                tmp_path: Path) -> None:
    server = start_in_thread()
    try:
        client = IzumaClient(ClientConfig(api_host=server.url, api_key=server.admin_key, retries=0))
        app = client.create("/v3/applications", {"name": "pkcs11-portable"})
        want = Desired(name="portable-result", key_backend="pkcs11", key_type="EC", pkcs11_library=hsm.module,
                       pkcs11_token=hsm.label, pkcs11_pin=hsm.pin, certificate_path=str(tmp_path / "portable.crt"))
        want.validate()
        created = vk.converge(client, want, check_mode=False, diff=False, application_id=app["id"])
        generated = created["pkcs11_generated_key"]
        assert generated["label"] == "izuma:portable-result:next"
        if hsm.profile.template is not None:
            assert (generated["template"], generated["capabilities"]) == (hsm.profile.template, hsm.profile.capabilities)
        assert (generated["sensitive"], generated["extractable"], generated["library"]) == (True, False, os.path.basename(hsm.module))
        assert generated["public_key_fingerprint"] == created["verification_key"]["public_key_fingerprint"]
        converged = vk.converge(client, want, check_mode=False, diff=False, application_id=app["id"])
        assert not converged["changed"] and "pkcs11_generated_key" not in converged
    finally:
        server.stop()
        for generation in _pkcs11_keys.GENERATIONS:
            _pkcs11_keys.destroy_key_pair(token, _pkcs11_keys.key_label("portable-result", generation))
