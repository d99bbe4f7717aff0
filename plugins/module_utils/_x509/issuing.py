# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Making X.509 certificates and signing requests for Izuma Device Management verification keys.

The building half of the certificate library: subject names, self-signed and
CA-issued certificates within the product's upload rules, certificate signing
requests (and whether one still fits a key). It builds on ``certificates``
(reading, writing and checking certificates) and ``keys``; only what issues
something imports it.

Error messages name the input and the fix. They never contain key material,
certificates' base64 bodies or passphrases.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._times import as_utc, utcnow
from ansible_collections.izuma.device_management.plugins.module_utils._x509.certificates import dump_certificate
from ansible_collections.izuma.device_management.plugins.module_utils._x509.keys import (
    CLOCK_SKEW_SECONDS, MAX_CERTIFICATE_CHARS, MAX_VALID_DAYS, key_problems, public_key_fingerprint, require_cryptography,
)

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:
    pass  # keys records the import error; require_cryptography() reports it.

if t.TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from ansible_collections.izuma.device_management.plugins.module_utils._x509.keys import KeyOrCert, PrivateKey


def _name_oids() -> t.Dict[str, t.Any]:
    return {
        "C": NameOID.COUNTRY_NAME, "countryName": NameOID.COUNTRY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME, "stateOrProvinceName": NameOID.STATE_OR_PROVINCE_NAME,
        "L": NameOID.LOCALITY_NAME, "localityName": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME, "organizationName": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "organizationalUnitName": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME, "commonName": NameOID.COMMON_NAME,
        "emailAddress": NameOID.EMAIL_ADDRESS,
    }


# Conventional order of the attributes in a distinguished name, country first.
_NAME_ORDER = ("C", "ST", "L", "O", "OU", "CN", "emailAddress")
_SHORT_NAMES = {
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L", "organizationName": "O",
    "organizationalUnitName": "OU", "commonName": "CN",
}


def _build_name(common_name: str, subject: t.Optional[t.Mapping[str, str]]) -> "x509.Name":
    if not isinstance(common_name, str) or not common_name.strip():
        raise IzumaKeyError("common_name must be a non-empty string naming the verification key's certificate")
    if len(common_name) > 64:
        raise IzumaKeyError("common_name is %d characters; X.509 allows at most 64: shorten it" % len(common_name))
    oids = _name_oids()
    values = {"CN": common_name}
    for name, value in (subject or {}).items():
        short = _SHORT_NAMES.get(name, name)
        if short not in oids:
            raise IzumaKeyError("subject attribute %r is not supported: use C, ST, L, O, OU, CN or emailAddress" % (name,))
        if not isinstance(value, str) or not value:
            raise IzumaKeyError("subject attribute %s must be a non-empty string" % short)
        if short == "CN" and value != common_name:
            raise IzumaKeyError("subject CN differs from common_name: give the common name once, as common_name")
        if short == "C" and len(value) != 2:
            raise IzumaKeyError("subject attribute C must be a two-letter country code such as FI or US")
        if len(value) > 64 and short != "emailAddress":
            raise IzumaKeyError("subject attribute %s is %d characters; X.509 allows at most 64: shorten it" % (short, len(value)))
        values[short] = value
    try:
        return x509.Name([x509.NameAttribute(oids[short], values[short]) for short in _NAME_ORDER if short in values])
    except ValueError as exc:
        raise IzumaKeyError("the certificate subject is not valid: %s" % exc) from None


def _signature_hash(key: PrivateKey) -> t.Any:
    # Match the hash strength to the curve, as ES384/ES512 do; SHA-256 elsewhere.
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size >= 512:
            return hashes.SHA512()
        if key.curve.key_size >= 384:
            return hashes.SHA384()
    return hashes.SHA256()


