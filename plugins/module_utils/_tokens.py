# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""JSON Web Tokens for Izuma Device Management: sign, inspect, verify, decide renewal.

The one token library of the collection. Izuma Device Management verifies a
JWT with the application's uploaded certificates; it accepts RS256/384/512,
ES256/384/512 and PS256/384/512 and requires an ``exp`` claim. This module
enforces those rules before signing, so a bad token fails here with a clear
message rather than as a 401 from the API.

Also two small in-process caches for a lookup plugin that may be templated
many times in one run: ``SigningKeyCache`` (parsed private keys) and
``TokenCache`` (tokens reused while enough of their lifetime remains). Both are
thread-safe and never log.

Messages never contain tokens, key material or passphrases.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import threading
import time
import traceback
import typing as t
import uuid

from ansible_collections.izuma.device_management.plugins.module_utils import _keys
from ansible_collections.izuma.device_management.plugins.module_utils import _files
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError

try:
    import jwt
except ImportError:
    HAS_PYJWT = False
    PYJWT_IMPORT_ERROR = traceback.format_exc()  # type: t.Optional[str]
else:
    HAS_PYJWT = True
    PYJWT_IMPORT_ERROR = None

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
# The curve each ES algorithm is defined on (RFC 7518 section 3.4).
ES_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
# Claims the signer sets from its own options (lifetime, not_before_skew), never from user claims.
RESERVED_CLAIMS = ("exp", "iat", "nbf")
# Headers that would change how the token is verified, or point the verifier at
# another key; ``kid`` and ``typ`` stay allowed.
RESERVED_HEADERS = ("alg", "jku", "jwk", "x5u", "x5c", "crit")
# Claims that differ between two otherwise identical tokens: never compared for renewal.
VOLATILE_CLAIMS = ("exp", "iat", "nbf", "jti")
# Hex digits of the public key fingerprint used as ``kid`` when key_id=True (128 bits).
KID_LENGTH = 32

PYJWT_MISSING_MESSAGE = "the Python library 'PyJWT' is required on the host that runs this task (install it with: pip install 'PyJWT>=2.6')"


def require_pyjwt() -> None:
    """Raise IzumaTokenError when PyJWT (or cryptography, which it needs here) cannot be imported."""
    if not HAS_PYJWT:
        raise IzumaTokenError(PYJWT_MISSING_MESSAGE, import_error=PYJWT_IMPORT_ERROR)
    if not _keys.HAS_CRYPTOGRAPHY:
        raise IzumaTokenError(_keys.CRYPTOGRAPHY_MISSING_MESSAGE, import_error=_keys.CRYPTOGRAPHY_IMPORT_ERROR)


def _describe(key: t.Any) -> t.Dict[str, t.Any]:
    try:
        return _keys.key_description(key)
    except IzumaKeyError as exc:
        raise IzumaTokenError(exc.message) from None


def kid_for_key(key: t.Any) -> str:
    """Return the ``kid`` this library puts in a token signed with ``key`` when asked: the first 32 hex digits of its public key fingerprint."""
    return _keys.public_key_fingerprint(key)[:KID_LENGTH]


def default_algorithm(key: t.Any) -> str:
    """Return the natural algorithm for a key: RS256 for RSA, ES256/ES384/ES512 for P-256/P-384/P-521."""
    desc = _describe(key)
    if desc["algorithm"] == "RSA":
        return "RS256"
    if desc["algorithm"] == "EC":
        for algorithm, curve in ES_CURVES.items():
            if curve == desc["curve"]:
                return algorithm
        raise IzumaTokenError("no supported JWT algorithm signs with an EC key on %s: use a key on P-256, P-384 or P-521" % desc["curve"])
    raise IzumaTokenError("no supported JWT algorithm signs with a %s key: use an RSA (2048+ bits) or EC (P-256, P-384, P-521) key" % desc["algorithm"])


