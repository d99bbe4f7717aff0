# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_x509/keys.py: generation, loading, descriptions, time helpers (certificates: test_certificates.py)."""

from __future__ import annotations

import datetime
import hashlib
import shutil
import subprocess
import typing as t

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times

NOW = datetime.datetime(2026, 11, 28, 17, 0, 0, tzinfo=datetime.timezone.utc)
PASSPHRASE = "correct horse battery staple"


def raises_key_error(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> str:
    with pytest.raises(IzumaKeyError) as info:
        func(*args, **kwargs)
    return info.value.message


# ---------------------------------------------------------------------------
# Constants and time helpers
# ---------------------------------------------------------------------------

def test_constants() -> None:
    assert keys.KEY_TYPES == ("RSA", "EC")
    assert keys.RSA_SIZES == (2048, 3072, 4096)
    assert keys.EC_CURVES == ("P-256", "P-384", "P-521")
    assert (keys.MIN_RSA_BITS, keys.MIN_EC_BITS, keys.MAX_CERTIFICATE_CHARS) == (2048, 256, 2000)
    assert keys.HAS_CRYPTOGRAPHY is True and keys.CRYPTOGRAPHY_IMPORT_ERROR is None


def test_require_cryptography_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "HAS_CRYPTOGRAPHY", False)
    message = raises_key_error(keys.generate_private_key, "RSA")
    assert "cryptography" in message and "pip install" in message


def test_utcnow_is_aware_utc() -> None:
    now = times.utcnow()
    assert now.tzinfo is not None and now.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("value, expected", [
    (NOW, "2026-11-28T17:00:00Z"),
    (NOW.replace(microsecond=999999), "2026-11-28T17:00:00Z"),
    (datetime.datetime(2026, 11, 28, 17, 0, 0), "2026-11-28T17:00:00Z"),  # naive means UTC
    (datetime.datetime(2026, 11, 28, 19, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), "2026-11-28T17:00:00Z"),
    (1795885200, "2026-11-28T17:00:00Z"),
    (1795885200.75, "2026-11-28T17:00:00Z"),
])
def test_to_rfc3339(value: t.Any, expected: str) -> None:
    assert times.to_rfc3339(value) == expected


def test_to_rfc3339_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        times.to_rfc3339("2026-11-28")
    with pytest.raises(TypeError):
        times.to_rfc3339(True)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-28T17:00:00Z", NOW),
    ("2026-11-28t17:00:00z", NOW),
    ("2026-11-28T17:00:00+00:00", NOW),
    ("2026-11-28T19:30:00+02:30", NOW),
    ("2026-11-28T12:00:00-05:00", NOW),
    ("2026-11-28T17:00:00.5Z", NOW.replace(microsecond=500000)),
    ("2026-11-28T17:00:00.123456789Z", NOW.replace(microsecond=123456)),
    ("2026-11-28T17:00:00.000Z", NOW),
    (" 2026-11-28T17:00:00Z\n", NOW),
])
def test_parse_rfc3339(text: str, expected: datetime.datetime) -> None:
    parsed = times.parse_rfc3339(text)
    assert parsed == expected
    assert parsed.utcoffset() == datetime.timedelta(0)


def test_rfc3339_round_trip() -> None:
    assert times.parse_rfc3339(times.to_rfc3339(NOW)) == NOW


@pytest.mark.parametrize("text", ["", "yesterday", "2026-11-28", "2026-11-28T17:00:00", "2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z"])
def test_parse_rfc3339_errors(text: str) -> None:
    with pytest.raises(IzumaError) as info:
        times.parse_rfc3339(text)
    assert "RFC 3339" in info.value.message and "2026-11-28T17:00:00Z" in info.value.message


