# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_x509/certificates.py: self-signed certificates, loading, description, upload rules."""

from __future__ import annotations

import datetime
import hashlib
import json
import typing as t

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError

NOW = datetime.datetime(2026, 11, 28, 17, 0, 0, tzinfo=datetime.timezone.utc)


def raises_key_error(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> str:
    with pytest.raises(IzumaKeyError) as info:
        func(*args, **kwargs)
    return info.value.message


def damaged(pem: bytes) -> bytes:
    """Break the base64 body of a PEM block."""
    lines = pem.decode().splitlines()
    lines[3] = "!!!!" + lines[3][4:]
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------
# Self-signed certificates
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("curve, hash_name", [("P-256", "sha256"), ("P-384", "sha384"), ("P-521", "sha512")])
def test_create_certificate_ec(curve: str, hash_name: str, ec_keys: t.Dict[str, t.Any]) -> None:
    key = ec_keys[curve]
    cert = issuing.create_certificate(key, "izuma-ec", 365, now=NOW)
    assert cert.signature_hash_algorithm.name == hash_name
    assert certs.certificate_matches_key(cert, key)
    assert certs.certificate_info(cert, now=NOW)["self_signed"] is True


def test_create_certificate_rsa_properties(rsa2048: rsa.RSAPrivateKey) -> None:
    cert = issuing.create_certificate(rsa2048, "izuma-jwt-key", 30, subject={"O": "Example Oy", "C": "FI", "OU": "IoT"}, now=NOW)
    assert cert.subject.rfc4514_string() == "CN=izuma-jwt-key,OU=IoT,O=Example Oy,C=FI"
    assert cert.issuer == cert.subject
    assert cert.signature_hash_algorithm.name == "sha256"
    assert cert.serial_number > 0
    basic = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    assert basic.critical and basic.value.ca is False
    usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert len(cert.extensions) == 2
    info = certs.certificate_info(cert, now=NOW)
    # Starts five minutes early for clock skew; ends valid_days after now.
    assert info["valid_from"] == "2026-11-28T16:55:00Z"
    assert info["expires_at"] == "2026-12-28T17:00:00Z"
    assert info["days_left"] == 30


def test_create_certificate_serials_differ(ec256: ec.EllipticCurvePrivateKey) -> None:
    one = issuing.create_certificate(ec256, "s", 1, now=NOW)
    two = issuing.create_certificate(ec256, "s", 1, now=NOW)
    assert one.serial_number != two.serial_number


def test_create_certificate_not_before(ec256: ec.EllipticCurvePrivateKey) -> None:
    start = datetime.datetime(2027, 1, 1, 0, 0, 0)  # naive: UTC
    info = certs.certificate_info(issuing.create_certificate(ec256, "future", 10, not_before=start, now=NOW), now=NOW)
    assert info["valid_from"] == "2027-01-01T00:00:00Z" and info["expires_at"] == "2027-01-11T00:00:00Z"
    assert info["valid"] is False and info["expired"] is False


def test_create_certificate_subject_aliases(ec256: ec.EllipticCurvePrivateKey) -> None:
    cert = issuing.create_certificate(ec256, "alias", 5, subject={"organizationName": "Org", "CN": "alias", "emailAddress": "a@b.c"},
                                      now=NOW)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Org"
    assert cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "a@b.c"


def test_rsa4096_certificate_fits(rsa4096: rsa.RSAPrivateKey) -> None:
    cert = issuing.create_certificate(rsa4096, "izuma-device-management-verification-key", 3650,
                                      subject={"O": "Example Organisation", "C": "FI"}, now=NOW)
    pem = certs.dump_certificate(cert)
    assert len(pem) <= keys.MAX_CERTIFICATE_CHARS
    assert certs.check_certificate_rules(pem, now=NOW) == []


def test_rsa4096_certificate_too_long_subject(rsa4096: rsa.RSAPrivateKey) -> None:
    subject = {"O": "O" * 64, "OU": "U" * 64, "L": "L" * 64, "ST": "S" * 64}
    message = raises_key_error(issuing.create_certificate, rsa4096, "C" * 64, 365, subject=subject, now=NOW)
    assert "more than the 2000 Izuma Device Management accepts" in message and "shorten common_name" in message


@pytest.mark.parametrize("kwargs, expected", [
    ({"common_name": ""}, "common_name must be a non-empty string"),
    ({"common_name": "x" * 65}, "at most 64"),
    ({"valid_days": 0}, "valid_days must be a whole number of days from 1 to 36500"),
    ({"valid_days": 36501}, "from 1 to 36500"),
    ({"valid_days": "30"}, "valid_days must be"),
    ({"valid_days": True}, "valid_days must be"),
    ({"subject": {"XX": "y"}}, "subject attribute 'XX' is not supported"),
    ({"subject": {"C": "Finland"}}, "two-letter country code"),
    ({"subject": {"O": ""}}, "subject attribute O must be a non-empty string"),
    ({"subject": {"CN": "other"}}, "subject CN differs from common_name"),
    ({"subject": {"OU": "u" * 65}}, "subject attribute OU is 65 characters"),
])
def test_create_certificate_bad_arguments(kwargs: t.Dict[str, t.Any], expected: str, ec256: ec.EllipticCurvePrivateKey) -> None:
    arguments = {"common_name": "ok", "valid_days": 30, "now": NOW}
    arguments.update(kwargs)
    assert expected in raises_key_error(issuing.create_certificate, ec256, **arguments)


def test_create_certificate_refuses_unusable_keys(rsa1024: rsa.RSAPrivateKey, ed25519_key: t.Any, ec256: ec.EllipticCurvePrivateKey) -> None:
    assert "requires at least 2048 bits" in raises_key_error(issuing.create_certificate, rsa1024, "weak", 30)
    assert "accepts only RSA and EC keys" in raises_key_error(issuing.create_certificate, ed25519_key, "ed", 30)
    assert "a private key is needed" in raises_key_error(issuing.create_certificate, ec256.public_key(), "pub", 30)


# ---------------------------------------------------------------------------
# Loading certificates
# ---------------------------------------------------------------------------

def test_load_certificate_forms(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    cert = issuing.create_certificate(ec256, "load", 30, now=NOW)
    pem = certs.dump_certificate(cert)
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.endswith("-----END CERTIFICATE-----\n")
    variants = [pem, pem.encode(), pem.replace("\n", "\r\n"), "subject=CN = load\n" + pem + "\n\n", to_pkcs8(ec256).decode() + pem]
    for data in variants:
        assert certs.load_certificate(data) == cert
        assert certs.normalize_certificate_pem(data) == pem


@pytest.mark.parametrize("case, expected", [
    ("empty", "cert.pem is empty: give an X.509 certificate in PEM format"),
    ("garbage", "cert.pem is not a PEM certificate (no -----BEGIN CERTIFICATE----- block found)"),
    ("der", "cert.pem is binary (DER), not PEM: convert it with: openssl x509 -inform DER"),
    ("key", "cert.pem holds a private key, not a certificate"),
    ("two", "cert.pem holds 2 certificates; a verification key is exactly one certificate"),
    ("damaged", "cert.pem is not a valid X.509 certificate: the PEM block is damaged"),
])
def test_load_certificate_errors(case: str, expected: str, ec256: ec.EllipticCurvePrivateKey, rsa2048: rsa.RSAPrivateKey,
                                 to_pkcs8: t.Callable[..., bytes], safe_message: t.Callable[..., None]) -> None:
    cert = issuing.create_certificate(ec256, "err", 30, now=NOW)
    pem = certs.dump_certificate(cert)
    key_pem = to_pkcs8(ec256)
    data = {
        "empty": "",
        "garbage": "hello",
        "der": cert.public_bytes(serialization.Encoding.DER),
        "key": key_pem,
        "two": pem + certs.dump_certificate(issuing.create_certificate(rsa2048, "b", 30, now=NOW)),
        "damaged": damaged(pem.encode()),
    }[case]
    message = raises_key_error(certs.load_certificate, data, source="cert.pem")
    assert expected in message
    safe_message(message, key_pem, pem)


def test_load_public_key(rsa2048: rsa.RSAPrivateKey) -> None:
    spki = rsa2048.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert = certs.dump_certificate(issuing.create_certificate(rsa2048, "pub", 10, now=NOW))
    for data in (spki, cert):
        assert keys.public_key_fingerprint(certs.load_public_key(data)) == keys.public_key_fingerprint(rsa2048)
    assert "holds no PEM public key or certificate" in raises_key_error(certs.load_public_key, "nothing", source="verification key")
    bad = spki.replace(spki.splitlines()[2], b"!" * 64)
    assert "is not a valid public key" in raises_key_error(certs.load_public_key, bad)


# ---------------------------------------------------------------------------
# certificate_info
# ---------------------------------------------------------------------------

def test_certificate_info_fields(ec_keys: t.Dict[str, t.Any]) -> None:
    key = ec_keys["P-384"]
    cert = issuing.create_certificate(key, "info", 10, subject={"O": "Org"}, now=NOW)
    info = certs.certificate_info(cert, now=NOW)
    json.dumps(info)  # JSON-friendly values only
    assert set(info) == {"fingerprint", "subject", "issuer", "algorithm", "key_size", "curve", "serial_number", "valid_from", "expires_at",
                         "days_left", "expired", "valid", "self_signed", "public_key_fingerprint"}
    assert info["fingerprint"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert info["subject"] == info["issuer"] == "CN=info,O=Org"
    assert (info["algorithm"], info["key_size"], info["curve"]) == ("EC", 384, "P-384")
    assert info["serial_number"] == str(cert.serial_number)
    assert (info["days_left"], info["expired"], info["valid"], info["self_signed"]) == (10, False, True, True)
    assert info["public_key_fingerprint"] == keys.public_key_fingerprint(key)


def test_certificate_info_days_left_floor_and_expiry(rsa2048: rsa.RSAPrivateKey) -> None:
    cert = issuing.create_certificate(rsa2048, "days", 10, now=NOW)
    assert certs.certificate_info(cert, now=NOW + datetime.timedelta(seconds=1))["days_left"] == 9
    assert certs.certificate_info(cert, now=NOW + datetime.timedelta(days=10))["expired"] is False
    late = certs.certificate_info(cert, now=NOW + datetime.timedelta(days=10, seconds=1))
    assert (late["days_left"], late["expired"], late["valid"]) == (-1, True, False)
    assert certs.certificate_info(cert, now=NOW + datetime.timedelta(days=12, hours=1))["days_left"] == -3
    assert certs.certificate_info(cert, now=NOW.replace(tzinfo=None))["days_left"] == 10  # naive now is UTC


def test_certificate_info_not_self_signed(rsa2048: rsa.RSAPrivateKey, rsa2048_other: rsa.RSAPrivateKey, make_cert: t.Callable[..., x509.Certificate]) -> None:
    # Same subject and issuer name, but signed by another key.
    forged = make_cert(rsa2048, common_name="same", signer=rsa2048_other)
    assert certs.certificate_info(forged, now=NOW)["self_signed"] is False
    issued = make_cert(rsa2048, common_name="leaf", issuer_name="Some CA", signer=rsa2048_other)
    info = certs.certificate_info(issued, now=NOW)
    assert info["self_signed"] is False and info["issuer"] == "CN=Some CA"


def own_key_signed(cert: x509.Certificate) -> bool:
    return certs._signed_by(cert, cert.public_key())  # pylint: disable=protected-access


def test_self_signed_fallback_for_old_cryptography(rsa2048: rsa.RSAPrivateKey, rsa2048_other: rsa.RSAPrivateKey,
                                                   ec256: ec.EllipticCurvePrivateKey, ed25519_key: t.Any,
                                                   make_cert: t.Callable[..., x509.Certificate]) -> None:
    # certs._signed_by is what cryptography < 40 uses instead of verify_directly_issued_by (here: with the certificate's own key).
    assert own_key_signed(make_cert(rsa2048)) is True
    assert own_key_signed(make_cert(ec256)) is True
    assert own_key_signed(make_cert(rsa2048, signer=rsa2048_other)) is False
    assert own_key_signed(make_cert(ed25519_key)) is False


def test_certificate_info_default_now(ec256: ec.EllipticCurvePrivateKey) -> None:
    info = certs.certificate_info(issuing.create_certificate(ec256, "now", 2))
    assert info["valid"] is True and info["days_left"] in (1, 2)


# ---------------------------------------------------------------------------
# Upload rules
# ---------------------------------------------------------------------------

def test_rules_pass_for_good_certificates(rsa2048: rsa.RSAPrivateKey, ec_keys: t.Dict[str, t.Any]) -> None:
    for key in [rsa2048] + list(ec_keys.values()):
        cert = issuing.create_certificate(key, "good", 365, now=NOW)
        assert certs.check_certificate_rules(certs.dump_certificate(cert), now=NOW) == []
        assert certs.check_certificate_rules(cert, now=NOW) == []
        certs.assert_certificate_uploadable(certs.dump_certificate(cert).encode(), now=NOW)


def test_rules_rsa1024(rsa1024: rsa.RSAPrivateKey, make_cert: t.Callable[..., x509.Certificate]) -> None:
    pem = certs.dump_certificate(make_cert(rsa1024))
    problems = certs.check_certificate_rules(pem, now=NOW)
    assert problems == ["the certificate is an RSA key of 1024 bits; Izuma Device Management requires at least 2048 bits: "
                        "use a new RSA key of 2048, 3072 or 4096 bits."]


def test_rules_weak_ec(weak_ec_key: t.Any, make_cert: t.Callable[..., x509.Certificate]) -> None:
    problems = certs.check_certificate_rules(certs.dump_certificate(make_cert(weak_ec_key)), now=NOW)
    assert len(problems) == 1
    assert "EC key on secp" in problems[0] and "at least 256 bits" in problems[0] and "P-256, P-384 or P-521" in problems[0]


def test_rules_secp256k1_and_ed25519(make_cert: t.Callable[..., x509.Certificate], ed25519_key: t.Any) -> None:
    k1 = make_cert(ec.generate_private_key(ec.SECP256K1()))
    assert "none of the supported JWT algorithms" in certs.check_certificate_rules(k1, now=NOW)[0]
    ed = make_cert(ed25519_key)
    assert "is a Ed25519 key; Izuma Device Management accepts only RSA and EC keys" in certs.check_certificate_rules(ed, now=NOW)[0]


def test_rules_expired(ec256: ec.EllipticCurvePrivateKey, make_cert: t.Callable[..., x509.Certificate]) -> None:
    cert = make_cert(ec256, not_before=NOW - datetime.timedelta(days=30), not_after=NOW - datetime.timedelta(days=1))
    problems = certs.check_certificate_rules(certs.dump_certificate(cert), now=NOW)
    assert problems == ["the certificate expired at 2026-11-27T17:00:00Z; Izuma Device Management does not accept an expired "
                        "verification key: create a new certificate with a future expiry."]


def test_rules_too_long(rsa2048: rsa.RSAPrivateKey, make_cert: t.Callable[..., x509.Certificate]) -> None:
    cert = make_cert(rsa2048, san_names=20)
    pem = certs.dump_certificate(cert)
    assert len(pem) > 2000
    problems = certs.check_certificate_rules(pem, now=NOW, source="verification key 'prod'")
    assert problems == ["verification key 'prod' is %d characters of PEM; Izuma Device Management accepts at most 2000: use a smaller key "
                        "(RSA 2048/3072 or EC) and a shorter subject with fewer extensions." % len(pem)]


def test_rules_several_problems_and_assert(rsa1024: rsa.RSAPrivateKey, make_cert: t.Callable[..., x509.Certificate],
                                           safe_message: t.Callable[..., None]) -> None:
    cert = make_cert(rsa1024, not_before=NOW - datetime.timedelta(days=30), not_after=NOW - datetime.timedelta(days=1))
    pem = certs.dump_certificate(cert)
    problems = certs.check_certificate_rules(pem, now=NOW)
    assert len(problems) == 2 and "1024 bits" in problems[0] and "expired" in problems[1]
    with pytest.raises(IzumaKeyError) as info:
        certs.assert_certificate_uploadable(pem, now=NOW)
    assert info.value.message == " ".join(problems)
    assert info.value.details["problems"] == problems
    safe_message(info.value.message, pem)


@pytest.mark.parametrize("data, expected", [
    ("", "the certificate is empty"),
    ("not a certificate", "the certificate is not a PEM certificate"),
])
def test_rules_unparsable(data: str, expected: str) -> None:
    problems = certs.check_certificate_rules(data, now=NOW)
    assert len(problems) == 1 and problems[0].startswith(expected) and problems[0].endswith(".")


def test_rules_two_certificates(ec256: ec.EllipticCurvePrivateKey) -> None:
    pem = certs.dump_certificate(issuing.create_certificate(ec256, "a", 3, now=NOW))
    problems = certs.check_certificate_rules(pem + pem, now=NOW)
    assert len(problems) == 1 and "holds 2 certificates" in problems[0]
