# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""JSON Web Tokens for Izuma Device Management: inspect a deployed token and decide whether to renew it.

The inspecting half of the collection's one token library (``signing`` signs):
``decode_unverified`` reads a token without trusting it, ``seconds_left`` says
how long it lives, ``token_status`` whether it is still good, and
``renewal_status`` whether it must be replaced by one signed with the given
key and options (the rule the izuma_jwt action plugin applies per host).

Bad tokens are reported, not raised; messages never quote a token or a key.
"""

from __future__ import annotations

import json
import math
import time
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import jws as _jws
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.algorithms import ALGORITHMS
from ansible_collections.izuma.device_management.plugins.module_utils import _times

# Claims that differ between two otherwise identical tokens: never compared for renewal.
VOLATILE_CLAIMS = ("exp", "iat", "nbf", "jti")


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
    jwt = _jws.pyjwt()
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
            return _certificates.load_public_key(public_key_or_cert, source="the verification key")
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
    return _same_json(wanted, actual)


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
    _jws.pyjwt()
    current = time.time() if now is None else now
    margin = _tokens.whole_seconds("renew_margin", renew_margin, allow_zero=True)
    status = {"valid": False, "expires_at": None, "seconds_left": None, "signed_by_key": None, "claims_match": None,
              "needs_renewal": True, "reason": "", "algorithm": None}  # type: t.Dict[str, t.Any]
    claims = _decode_into(status, token)
    if claims is None:
        return status
    left, reasons = _expiry_into(status, claims, current)
    reasons += _request_differences(status, token, key, claims, required_claims, exact_claims, algorithm)
    not_before = claims.get("nbf")
    premature = _is_number(not_before) and current < not_before
    if premature:
        reasons.append("the token is not valid before %s" % _times.to_rfc3339(not_before))
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


def _decode_into(status: t.Dict[str, t.Any], token: t.Union[str, bytes, None]) -> t.Optional[t.Dict[str, t.Any]]:
    """The token's claims, its algorithm put in ``status``; None, with the reason in ``status``, for no or a bad token."""
    if token is None or (isinstance(token, (str, bytes)) and not token.strip()):
        status["reason"] = "there is no token yet"
        return None
    try:
        decoded = decode_unverified(token)
    except IzumaTokenError as exc:
        status["reason"] = exc.message
        return None
    status["algorithm"] = decoded["header"].get("alg")
    return decoded["claims"]


def _expiry_into(status: t.Dict[str, t.Any], claims: t.Mapping[str, t.Any], current: float) -> t.Tuple[t.Optional[int], t.List[str]]:
    """The seconds the token has left, also put in ``status`` with its expiry; None, and the reason, when it has no exp."""
    try:
        left = seconds_left(claims, now=current)
    except IzumaTokenError as exc:
        return None, [exc.message]
    status["expires_at"] = _times.to_rfc3339(claims["exp"])
    status["seconds_left"] = left
    return left, []


def _request_differences(status: t.Dict[str, t.Any], token: t.Union[str, bytes], key: t.Any, claims: t.Mapping[str, t.Any],
                         required_claims: t.Optional[t.Mapping[str, t.Any]], exact_claims: bool,
                         algorithm: t.Optional[str]) -> t.List[str]:
    """Where the token differs from the request: its algorithm, its key (signed_by_key), its claims (claims_match)."""
    reasons = []
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
    return reasons


def _signed_by(token: t.Union[str, bytes], key: t.Any, algorithm: t.Optional[str]) -> bool:
    """Tell whether ``token``'s signature verifies with ``key``, ignoring its times."""
    jwt = _jws.pyjwt()
    public_key = _verification_key(key)
    if algorithm not in ALGORITHMS:
        return False
    try:
        _tokens.check_algorithm(t.cast(str, algorithm), public_key)
        jwt.decode(_token_text(token), public_key, algorithms=[algorithm],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False, "verify_iss": False})
    except (IzumaTokenError, jwt.PyJWTError):
        return False
    return True


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
    request = _tokens.signing_request(key, now=current, **options)
    status = token_status(token, key=key, required_claims=request["claims"], renew_margin=renew_margin, now=current,
                          exact_claims=True, algorithm=request["algorithm"])
    status.update(request=request, header=None, claims=None)
    if not status["algorithm"]:
        return status
    decoded = decode_unverified(t.cast(t.Union[str, bytes], token))
    header, claims = decoded["header"], decoded["claims"]
    status.update(header=header, claims=claims)
    reasons = _claim_differences(claims, request["claims"], options) + _header_differences(header, request["headers"])
    if reasons:
        if status["needs_renewal"]:
            reasons.insert(0, status["reason"])
        status["needs_renewal"] = True
        status["reason"] = "; ".join(reasons)
    return status


def _claim_differences(claims: t.Mapping[str, t.Any], requested: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> t.List[str]:
    """What token_status does not compare in the claims: the lifetime, nbf and jti against the request and its options."""
    reasons = []
    issued, expires = claims.get("iat"), claims.get("exp")
    lifetime = requested["exp"] - requested["iat"]
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
    return reasons


def _header_differences(header: t.Mapping[str, t.Any], wanted: t.Mapping[str, t.Any]) -> t.List[str]:
    """The token's headers besides alg against the requested ones (``typ`` may be the default JWT when none is asked)."""
    differing = sorted(name for name, value in wanted.items() if name not in header or not _same_json(value, header[name]))
    differing += sorted(name for name in header if name not in wanted and name not in ("alg", "typ"))
    if "typ" not in wanted and header.get("typ", "JWT") != "JWT":
        differing.append("typ")
    if differing:
        return ["the token's headers differ from the requested ones (%s)" % ", ".join(differing)]
    return []


def _is_number(value: t.Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