def check_algorithm(algorithm: str, key: t.Any) -> None:
    """Raise IzumaTokenError unless ``algorithm`` is one Izuma Device Management accepts and fits ``key``.

    Refuses ``none``, HMAC (HS*), anything outside ALGORITHMS, RS*/PS* with a
    non-RSA key or an RSA key below 2048 bits, and ES* with a key not on the
    algorithm's curve (ES256: P-256, ES384: P-384, ES512: P-521).
    """
    if not isinstance(algorithm, str) or not algorithm:
        raise IzumaTokenError("the JWT algorithm must be a non-empty string, one of %s" % ", ".join(ALGORITHMS))
    if algorithm not in ALGORITHMS:
        if algorithm.lower() == "none":
            reason = "unsigned tokens (alg none) are rejected by Izuma Device Management"
        elif algorithm.upper().startswith("HS"):
            reason = "HMAC algorithms use a shared secret, and Izuma Device Management verifies tokens with a certificate"
        elif algorithm.upper() in ALGORITHMS:
            reason = "algorithm names are case-sensitive; did you mean %s?" % algorithm.upper()
        else:
            reason = "Izuma Device Management does not accept it"
        raise IzumaTokenError("JWT algorithm %r cannot be used: %s. Choose one of %s" % (algorithm[:20], reason, ", ".join(ALGORITHMS)))
    desc = _describe(key)
    if algorithm[:2] in ("RS", "PS"):
        if desc["algorithm"] != "RSA":
            raise IzumaTokenError("JWT algorithm %s needs an RSA key, but the key is %s: use %s, or an RSA key"
                                  % (algorithm, _label(desc), _suggest(desc)))
        if desc["key_size"] < _keys.MIN_RSA_BITS:
            raise IzumaTokenError("JWT algorithm %s needs an RSA key of at least %d bits, but the key has %d bits: use a new RSA key of 2048, 3072 or 4096 bits"
                                  % (algorithm, _keys.MIN_RSA_BITS, desc["key_size"]))
        return
    wanted = ES_CURVES[algorithm]
    if desc["algorithm"] != "EC" or desc["curve"] != wanted:
        raise IzumaTokenError("JWT algorithm %s needs an EC key on %s, but the key is %s: use %s, or a key on %s"
                              % (algorithm, wanted, _label(desc), _suggest(desc), wanted))


def _label(desc: t.Dict[str, t.Any]) -> str:
    if desc["algorithm"] == "EC":
        return "an EC key on %s" % desc["curve"]
    if desc["algorithm"] == "RSA":
        return "an RSA key of %d bits" % desc["key_size"]
    return "a %s key" % desc["algorithm"]


def _suggest(desc: t.Dict[str, t.Any]) -> str:
    if desc["algorithm"] == "RSA":
        return "RS256, RS384, RS512, PS256, PS384 or PS512"
    for algorithm, curve in ES_CURVES.items():
        if curve == desc["curve"]:
            return algorithm
    return "another key"


def _check_json(kind: str, values: t.Mapping[str, t.Any]) -> None:
    for name, value in values.items():
        if not isinstance(name, str):
            raise IzumaTokenError("%s names must be strings, got %s" % (kind, type(name).__name__))
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise IzumaTokenError("%s %r has a value of type %s, which JSON cannot represent: give a string, number, boolean, list or mapping"
                                  % (kind, name, type(value).__name__)) from None


