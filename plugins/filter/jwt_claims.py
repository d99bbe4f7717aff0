# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters to look into JWTs: jwt_claims and jwt_seconds_left (documented in jwt_claims.yml and jwt_seconds_left.yml).

The file bears the name of one of its filters: Galaxy lists every file here as a filter, and so lists no undocumented one.

Both decode without verifying the signature, for assertions, reports and
renewal decisions; neither ever quotes the token in an error.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError


def jwt_claims(token: t.Any, header: bool = False) -> t.Dict[str, t.Any]:
    """Return a token's claims, or ``{"header": ..., "claims": ...}`` with ``header=True``; the signature is not verified."""
    try:
        decoded = token_status.decode_unverified(_text(token, "jwt_claims"))
    except IzumaError as exc:
        raise AnsibleFilterError("jwt_claims: %s" % exc.message) from None
    if header:
        return {"header": decoded["header"], "claims": decoded["claims"]}
    return decoded["claims"]


def jwt_seconds_left(token: t.Any, now: t.Optional[float] = None) -> int:
    """Return whole seconds until a token's exp (negative once expired), from the token or its claims."""
    if isinstance(token, dict):
        # The output of jwt_claims(header=true) holds the claims under "claims".
        source = token["claims"] if set(token) == {"header", "claims"} and isinstance(token["claims"], dict) else token  # type: t.Any
    else:
        source = _text(token, "jwt_seconds_left")
    if now is not None and (isinstance(now, bool) or not isinstance(now, (int, float))):
        raise AnsibleFilterError("jwt_seconds_left: now must be a number of seconds since the epoch, got %s" % type(now).__name__)
    try:
        return token_status.seconds_left(source, now=now)
    except IzumaError as exc:
        raise AnsibleFilterError("jwt_seconds_left: %s" % exc.message) from None


def _text(token: t.Any, name: str) -> str:
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    if not isinstance(token, str):
        raise AnsibleFilterError("%s: expected a token (a string), got %s" % (name, type(token).__name__))
    return token


class FilterModule:
    """JWT filters of izuma.device_management."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        """Map filter names to functions."""
        return {"jwt_claims": jwt_claims, "jwt_seconds_left": jwt_seconds_left}
