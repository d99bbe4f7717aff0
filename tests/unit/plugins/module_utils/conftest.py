# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures for the keys, tokens and files tests: keys generated once per session.

RSA key generation is the slow part of these tests, so each key is made once
and shared (the key objects are immutable). Certificates that our own code
refuses to create (weak keys, expired, oversized) are built here directly with
cryptography's CertificateBuilder.
"""

from __future__ import annotations

import datetime
import re
import typing as t

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

NOW = datetime.datetime(2026, 11, 28, 17, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="session")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa2048_other() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa4096() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@pytest.fixture(scope="session")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="session")
def ec_keys() -> t.Dict[str, ec.EllipticCurvePrivateKey]:
    return {
        "P-256": ec.generate_private_key(ec.SECP256R1()),
        "P-384": ec.generate_private_key(ec.SECP384R1()),
        "P-521": ec.generate_private_key(ec.SECP521R1()),
    }


@pytest.fixture(scope="session")
def ec256(ec_keys: t.Dict[str, ec.EllipticCurvePrivateKey]) -> ec.EllipticCurvePrivateKey:
    return ec_keys["P-256"]


@pytest.fixture(scope="session")
def weak_ec_key() -> ec.EllipticCurvePrivateKey:
    """P-192 if this OpenSSL still has it, else P-224: both below the 256-bit minimum."""
    try:
        return ec.generate_private_key(ec.SECP192R1())
    except Exception:  # pylint: disable=broad-except
        return ec.generate_private_key(ec.SECP224R1())


@pytest.fixture(scope="session")
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def build_certificate(key: t.Any, common_name: str = "test", not_before: datetime.datetime = NOW - datetime.timedelta(days=1),
                      not_after: datetime.datetime = NOW + datetime.timedelta(days=365), signer: t.Any = None,
                      issuer_name: t.Optional[str] = None, san_names: int = 0) -> x509.Certificate:
    """Build a certificate for ``key`` directly with cryptography, bypassing the rules of keys.py."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]) if issuer_name else subject
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
    )
    if san_names:
        # Many long DNS names: an easy way to push a certificate past 2,000 characters.
        names = [x509.DNSName("host-%03d.%s.example.com" % (index, "x" * 40)) for index in range(san_names)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signing_key = signer or key
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm)


@pytest.fixture(scope="session")
def make_cert() -> t.Callable[..., x509.Certificate]:
    return build_certificate


def pem_body_fragments(pem: t.Union[str, bytes]) -> t.List[str]:
    """Return 16-character pieces of a PEM body, to prove a message quotes none of it."""
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----") and ":" not in line)
    return [body[i:i + 16] for i in range(0, max(len(body) - 16, 1), 16)]


def check_safe_message(message: str, *secrets: t.Union[str, bytes]) -> None:
    """Assert ``message`` holds no PEM block, no base64 run, no token and no given secret.

    A bare "-----BEGIN CERTIFICATE-----" label is allowed: messages name the format they expect.
    """
    assert "-----END" not in message, message
    for run in re.findall(r"[A-Za-z0-9+/=]{40,}", message):
        assert not (re.search(r"[A-Z]", run) and re.search(r"[a-z]", run)), message
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}", message), message  # a JWT's base64url JSON header
    for secret in secrets:
        text = secret.decode("latin-1") if isinstance(secret, bytes) else secret
        if "-----BEGIN" in text:
            for fragment in pem_body_fragments(text):
                assert fragment not in message, message
        elif text:
            assert text not in message, message


@pytest.fixture(scope="session")
def safe_message() -> t.Callable[..., None]:
    return check_safe_message


def pkcs8(key: t.Any, passphrase: t.Optional[bytes] = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.fixture(scope="session")
def to_pkcs8() -> t.Callable[..., bytes]:
    return pkcs8


@pytest.fixture
def app(request: pytest.FixtureRequest, admin_client: t.Any) -> t.Dict[str, t.Any]:
    """A fresh application in the emulator, named by the test module's APPLICATION_NAME."""
    return admin_client.create("/v3/applications", {"name": getattr(request.module, "APPLICATION_NAME", "test-application")})
