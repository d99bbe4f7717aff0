# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Who issues a verification key's certificates (``certificate_provider``), modelled on community.crypto's
``x509_certificate``:

* ``selfsigned``: the module issues and renews self-signed certificates;
* ``ownca``: the module issues and renews certificates with a CA certificate and key the user gives
  (``ownca_path``/``ownca_content``, ``ownca_privatekey_path``/``ownca_privatekey_content``,
  ``ownca_privatekey_passphrase``);
* ``external``: the module never issues; it writes a certificate signing request to ``csr_path`` when a
  certificate is due and uploads the certificate the user's CA issued once it is at ``certificate_path``.

Izuma Device Management accepts any X.509 PEM certificate that meets its size and key rules, whoever issued it
(it verifies a JWT with the certificate's public key, not with a chain), so a CA-issued certificate is uploaded as
it is. The CA is read once, by ``observe``; the planner works from what is loaded here (the certificate decisions
are in ``plan``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:
    pass  # _keys records the import error; the module reports it before anything runs.

CSR_SUFFIX = ".csr"


@dataclass(frozen=True)
class CertificateAuthority:
    """The CA of ``certificate_provider=ownca``: its certificate and private key, checked to belong together."""

    source: str
    cert: Any
    key: Any = field(repr=False)

    @property
    def name(self) -> str:
        """The CA's subject (RFC 4514), as the issued certificates name their issuer."""
        return self.cert.subject.rfc4514_string()

    @property
    def expires_at(self) -> datetime.datetime:
        """When the CA certificate expires."""
        return certs.certificate_times(self.cert)[1]

    def issued(self, cert: Any) -> bool:
        """Whether this CA issued ``cert`` (its subject is the issuer, its key made the signature)."""
        return certs.issued_by(cert, self.cert)


def csr_path(want: Desired) -> Optional[str]:
    """Where certificate signing requests are written: ``csr_path``, by default ``<certificate_path>.csr``."""
    if want.certificate_provider != "external":
        return None
    return want.csr_path or (want.certificate_path + CSR_SUFFIX if want.certificate_path else None)


def _read(path: Optional[str], content: Optional[str], what: str, option: str) -> "tuple[bytes, str]":
    if content:
        return content.encode("utf-8"), option
    return files.read_file(str(path), what=what), str(path)


def load_authority(want: Desired, now: datetime.datetime) -> Optional[CertificateAuthority]:
    """The CA of ``certificate_provider=ownca``, or None for the other providers.

    Refused, naming the option and the fix: a CA certificate or key that cannot be read, a key that does not belong
    to the certificate, a certificate that is not a CA's (basicConstraints CA:FALSE, or keyUsage without keyCertSign),
    an expired CA, and a CA key that is neither RSA nor EC.
    """
    if want.certificate_provider != "ownca" or want.state != "present":
        return None
    data, source = _read(want.ownca_path, want.ownca_content, "CA certificate", "ownca_content")
    cert = certs.load_certificate(data, source=source)
    key_data, key_source = _read(want.ownca_privatekey_path, want.ownca_privatekey_content, "CA private key", "ownca_privatekey_content")
    try:
        key = keys.load_private_key(key_data, want.ownca_privatekey_passphrase, source=key_source, enforce_rules=False)
    except IzumaKeyError as exc:
        # The key library names the signing key's passphrase option; this is the CA's.
        raise IzumaKeyError(str(exc).replace("private_key_passphrase", "ownca_privatekey_passphrase")) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise IzumaConfigError("%s is a %s key; certificate_provider=ownca signs with RSA or EC CA keys only: give an RSA or EC "
                               "CA key." % (key_source, type(key).__name__.lstrip("_").replace("PrivateKey", "")))
    if keys.public_key_fingerprint(cert) != keys.public_key_fingerprint(key):
        raise IzumaConfigError("The CA private key %s does not belong to the CA certificate %s (their public keys differ): give "
                               "the CA's own key in ownca_privatekey_path or ownca_privatekey_content." % (key_source, source))
    _check_is_ca(cert, source)
    authority = CertificateAuthority(source, cert, key)
    if now > authority.expires_at:
        raise IzumaConfigError("The CA certificate %s (%s) expired at %s: renew the CA certificate, or give another CA in "
                               "ownca_path." % (source, authority.name, times.to_rfc3339(authority.expires_at)))
    return authority


def _extension(cert: Any, kind: Any) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_is_ca(cert: Any, source: str) -> None:
    """A certificate that says it is not a CA's cannot issue: refuse it, as a verifier would refuse what it signs."""
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and not constraints.ca:
        raise IzumaConfigError("%s is not a CA certificate (basicConstraints CA:FALSE): give your CA's certificate in ownca_path "
                               "or ownca_content." % source)
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise IzumaConfigError("%s may not sign certificates (its keyUsage lacks keyCertSign): give your CA's certificate in "
                               "ownca_path or ownca_content." % source)
