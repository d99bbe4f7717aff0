# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is calling (authentication) and whether they may (authorization).

Three kinds of caller:

* ``admin``: the bootstrap administrator access key given on the command line. It is an
  account-level credential that belongs to no application and may call everything.
* ``access_key``: an application's ``ak_`` access key; the caller is that application.
* ``jwt``: a JWT plus ``X-Application-ID``; the token is verified against that
  application's ACTIVE verification keys whose certificates are valid now (emulator
  clock), and the caller is that application.

An application may call every IAM endpoint when it is in the Administrators group, and
may always read its own application object.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from collections.abc import Mapping

import jwt

from izuma_emulator.clock import format_time
from izuma_emulator.messages import ApiError
from izuma_emulator.keys import VerificationKey
from izuma_emulator.records import ACTIVE
from izuma_emulator.store import Application, Store

# JWT algorithm -> (certificate key algorithm, EC curve or None), as the product documents them.
JWT_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "secp256r1"), "ES384": ("EC", "secp384r1"), "ES512": ("EC", "secp521r1"),
}

# Three base64url segments: what a compact JWS looks like.
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")

# Claims are checked against the emulator clock below, not by PyJWT against real time.
_DECODE_OPTIONS = {
    "require": ["exp"],
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; ``kind`` is admin, access_key or jwt."""

    kind: str
    application_id: str | None = None


def _invalid_auth(message: str) -> ApiError:
    return ApiError(401, "invalid_auth", message)


def _invalid_token(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message)


def looks_like_jwt(token: str) -> bool:
    """True when ``token`` has the shape of a compact JWS (header.payload.signature)."""
    return bool(_JWT_SHAPE.match(token))


class Authenticator:
    """Turns request headers into a Principal or a 401; the caller holds ``store.lock``."""

    def __init__(self, store: Store, admin_key: str) -> None:
        self.store = store
        self.admin_key = admin_key

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """Identify the caller from ``Authorization`` (and ``X-Application-ID`` for a JWT)."""
        authorization = headers.get("Authorization")
        if not authorization:
            raise _invalid_auth("Authorization header is missing; send 'Authorization: Bearer ak_...' or a JWT with X-Application-ID.")
        scheme, _separator, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _invalid_auth("Authorization must use the Bearer scheme: 'Authorization: Bearer <access key or JWT>'.")
        if token.startswith("ak_"):
            return self._access_key(token)
        if looks_like_jwt(token):
            return self._jwt(token, headers.get("X-Application-ID"))
        raise _invalid_auth("The bearer credential is neither an access key (ak_...) nor a JWT.")

    def _access_key(self, secret: str) -> Principal:
        if hmac.compare_digest(secret.encode("utf-8"), self.admin_key.encode("utf-8")):
            return Principal("admin")
        store = self.store
        key = store.access_keys.find(secret)
        if key is None:
            raise _invalid_auth("The access key is not valid for this account.")
        now = store.clock.now()
        status = key.effective_status(now)
        if status != ACTIVE:
            raise _invalid_auth(f"The access key {key.id} is {status}.")
        application = store.get_application(key.application_id)
        if application.status != ACTIVE:
            raise _invalid_auth(f"The application {application.id} of this access key is {application.status}.")
        key.last_used_at = now
        application.last_used_at = now
        return Principal("access_key", application.id)

    def _usable_keys(self, application: Application, algorithm: str) -> list[VerificationKey]:
        """ACTIVE keys whose certificate is valid now and whose key type matches the algorithm."""
        now = self.store.clock.now()
        key_algorithm, curve = JWT_ALGORITHMS[algorithm]
        return [
            key for key in self.store.verification_keys.of(application.id)
            if key.status == ACTIVE and key.certificate.is_valid(now)
            and key.certificate.algorithm == key_algorithm and key.certificate.curve == curve
        ]

    def _jwt(self, token: str, application_id: str | None) -> Principal:
        if not application_id:
            raise _invalid_token("A JWT must come with an X-Application-ID header naming the application whose keys verify it.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _invalid_token(f"The JWT is malformed: {error}.") from None
        algorithm = header.get("alg")
        if algorithm not in JWT_ALGORITHMS:
            raise _invalid_token(f"The JWT algorithm {algorithm!r} is not accepted; use one of {', '.join(JWT_ALGORITHMS)}.")
        application = self.store.applications.get(application_id)
        if application is None:
            raise _invalid_token(f"X-Application-ID {application_id} does not name an application of this account.")
        if application.status != ACTIVE:
            raise _invalid_token(f"The application {application.id} is {application.status}.")
        for key in self._usable_keys(application, algorithm):
            try:
                claims = jwt.decode(token, key.certificate.public_key, algorithms=[algorithm], options=_DECODE_OPTIONS)
            except jwt.MissingRequiredClaimError:
                raise _invalid_token("The JWT has no exp claim; exp (seconds since the epoch) is required.") from None
            except jwt.PyJWTError:
                continue  # signed by another key, perhaps: try the next one
            self._check_times(claims)
            now = self.store.clock.now()
            key.last_used_at = now
            application.last_used_at = now
            return Principal("jwt", application.id)
        raise _invalid_token(f"The JWT signature does not verify with any ACTIVE, unexpired {algorithm}-capable "
                             f"verification key of application {application.id}.")

    def _check_times(self, claims: dict[str, object]) -> None:
        """Check ``exp`` and ``nbf`` against the emulator clock (no leeway)."""
        now = self.store.clock.now()
        now_seconds = now.timestamp()
        expires = claims.get("exp")
        if isinstance(expires, bool) or not isinstance(expires, (int, float)):
            raise _invalid_token("The JWT exp claim must be a number of seconds since the epoch.")
        if now_seconds >= expires:
            raise _invalid_token(f"The JWT expired (exp {expires}; the time is {format_time(now)}).")
        not_before = claims.get("nbf")
        if not_before is not None:
            if isinstance(not_before, bool) or not isinstance(not_before, (int, float)):
                raise _invalid_token("The JWT nbf claim must be a number of seconds since the epoch.")
            if now_seconds < not_before:
                raise _invalid_token(f"The JWT is not valid before {not_before} (the time is {format_time(now)}).")


def may_call(store: Store, principal: Principal, route: str, method: str, params: Mapping[str, str]) -> bool:
    """True when the caller may perform ``method`` on ``route`` (an IAM route name) with ``params``."""
    if principal.kind == "admin":
        return True
    application = store.applications.get(principal.application_id or "")
    if application is None:
        return False
    if store.is_administrator(application):
        return True
    # Any application may read its own application object.
    return route == "application" and method == "GET" and params.get("application_id") == application.id
