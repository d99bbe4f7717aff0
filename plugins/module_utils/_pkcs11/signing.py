# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Signing with a PKCS#11 key: JWS signatures, and a ``cryptography`` private key object that signs in the token.

``sign(pair, data, algorithm)`` signs with the token for the nine JWT
algorithms Izuma Device Management accepts, with a fallback where a token
lacks the hashing mechanism:

- RS256/384/512: CKM_SHA*_RSA_PKCS, else CKM_RSA_PKCS over the DER
  DigestInfo || hash made here (PKCS#1 v1.5 is exactly that, RFC 8017 9.2);
- PS256/384/512: CKM_SHA*_RSA_PKCS_PSS, else CKM_RSA_PKCS_PSS over the hash
  made here, both with MGF1 over the same hash and a salt as long as the hash,
  as RFC 7518 requires;
- ES256/384/512: CKM_ECDSA over a digest made here (which every token that
  signs ECDSA supports), returned in the JWS raw r||s form.

The way is chosen on the first signature of an algorithm in a session (the
mechanisms the token lists first, then the others, as some tokens sign with
mechanisms they do not list) and kept, so a lookup signing thousands of
tokens chooses once. A token that answers CKR_MECHANISM_INVALID to every way
is refused with the mechanisms it lacks and what to choose instead.

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
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors
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
# The DER DigestInfo that precedes the hash in a PKCS#1 v1.5 signature (RFC 8017, section 9.2, note 1): CKM_RSA_PKCS
# signs DigestInfo || hash exactly as CKM_SHA*_RSA_PKCS signs the message.
DIGEST_INFO_PREFIXES = {
    "256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
# What to suggest when a token signs none of an algorithm family's mechanisms.
_INSTEAD = {"RS": "use PS%s (RSA-PSS)", "PS": "use RS%s (PKCS#1 v1.5)", "ES": "use an RSA key (key_type: RSA) and RS%s"}


def digest_info(bits: str, data: bytes) -> bytes:
    """DigestInfo || SHA-``bits`` hash of ``data``: what CKM_RSA_PKCS signs for a PKCS#1 v1.5 (RS*) signature."""
    return DIGEST_INFO_PREFIXES[bits] + _HASHES[bits](data).digest()


class _Signer:
    """One way to sign an algorithm: a mechanism, its parameter, and what the token is given (the message, a hash, ...)."""

    def __init__(self, mechanism: t.Any, parameter: t.Any, prepare: t.Optional[t.Callable[[bytes], bytes]]) -> None:
        self.mechanism, self.parameter, self.prepare = mechanism, parameter, prepare

    @property
    def name(self) -> str:
        """CKM_ name of the mechanism."""
        return "CKM_" + self.mechanism.name

    def sign(self, pair: KeyPair, data: bytes, what: str) -> bytes:
        """Sign ``data`` (the message) with the pair's private key this way."""
        return _pkcs11_sign(pair, self.prepare(data) if self.prepare else data, self.mechanism, self.parameter, what, self.name)


def _signers(algorithm: str) -> t.List[_Signer]:
    """The ways to sign a JWT ``algorithm``, preferred first: the hashing mechanism, then the raw one over a hash made here."""
    bits = algorithm[2:]
    if algorithm.startswith("ES"):
        return [_Signer(Mechanism.ECDSA, None, lambda data: _HASHES[bits](data).digest())]
    if algorithm.startswith("RS"):
        return [_Signer(getattr(Mechanism, "SHA%s_RSA_PKCS" % bits), None, None),
                _Signer(Mechanism.RSA_PKCS, None, lambda data: digest_info(bits, data))]
    pss = (getattr(Mechanism, "SHA%s" % bits), getattr(MGF, "SHA%s" % bits), _HASHES[bits]().digest_size)
    return [_Signer(getattr(Mechanism, "SHA%s_RSA_PKCS_PSS" % bits), pss, None),
            _Signer(Mechanism.RSA_PKCS_PSS, pss, lambda data: _HASHES[bits](data).digest())]


def _check(pair: KeyPair, algorithm: str) -> None:
    try:
        _tokens.check_algorithm(algorithm, pair.public_key())
    except IzumaTokenError as exc:
        raise IzumaPkcs11Error("%s (key %r in %s)" % (exc.message, pair.label, pair.session.describe())) from None


def _pkcs11_sign(pair: KeyPair, data: bytes, mechanism: t.Any, parameter: t.Any, what: str, name: str) -> bytes:
    """One C_SignInit + C_Sign with the pair's private key, errors turned into messages that name the key.

    CKR_MECHANISM_INVALID is left to the caller (``_choose`` tries the next mechanism).
    """
    if not hasattr(pair.private, "sign"):
        # python-pkcs11 gives a key object a sign() only when the token says it may sign.
        raise IzumaPkcs11Error("the key %r in %s may not sign (the token reports CKA_SIGN false): use a key made to sign "
                               "(izuma_verification_key generates one)" % (pair.label, pair.session.describe()))
    try:
        with pair.session.lock:
            return pair.private.sign(data, mechanism=mechanism, mechanism_param=parameter)
    except pkcs11_errors.MechanismInvalid:
        raise
    except (pkcs11_errors.KeyHandleInvalid, pkcs11_errors.ObjectHandleInvalid):
        pair.session.pairs.clear()
        raise IzumaPkcs11Error("the key object %r is no longer in %s (destroyed or changed by another process): "
                               "run again to find the current key" % (pair.label, pair.session.describe())) from None
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s refused to sign with the key %r for %s (%s): %s"
                               % (pair.session.describe(), pair.label, what, name, errors.describe(exc))) from None


def _choose(pair: KeyPair, data: bytes, algorithm: str) -> bytes:
    """Sign with the first way the token takes, and keep it for the session: listed mechanisms first, then unlisted ones.

    A mechanism missing from C_GetMechanismList is still tried (tpm2-pkcs11 1.9 signs RSA-PSS without listing it);
    only the token's CKR_MECHANISM_INVALID for every way refuses the algorithm.
    """
    session = pair.session
    listed = session.mechanisms()
    candidates = _signers(algorithm)
    if listed is not None:
        candidates.sort(key=lambda candidate: candidate.mechanism not in listed)
    for candidate in candidates:
        try:
            signature = candidate.sign(pair, data, algorithm)
        except pkcs11_errors.MechanismInvalid:
            continue
        session.signers[algorithm] = candidate
        return signature
    names = [candidate.name for candidate in _signers(algorithm)]
    has = "has neither %s nor %s" % tuple(names) if len(names) == 2 else "has no %s" % names[0]
    raise IzumaPkcs11Error("%s cannot sign %s with the key %r: it %s; %s"
                           % (session.describe(), algorithm, pair.label, has, _INSTEAD[algorithm[:2]] % algorithm[2:]))


def sign(pair: KeyPair, data: bytes, algorithm: str) -> bytes:
    """Sign ``data`` with the token for a JWT ``algorithm``; ES* signatures are raw r||s of fixed length.

    RS* is CKM_SHA*_RSA_PKCS, else CKM_RSA_PKCS over DigestInfo || hash; PS* is CKM_SHA*_RSA_PKCS_PSS, else
    CKM_RSA_PKCS_PSS over the hash (the same PSS parameters); ES* is CKM_ECDSA over the hash. The way is chosen on
    the session's first signature for the algorithm and kept (``Pkcs11Session.signers``).
    """
    _check(pair, algorithm)
    signer = pair.session.signers.get(algorithm)
    if signer is None:
        return _choose(pair, data, algorithm)
    try:
        return signer.sign(pair, data, algorithm)
    except pkcs11_errors.MechanismInvalid:
        raise IzumaPkcs11Error("%s refused to sign with the key %r for %s (%s): CKR_MECHANISM_INVALID (0x00000070), "
                               "although it signed with it before" % (pair.session.describe(), pair.label, algorithm, signer.name)) from None


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
        try:
            raw = _pkcs11_sign(self.pair, _HASHES[bits](data).digest(), Mechanism.ECDSA, None, "ECDSA with SHA-" + bits, "CKM_ECDSA")
        except pkcs11_errors.MechanismInvalid:
            raise IzumaPkcs11Error("%s cannot sign ECDSA with the key %r: it has no CKM_ECDSA; %s"
                                   % (self.pair.session.describe(), self.pair.label, _INSTEAD["ES"] % bits)) from None
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
