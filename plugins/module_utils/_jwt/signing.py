# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""JSON Web Tokens for Izuma Device Management: check the options, build claims and headers, sign.

The signing half of the collection's one token library (``status`` is the
inspecting half). Izuma Device Management verifies a JWT with the
application's uploaded certificates; it accepts RS256/384/512, ES256/384/512
and PS256/384/512 (``algorithms``) and requires an ``exp`` claim. Every
option is checked in one place, ``signing_request``, before anything is
signed, so a bad token fails here with a clear message rather than as a 401
from the API; ``sign_token`` signs what ``signing_request`` built, written by
``jws`` (no PyJWT needed, but for headers only PyJWT writes). What is known
about a key (its description, fingerprint, fitting algorithms) is kept once
per key object, in ``key_facts``.

Messages never contain tokens, key material or passphrases.
"""

from __future__ import annotations

import json
import time
import typing as t
import uuid

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import jws as _jws
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_facts as _key_facts
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.algorithms import ALGORITHMS, DEFAULT_MAX_LIFETIME, ES_CURVES, HARD_MAX_LIFETIME

# Claims the signer sets from its own options (lifetime, not_before_skew), never from user claims.
RESERVED_CLAIMS = ("exp", "iat", "nbf")
# Headers that would change how the token is verified, or point the verifier at
# another key; ``kid`` and ``typ`` stay allowed.
RESERVED_HEADERS = ("alg", "jku", "jwk", "x5u", "x5c", "crit")
# Hex digits of the public key fingerprint used as ``kid`` when key_id=True (128 bits).
KID_LENGTH = 32
# The sign_token keywords that shape the claims (the rest shape the headers, or pick the algorithm).
CLAIM_OPTIONS = ("lifetime", "claims", "issuer", "subject", "audience", "jwt_id", "not_before_skew", "max_lifetime")
HEADER_OPTIONS = ("headers", "key_id")
_OPTION_NAMES = frozenset(CLAIM_OPTIONS + HEADER_OPTIONS + ("algorithm",))


def _describe(key: t.Any) -> t.Dict[str, t.Any]:
    return _key_facts.facts(key).description


def kid_for_key(key: t.Any) -> str:
    """Return the ``kid`` this library puts in a token signed with ``key`` when asked: the first 32 hex digits of its public key fingerprint."""
    return _key_facts.fingerprint(key)[:KID_LENGTH]


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
    if algorithm in ALGORITHMS and algorithm in _key_facts.facts(key).fitting:
        return  # checked before for this key object: neither can have changed
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
    else:
        wanted = ES_CURVES[algorithm]
        if desc["algorithm"] != "EC" or desc["curve"] != wanted:
            raise IzumaTokenError("JWT algorithm %s needs an EC key on %s, but the key is %s: use %s, or a key on %s"
                                  % (algorithm, wanted, _label(desc), _suggest(desc), wanted))
    _key_facts.facts(key).fitting.add(algorithm)


def _label(desc: t.Dict[str, t.Any]) -> str:
    if desc["algorithm"] == "EC":
        return "an EC key on %s" % desc["curve"]
    if desc["algorithm"] == "RSA":
        return "an RSA key of %d bits" % desc["key_size"]
    return "a %s key" % desc["algorithm"]


def _suggest(desc: t.Dict[str, t.Any]) -> str:
    if desc["algorithm"] == "RSA":
        rsa = [algorithm for algorithm in ALGORITHMS if algorithm[:2] in ("RS", "PS")]
        return "%s or %s" % (", ".join(rsa[:-1]), rsa[-1])
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


def whole_seconds(name: str, value: t.Any, allow_zero: bool = False) -> int:
    """Return ``value`` when it is a positive (or, with ``allow_zero``, non-negative) int; else raise naming option ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        raise IzumaTokenError("%s must be a %s whole number of seconds, got %r" % (name, "non-negative" if allow_zero else "positive", value))
    return value


def build_claims(lifetime: int = 300, claims: t.Optional[t.Mapping[str, t.Any]] = None, issuer: t.Optional[str] = None,
                 subject: t.Optional[str] = None, audience: t.Optional[t.Union[str, t.List[str]]] = None,
                 jwt_id: t.Optional[t.Union[str, bool]] = None, not_before_skew: t.Optional[int] = None,
                 max_lifetime: t.Optional[int] = None, now: t.Optional[float] = None) -> t.Dict[str, t.Any]:
    """Return the claims ``sign_token`` would sign, after checking the options (see sign_token)."""
    lifetime = whole_seconds("lifetime", lifetime)
    # Checked before anything else uses the lifetime: an absurd one would otherwise surface as a date error.
    if max_lifetime is not None:
        max_lifetime = whole_seconds("max_lifetime", max_lifetime)
        if max_lifetime > HARD_MAX_LIFETIME:
            raise IzumaTokenError("max_lifetime %d seconds is longer than any token may live, %d seconds (10 years): give a max_lifetime "
                                  "of at most %d seconds" % (max_lifetime, HARD_MAX_LIFETIME, HARD_MAX_LIFETIME))
        if lifetime > max_lifetime:
            raise IzumaTokenError("lifetime %d seconds is longer than max_lifetime %d seconds: shorten lifetime or raise max_lifetime"
                                  % (lifetime, max_lifetime))
    if lifetime > HARD_MAX_LIFETIME:
        raise IzumaTokenError("lifetime %d seconds is longer than any token may live, %d seconds (10 years): give a lifetime of at most "
                              "max_lifetime, which defaults to %d seconds (one year)" % (lifetime, HARD_MAX_LIFETIME, DEFAULT_MAX_LIFETIME))
    # No claims (the usual case) need no checks: the copy and the JSON check are for a mapping with something in it.
    user_claims = {} if claims is None or claims == {} else _checked_mapping(
        "claim", claims, RESERVED_CLAIMS, "claims may not set %s: exp and iat come from lifetime, nbf from not_before_skew; remove %s from claims")
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
        result["nbf"] = issued - whole_seconds("not_before_skew", not_before_skew, allow_zero=True)
    result.update(user_claims)
    return result


