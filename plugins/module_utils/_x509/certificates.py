# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""X.509 certificates for Izuma Device Management verification keys: reading, writing and checking them.

Load, write (PEM) and describe certificates, read a public key from PEM (a
public key or a certificate), tell who issued a certificate, and check one
against the product's upload rules (X.509 PEM, at most 2,000 characters,
RSA >= 2048 bits or EC >= 256 bits, not expired). Making certificates and
signing requests is in ``issuing``, which builds on this module; keys are in
``keys``, which this module builds on; time helpers in ``_times``.

Error messages name the input (the ``source`` argument) and the fix. They never
contain key material, certificates' base64 bodies or passphrases.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._x509.keys import (
    MAX_CERTIFICATE_CHARS,
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
except ImportError:
    pass  # _keys records the import error; require_cryptography() reports it.

if t.TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from ansible_collections.izuma.device_management.plugins.module_utils._x509.keys import KeyOrCert


def certificate_matches_key(cert: "x509.Certificate", key: KeyOrCert) -> bool:
    """Tell whether ``cert`` holds the public key of ``key`` (a private key, public key or certificate)."""
    return public_key_fingerprint(cert) == public_key_fingerprint(key)


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


def load_public_key(data: t.Union[bytes, str], source: str = "public key") -> t.Any:
    """Load a PEM public key or the public key of a PEM certificate (no rules enforced)."""
    require_cryptography()
    text = _to_text(data)
    blocks = _pem_blocks(text)
    if any(label == "CERTIFICATE" for label, _block in blocks):
        return load_certificate(text, source=source).public_key()
    for label, block in blocks:
        if label == "PUBLIC KEY":
            try:
                return serialization.load_pem_public_key(block.encode("ascii", "replace"))
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise IzumaKeyError("%s is not a valid public key: the PEM block is damaged" % source) from None
    raise IzumaKeyError("%s holds no PEM public key or certificate (-----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----)" % source)


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
    return issued_by(cert, cert)


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