def test_parse_rfc3339_non_string() -> None:
    with pytest.raises(IzumaError, match="RFC 3339"):
        times.parse_rfc3339(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Key generation
# ---------------------------------------------------------------------------

def test_generate_rsa_default_2048() -> None:
    key = keys.generate_private_key("RSA")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert key.private_numbers().public_numbers.e == 65537


def test_generate_rsa_3072() -> None:
    key = keys.generate_private_key("rsa", 3072)
    assert key.key_size == 3072


@pytest.mark.parametrize("kwargs, curve_class", [
    ({}, ec.SECP256R1),
    ({"curve": "P-256"}, ec.SECP256R1),
    ({"curve": "prime256v1"}, ec.SECP256R1),
    ({"curve": "secp384r1"}, ec.SECP384R1),
    ({"curve": "P-521"}, ec.SECP521R1),
    ({"size": 384}, ec.SECP384R1),
    ({"size": 521, "curve": "P-521"}, ec.SECP521R1),
])
def test_generate_ec(kwargs: t.Dict[str, t.Any], curve_class: t.Any) -> None:
    key = keys.generate_private_key("EC", **kwargs)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, curve_class)


def test_generate_ecdsa_alias() -> None:
    assert isinstance(keys.generate_private_key("ecdsa").curve, ec.SECP256R1)


@pytest.mark.parametrize("args, kwargs, expected", [
    (("RSA", 1024), {}, "RSA keys must be at least 2048 bits for Izuma Device Management (got 1024); choose 2048, 3072 or 4096"),
    (("RSA", 2047), {}, "at least 2048 bits"),
    (("RSA", 2049), {}, "choose 2048, 3072 or 4096"),
    (("RSA", 8192), {}, "2000 character limit"),
    (("RSA",), {"curve": "P-256"}, "curves apply to EC keys only"),
    (("RSA", "2048"), {}, "whole number of bits"),
    (("RSA", True), {}, "whole number of bits"),
    (("EC", 192), {}, "EC keys must be at least 256 bits"),
    (("EC", 255), {}, "at least 256 bits"),
    (("EC", 512), {}, "choose 256 (P-256), 384 (P-384) or 521 (P-521)"),
    (("EC",), {"curve": "P-192"}, "EC curve 'P-192' is not supported for Izuma Device Management: choose P-256, P-384 or P-521"),
    (("EC",), {"curve": "secp256k1"}, "choose P-256, P-384 or P-521"),
    (("EC", 256), {"curve": "P-384"}, "does not match curve P-384"),
    (("DSA",), {}, "key type 'DSA' is not supported for Izuma Device Management: choose RSA or EC"),
    (("Ed25519",), {}, "choose RSA or EC"),
])
def test_generate_refusals(args: t.Tuple[t.Any, ...], kwargs: t.Dict[str, t.Any], expected: str) -> None:
    assert expected in raises_key_error(keys.generate_private_key, *args, **kwargs)


# ---------------------------------------------------------------------------
# Loading and dumping private keys
# ---------------------------------------------------------------------------

def traditional(key: t.Any, passphrase: t.Optional[bytes] = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption)


