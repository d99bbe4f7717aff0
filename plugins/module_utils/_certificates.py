# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""X.509 certificates for Izuma Device Management verification keys.

Create, load and describe self-signed certificates, and check a certificate
against the product's upload rules (X.509 PEM, at most 2,000 characters,
RSA >= 2048 bits or EC >= 256 bits, not expired). Keys and time helpers are in
``_keys``, which this module builds on.

Error messages name the input (the ``source`` argument) and the fix. They never
contain key material, certificates' base64 bodies or passphrases.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._keys import (
    CLOCK_SKEW_SECONDS,
    MAX_CERTIFICATE_CHARS,
    MAX_VALID_DAYS,
    _looks_binary,
    _pem_blocks,
    _PRIVATE_KEY_LABELS,
    _to_text,
    key_description,
    key_problems,
    public_key_fingerprint,
    require_cryptography,
)
from ansible_collections.izuma.device_management.plugins.module_utils._times import as_utc, to_rfc3339, utcnow

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    pass  # _keys records the import error; require_cryptography() reports it.

if t.TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from ansible_collections.izuma.device_management.plugins.module_utils._keys import KeyOrCert, PrivateKey


def certificate_matches_key(cert: "x509.Certificate", key: KeyOrCert) -> bool:
    """Tell whether ``cert`` holds the public key of ``key`` (a private key, public key or certificate)."""
    return public_key_fingerprint(cert) == public_key_fingerprint(key)


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

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


def create_self_signed_certificate(key: PrivateKey, common_name: str, valid_days: int, subject: t.Optional[t.Mapping[str, str]] = None,
                                   not_before: t.Optional[datetime.datetime] = None,
                                   now: t.Optional[datetime.datetime] = None) -> "x509.Certificate":
    """Create a self-signed X.509 certificate for ``key``, fit to upload as a verification key.

    The certificate has a random serial, subject = issuer = ``common_name``
    plus the optional ``subject`` attributes (C, ST, L, O, OU, emailAddress),
    only two extensions (basicConstraints CA:FALSE and keyUsage
    digitalSignature, both critical) so that even an RSA 4096 certificate stays
    under the 2,000 character limit, and a SHA-256 signature (SHA-384 for
    P-384, SHA-512 for P-521).

    Validity starts at ``not_before`` (default: ``now`` minus five minutes, to
    allow for clock skew) and ends ``valid_days`` days after ``not_before`` if
    given, else after ``now``. Raises IzumaKeyError for unusable keys, bad
    subjects and a result longer than 2,000 characters.
    """
    return create_certificate(key, common_name, valid_days, subject=subject, not_before=not_before, now=now)


def create_certificate(key: KeyOrCert, common_name: str, valid_days: int, subject: t.Optional[t.Mapping[str, str]] = None,
                       not_before: t.Optional[datetime.datetime] = None, now: t.Optional[datetime.datetime] = None,
                       issuer: t.Optional[t.Tuple["x509.Certificate", PrivateKey]] = None) -> "x509.Certificate":
    """Create a certificate for ``key``: self-signed, or issued by ``issuer`` (a CA certificate and its private key).

    As ``create_self_signed_certificate``; a CA-issued certificate takes the CA's subject as its issuer and adds an
    authorityKeyIdentifier (so that chain builders find the CA), and is signed by the CA's key with the hash that
    matches the CA key. ``key`` may then be a public key: a CA needs no private key of the subject.
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
    current = as_utc(now if now is not None else utcnow()).replace(microsecond=0)
    if not_before is None:
        start = current - datetime.timedelta(seconds=CLOCK_SKEW_SECONDS)
        end = current + datetime.timedelta(days=valid_days)
    else:
        start = as_utc(not_before).replace(microsecond=0)
        end = start + datetime.timedelta(days=valid_days)
    public_key = key.public_key() if hasattr(key, "private_bytes") else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer[0].subject)
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


def issued_by(cert: "x509.Certificate", ca_cert: "x509.Certificate") -> bool:
    """Tell whether ``ca_cert`` issued ``cert``: the issuer is the CA's subject and the CA's key made the signature."""
    if cert.issuer != ca_cert.subject:
        return False
    if hasattr(cert, "verify_directly_issued_by"):
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
        return True
    return _signed_by(cert, ca_cert.public_key())


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


def load_certificate(data: t.Union[bytes, str], source: str = "certificate") -> "x509.Certificate":
    """Load exactly one PEM X.509 certificate.

    A private key next to the certificate (a combined file) is ignored. Raises
    IzumaKeyError for empty input, DER, no certificate, several certificates or
    a damaged PEM block, naming ``source``.
    """
    require_cryptography()
    text = _to_text(data)
    if not text.strip():
        raise IzumaKeyError("%s is empty: give an X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----)" % source)
    blocks = _pem_blocks(text)
    certs = [block for label, block in blocks if label == "CERTIFICATE"]
    if not certs:
        if any(label in _PRIVATE_KEY_LABELS for label, _block in blocks):
            raise IzumaKeyError("%s holds a private key, not a certificate: give the X.509 certificate (-----BEGIN CERTIFICATE-----)" % source)
        if _looks_binary(text):
            raise IzumaKeyError("%s is binary (DER), not PEM: convert it with: openssl x509 -inform DER -in FILE -out FILE.pem" % source)
        raise IzumaKeyError("%s is not a PEM certificate (no -----BEGIN CERTIFICATE----- block found): give an X.509 certificate in PEM format" % source)
    if len(certs) > 1:
        raise IzumaKeyError("%s holds %d certificates; a verification key is exactly one certificate: give only the key's own certificate"
                            % (source, len(certs)))
    try:
        return x509.load_pem_x509_certificate(certs[0].encode("ascii", "replace"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise IzumaKeyError("%s is not a valid X.509 certificate: the PEM block is damaged; export the certificate again" % source) from None


def dump_certificate(cert: "x509.Certificate") -> str:
    """Return the certificate as PEM text (64-character lines, trailing newline)."""
    require_cryptography()
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def normalize_certificate_pem(data: t.Union[bytes, str], source: str = "certificate") -> str:
    """Return the canonical PEM text of the one certificate in ``data``.

    This is the text to upload and to compare with the API's ``certificate``
    field: surrounding text, CRLF line ends and other PEM blocks are dropped.
    """
    return dump_certificate(load_certificate(data, source=source))


def _cert_times(cert: "x509.Certificate") -> t.Tuple[datetime.datetime, datetime.datetime]:
    # cryptography >= 42 has the *_utc properties; older versions return naive UTC.
    start = getattr(cert, "not_valid_before_utc", None) or as_utc(cert.not_valid_before)
    end = getattr(cert, "not_valid_after_utc", None) or as_utc(cert.not_valid_after)
    return as_utc(start), as_utc(end)


def certificate_times(cert: "x509.Certificate") -> t.Tuple[datetime.datetime, datetime.datetime]:
    """The certificate's notBefore and notAfter, in UTC."""
    return _cert_times(cert)


