# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Signing with a PKCS#11 key: JWS signatures, and a ``cryptography`` private key object that signs in the token.

``sign(pair, data, algorithm)`` signs with the token for the nine JWT
algorithms Izuma Device Management accepts: RS256/384/512 (CKM_SHA*_RSA_PKCS),
PS256/384/512 (CKM_SHA*_RSA_PKCS_PSS, MGF1 with the same hash, salt as long as
the hash, as RFC 7518 requires) and ES256/384/512 (CKM_ECDSA over a digest
made here, which every token that signs ECDSA supports, returned in the JWS
raw r||s form).

``private_key(pair)`` is a ``cryptography`` RSA or EC private key object
whose ``sign()`` goes to the token: code written for key files (the
certificate builder ``_x509.issuing.create_certificate``, ``_jwt.signing.sign_token``,
PyJWT) signs with it unchanged, and its ``private_bytes()`` refuses, since the
key cannot leave the token. Its ``sign()`` returns an ECDSA signature in DER,
as cryptography's keys do (the certificate builder needs that); the JWS writer
(``_jwt.jws``) asks its ``sign_jws()`` instead, which is ``sign`` and gives the
token's raw r||s as it is.
"""

from __future__ import annotations

import hashlib
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import HAS_PKCS11, IzumaPkcs11Error
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.key_pairs import KeyPair

if HAS_PKCS11:
    from pkcs11 import MGF, Mechanism
    from pkcs11 import exceptions as pkcs11_errors

if _keys.HAS_CRYPTOGRAPHY:
    from cryptography import __version__ as cryptography_version
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils as asym_utils
    _RSA_BASE = rsa.RSAPrivateKey  # type: t.Any
    _EC_BASE = ec.EllipticCurvePrivateKey  # type: t.Any
else:  # pragma: no cover - the import sanity test loads this file without cryptography
    _RSA_BASE = _EC_BASE = object

_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_ALGORITHM_BY_HASH = {"sha256": "256", "sha384": "384", "sha512": "512"}


def _mechanism(algorithm: str) -> t.Tuple[t.Any, t.Any]:
    """Return (mechanism, mechanism parameter) for RS*/PS* algorithms."""
    bits = algorithm[2:]
    if algorithm.startswith("RS"):
        return getattr(Mechanism, "SHA%s_RSA_PKCS" % bits), None
    digest = getattr(Mechanism, "SHA%s" % bits)
    return getattr(Mechanism, "SHA%s_RSA_PKCS_PSS" % bits), (digest, getattr(MGF, "SHA%s" % bits), _HASHES[bits]().digest_size)


def _check(pair: KeyPair, algorithm: str) -> None:
    try:
        _tokens.check_algorithm(algorithm, pair.public_key())
    except IzumaTokenError as exc:
        raise IzumaPkcs11Error("%s (key %r in %s)" % (exc.message, pair.label, pair.session.describe())) from None


def _pkcs11_sign(pair: KeyPair, data: bytes, mechanism: t.Any, parameter: t.Any, what: str) -> bytes:
    """One C_SignInit + C_Sign with the pair's private key, errors turned into messages that name the key."""
    try:
        with pair.session.lock:
            return pair.private.sign(data, mechanism=mechanism, mechanism_param=parameter)
    except (pkcs11_errors.KeyHandleInvalid, pkcs11_errors.ObjectHandleInvalid):
        pair.session.pairs.clear()
        raise IzumaPkcs11Error("the key object %r is no longer in %s (destroyed or changed by another process): "
                               "run again to find the current key" % (pair.label, pair.session.describe())) from None
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s could not sign with the key %r for %s (%s): check that the token supports the mechanism"
                               % (pair.session.describe(), pair.label, what, type(exc).__name__)) from None


def sign(pair: KeyPair, data: bytes, algorithm: str) -> bytes:
    """Sign ``data`` with the token for a JWT ``algorithm``; ES* signatures are raw r||s of fixed length."""
    _check(pair, algorithm)
    if algorithm.startswith("ES"):
        return _pkcs11_sign(pair, _HASHES[algorithm[2:]](data).digest(), Mechanism.ECDSA, None, algorithm)
    mechanism, parameter = _mechanism(algorithm)
    return _pkcs11_sign(pair, data, mechanism, parameter, algorithm)


# ---------------------------------------------------------------------------
# A cryptography private key object whose signing happens in the token
# ---------------------------------------------------------------------------

def _hash_bits(algorithm: t.Any) -> str:
    bits = _ALGORITHM_BY_HASH.get(getattr(algorithm, "name", ""))
    if bits is None:
        raise IzumaPkcs11Error("a PKCS#11 key signs with SHA-256, SHA-384 or SHA-512 only, not %s" % getattr(algorithm, "name", algorithm))
    return bits


def _not_extractable(pair: KeyPair) -> IzumaPkcs11Error:
    return IzumaPkcs11Error("the private key %r is inside %s and cannot be exported: it is sensitive and non-extractable"
                            % (pair.label, pair.session.describe()))


