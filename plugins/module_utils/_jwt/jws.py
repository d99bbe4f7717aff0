# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The JWS compact serialization of a token, for ``signing.sign_token`` (the one signing path); PyJWT, when needed.

What PyJWT's ``jwt.encode`` writes, byte for byte (compact JSON; header keys
sorted, claims in their order; base64url without padding), with what cannot
change for a key and an algorithm done once: the header segment and the
signer (padding, hash and ECDSA objects, the raw signature length). Per token
only the claims are encoded and signed, which halves the cost of an ES256
token next to ``jwt.encode``. The options are checked before this, by
``signing.signing_request``; nothing here is a check.

A key object that makes JWS signatures itself has a ``sign_jws(data,
algorithm)`` method, used instead of its ``sign()``: a PKCS#11 key's
(``_pkcs11.signing``) returns the token's raw ECDSA r||s as the JWS wants it,
where its ``sign()`` must return DER for the certificate builder.

PyJWT is imported only where it is used (``pyjwt``): to decode and verify
tokens (``status``), and to write a token with the headers it treats
specially. Importing it costs about a tenth of a second, which signing alone
(the API client on a managed host) does not pay.
"""

from __future__ import annotations

import binascii
import json
import json.encoder
import traceback
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
except ImportError:
    pass  # require_cryptography says so before any use.

PYJWT_MISSING_MESSAGE = "the Python library 'PyJWT' is required on the host that runs this task (install it with: pip install 'PyJWT>=2.6')"


def require_cryptography() -> None:
    """Raise IzumaTokenError when cryptography, which every signature and verification of a token needs, is missing."""
    if not _keys.HAS_CRYPTOGRAPHY:
        raise IzumaTokenError(_keys.CRYPTOGRAPHY_MISSING_MESSAGE, import_error=_keys.CRYPTOGRAPHY_IMPORT_ERROR)


def pyjwt() -> t.Any:
    """The PyJWT module (``jwt``), imported on first use; IzumaTokenError when it (or cryptography) is missing."""
    try:
        # Optional, and slow to import: only where it is used.
        import jwt  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise IzumaTokenError(PYJWT_MISSING_MESSAGE, import_error=traceback.format_exc()) from None
    require_cryptography()
    return jwt


class CompactJson:
    """``json.dumps(value, separators=(",", ":"), sort_keys=..., default=...)``, with the C encoder made once.

    ``json.dumps`` (and ``JSONEncoder.encode``) build the C encoder again on every call, which costs as much as
    encoding a handful of claims. The same C encoder (``json.encoder.c_make_encoder``, what ``encode`` uses) is
    kept here; where it is missing, or for a value that refers to itself (a RecursionError without the circular
    check), the ordinary encoder gives the ordinary answer or error.
    """

    def __init__(self, sort_keys: bool = False, default: t.Optional[t.Callable[[t.Any], t.Any]] = None) -> None:
        self._encoder = json.JSONEncoder(separators=(",", ":"), sort_keys=sort_keys, default=default)
        make = getattr(json.encoder, "c_make_encoder", None)
        self._c_encode = None if make is None else make(None, self._encoder.default, json.encoder.encode_basestring_ascii, None,
                                                        ":", ",", sort_keys, False, True)

    def encode(self, value: t.Any) -> str:
        """The compact JSON text of ``value``; TypeError or ValueError as json.dumps raises them."""
        if self._c_encode is None or isinstance(value, str):
            return self._encoder.encode(value)
        try:
            return "".join(self._c_encode(value, 0))
        except RecursionError:
            return self._encoder.encode(value)


_COMPACT_JSON = CompactJson()
_URLSAFE = bytes.maketrans(b"+/", b"-_")
# Header segments by algorithm and headers (with their values' types, so that 1 and true differ).
_HEADER_SEGMENTS = {}  # type: t.Dict[t.Any, bytes]


def _b64(data: bytes) -> bytes:
    # base64.urlsafe_b64encode without its two Python calls: it is used twice per token.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _header_segment(algorithm: str, headers: t.Mapping[str, t.Any]) -> bytes:
    """The first segment of the token, as PyJWT builds it: typ JWT (dropped when a header sets it empty), alg, headers."""
    try:
        cache_key = (algorithm,) + tuple(sorted((name, type(value), value) for name, value in headers.items()))  # type: t.Any
        hash(cache_key)
    except TypeError:  # a header holding a list or mapping: encoded each time
        cache_key = None
    segment = _HEADER_SEGMENTS.get(cache_key) if cache_key is not None else None
    if segment is None:
        header = {"typ": "JWT", "alg": algorithm}  # type: t.Dict[str, t.Any]
        header.update(headers)
        if not header["typ"]:
            del header["typ"]
        segment = _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        if cache_key is not None:
            if len(_HEADER_SEGMENTS) >= 256:
                _HEADER_SEGMENTS.clear()
            _HEADER_SEGMENTS[cache_key] = segment
    return segment


def _signer(key: t.Any, algorithm: str, signers: t.Dict[str, t.Callable[[bytes], bytes]]) -> t.Callable[[bytes], bytes]:
    """The function that signs a JWS signing input with ``key`` by ``algorithm`` (checked to fit), kept in ``signers``, the key's."""
    signer = signers.get(algorithm)
    if signer is not None:
        return signer
    sign_jws = getattr(key, "sign_jws", None)
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[algorithm[2:]]()
    if sign_jws is not None:
        # The key makes the JWS signature itself (a PKCS#11 key: the token's raw r||s, with no DER in between).
        def signer(data: bytes) -> bytes:
            return sign_jws(data, algorithm)
    elif algorithm.startswith("RS"):
        pkcs1 = padding.PKCS1v15()

        def signer(data: bytes) -> bytes:
            return key.sign(data, pkcs1, digest)
    elif algorithm.startswith("PS"):
        # RFC 7518 3.5: MGF1 with the same hash, a salt as long as the hash (what PyJWT uses).
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)

        def signer(data: bytes) -> bytes:
            return key.sign(data, pss, digest)
    else:
        ecdsa = ec.ECDSA(digest)
        size = (key.curve.key_size + 7) // 8

        def signer(data: bytes) -> bytes:
            # RFC 7518 3.4: R and S as fixed-length big-endian integers, not cryptography's DER.
            r, s = decode_dss_signature(key.sign(data, ecdsa))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    signers[algorithm] = signer
    return signer


