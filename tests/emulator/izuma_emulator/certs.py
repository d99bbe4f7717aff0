# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificates: checking verification-key uploads and making the TLS server's own.

``inspect_certificate`` applies the product's documented rules to an uploaded
verification key (one PEM certificate, at most 2,000 characters, RSA >= 2048 or
EC >= 256 bits) and extracts what the API reports about it.
``generate_tls_files`` makes a throw-away CA and a server certificate for ``--tls``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A PEM block; the END label must repeat the BEGIN label.
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

# The curves a JWT can be signed with (ES256, ES384, ES512); others cannot verify any token.
SUPPORTED_CURVES: dict[str, str] = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class CertificateRejected(ValueError):
    """The uploaded certificate breaks a rule; the message says which, fit for a field error."""


@dataclass(frozen=True)
class CertificateInfo:
    """What the API reports about a verification key's certificate, plus its public key."""

    pem: str
    fingerprint: str
    subject: str
    issuer: str
    algorithm: str
    key_size: int
    curve: str | None
    valid_from: datetime
    expires_at: datetime
    public_key: PublicKey

    def is_expired(self, now: datetime) -> bool:
        """True when ``now`` is past the certificate's notAfter."""
        return now > self.expires_at

    def is_valid(self, now: datetime) -> bool:
        """True when ``now`` lies within the certificate's validity window."""
        return self.valid_from <= now <= self.expires_at


def _key_description(key: object) -> str:
    """Name a public key type in an error message (``Ed25519PublicKey`` -> ``Ed25519``)."""
    name = type(key).__name__.lstrip("_")
    return name[:-len("PublicKey")] if name.endswith("PublicKey") else name


def _single_certificate_block(pem: str) -> None:
    """Refuse anything but exactly one CERTIFICATE PEM block with nothing else around it."""
    blocks = list(_PEM_BLOCK.finditer(pem))
    if not blocks:
        raise CertificateRejected("must be an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----)")
    labels = [block.group(1) for block in blocks]
    if len(blocks) > 1:
        raise CertificateRejected(f"must contain exactly one PEM certificate, found {len(blocks)} PEM blocks ({', '.join(labels)})")
    if labels[0] != "CERTIFICATE":
        raise CertificateRejected(f"must be a PEM CERTIFICATE block, not {labels[0]}")
    outside = (pem[:blocks[0].start()] + pem[blocks[0].end():]).strip()
    if outside:
        raise CertificateRejected("must contain only the PEM certificate, without text before or after it")


def _check_public_key(key: object, min_rsa_bits: int, min_ec_bits: int) -> tuple[str, int, str | None]:
    """Return (algorithm, key_size, curve) or refuse a key type or size the product does not accept."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < min_rsa_bits:
            raise CertificateRejected(f"has a {key.key_size}-bit RSA key; RSA keys must have at least {min_rsa_bits} bits")
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        if size < min_ec_bits:
            raise CertificateRejected(f"has a {size}-bit EC key ({key.curve.name}); EC keys must have at least {min_ec_bits} bits")
        if key.curve.name not in SUPPORTED_CURVES:
            raise CertificateRejected(f"uses EC curve {key.curve.name}, which cannot sign ES256/ES384/ES512 tokens; use P-256, P-384 or P-521")
        return "EC", size, key.curve.name
    raise CertificateRejected(f"has a {_key_description(key)} key; only RSA (>= {min_rsa_bits} bits) and EC (>= {min_ec_bits} bits) are supported")


def inspect_certificate(pem: str, max_chars: int, min_rsa_bits: int, min_ec_bits: int) -> CertificateInfo:
    """Check an uploaded verification-key certificate and describe it.

    Raises CertificateRejected with a message that completes "certificate ...".
    Expiry is not checked here: whether an expired certificate is acceptable depends on
    the operation, and "now" is the emulator's clock, which the caller owns.
    """
    if len(pem) > max_chars:
        raise CertificateRejected(f"must be at most {max_chars} characters long, got {len(pem)}")
    _single_certificate_block(pem)
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CertificateRejected(f"is not a readable X.509 certificate ({error})") from None
    algorithm, key_size, curve = _check_public_key(certificate.public_key(), min_rsa_bits, min_ec_bits)
    return CertificateInfo(
        pem=pem,
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        algorithm=algorithm,
        key_size=key_size,
        curve=curve,
        valid_from=_utc(certificate, "not_valid_before"),
        expires_at=_utc(certificate, "not_valid_after"),
        public_key=certificate.public_key(),
    )


def _utc(certificate: x509.Certificate, name: str) -> datetime:
    """A certificate's validity bound, timezone-aware: ``*_utc`` since cryptography 42, a naive UTC value before."""
    aware = getattr(certificate, name + "_utc", None)
    return aware if aware is not None else getattr(certificate, name).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the files ``--tls`` serves with; ``ca_bundle`` is what clients must trust."""

    directory: str
    ca_bundle: str
    certificate: str
    private_key: str


def _subject_alternative_names(hosts: list[str]) -> list[x509.GeneralName]:
    """Turn host names and IP literals into SAN entries, IPs as IP entries."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write(path: str, data: bytes, mode: int) -> None:
    """Write a file with the given permissions from the start (no window where a key is readable)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(descriptor, mode)  # an existing file keeps its old mode otherwise
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def generate_tls_files(directory: str, hosts: list[str]) -> TlsFiles:
    """Create a CA and a server certificate for ``hosts`` (SAN IP/DNS) in ``directory``.

    EC P-256 keeps generation instant; the extensions (key usages, SKI/AKI) satisfy
    strict X.509 verification as done by recent Python ``ssl`` defaults.
    """
    os.makedirs(directory, exist_ok=True)
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Izuma emulator test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        directory=directory,
        ca_bundle=os.path.join(directory, "ca.pem"),
        certificate=os.path.join(directory, "server.pem"),
        private_key=os.path.join(directory, "server-key.pem"),
    )
    _write(files.ca_bundle, ca_certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.certificate, server_certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.private_key, server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()), 0o600)
    return files