def _checked_mapping(kind: str, values: t.Optional[t.Mapping[str, t.Any]], reserved_names: t.Sequence[str],
                     refusal: str) -> t.Dict[str, t.Any]:
    """A copy of the claims or headers mapping, refused when it is not a JSON mapping or sets a reserved name."""
    if not isinstance(values or {}, dict):
        raise IzumaTokenError("%ss must be a mapping of %s names to values, got %s" % (kind, kind, type(values).__name__))
    result = dict(values or {})
    _check_json(kind, result)
    reserved = sorted(set(result) & set(reserved_names))
    if reserved:
        raise IzumaTokenError(refusal % (", ".join(reserved), "it" if len(reserved) == 1 else "them"))
    return result


def build_headers(key: t.Any, headers: t.Optional[t.Mapping[str, t.Any]] = None, key_id: t.Optional[t.Union[str, bool]] = None) -> t.Dict[str, t.Any]:
    """Return the extra JOSE headers ``sign_token`` would use, after refusing reserved ones (see sign_token)."""
    if (headers is None or headers == {}) and (key_id is None or key_id is False):
        return {}
    result = _checked_mapping("header", headers, RESERVED_HEADERS, "headers may not set %s: the algorithm comes from the algorithm "
                              "option, and key location headers (jku, jwk, x5u, x5c) and crit would change how the token is "
                              "verified; remove %s from headers (kid and typ are allowed)")
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


def signing_request(key: t.Any, now: t.Optional[float] = None, **options: t.Any) -> t.Dict[str, t.Any]:
    """Check ``options`` (sign_token keywords) and return what a token signed now would carry, without signing.

    The one place the options are checked: ``sign_token`` signs exactly this
    request. Returns ``{"algorithm", "claims", "headers"}`` (headers besides
    alg and typ). Check mode uses it to report a new token's claims and
    expiry, and callers use it to refuse bad options before anything else
    happens. Raises IzumaTokenError naming the option and the fix.
    """
    if not _OPTION_NAMES.issuperset(options):
        raise IzumaTokenError("unknown token option(s): %s" % ", ".join(sorted(set(options) - _OPTION_NAMES)))
    if not hasattr(key, "private_bytes"):
        raise IzumaTokenError("a private key is needed to sign a token, got %s" % type(key).__name__)
    claim_options = dict(options)
    algorithm = claim_options.pop("algorithm", None)
    algorithm = default_algorithm(key) if algorithm is None else algorithm
    check_algorithm(algorithm, key)
    headers, key_id = claim_options.pop("headers", None), claim_options.pop("key_id", None)
    claims = build_claims(now=now, **claim_options)
    return {"algorithm": algorithm, "claims": claims, "headers": build_headers(key, headers, key_id)}


def sign_token(key: t.Any, algorithm: t.Optional[str] = None, now: t.Optional[float] = None, **options: t.Any) -> str:
    """Sign a JWT for Izuma Device Management and return it: ``signing_request`` checks and builds it, this signs it.

    - ``algorithm`` defaults to ``default_algorithm(key)`` and is checked with ``check_algorithm``.
    - ``iat`` is ``now`` and ``exp`` is ``now + lifetime`` (whole seconds since
      the epoch); ``lifetime`` is a positive number of seconds, at most
      ``max_lifetime`` when that is given, and never over HARD_MAX_LIFETIME
      (ten years) whatever max_lifetime says.
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
    _jws.require_cryptography()
    request = signing_request(key, now=now, algorithm=algorithm, **options)
    if _jws.written_by_pyjwt(request["headers"]):
        _jws.pyjwt()  # says so when PyJWT is missing
    try:
        return _jws.encode_token(key, request["algorithm"], request["claims"], request["headers"], _key_facts.facts(key).signers)
    except IzumaKeyError:
        # The collection's own key errors (a PKCS#11 token refusing a mechanism, a key gone) say what happened, and
        # never quote a key: shown as they are, not hidden behind "check that the key and algorithm match".
        raise
    except Exception as exc:  # pylint: disable=broad-except
        # PyJWT and the key raise several unrelated types here; none of their text is shown, as it could quote the key.
        raise IzumaTokenError("the token could not be signed with %s (%s): check that the key and algorithm match"
                              % (request["algorithm"], type(exc).__name__)) from None