class _Pkcs11KeyMixin:
    """What the RSA and EC adapters share: the pair, the public key, refusals to export."""

    pair = None  # type: t.Any

    def public_key(self) -> t.Any:
        """The public key (a cryptography object)."""
        return self.pair.public_key()

    @property
    def key_size(self) -> int:
        """The key size in bits."""
        return self.pair.public_key().key_size

    def sign_jws(self, data: bytes, algorithm: str) -> bytes:
        """The JWS signature of ``data`` by JWT ``algorithm``, as the token makes it (ES*: raw r||s, no DER)."""
        return sign(self.pair, data, algorithm)

    def private_numbers(self) -> t.Any:
        """Refuse: the key cannot leave the token."""
        raise _not_extractable(self.pair)

    def private_bytes(self, *args: t.Any, **kwargs: t.Any) -> bytes:
        """Refuse: the key cannot leave the token."""
        raise _not_extractable(self.pair)

    def __copy__(self) -> t.Any:
        return self

    def __deepcopy__(self, memo: t.Any) -> t.Any:
        return self


class Pkcs11RsaPrivateKey(_Pkcs11KeyMixin, _RSA_BASE):
    """An RSA private key in a token, usable wherever cryptography's RSAPrivateKey is."""

    def __init__(self, pair: KeyPair) -> None:
        self.pair = pair

    def sign(self, data: bytes, padding_: t.Any, algorithm: t.Any) -> bytes:
        """Sign with PKCS#1 v1.5 or PSS (MGF1 with the same hash, salt length = hash length)."""
        if isinstance(algorithm, asym_utils.Prehashed):
            raise IzumaPkcs11Error("a PKCS#11 RSA key signs the message itself here, not a pre-computed hash")
        bits = _hash_bits(algorithm)
        if isinstance(padding_, padding.PSS):
            salt = getattr(padding_, "_salt_length", None)
            mgf_hash = getattr(getattr(padding_, "_mgf", None), "_algorithm", None)
            if salt not in (algorithm.digest_size, getattr(padding.PSS, "DIGEST_LENGTH", None)) or getattr(mgf_hash, "name", None) != algorithm.name:
                raise IzumaPkcs11Error("a PKCS#11 key signs PSS with MGF1 over the same hash and a salt as long as the hash "
                                       "(as JWT's PS256/PS384/PS512 do), not other PSS parameters")
            return sign(self.pair, data, "PS" + bits)
        if isinstance(padding_, padding.PKCS1v15):
            return sign(self.pair, data, "RS" + bits)
        raise IzumaPkcs11Error("a PKCS#11 RSA key signs with PKCS#1 v1.5 or PSS padding only")

    def decrypt(self, ciphertext: bytes, padding_: t.Any) -> bytes:
        """Refuse: verification keys only sign."""
        raise IzumaPkcs11Error("the PKCS#11 key %r can only sign" % self.pair.label)


class Pkcs11EcPrivateKey(_Pkcs11KeyMixin, _EC_BASE):
    """An EC private key in a token, usable wherever cryptography's EllipticCurvePrivateKey is."""

    def __init__(self, pair: KeyPair) -> None:
        self.pair = pair

    @property
    def curve(self) -> t.Any:
        """The key's curve."""
        return self.pair.public_key().curve

    def sign(self, data: bytes, signature_algorithm: t.Any) -> bytes:
        """Sign with ECDSA over SHA-256/384/512; the signature is DER-encoded, as cryptography returns it."""
        algorithm = getattr(signature_algorithm, "algorithm", None)
        if not isinstance(signature_algorithm, ec.ECDSA) or isinstance(algorithm, asym_utils.Prehashed):
            raise IzumaPkcs11Error("a PKCS#11 EC key signs with ECDSA over the message (SHA-256, SHA-384 or SHA-512) only")
        # ECDSA's strength is the curve's, whatever the hash: sign with the token directly, not through the ES* rules.
        bits = _hash_bits(algorithm)
        raw = _pkcs11_sign(self.pair, _HASHES[bits](data).digest(), Mechanism.ECDSA, None, "ECDSA with SHA-" + bits)
        # DER, as cryptography's own keys return it (the certificate builder needs it); the JWS writer takes the raw
        # r||s from sign_jws instead. cryptography's DER encoder, not asn1crypto's: 2 instead of 24 microseconds.
        half = len(raw) // 2
        return asym_utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def exchange(self, algorithm: t.Any, peer_public_key: t.Any) -> bytes:
        """Refuse: verification keys only sign."""
        raise IzumaPkcs11Error("the PKCS#11 key %r can only sign" % self.pair.label)


# cryptography 37 moved X.509 signing to code that calls the key's own sign(); before it, only its own key objects sign.
MIN_CRYPTOGRAPHY_FOR_PKCS11_KEYS = (37, 0)


def private_key(pair: KeyPair) -> t.Any:
    """Return ``pair`` as a cryptography private key object that signs in the token (cryptography >= 37).

    The same object for the same pair every time (kept on the pair), so that what is known about a key object is
    worked out once per pair.
    """
    _keys.require_cryptography()
    version = tuple(int(part) for part in cryptography_version.split(".")[:2] if part.isdigit())
    if version < MIN_CRYPTOGRAPHY_FOR_PKCS11_KEYS:
        raise IzumaPkcs11Error("issuing a certificate with a PKCS#11 key needs the Python library cryptography 37 or later, "
                               "found %s: upgrade it (pip install 'cryptography>=37')" % cryptography_version)
    if pair.signing_key is not None:
        return pair.signing_key
    algorithm = _keys.key_description(pair.public_key())["algorithm"]
    pair.signing_key = Pkcs11RsaPrivateKey(pair) if algorithm == "RSA" else Pkcs11EcPrivateKey(pair)
    return pair.signing_key