def create_certificate(key: KeyOrCert, common_name: str, valid_days: int, subject: t.Optional[t.Mapping[str, str]] = None,
                       not_before: t.Optional[datetime.datetime] = None, now: t.Optional[datetime.datetime] = None,
                       issuer: t.Optional[t.Tuple["x509.Certificate", PrivateKey]] = None) -> "x509.Certificate":
    """Create a certificate for ``key``, fit to upload as a verification key: self-signed, or issued by ``issuer``.

    The certificate has a random serial, subject ``common_name`` plus the
    optional ``subject`` attributes (C, ST, L, O, OU, emailAddress), only two
    extensions (basicConstraints CA:FALSE and keyUsage digitalSignature, both
    critical) so that even an RSA 4096 certificate stays under the 2,000
    character limit, and a SHA-256 signature (SHA-384 for P-384, SHA-512 for
    P-521).

    Without ``issuer`` it is self-signed: issuer = subject, signed by ``key``
    (a private key; one in a PKCS#11 token signs too, its ``sign()`` being the
    token's). With ``issuer`` (a CA certificate and its private key) it takes the
    CA's subject as its issuer, adds an authorityKeyIdentifier (so that chain
    builders find the CA) and is signed by the CA's key with the hash that
    matches the CA key; ``key`` may then be a public key, as a CA needs no
    private key of the subject.

    Validity starts at ``not_before`` (default: ``now`` minus five minutes, to
    allow for clock skew) and ends ``valid_days`` days after ``not_before`` if
    given, else after ``now``. Raises IzumaKeyError for unusable keys, bad
    subjects and a result longer than 2,000 characters.
    """
    require_cryptography()
    problems = key_problems(key, what="the private key")
    if problems:
        raise IzumaKeyError(" ".join(problems))
    if issuer is None and not hasattr(key, "private_bytes"):
        raise IzumaKeyError("a private key is needed to sign the certificate, got %s" % type(key).__name__)
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or not 1 <= valid_days <= MAX_VALID_DAYS:
        raise IzumaKeyError("valid_days must be a whole number of days from 1 to %d, got %r" % (MAX_VALID_DAYS, valid_days))
    name = _build_name(common_name, subject)
    start, end = _validity(valid_days, not_before, now)
    public_key = key.public_key() if hasattr(key, "private_bytes") else key
    builder = _builder(name, name if issuer is None else issuer[0].subject, public_key, start, end)
    if issuer is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False)
    signer = key if issuer is None else issuer[1]
    cert = builder.sign(signer, _signature_hash(signer))
    length = len(dump_certificate(cert))
    if length > MAX_CERTIFICATE_CHARS:
        raise IzumaKeyError(
            "the certificate would be %d characters of PEM, more than the %d Izuma Device Management accepts: "
            "shorten common_name and the subject attributes, or use a smaller key (RSA 2048/3072 or EC)" % (length, MAX_CERTIFICATE_CHARS)
        )
    return cert


def _validity(valid_days: int, not_before: t.Optional[datetime.datetime],
              now: t.Optional[datetime.datetime]) -> t.Tuple[datetime.datetime, datetime.datetime]:
    """notBefore and notAfter: from ``not_before``, else from ``now`` less the clock skew allowance."""
    current = as_utc(now if now is not None else utcnow()).replace(microsecond=0)
    if not_before is None:
        return current - datetime.timedelta(seconds=CLOCK_SKEW_SECONDS), current + datetime.timedelta(days=valid_days)
    start = as_utc(not_before).replace(microsecond=0)
    return start, start + datetime.timedelta(days=valid_days)


def _builder(name: "x509.Name", issuer_name: "x509.Name", public_key: t.Any, start: datetime.datetime,
             end: datetime.datetime) -> "x509.CertificateBuilder":
    """The certificate before signing: random serial, the validity, and only the two extensions every one has."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )


def create_csr(key: PrivateKey, common_name: str, subject: t.Optional[t.Mapping[str, str]] = None) -> str:
    """A PEM certificate signing request for ``key``, with the subject new certificates get (for the user's CA)."""
    require_cryptography()
    problems = key_problems(key, what="the private key")
    if problems:
        raise IzumaKeyError(" ".join(problems))
    request = (x509.CertificateSigningRequestBuilder().subject_name(_build_name(common_name, subject))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .sign(key, _signature_hash(key)))
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load_csr(data: t.Optional[t.Union[bytes, str]]) -> t.Optional["x509.CertificateSigningRequest"]:
    if not data:
        return None
    try:
        return x509.load_pem_x509_csr(data if isinstance(data, bytes) else data.encode("ascii", "replace"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def csr_info(data: t.Optional[t.Union[bytes, str]]) -> t.Dict[str, t.Optional[str]]:
    """What a diff shows of a certificate signing request: the public key it asks for and its subject (None: unreadable)."""
    require_cryptography()
    request = _load_csr(data)
    if request is None:
        return {"public_key_fingerprint": None, "subject": None}
    return {"public_key_fingerprint": public_key_fingerprint(request.public_key()), "subject": request.subject.rfc4514_string()}


def csr_matches(data: t.Optional[t.Union[bytes, str]], key: KeyOrCert, common_name: str,
                subject: t.Optional[t.Mapping[str, str]] = None) -> bool:
    """Tell whether ``data`` is a valid PEM CSR for ``key`` with the subject ``create_csr`` would give it.

    A CSR's ECDSA signature differs every time it is made, so an existing CSR is compared by what it asks for, not by
    its bytes: that keeps a run that finds it already written from writing it again.
    """
    require_cryptography()
    request = _load_csr(data)
    if request is None:
        return False
    return (request.is_signature_valid and public_key_fingerprint(request.public_key()) == public_key_fingerprint(key)
            and request.subject == _build_name(common_name, subject))
