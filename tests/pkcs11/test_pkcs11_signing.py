# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signing in the token: every JWT algorithm verified by PyJWT given only the certificate, X.509 certificates, and
the algorithms a token has no mechanism for refused clearly."""

from __future__ import annotations

import subprocess

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as _issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import IzumaPkcs11Error

from conftest import spec_id

NOW = 1_900_000_000
EC_SPECS = [("EC", None, "P-256"), ("EC", None, "P-384"), ("EC", None, "P-521")]
ES_ALGORITHM = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


@pytest.fixture(scope="module")
def certificates(pairs):
    """The self-signed certificate of every test key pair, issued by the token, as PEM text."""
    return {spec: _certificates.dump_certificate(_issuing.create_certificate(_pkcs11_signing.private_key(pair), "izuma-pkcs11-" + spec_id(spec), 30))
            for spec, pair in pairs.items()}


def test_every_algorithm_signs_a_jwt_pyjwt_verifies_with_only_the_certificate(pairs, certificates, case) -> None:
    spec, algorithm = case
    token = _tokens.sign_token(_pkcs11_signing.private_key(pairs[spec]), algorithm, lifetime=600, issuer="izuma-pkcs11",
                               claims={"scope": ["a", "b"]})
    public_key = _certificates.load_certificate(certificates[spec]).public_key()
    claims = jwt.decode(token, public_key, algorithms=[algorithm], issuer="izuma-pkcs11")
    assert claims["scope"] == ["a", "b"] and claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT"}
    # Tampering with the payload breaks the signature, so the verification above proves something.
    header, payload, signature = token.split(".")
    forged = ".".join((header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, public_key, algorithms=[algorithm], options={"verify_exp": False})


def test_header_and_payload_are_byte_for_byte_pyjwts(hsm, pairs, spec) -> None:
    algorithm = hsm.profile.algorithms(spec)[0]
    options = {"lifetime": 300, "subject": "device-7", "audience": ["izuma"], "now": NOW}
    token = _tokens.sign_token(_pkcs11_signing.private_key(pairs[spec]), algorithm, headers={"typ": "JWT", "cty": "x"}, key_id=True, **options)
    file_key = rsa.generate_private_key(65537, 2048) if spec[0] == "RSA" else ec.generate_private_key(pairs[spec].public_key().curve)
    reference = jwt.encode(_tokens.build_claims(**options), file_key, algorithm=algorithm,
                           headers={"typ": "JWT", "cty": "x", "kid": _tokens.kid_for_key(pairs[spec].public_key())})
    assert token.split(".")[:2] == reference.split(".")[:2]


@pytest.mark.parametrize("spec, length", [(("EC", None, "P-256"), 64), (("EC", None, "P-384"), 96), (("EC", None, "P-521"), 132)])
def test_ecdsa_signatures_are_raw_r_s_of_fixed_length_and_der_for_x509(pairs, spec, length) -> None:
    algorithm = ES_ALGORITHM[spec[2]]
    key = _pkcs11_signing.private_key(pairs[spec])
    assert {len(_pkcs11_signing.sign(pairs[spec], b"message %d" % number, algorithm)) for number in range(20)} == {length}
    # The JWS writer's form (sign_jws): raw r||s; the certificate builder's (sign): DER, as cryptography's keys give it.
    assert {len(key.sign_jws(b"message %d" % number, algorithm)) for number in range(20)} == {length}
    hash_algorithm = getattr(hashes, {"ES256": "SHA256", "ES384": "SHA384", "ES512": "SHA512"}[algorithm])()
    der = key.sign(b"message", ec.ECDSA(hash_algorithm))
    pairs[spec].public_key().verify(der, b"message", ec.ECDSA(hash_algorithm))


@pytest.mark.parametrize("spec", EC_SPECS, ids=spec_id)
def test_a_token_is_signed_with_the_raw_signature_no_der_in_between(pairs, certificates, spec, monkeypatch) -> None:
    # The JWT path takes the token's raw r||s (sign_jws): the DER form of sign(), which the certificate builder needs,
    # is not made and taken apart again.
    def no_der(*_args):
        raise AssertionError("the JWT path asked for a DER signature")

    key = _pkcs11_signing.private_key(pairs[spec])
    monkeypatch.setattr(type(key), "sign", no_der)
    algorithm = ES_ALGORITHM[spec[2]]
    token = _tokens.sign_token(key, algorithm, subject="raw", key_id=True)
    public_key = _certificates.load_certificate(certificates[spec]).public_key()
    assert jwt.decode(token, public_key, algorithms=[algorithm])["sub"] == "raw"


@pytest.mark.parametrize("spec, algorithm, fragment", [
    (("RSA", 2048, None), "ES256", "needs an EC key on P-256, but the key is an RSA key of 2048 bits"),
    (("EC", None, "P-256"), "ES384", "needs an EC key on P-384, but the key is an EC key on P-256"),
    (("EC", None, "P-384"), "PS256", "needs an RSA key"),
    (("RSA", 2048, None), "HS256", "HMAC algorithms use a shared secret"),
])
def test_an_algorithm_that_does_not_fit_the_key_is_refused(pairs, spec, algorithm, fragment) -> None:
    # Before anything is signed: by the token library for a token, by sign itself (naming the key) for anything else.
    with pytest.raises(IzumaTokenError, match=fragment):
        _tokens.sign_token(_pkcs11_signing.private_key(pairs[spec]), algorithm)
    with pytest.raises(IzumaPkcs11Error, match=fragment) as caught:
        _pkcs11_signing.sign(pairs[spec], b"signing input", algorithm)
    assert pairs[spec].label in caught.value.message


def test_certificate_passes_the_upload_rules_and_openssl_self_signature_check(pairs, certificates, spec, tmp_path) -> None:
    pem = certificates[spec]
    assert _certificates.check_certificate_rules(pem) == []
    _certificates.assert_certificate_uploadable(pem)
    info = _certificates.certificate_info(_certificates.load_certificate(pem))
    assert info["self_signed"] is True and info["subject"] == "CN=izuma-pkcs11-" + spec_id(spec)
    assert info["public_key_fingerprint"] == pairs[spec].describe()["public_key_fingerprint"]
    path = tmp_path / "cert.pem"
    path.write_text(pem, encoding="ascii")
    result = subprocess.run(["openssl", "verify", "-check_ss_sig", "-CAfile", str(path), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stdout + result.stderr
    # The same check fails on a certificate whose signature was damaged: openssl really checks the token's signature.
    # (The last bytes of the DER are the signature's; the certificate still parses.)
    der = bytearray(_certificates.load_certificate(pem).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    damaged = tmp_path / "damaged.pem"
    damaged.write_text(_certificates.dump_certificate(x509.load_der_x509_certificate(bytes(der))), encoding="ascii")
    result = subprocess.run(["openssl", "verify", "-check_ss_sig", "-CAfile", str(damaged), str(damaged)], capture_output=True, text=True,
                            check=False)
    assert result.returncode != 0 and "signature failure" in result.stdout + result.stderr


@pytest.mark.parametrize("spec", [("EC", None, "P-384")], ids=spec_id)
def test_certificate_options_are_those_of_file_keys(pairs, spec) -> None:
    pair = pairs[spec]
    key = _pkcs11_signing.private_key(pair)
    cert = _issuing.create_certificate(key, "subject-test", 7, subject={"O": "Izuma", "C": "FI"})
    assert cert.subject.rfc4514_string() == "CN=subject-test,O=Izuma,C=FI"
    assert cert.signature_hash_algorithm.name == "sha384"
    with pytest.raises(IzumaKeyError, match="valid_days must be a whole number"):
        _issuing.create_certificate(key, "x", 0)


@pytest.mark.parametrize("spec", [("RSA", 2048, None), ("EC", None, "P-384"), ("EC", None, "P-521")], ids=spec_id)
def test_the_token_key_object_works_with_the_file_key_code(hsm, pairs, certificates, spec) -> None:
    # The seam for the key source: _tokens.sign_token and PyJWT take the token-backed cryptography key unchanged.
    key = _pkcs11_signing.private_key(pairs[spec])
    public_key = _certificates.load_certificate(certificates[spec]).public_key()
    for algorithm in hsm.profile.algorithms(spec):
        assert jwt.decode(_tokens.sign_token(key, algorithm, subject="s"), public_key, algorithms=[algorithm])["sub"] == "s"
    assert _keys.public_key_fingerprint(key) == pairs[spec].describe()["public_key_fingerprint"]


def test_the_token_key_object_refuses_what_a_verification_key_does_not_do(pairs) -> None:
    key = _pkcs11_signing.private_key(pairs[("RSA", 2048, None)])
    with pytest.raises(IzumaPkcs11Error, match="can only sign"):
        key.decrypt(b"x", padding.PKCS1v15())
    with pytest.raises(IzumaPkcs11Error, match="salt as long as the hash"):
        key.sign(b"x", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    with pytest.raises(IzumaPkcs11Error, match="SHA-256, SHA-384 or SHA-512 only"):
        key.sign(b"x", padding.PKCS1v15(), hashes.SHA1())


def test_an_old_cryptography_is_named_before_the_token_is_asked(pairs, monkeypatch) -> None:
    # cryptography 36 and older sign certificates only with their own key objects (checked by hand with 36.0.2 and 37.0.4).
    monkeypatch.setattr(_pkcs11_signing, "cryptography_version", "36.0.2")
    with pytest.raises(IzumaPkcs11Error, match="needs the Python library cryptography 37 or later, found 36.0.2"):
        _issuing.create_certificate(_pkcs11_signing.private_key(pairs[("EC", None, "P-256")]), "old", 1)
    monkeypatch.setattr(_pkcs11_signing, "cryptography_version", "48.0.0")
    key = _pkcs11_signing.private_key(pairs[("EC", None, "P-256")])
    assert _issuing.create_certificate(key, "new", 1).subject.rfc4514_string() == "CN=new"


def test_an_algorithm_the_token_has_no_mechanism_for_is_refused_clearly(pairs, refused_case) -> None:
    # A token that signs no RSA-PSS (the user's library, when its mechanism list has neither CKM_SHA*_RSA_PKCS_PSS nor
    # CKM_RSA_PKCS_PSS): a PS* signature is refused by the JWT path and the certificate path alike, naming both.
    # SoftHSM2 and tpm2-pkcs11 sign RSA-PSS; test_portability.py takes it away from a SoftHSM2 token.
    spec, algorithm = refused_case
    key = _pkcs11_signing.private_key(pairs[spec])
    with pytest.raises((IzumaPkcs11Error, IzumaTokenError), match="RSA_PKCS_PSS"):
        _tokens.sign_token(key, algorithm, subject="refused")
    with pytest.raises(IzumaPkcs11Error, match="RSA_PKCS_PSS") as caught:
        _pkcs11_signing.sign(pairs[spec], b"signing input", algorithm)
    assert pairs[spec].label in caught.value.message
    bits = algorithm[2:]
    with pytest.raises(IzumaPkcs11Error, match="RSA_PKCS_PSS"):
        key.sign(b"x", padding.PSS(mgf=padding.MGF1(getattr(hashes, "SHA" + bits)()), salt_length=int(bits) // 8),
                 getattr(hashes, "SHA" + bits)())