def _positive_int(name: str, value: t.Any, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        raise IzumaTokenError("%s must be a %s whole number of seconds, got %r" % (name, "non-negative" if allow_zero else "positive", value))
    return value


def build_claims(lifetime: int = 300, claims: t.Optional[t.Mapping[str, t.Any]] = None, issuer: t.Optional[str] = None,
                 subject: t.Optional[str] = None, audience: t.Optional[t.Union[str, t.List[str]]] = None,
                 jwt_id: t.Optional[t.Union[str, bool]] = None, not_before_skew: t.Optional[int] = None,
                 max_lifetime: t.Optional[int] = None, now: t.Optional[float] = None) -> t.Dict[str, t.Any]:
    """Return the claims ``sign_token`` would sign, after checking the options (see sign_token)."""
    lifetime = _positive_int("lifetime", lifetime)
    if max_lifetime is not None:
        max_lifetime = _positive_int("max_lifetime", max_lifetime)
        if lifetime > max_lifetime:
            raise IzumaTokenError("lifetime %d seconds is longer than max_lifetime %d seconds: shorten lifetime or raise max_lifetime"
                                  % (lifetime, max_lifetime))
    if not isinstance(claims or {}, dict):
        raise IzumaTokenError("claims must be a mapping of claim names to values, got %s" % type(claims).__name__)
    user_claims = dict(claims or {})
    _check_json("claim", user_claims)
    reserved = sorted(set(user_claims) & set(RESERVED_CLAIMS))
    if reserved:
        raise IzumaTokenError("claims may not set %s: exp and iat come from lifetime, nbf from not_before_skew; remove %s from claims"
                              % (", ".join(reserved), "it" if len(reserved) == 1 else "them"))
    named = {"iss": ("issuer", issuer), "sub": ("subject", subject), "aud": ("audience", audience)}
    if jwt_id is not None and jwt_id is not False:
        named["jti"] = ("jwt_id", uuid.uuid4().hex if jwt_id is True else jwt_id)
    for claim, (option, value) in named.items():
        if value is None:
            continue
        if claim in user_claims:
            raise IzumaTokenError("claim %s is given both as %s and in claims: give it once" % (claim, option))
        if claim == "aud":
            if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                raise IzumaTokenError("audience must be a string or a list of strings")
        elif not isinstance(value, str) or not value:
            raise IzumaTokenError("%s must be a non-empty string" % option)
        user_claims[claim] = value
    if "iss" in user_claims and not isinstance(user_claims["iss"], str):
        raise IzumaTokenError("claim iss must be a string")
    issued = int(time.time() if now is None else now)
    result = {"iat": issued, "exp": issued + lifetime}
    if not_before_skew is not None:
        result["nbf"] = issued - _positive_int("not_before_skew", not_before_skew, allow_zero=True)
    result.update(user_claims)
    return result


def build_headers(key: t.Any, headers: t.Optional[t.Mapping[str, t.Any]] = None, key_id: t.Optional[t.Union[str, bool]] = None) -> t.Dict[str, t.Any]:
    """Return the extra JOSE headers ``sign_token`` would use, after refusing reserved ones (see sign_token)."""
    if not isinstance(headers or {}, dict):
        raise IzumaTokenError("headers must be a mapping of header names to values, got %s" % type(headers).__name__)
    result = dict(headers or {})
    _check_json("header", result)
    reserved = sorted(set(result) & set(RESERVED_HEADERS))
    if reserved:
        raise IzumaTokenError("headers may not set %s: the algorithm comes from the algorithm option, and key location headers "
                              "(jku, jwk, x5u, x5c) and crit would change how the token is verified; remove %s from headers (kid and typ are allowed)"
                              % (", ".join(reserved), "it" if len(reserved) == 1 else "them"))
    if key_id is not None and key_id is not False:
        if "kid" in result:
            raise IzumaTokenError("header kid is given both as key_id and in headers: give it once")
        if key_id is True:
            result["kid"] = kid_for_key(key)
        elif isinstance(key_id, str) and key_id:
            result["kid"] = key_id
        else:
            raise IzumaTokenError("key_id must be true (derive kid from the key) or a non-empty string")
    return result


def sign_token(key: t.Any, algorithm: t.Optional[str] = None, lifetime: int = 300, claims: t.Optional[t.Mapping[str, t.Any]] = None,
               headers: t.Optional[t.Mapping[str, t.Any]] = None, issuer: t.Optional[str] = None, subject: t.Optional[str] = None,
               audience: t.Optional[t.Union[str, t.List[str]]] = None, jwt_id: t.Optional[t.Union[str, bool]] = None,
               not_before_skew: t.Optional[int] = None, max_lifetime: t.Optional[int] = None, now: t.Optional[float] = None,
               key_id: t.Optional[t.Union[str, bool]] = None) -> str:
    """Sign a JWT for Izuma Device Management and return it.

    - ``algorithm`` defaults to ``default_algorithm(key)`` and is checked with ``check_algorithm``.
    - ``iat`` is ``now`` and ``exp`` is ``now + lifetime`` (whole seconds since
      the epoch); ``lifetime`` is a positive number of seconds, at most
      ``max_lifetime`` when that is given.
    - ``nbf`` is ``now - not_before_skew`` when a skew is given (tolerates
      verifiers whose clock runs behind).
    - ``issuer``, ``subject``, ``audience`` set iss, sub, aud; ``jwt_id`` sets
      jti (True: a random UUID4 hex). Setting one both as an option and in
      ``claims`` is refused; so are exp, iat and nbf in ``claims``.
    - ``headers`` may add header fields such as kid or typ; alg, jku, jwk, x5u,
      x5c and crit are refused (RESERVED_HEADERS).
    - ``key_id=True`` adds ``kid`` = the first 32 hex digits of the signing
      key's public key fingerprint (``kid_for_key(key)``); a string sets kid to it.
      Off by default, because Izuma Device Management does not document kid
      and finds the key by trying the application's certificates.
    """
    require_pyjwt()
    if not hasattr(key, "private_bytes"):
        raise IzumaTokenError("a private key is needed to sign a token, got %s" % type(key).__name__)
    algorithm = default_algorithm(key) if algorithm is None else algorithm
    check_algorithm(algorithm, key)
    payload = build_claims(lifetime=lifetime, claims=claims, issuer=issuer, subject=subject, audience=audience, jwt_id=jwt_id,
                           not_before_skew=not_before_skew, max_lifetime=max_lifetime, now=now)
    extra_headers = build_headers(key, headers=headers, key_id=key_id)
    try:
        token = jwt.encode(payload, key, algorithm=algorithm, headers=extra_headers or None)
    except Exception as exc:  # pylint: disable=broad-except
        # PyJWT raises several unrelated types here; none of their text is shown, as it could quote the key.
        raise IzumaTokenError("the token could not be signed with %s (%s): check that the key and algorithm match"
                              % (algorithm, type(exc).__name__)) from None
    return token if isinstance(token, str) else token.decode("ascii")


def _token_text(token: t.Any) -> str:
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise IzumaTokenError("the token is not a JWT: it contains non-ASCII bytes") from None
    if not isinstance(token, str):
        raise IzumaTokenError("the token must be a string, got %s" % type(token).__name__)
    return token.strip()


def decode_unverified(token: t.Union[str, bytes]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Return ``{"header": {...}, "claims": {...}}`` of a JWT without verifying its signature.

    Raises IzumaTokenError (which never quotes the token) when it is not a
    well-formed JWS compact token with a JSON object as header and claims.
    """
    require_pyjwt()
    text = _token_text(token)
    if text.count(".") != 2:
        raise IzumaTokenError("the token is not a JWT: a JWT has three base64url parts separated by dots, this has %d part(s)" % (text.count(".") + 1))
    try:
        header = jwt.get_unverified_header(text)
        claims = jwt.decode(text, options={"verify_signature": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                           "verify_aud": False, "verify_iss": False})
    except jwt.PyJWTError as exc:
        raise IzumaTokenError("the token is not a well-formed JWT (%s): replace it with a newly signed token" % type(exc).__name__) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise IzumaTokenError("the token is not a well-formed JWT: its header and claims must be JSON objects")
    return {"header": header, "claims": claims}


def _verification_key(public_key_or_cert: t.Any) -> t.Any:
    if isinstance(public_key_or_cert, (str, bytes)):
        try:
            return _keys.load_public_key(public_key_or_cert, source="the verification key")
        except IzumaKeyError as exc:
            raise IzumaTokenError(exc.message) from None
    try:
        return _keys._public_key(public_key_or_cert)  # pylint: disable=protected-access
    except IzumaKeyError as exc:
        raise IzumaTokenError(exc.message) from None


def _number(claims: t.Mapping[str, t.Any], name: str) -> t.Optional[float]:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IzumaTokenError("the token's %s claim is not a number of seconds since the epoch" % name)
    return value


def verify_token(token: t.Union[str, bytes], public_key_or_cert: t.Any, algorithms: t.Sequence[str] = ALGORITHMS,
                 now: t.Optional[float] = None, leeway: int = 0, audience: t.Optional[str] = None,
                 issuer: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    """Verify a token's signature with a public key, certificate or private key (its public half), and its times; return the claims.

    Checks, in order: well-formed; ``alg`` in ``algorithms`` (never outside
    ALGORITHMS) and fit for the key; signature; ``exp`` present and not passed;
    ``nbf`` reached; ``aud`` contains ``audience`` and ``iss`` equals
    ``issuer`` when those are given. ``leeway`` seconds are allowed on the
    times. Raises IzumaTokenError saying which check failed.
    """
    require_pyjwt()
    decoded = decode_unverified(token)
    algorithm = decoded["header"].get("alg")
    allowed = [a for a in algorithms if a in ALGORITHMS]
    if algorithm not in allowed:
        raise IzumaTokenError("the token is signed with algorithm %r, which is not accepted here (allowed: %s)"
                              % (str(algorithm)[:20], ", ".join(allowed) or "none"))
    public_key = _verification_key(public_key_or_cert)
    check_algorithm(algorithm, public_key)
    try:
        # Times are checked below against ``now``, so tests and callers can pass their own clock.
        claims = jwt.decode(_token_text(token), public_key, algorithms=[algorithm],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False, "verify_iss": False})
    except jwt.InvalidSignatureError:
        raise IzumaTokenError("the token's signature does not match the given key: it was signed by another key or altered") from None
    except jwt.PyJWTError as exc:
        raise IzumaTokenError("the token could not be verified (%s)" % type(exc).__name__) from None
    current = time.time() if now is None else now
    expires = _number(claims, "exp")
    if expires is None:
        raise IzumaTokenError("the token has no exp claim; Izuma Device Management requires one: sign a new token")
    # As PyJWT and RFC 7519: the token must be used before exp, so exp == now is expired.
    if current - leeway >= expires:
        raise IzumaTokenError("the token expired at %s" % _keys.to_rfc3339(expires))
    not_before = _number(claims, "nbf")
    if not_before is not None and current + leeway < not_before:
        raise IzumaTokenError("the token is not valid before %s" % _keys.to_rfc3339(not_before))
    _number(claims, "iat")
    if audience is not None:
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or [])
        if audience not in auds:
            raise IzumaTokenError("the token's audience (aud) does not include %r" % audience)
    if issuer is not None and claims.get("iss") != issuer:
        raise IzumaTokenError("the token's issuer (iss) is not %r" % issuer)
    return claims


def seconds_left(token_or_claims: t.Union[str, bytes, t.Mapping[str, t.Any]], now: t.Optional[float] = None) -> int:
    """Return whole seconds until the token's ``exp`` (negative once expired), from a token or its claims."""
    claims = token_or_claims if isinstance(token_or_claims, dict) else decode_unverified(t.cast(str, token_or_claims))["claims"]
    expires = _number(claims, "exp")
    if expires is None:
        raise IzumaTokenError("the token has no exp claim; Izuma Device Management requires one: sign a new token")
    current = time.time() if now is None else now
    return int(math.floor(expires - current))


def _same_claim(name: str, wanted: t.Any, actual: t.Any) -> bool:
    if name == "aud":
        # "x" and ["x"] name the same audience.
        wanted = [wanted] if isinstance(wanted, str) else wanted
        actual = [actual] if isinstance(actual, str) else actual
    return json.dumps(wanted, sort_keys=True) == json.dumps(actual, sort_keys=True)


def token_status(token: t.Union[str, bytes, None], key: t.Any = None, required_claims: t.Optional[t.Mapping[str, t.Any]] = None,
                 renew_margin: int = 0, now: t.Optional[float] = None, exact_claims: bool = False,
                 algorithm: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    """Describe whether a deployed token is still good, to make a "deploy token" task idempotent.

    Returns ``{"valid", "expires_at", "seconds_left", "signed_by_key",
    "claims_match", "needs_renewal", "reason", "algorithm"}``:

    - ``valid``: well-formed, accepted algorithm, has exp, not expired, nbf
      reached, and (when ``key`` is given) signed by ``key``.
    - ``signed_by_key``: None without ``key``; else whether the signature
      verifies with ``key`` (a private key, public key or certificate).
    - ``claims_match``: None without ``required_claims``; else whether every
      requested claim has the requested value (iat, exp, nbf, jti are never
      compared). With ``exact_claims``, claims the token has beyond the
      requested ones (other than those four) also count as a mismatch, so that
      removing a claim from the task renews the token.
    - ``needs_renewal``: not valid, expiring within ``renew_margin`` seconds,
      signed by another key, claims differ, or signed with another algorithm
      than ``algorithm`` when that is given.
    - ``reason``: one sentence saying why (or why not) to renew.

    Bad tokens are reported, not raised; only bad arguments raise.
    """
    require_pyjwt()
    current = time.time() if now is None else now
    margin = _positive_int("renew_margin", renew_margin, allow_zero=True)
    status = {"valid": False, "expires_at": None, "seconds_left": None, "signed_by_key": None, "claims_match": None,
              "needs_renewal": True, "reason": "", "algorithm": None}  # type: t.Dict[str, t.Any]
    if token is None or (isinstance(token, (str, bytes)) and not token.strip()):
        status["reason"] = "there is no token yet"
        return status
    try:
        decoded = decode_unverified(token)
    except IzumaTokenError as exc:
        status["reason"] = exc.message
        return status
    header, claims = decoded["header"], decoded["claims"]
    status["algorithm"] = header.get("alg")
    reasons = []
    try:
        left = seconds_left(claims, now=current)
    except IzumaTokenError as exc:
        reasons.append(exc.message)
        left = None
    else:
        status["expires_at"] = _keys.to_rfc3339(claims["exp"])
        status["seconds_left"] = left
    if status["algorithm"] not in ALGORITHMS:
        reasons.append("the token is signed with algorithm %r, which Izuma Device Management does not accept" % str(status["algorithm"])[:20])
    elif algorithm is not None and status["algorithm"] != algorithm:
        reasons.append("the token is signed with %s, not the requested %s" % (status["algorithm"], algorithm))
    if key is not None:
        status["signed_by_key"] = _signed_by(token, key, status["algorithm"])
        if not status["signed_by_key"]:
            reasons.append("the token was not signed by the current key")
    if required_claims is not None:
        wanted = {k: v for k, v in required_claims.items() if k not in VOLATILE_CLAIMS}
        differing = sorted(k for k, v in wanted.items() if k not in claims or not _same_claim(k, v, claims[k]))
        if exact_claims:
            differing += sorted(k for k in claims if k not in wanted and k not in VOLATILE_CLAIMS)
        status["claims_match"] = not differing
        if differing:
            reasons.append("the token's claims differ from the requested ones (%s)" % ", ".join(differing))
    not_before = claims.get("nbf")
    premature = isinstance(not_before, (int, float)) and not isinstance(not_before, bool) and current < not_before
    if premature:
        reasons.append("the token is not valid before %s" % _keys.to_rfc3339(not_before))
    expired = left is not None and claims["exp"] <= current
    if expired:
        reasons.append("the token expired at %s" % status["expires_at"])
    status["valid"] = (left is not None and not expired and not premature and status["algorithm"] in ALGORITHMS
                       and status["signed_by_key"] is not False)
    if not reasons and left is not None and left <= margin:
        reasons.append("the token expires in %d seconds, within the renewal margin of %d seconds" % (left, margin))
    status["needs_renewal"] = bool(reasons)
    status["reason"] = "; ".join(reasons) if reasons else "the token is valid for another %d seconds and matches the request" % left
    return status


def _signed_by(token: t.Union[str, bytes], key: t.Any, algorithm: t.Optional[str]) -> bool:
    """Tell whether ``token``'s signature verifies with ``key``, ignoring its times."""
    public_key = _verification_key(key)
    if algorithm not in ALGORITHMS:
        return False
    try:
        check_algorithm(t.cast(str, algorithm), public_key)
        jwt.decode(_token_text(token), public_key, algorithms=[algorithm],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False, "verify_iss": False})
    except (IzumaTokenError, jwt.PyJWTError):
        return False
    return True


# ---------------------------------------------------------------------------
# The option adapter of the plugins that sign tokens (izuma_jwt action, lookup)
# ---------------------------------------------------------------------------

# Plugin option names that sign_options() turns into sign_token keywords.
SIGN_OPTION_NAMES = ("algorithm", "lifetime", "max_lifetime", "claims", "headers", "issuer", "subject", "audience",
                     "jwt_id", "random_jwt_id", "key_id", "not_before_skew")
# The sign_token keywords that shape the claims (the rest shape the headers, or pick the algorithm).
_CLAIM_OPTIONS = ("lifetime", "claims", "issuer", "subject", "audience", "jwt_id", "not_before_skew", "max_lifetime")
_HEADER_OPTIONS = ("headers", "key_id")


def sign_options(get: t.Callable[[str], t.Any]) -> t.Dict[str, t.Any]:
    """Turn plugin options into ``sign_token`` keywords (other than key and now).

    ``get`` reads one option by name (``params.get`` of a module or action,
    ``get_option`` of a lookup) for each name in SIGN_OPTION_NAMES. Options
    that are None are left out, so sign_token's defaults apply. The plugin
    options differ from sign_token's keywords in three places, each chosen so
    that an option has one type:

    - ``audience`` is a list; one audience is signed as a string, as usual;
    - ``jwt_id`` is a fixed jti string and ``random_jwt_id`` a bool asking for
      a random one (sign_token's ``jwt_id=True``); giving both is refused;
    - ``key_id`` is a bool: true adds ``kid`` derived from the key (a chosen
      kid goes in ``headers``).
    """
    options = {}  # type: t.Dict[str, t.Any]
    for name in ("algorithm", "lifetime", "max_lifetime", "claims", "headers", "issuer", "subject", "not_before_skew"):
        value = get(name)
        if value is not None:
            options[name] = value
    audience = get("audience")
    if isinstance(audience, (list, tuple)):
        audience = list(audience)
        if not audience:
            audience = None
        elif len(audience) == 1:
            audience = audience[0]
    if audience is not None:
        options["audience"] = audience
    jwt_id, random_jwt_id = get("jwt_id"), get("random_jwt_id")
    if jwt_id is not None and random_jwt_id:
        raise IzumaTokenError("give jwt_id (a fixed jti) or random_jwt_id=true (a new random jti per token), not both")
    if random_jwt_id:
        options["jwt_id"] = True
    elif jwt_id is not None:
        options["jwt_id"] = jwt_id
    if get("key_id"):
        options["key_id"] = True
    return options


def load_signing_key(path: t.Optional[str] = None, content: t.Optional[t.Union[str, bytes]] = None,
                     passphrase: t.Optional[t.Union[str, bytes]] = None, cache: t.Optional["SigningKeyCache"] = None) -> t.Any:
    """Return the private key that signs tokens, from file ``path`` or PEM ``content``, parsed through ``cache``.

    ``cache`` defaults to the process-wide SIGNING_KEY_CACHE, so that a key is
    parsed once per process (and again only when its file changes). Raises an
    IzumaError naming private_key_path or private_key_content and the fix.
    """
    if path and content:
        raise IzumaTokenError("give private_key_path or private_key_content, not both")
    if not path and not content:
        raise IzumaTokenError("a private key is needed to sign the token: give private_key_path (a PEM file on the controller) "
                              "or private_key_content (PEM text, for example from Ansible Vault)")
    cache = SIGNING_KEY_CACHE if cache is None else cache
    if path:
        return cache.load_file(path, passphrase=passphrase)
    return cache.load_content(t.cast(t.Union[str, bytes], content), passphrase=passphrase, source="private_key_content")


def signing_request(key: t.Any, now: t.Optional[float] = None, **options: t.Any) -> t.Dict[str, t.Any]:
    """Check ``options`` (sign_token keywords) exactly as sign_token would, without signing.

    Returns ``{"algorithm", "claims", "headers"}``: what a token signed now
    would carry (headers besides alg and typ). Check mode uses it to report a
    new token's claims and expiry, and callers use it to refuse bad options
    before anything else happens. Raises IzumaTokenError like sign_token.
    """
    unknown = sorted(set(options) - set(_CLAIM_OPTIONS) - set(_HEADER_OPTIONS) - {"algorithm"})
    if unknown:
        raise IzumaTokenError("unknown token option(s): %s" % ", ".join(unknown))
    if not hasattr(key, "private_bytes"):
        raise IzumaTokenError("a private key is needed to sign a token, got %s" % type(key).__name__)
    algorithm = options.get("algorithm")
    algorithm = default_algorithm(key) if algorithm is None else algorithm
    check_algorithm(algorithm, key)
    claims = build_claims(now=now, **{name: options[name] for name in _CLAIM_OPTIONS if name in options})
    headers = build_headers(key, **{name: options[name] for name in _HEADER_OPTIONS if name in options})
    return {"algorithm": algorithm, "claims": claims, "headers": headers}


def _same_json(wanted: t.Any, actual: t.Any) -> bool:
    return json.dumps(wanted, sort_keys=True) == json.dumps(actual, sort_keys=True)


def renewal_status(token: t.Union[str, bytes, None], key: t.Any, renew_margin: int = 0, now: t.Optional[float] = None,
                   **options: t.Any) -> t.Dict[str, t.Any]:
    """Tell whether a deployed token must be replaced by one signed with ``key`` and ``options`` (sign_token keywords).

    ``token_status`` with the requested claims compared exactly (a claim added
    to or removed from the request renews the token), the algorithm, and the
    current key; and beyond it, what token_status does not compare:

    - the lifetime (``exp - iat``) must be the requested one, so a changed
      ``lifetime`` or a lower ``max_lifetime`` renews the token;
    - ``nbf`` must be ``iat - not_before_skew`` when a skew is asked, and
      absent when not;
    - a requested fixed ``jwt_id`` must be the token's jti; a random one
      (``jwt_id=True``) must exist (its value is never compared);
    - the headers besides ``alg`` must be the requested ones (``typ`` may be
      the default ``JWT`` when none is requested).

    Returns token_status's keys (``reason`` lists every difference) plus
    ``request`` (see signing_request), and ``header`` and ``claims`` of the
    deployed token (None when it cannot be decoded). Raises IzumaTokenError
    for bad options only; a bad token is reported.
    """
    current = time.time() if now is None else now
    request = signing_request(key, now=current, **options)
    status = token_status(token, key=key, required_claims=request["claims"], renew_margin=renew_margin, now=current,
                          exact_claims=True, algorithm=request["algorithm"])
    status.update(request=request, header=None, claims=None)
    if not status["algorithm"]:
        return status
    decoded = decode_unverified(t.cast(t.Union[str, bytes], token))
    header, claims = decoded["header"], decoded["claims"]
    status.update(header=header, claims=claims)
    reasons = []
    issued, expires = claims.get("iat"), claims.get("exp")
    lifetime = request["claims"]["exp"] - request["claims"]["iat"]
    if not _is_number(issued):
        reasons.append("the token has no iat claim")
    elif _is_number(expires) and expires - issued != lifetime:
        reasons.append("the token's lifetime is %d seconds, not the requested %d" % (int(expires - issued), lifetime))
    skew = options.get("not_before_skew")
    if skew is None and "nbf" in claims:
        reasons.append("the token has an nbf claim, and no not_before_skew is requested")
    elif skew is not None and _is_number(issued) and claims.get("nbf") != issued - skew:
        reasons.append("the token's nbf is not iat minus not_before_skew (%d seconds)" % skew)
    jwt_id = options.get("jwt_id")
    if jwt_id is True and not claims.get("jti"):
        reasons.append("the token has no jti claim, and random_jwt_id is requested")
    elif isinstance(jwt_id, str) and claims.get("jti") != jwt_id:
        reasons.append("the token's jti is not the requested jwt_id")
    wanted = request["headers"]
    differing = sorted(name for name, value in wanted.items() if name not in header or not _same_json(value, header[name]))
    differing += sorted(name for name in header if name not in wanted and name not in ("alg", "typ"))
    if "typ" not in wanted and header.get("typ", "JWT") != "JWT":
        differing.append("typ")
    if differing:
        reasons.append("the token's headers differ from the requested ones (%s)" % ", ".join(differing))
    if reasons:
        if status["needs_renewal"]:
            reasons.insert(0, status["reason"])
        status["needs_renewal"] = True
        status["reason"] = "; ".join(reasons)
    return status


def _is_number(value: t.Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# Caches for plugins that sign many times in one process
# ---------------------------------------------------------------------------

class SigningKeyCache:
    """Parsed private keys, so that a lookup templated many times parses its key once.

    Entries for files are keyed by (real path, device, inode, size, mtime) so
    that a rewritten file (atomic writes make a new inode) is parsed again;
    entries for content by its SHA-256. The passphrase is part of the key as
    an HMAC with a random per-process secret, so that a wrong passphrase is
    never accepted because an earlier call gave the right one, and the
    passphrase itself is not kept. Thread-safe; oldest entries are dropped
    beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries = {}  # type: t.Dict[t.Tuple[t.Any, ...], t.Any]
        self._secret = os.urandom(32)
        self.hits = 0
        self.misses = 0

    def _passphrase_tag(self, passphrase: t.Optional[t.Union[str, bytes]]) -> str:
        if not passphrase:
            return ""
        data = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def _get(self, cache_key: t.Tuple[t.Any, ...], load: t.Callable[[], t.Any]) -> t.Any:
        with self._lock:
            if cache_key in self._entries:
                self.hits += 1
                return self._entries[cache_key]
        key = load()
        with self._lock:
            self.misses += 1
            self._entries[cache_key] = key
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return key

    def load_file(self, path: str, passphrase: t.Optional[t.Union[str, bytes]] = None, **load_options: t.Any) -> t.Any:
        """Return the private key in file ``path``, parsing it only if the file changed since the last call."""
        real = os.path.realpath(path)
        try:
            info = os.stat(real)
        except OSError:
            # Let read_file produce its precise message (missing, permission, ...).
            info = None
        if info is None:
            _files.read_file(path, what="private key")
            raise IzumaKeyError("private key file %s cannot be read" % path)
        cache_key = ("file", real, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, self._passphrase_tag(passphrase),
                     tuple(sorted(load_options.items())))
        return self._get(cache_key, lambda: _keys.load_private_key(_files.read_file(path, what="private key"), passphrase=passphrase,
                                                                   source="private key file %s" % path, **load_options))

    def load_content(self, content: t.Union[str, bytes], passphrase: t.Optional[t.Union[str, bytes]] = None,
                     source: str = "private_key_content", **load_options: t.Any) -> t.Any:
        """Return the private key in PEM ``content``, parsing each distinct content once."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        cache_key = ("content", hashlib.sha256(data).hexdigest(), self._passphrase_tag(passphrase), tuple(sorted(load_options.items())))
        return self._get(cache_key, lambda: _keys.load_private_key(data, passphrase=passphrase, source=source, **load_options))

    def clear(self) -> None:
        """Forget every cached key."""
        with self._lock:
            self._entries.clear()


class TokenCache:
    """Signed tokens reused while enough of their lifetime remains.

    Keyed by the signing key's public key fingerprint, the algorithm and the
    canonical JSON of every other signing option, so a change in claims,
    headers, lifetime or key signs anew. A cached token is handed out again
    only while more than ``min_remaining_fraction`` of its lifetime and more
    than ``min_remaining_seconds`` remain; otherwise it is re-signed. A reused
    token is the same token, so with ``jwt_id=True`` its jti repeats too.
    Thread-safe; oldest entries are dropped beyond ``max_entries``.
    """

    def __init__(self, min_remaining_fraction: float = 0.5, min_remaining_seconds: int = 30, max_entries: int = 256) -> None:
        self.min_remaining_fraction = min_remaining_fraction
        self.min_remaining_seconds = min_remaining_seconds
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries = {}  # type: t.Dict[str, t.Tuple[str, int, int]]
        # Public key fingerprints by id() of the key object, computed once per key (a DER encoding and a hash each
        # time would cost as much as the lookup itself); the key is kept so that its id cannot be reused.
        self._fingerprints = {}  # type: t.Dict[int, t.Tuple[t.Any, str]]
        self.hits = 0
        self.misses = 0

    def _fingerprint(self, key: t.Any) -> str:
        with self._lock:
            known = self._fingerprints.get(id(key))
        if known is not None and known[0] is key:
            return known[1]
        fingerprint = _keys.public_key_fingerprint(key)
        with self._lock:
            self._fingerprints[id(key)] = (key, fingerprint)
            while len(self._fingerprints) > self.max_entries:
                del self._fingerprints[next(iter(self._fingerprints))]
        return fingerprint

    def get_or_sign(self, key: t.Any, algorithm: t.Optional[str] = None, now: t.Optional[float] = None, **sign_options: t.Any) -> str:
        """Return a cached token for these options, or sign (via ``sign_token``) and cache a new one.

        ``sign_options`` are sign_token's keyword arguments other than key, algorithm and now.
        """
        algorithm = default_algorithm(key) if algorithm is None else algorithm
        try:
            options = json.dumps(sign_options, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise IzumaTokenError("token options must be JSON values (strings, numbers, booleans, lists, mappings)") from None
        cache_key = "%s|%s|%s" % (self._fingerprint(key), algorithm, options)
        current = time.time() if now is None else now
        with self._lock:
            entry = self._entries.get(cache_key)
            if entry is not None:
                token, issued, expires = entry
                remaining = expires - current
                if remaining > max(self.min_remaining_fraction * (expires - issued), self.min_remaining_seconds) and current >= issued - 1:
                    self.hits += 1
                    return token
        token = sign_token(key, algorithm=algorithm, now=current, **sign_options)
        # sign_token sets iat to int(now) and exp to iat + lifetime (checked there); no need to decode the token again.
        issued = int(current)
        with self._lock:
            self.misses += 1
            self._entries.pop(cache_key, None)
            self._entries[cache_key] = (token, issued, issued + int(sign_options.get("lifetime", 300)))
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return token

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._entries.clear()
            self._fingerprints.clear()


# Shared by the plugins of one process (an Ansible worker runs one task for one host).
SIGNING_KEY_CACHE = SigningKeyCache()
TOKEN_CACHE = TokenCache()