def test_load_pkcs8_bytes_and_str(rsa2048: rsa.RSAPrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    pem = to_pkcs8(rsa2048)
    for data in (pem, pem.decode("ascii"), pem.replace(b"\n", b"\r\n"), b"comment line\n" + pem + b"\n\n"):
        loaded = keys.load_private_key(data)
        assert keys.public_key_fingerprint(loaded) == keys.public_key_fingerprint(rsa2048)


def test_load_traditional_formats(rsa2048: rsa.RSAPrivateKey, ec256: ec.EllipticCurvePrivateKey) -> None:
    rsa_pem = traditional(rsa2048)
    ec_pem = traditional(ec256)
    assert b"BEGIN RSA PRIVATE KEY" in rsa_pem and b"BEGIN EC PRIVATE KEY" in ec_pem
    assert keys.public_key_fingerprint(keys.load_private_key(rsa_pem)) == keys.public_key_fingerprint(rsa2048)
    assert keys.public_key_fingerprint(keys.load_private_key(ec_pem)) == keys.public_key_fingerprint(ec256)


def test_load_encrypted_pkcs8_and_traditional(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    for pem in (to_pkcs8(ec256, PASSPHRASE.encode()), traditional(ec256, PASSPHRASE.encode())):
        assert keys.private_key_is_encrypted(pem)
        loaded = keys.load_private_key(pem, passphrase=PASSPHRASE)
        assert keys.public_key_fingerprint(loaded) == keys.public_key_fingerprint(ec256)
        assert keys.load_private_key(pem, passphrase=PASSPHRASE.encode()) is not None


def test_load_key_next_to_certificate(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    cert = certs.dump_certificate(issuing.create_certificate(ec256, "combined", 30, now=NOW))
    combined = cert + to_pkcs8(ec256).decode() + "\n"
    assert keys.public_key_fingerprint(keys.load_private_key(combined)) == keys.public_key_fingerprint(ec256)


def test_private_key_is_encrypted(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    assert keys.private_key_is_encrypted(to_pkcs8(ec256, b"pw")) is True
    assert keys.private_key_is_encrypted(traditional(ec256, b"pw")) is True
    assert keys.private_key_is_encrypted(to_pkcs8(ec256)) is False
    assert keys.private_key_is_encrypted(traditional(ec256).decode()) is False
    assert keys.private_key_is_encrypted(b"garbage") is False


def test_load_encrypted_without_passphrase(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes],
                                           safe_message: t.Callable[..., None]) -> None:
    pem = to_pkcs8(ec256, PASSPHRASE.encode())
    for passphrase in (None, ""):
        message = raises_key_error(keys.load_private_key, pem, passphrase=passphrase, source="/etc/izuma/jwt.key")
        assert message == "/etc/izuma/jwt.key is encrypted: give its passphrase with private_key_passphrase"
        safe_message(message, pem)


def test_load_wrong_passphrase(ec256: ec.EllipticCurvePrivateKey, to_pkcs8: t.Callable[..., bytes], safe_message: t.Callable[..., None]) -> None:
    for pem in (to_pkcs8(ec256, PASSPHRASE.encode()), traditional(ec256, PASSPHRASE.encode())):
        message = raises_key_error(keys.load_private_key, pem, passphrase="not-the-passphrase", source="private_key_content")
        assert message.startswith("private_key_content could not be decrypted")
        assert "passphrase" in message and "wrong" in message
        safe_message(message, pem, PASSPHRASE, "not-the-passphrase")


def test_load_passphrase_for_unencrypted_key(rsa2048: rsa.RSAPrivateKey, to_pkcs8: t.Callable[..., bytes],
                                             safe_message: t.Callable[..., None]) -> None:
    pem = to_pkcs8(rsa2048)
    message = raises_key_error(keys.load_private_key, pem, passphrase=PASSPHRASE, source="key.pem")
    assert message.startswith("key.pem is not encrypted, but a passphrase was given")
    assert "private_key_passphrase" in message
    safe_message(message, pem, PASSPHRASE)
    # Opt-in leniency, and an empty passphrase counts as none.
    assert keys.load_private_key(pem, passphrase=PASSPHRASE, ignore_unused_passphrase=True).key_size == 2048
    assert keys.load_private_key(pem, passphrase="").key_size == 2048


def test_load_passphrase_wrong_type(rsa2048: rsa.RSAPrivateKey, to_pkcs8: t.Callable[..., bytes]) -> None:
    assert "passphrase must be a string" in raises_key_error(keys.load_private_key, to_pkcs8(rsa2048), passphrase=1234)


def damaged(pem: bytes) -> bytes:
    lines = pem.decode().splitlines()
    lines[3] = "!!!!" + lines[3][4:]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("case, expected", [
    ("empty", "k.pem is empty: give a private key in PEM format"),
    ("blank", "k.pem is empty"),
    ("garbage", "k.pem is not a PEM private key"),
    ("der", "k.pem is binary (DER), not PEM: convert it with: openssl pkey -inform DER"),
    ("certificate", "k.pem holds a certificate, not a private key"),
    ("openssh", "k.pem is in OpenSSH format; convert it to PKCS#8 PEM first"),
    ("two", "k.pem holds 2 private keys"),
    ("damaged", "k.pem is not a valid private key: the PEM block is damaged"),
    ("truncated", "k.pem is not a PEM private key"),
])
def test_load_private_key_bad_input(case: str, expected: str, rsa2048: rsa.RSAPrivateKey, ec256: ec.EllipticCurvePrivateKey,
                                    to_pkcs8: t.Callable[..., bytes], safe_message: t.Callable[..., None]) -> None:
    pem = to_pkcs8(rsa2048)
    data = {
        "empty": b"",
        "blank": "  \n",
        "garbage": b"this is not a key\n",
        "der": rsa2048.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "certificate": certs.dump_certificate(issuing.create_certificate(ec256, "c", 10, now=NOW)),
        "openssh": rsa2048.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()),
        "two": pem + to_pkcs8(ec256),
        "damaged": damaged(pem),
        "truncated": pem[: len(pem) // 2],
    }[case]
    message = raises_key_error(keys.load_private_key, data, source="k.pem")
    assert expected in message
    safe_message(message, pem, data if isinstance(data, bytes) and data.startswith(b"-----") else b"")


def test_load_private_key_type_error() -> None:
    with pytest.raises(TypeError):
        keys.load_private_key(12345)  # type: ignore[arg-type]


def test_load_refuses_unsupported_types(ed25519_key: t.Any, to_pkcs8: t.Callable[..., bytes], safe_message: t.Callable[..., None]) -> None:
    dsa_key = dsa.generate_private_key(key_size=2048)
    for key, name in ((ed25519_key, "Ed25519"), (dsa_key, "DSA")):
        pem = to_pkcs8(key)
        message = raises_key_error(keys.load_private_key, pem, source="legacy.pem")
        assert message.startswith("legacy.pem is a %s key; Izuma Device Management accepts only RSA and EC keys" % name)
        safe_message(message, pem)


def test_load_refuses_weak_keys(rsa1024: rsa.RSAPrivateKey, weak_ec_key: t.Any, to_pkcs8: t.Callable[..., bytes],
                                safe_message: t.Callable[..., None]) -> None:
    message = raises_key_error(keys.load_private_key, to_pkcs8(rsa1024), source="old.pem")
    assert message.startswith("old.pem is an RSA key of 1024 bits; Izuma Device Management requires at least 2048 bits")
    safe_message(message, to_pkcs8(rsa1024))
    message = raises_key_error(keys.load_private_key, to_pkcs8(weak_ec_key), source="old-ec.pem")
    assert "old-ec.pem is an EC key on secp" in message and "requires at least 256 bits" in message
    k1 = ec.generate_private_key(ec.SECP256K1())
    message = raises_key_error(keys.load_private_key, to_pkcs8(k1), source="k1.pem")
    assert "secp256k1" in message and "P-256, P-384 or P-521" in message
    # The rules can be switched off, e.g. to describe a key that is about to be replaced.
    assert keys.load_private_key(to_pkcs8(rsa1024), enforce_rules=False).key_size == 1024


def test_dump_private_key_plain_and_encrypted(rsa2048: rsa.RSAPrivateKey) -> None:
    plain = keys.dump_private_key(rsa2048)
    assert plain.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    encrypted = keys.dump_private_key(rsa2048, PASSPHRASE)
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert PASSPHRASE.encode() not in encrypted
    assert keys.private_key_is_encrypted(encrypted) and not keys.private_key_is_encrypted(plain)
    again = keys.load_private_key(encrypted, PASSPHRASE)
    assert keys.public_key_fingerprint(again) == keys.public_key_fingerprint(rsa2048)


def test_dump_private_key_refusals(rsa2048: rsa.RSAPrivateKey) -> None:
    assert "passphrase is empty" in raises_key_error(keys.dump_private_key, rsa2048, "")
    assert "expected a private key" in raises_key_error(keys.dump_private_key, rsa2048.public_key())


# ---------------------------------------------------------------------------
# Descriptions and fingerprints
# ---------------------------------------------------------------------------

def test_key_description(rsa2048: rsa.RSAPrivateKey, ec_keys: t.Dict[str, t.Any], ed25519_key: t.Any) -> None:
    assert keys.key_description(rsa2048) == {"algorithm": "RSA", "key_size": 2048, "curve": None}
    assert keys.key_description(rsa2048.public_key()) == {"algorithm": "RSA", "key_size": 2048, "curve": None}
    for curve, key in ec_keys.items():
        assert keys.key_description(key) == {"algorithm": "EC", "key_size": int(curve[2:]), "curve": curve}
    assert keys.key_description(ed25519_key) == {"algorithm": "Ed25519", "key_size": None, "curve": None}
    cert = issuing.create_certificate(ec_keys["P-384"], "d", 10, now=NOW)
    assert keys.key_description(cert)["curve"] == "P-384"
    assert "expected a private key, public key or certificate" in raises_key_error(keys.key_description, "not a key")


def test_fingerprints_and_matching(rsa2048: rsa.RSAPrivateKey, rsa2048_other: rsa.RSAPrivateKey) -> None:
    cert = issuing.create_certificate(rsa2048, "fp", 10, now=NOW)
    spki = rsa2048.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = hashlib.sha256(spki).hexdigest()
    assert keys.public_key_fingerprint(rsa2048) == keys.public_key_fingerprint(rsa2048.public_key()) == keys.public_key_fingerprint(cert) == expected
    assert len(expected) == 64 and expected == expected.lower()
    assert certs.certificate_matches_key(cert, rsa2048) is True
    assert certs.certificate_matches_key(cert, rsa2048.public_key()) is True
    assert certs.certificate_matches_key(cert, rsa2048_other) is False


# ---------------------------------------------------------------------------
# Cross-check with the openssl command line tool
# ---------------------------------------------------------------------------

def openssl(*args: str, data: t.Optional[bytes] = None) -> str:
    return subprocess.run(("openssl",) + args, input=data, check=True, capture_output=True, timeout=30).stdout.decode()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
@pytest.mark.parametrize("key_type, size, curve", [("RSA", 2048, None), ("EC", None, "P-384")])
def test_generated_material_with_openssl(key_type: str, size: t.Optional[int], curve: t.Optional[str], tmp_path: t.Any) -> None:
    key = keys.generate_private_key(key_type, size=size, curve=curve)
    cert = issuing.create_certificate(key, "openssl-check", 90, subject={"O": "Example", "C": "FI"}, now=NOW)
    key_file = tmp_path / "key.pem"
    cert_file = tmp_path / "cert.pem"
    key_file.write_bytes(keys.dump_private_key(key, PASSPHRASE))
    cert_file.write_text(certs.dump_certificate(cert))

    key_text = openssl("pkey", "-in", str(key_file), "-passin", "pass:" + PASSPHRASE, "-noout", "-text")
    if key_type == "RSA":
        assert "Private-Key: (2048 bit" in key_text
    else:
        assert "Private-Key: (384 bit" in key_text and ("NIST CURVE: P-384" in key_text or "secp384r1" in key_text)

    subject = openssl("x509", "-in", str(cert_file), "-noout", "-subject", "-issuer", "-dates", "-fingerprint", "-sha256")
    assert "CN = openssl-check" in subject and "O = Example" in subject and "C = FI" in subject
    assert "notBefore=Nov 28 16:55:00 2026 GMT" in subject
    assert "notAfter=Feb 26 17:00:00 2027 GMT" in subject
    fingerprint = subject.split("Fingerprint=")[1].strip().replace(":", "").lower()
    assert fingerprint == certs.certificate_info(cert, now=NOW)["fingerprint"]

    # Certificate and key match: the same SubjectPublicKeyInfo from both.
    cert_pub = openssl("x509", "-in", str(cert_file), "-noout", "-pubkey")
    key_pub = openssl("pkey", "-in", str(key_file), "-passin", "pass:" + PASSPHRASE, "-pubout")
    assert cert_pub == key_pub and "BEGIN PUBLIC KEY" in cert_pub

    # The certificate verifies against itself (self-signed) and is not a CA.
    verify = openssl("verify", "-CAfile", str(cert_file), "-partial_chain", str(cert_file))
    assert verify.strip().endswith("OK")
    extensions = openssl("x509", "-in", str(cert_file), "-noout", "-text")
    assert "CA:FALSE" in extensions and "Digital Signature" in extensions


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_openssl_made_keys_load(tmp_path: t.Any) -> None:
    key_file = tmp_path / "openssl.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:" + PASSPHRASE, "-out", str(key_file))
    key = keys.load_private_key(key_file.read_bytes(), PASSPHRASE, source=str(key_file))
    assert keys.key_description(key) == {"algorithm": "EC", "key_size": 256, "curve": "P-256"}
    message = raises_key_error(keys.load_private_key, key_file.read_bytes(), source=str(key_file))
    assert str(key_file) in message and "is encrypted" in message