def written_by_pyjwt(headers: t.Mapping[str, t.Any]) -> bool:
    """Tell whether a token with these extra headers is left to PyJWT: ``b64``, or a ``kid`` that is not a string."""
    return bool(headers) and ("b64" in headers or not isinstance(headers.get("kid", ""), str))


def encode_token(key: t.Any, algorithm: str, claims: t.Dict[str, t.Any], headers: t.Mapping[str, t.Any],
                 signers: t.Dict[str, t.Callable[[bytes], bytes]]) -> str:
    """Sign and serialize the token that ``signing_request`` described (``algorithm`` already checked to fit ``key``).

    The same bytes as ``jwt.encode(claims, key, algorithm, headers)``; headers that PyJWT treats specially
    (``written_by_pyjwt``) are left to PyJWT itself. ``signers`` keeps the key's signers (``key_facts`` holds one
    such mapping per key object, with the key's other facts).
    """
    if written_by_pyjwt(headers):
        token = pyjwt().encode(claims, key, algorithm=algorithm, headers=dict(headers))
        return token if isinstance(token, str) else token.decode("ascii")
    signing_input = _header_segment(algorithm, headers) + b"." + _b64(_COMPACT_JSON.encode(claims).encode("utf-8"))
    return (signing_input + b"." + _b64(_signer(key, algorithm, signers)(signing_input))).decode("ascii")