def _is_self_signed(cert: "x509.Certificate") -> bool:
    if cert.issuer != cert.subject:
        return False
    if hasattr(cert, "verify_directly_issued_by"):
        try:
            cert.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
        return True
    return _signed_by_own_key(cert)


def _signed_by_own_key(cert: "x509.Certificate") -> bool:
    """Verify a certificate's signature with its own public key (for cryptography < 40)."""
    return _signed_by(cert, cert.public_key())


def _signed_by(cert: "x509.Certificate", public_key: t.Any) -> bool:
    """Verify a certificate's signature with ``public_key`` (for cryptography < 40)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def certificate_info(cert: "x509.Certificate", now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    """Describe a certificate with JSON-friendly values, as the API does for verification keys.

    Keys: fingerprint (SHA-256 hex of the DER, like the API's
    certificate_fingerprint), subject and issuer (RFC 4514), algorithm,
    key_size, curve, serial_number (decimal string), valid_from and expires_at
    (RFC 3339 UTC), days_left (whole days, floored, negative once expired),
    expired, valid (now within the validity window, like the API's ``valid``),
    self_signed and public_key_fingerprint.
    """
    require_cryptography()
    current = as_utc(now if now is not None else utcnow())
    start, end = _cert_times(cert)
    desc = key_description(cert)
    return {
        "fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "algorithm": desc["algorithm"],
        "key_size": desc["key_size"],
        "curve": desc["curve"],
        "serial_number": str(cert.serial_number),
        "valid_from": to_rfc3339(start),
        "expires_at": to_rfc3339(end),
        "days_left": (end - current) // datetime.timedelta(days=1),
        "expired": current > end,
        "valid": start <= current <= end,
        "self_signed": _is_self_signed(cert),
        "public_key_fingerprint": public_key_fingerprint(cert),
    }


def check_certificate_rules(pem: t.Union[str, bytes, "x509.Certificate"], now: t.Optional[datetime.datetime] = None,
                            source: str = "the certificate") -> t.List[str]:
    """List every Izuma Device Management upload rule the certificate breaks; empty means uploadable.

    Rules: one X.509 certificate in PEM; at most 2,000 characters (counted on
    the canonical PEM from ``normalize_certificate_pem``, which is what should
    be uploaded); an RSA key of at least 2048 bits or an EC key of at least 256
    bits on P-256, P-384 or P-521; not expired. Each problem is a sentence
    naming the rule and the fix.
    """
    require_cryptography()
    if isinstance(pem, x509.Certificate):
        cert = pem
    else:
        try:
            cert = load_certificate(pem, source=source)
        except IzumaKeyError as exc:
            return [exc.message.rstrip(".") + "."]
    problems = []
    length = len(dump_certificate(cert))
    if length > MAX_CERTIFICATE_CHARS:
        problems.append("%s is %d characters of PEM; Izuma Device Management accepts at most %d: use a smaller key "
                        "(RSA 2048/3072 or EC) and a shorter subject with fewer extensions." % (source, length, MAX_CERTIFICATE_CHARS))
    problems.extend(key_problems(cert, what=source))
    current = as_utc(now if now is not None else utcnow())
    _start, end = _cert_times(cert)
    if current > end:
        problems.append("%s expired at %s; Izuma Device Management does not accept an expired verification key: "
                        "create a new certificate with a future expiry." % (source, to_rfc3339(end)))
    return problems


def assert_certificate_uploadable(pem: t.Union[str, bytes, "x509.Certificate"], now: t.Optional[datetime.datetime] = None,
                                  source: str = "the certificate") -> None:
    """Raise IzumaKeyError listing every rule ``check_certificate_rules`` finds broken."""
    problems = check_certificate_rules(pem, now=now, source=source)
    if problems:
        raise IzumaKeyError(" ".join(problems), problems=problems)
