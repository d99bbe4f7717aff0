# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Signing with a PKCS#11 key: JWS signatures, compact JWTs, X.509 certificates.

``sign(pair, data, algorithm)`` signs with the token for the nine JWT
algorithms Izuma Device Management accepts: RS256/384/512 (CKM_SHA*_RSA_PKCS),
PS256/384/512 (CKM_SHA*_RSA_PKCS_PSS, MGF1 with the same hash, salt as long as
the hash, as RFC 7518 requires) and ES256/384/512 (CKM_ECDSA over a digest
made here, which every token that signs ECDSA supports, returned in the JWS
raw r||s form). ``sign_der`` gives ECDSA signatures DER-encoded, as X.509 wants.

``sign_jwt`` builds the compact JWS itself (no PyJWT needed to sign) with the
claims and headers of ``_tokens.build_claims``/``build_headers``, byte for byte
the header and payload PyJWT would make.

``private_key(pair)`` is a ``cryptography`` RSA or EC private key object
whose ``sign()`` goes to the token: code written for key files
(``_certificates.create_self_signed_certificate``, ``_tokens.sign_token``, PyJWT)
signs with it unchanged, and its ``private_bytes()`` refuses, since the key
cannot leave the token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as _issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import HAS_PKCS11, IzumaPkcs11Error
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.key_pairs import KeyPair

if HAS_PKCS11:
    from pkcs11 import MGF, Mechanism
    from pkcs11 import exceptions as pkcs11_errors
    from pkcs11.util import ec as pkcs11_ec

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
        raise IzumaPkcs11Error("%s (key %r in %s)" % (exc.message, pair.label, pair.token.describe())) from None


def _token_sign(pair: KeyPair, data: bytes, mechanism: t.Any, parameter: t.Any, what: str) -> bytes:
    """One C_SignInit + C_Sign with the pair's private key, errors turned into messages that name the key."""
    try:
        with pair.token.lock:
            return pair.private.sign(data, mechanism=mechanism, mechanism_param=parameter)
    except (pkcs11_errors.KeyHandleInvalid, pkcs11_errors.ObjectHandleInvalid):
        pair.token.pairs.clear()
        raise IzumaPkcs11Error("the key object %r is no longer in %s (destroyed or changed by another process): "
                               "run again to find the current key" % (pair.label, pair.token.describe())) from None
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s could not sign with the key %r for %s (%s): check that the token supports the mechanism"
                               % (pair.token.describe(), pair.label, what, type(exc).__name__)) from None


def sign(pair: KeyPair, data: bytes, algorithm: str) -> bytes:
    """Sign ``data`` with the token for a JWT ``algorithm``; ES* signatures are raw r||s of fixed length."""
    _check(pair, algorithm)
    if algorithm.startswith("ES"):
        return _token_sign(pair, _HASHES[algorithm[2:]](data).digest(), Mechanism.ECDSA, None, algorithm)
    mechanism, parameter = _mechanism(algorithm)
    return _token_sign(pair, data, mechanism, parameter, algorithm)


def sign_der(pair: KeyPair, data: bytes, algorithm: str) -> bytes:
    """Like ``sign``, with ECDSA signatures DER-encoded (ECDSA-Sig-Value), as X.509 and OpenSSL use them."""
    signature = sign(pair, data, algorithm)
    return pkcs11_ec.encode_ecdsa_signature(signature) if algorithm.startswith("ES") else signature


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_jwt(pair: KeyPair, algorithm: t.Optional[str] = None, headers: t.Optional[t.Mapping[str, t.Any]] = None,
             key_id: t.Optional[t.Union[str, bool]] = None, **claim_options: t.Any) -> str:
    """Sign a JWT with the token and return it as compact JWS (header.payload.signature).

    ``algorithm`` defaults to ``_tokens.default_algorithm`` for the key; the
    claim options (lifetime, claims, issuer, subject, audience, jwt_id,
    not_before_skew, max_lifetime, now) and ``headers``/``key_id`` mean what
    they mean for ``_tokens.sign_token``. The header is JSON with sorted keys,
    the payload JSON in claim order, both with compact separators, as PyJWT
    writes them.
    """
    public_key = pair.public_key()
    algorithm = _tokens.default_algorithm(public_key) if algorithm is None else algorithm
    _check(pair, algorithm)
    payload = _tokens.build_claims(**claim_options)
    header = {"typ": "JWT", "alg": algorithm}
    header.update(_tokens.build_headers(public_key, headers=headers, key_id=key_id))
    signing_input = b".".join((_b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")),
                               _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))))
    return b".".join((signing_input, _b64(sign(pair, signing_input, algorithm)))).decode("ascii")


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
                            % (pair.label, pair.token.describe()))


class _TokenKeyMixin:
    """What the RSA and EC adapters share: the pair, the public key, refusals to export."""

    pair = None  # type: t.Any

    def public_key(self) -> t.Any:
        """The public key (a cryptography object)."""
        return self.pair.public_key()

    @property
    def key_size(self) -> int:
        """The key size in bits."""
        return self.pair.public_key().key_size

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


class Pkcs11RsaPrivateKey(_TokenKeyMixin, _RSA_BASE):
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


class Pkcs11EcPrivateKey(_TokenKeyMixin, _EC_BASE):
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
        raw = _token_sign(self.pair, _HASHES[bits](data).digest(), Mechanism.ECDSA, None, "ECDSA with SHA-" + bits)
        # cryptography's DER encoder, not asn1crypto's: 2 instead of 24 microseconds, paid on every token the lookup
        # or a client signs (PyJWT turns the DER signature back into r||s).
        half = len(raw) // 2
        return asym_utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def exchange(self, algorithm: t.Any, peer_public_key: t.Any) -> bytes:
        """Refuse: verification keys only sign."""
        raise IzumaPkcs11Error("the PKCS#11 key %r can only sign" % self.pair.label)


# cryptography 37 moved X.509 signing to code that calls the key's own sign(); before it, only its own key objects sign.
MIN_CRYPTOGRAPHY_FOR_TOKEN_KEYS = (37, 0)


def private_key(pair: KeyPair) -> t.Any:
    """Return ``pair`` as a cryptography private key object that signs in the token (cryptography >= 37)."""
    _keys.require_cryptography()
    version = tuple(int(part) for part in cryptography_version.split(".")[:2] if part.isdigit())
    if version < MIN_CRYPTOGRAPHY_FOR_TOKEN_KEYS:
        raise IzumaPkcs11Error("issuing a certificate with a PKCS#11 key needs the Python library cryptography 37 or later, "
                               "found %s: upgrade it (pip install 'cryptography>=37')" % cryptography_version)
    algorithm = _keys.key_description(pair.public_key())["algorithm"]
    return Pkcs11RsaPrivateKey(pair) if algorithm == "RSA" else Pkcs11EcPrivateKey(pair)


def create_certificate(pair: KeyPair, common_name: str, valid_days: int, **options: t.Any) -> t.Any:
    """Issue the pair's self-signed certificate, the token signing its to-be-signed part.

    ``_certificates.create_self_signed_certificate`` does the work (subject, validity,
    extensions, the 2,000 character rule) with ``private_key(pair)``:
    cryptography's builder hands the TBSCertificate to the key's ``sign()``,
    which is the token. ``options`` are that function's (subject,
    not_before, now).
    """
    return _issuing.create_certificate(private_key(pair), common_name, valid_days, **options)
