# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jwt_claims filter (documented in jwt_claims.yml): a JWT's claims, and its header on request.

It decodes without verifying the signature, for assertions, reports and renewal
decisions, and never quotes the token in an error. One file per filter, named after
it, so that each plugin file is a documented filter (jwt_seconds_left.py holds the other).
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.module_utils import _tokens as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError


def jwt_claims(token: t.Any, header: bool = False) -> t.Dict[str, t.Any]:
    """Return a token's claims, or ``{"header": ..., "claims": ...}`` with ``header=True``; the signature is not verified."""
    try:
        decoded = tokens.decode_unverified(_text(token, "jwt_claims"))
    except IzumaError as exc:
        raise AnsibleFilterError("jwt_claims: %s" % exc.message) from None
    if header:
        return {"header": decoded["header"], "claims": decoded["claims"]}
    return decoded["claims"]


def _text(token: t.Any, name: str) -> str:
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    if not isinstance(token, str):
        raise AnsibleFilterError("%s: expected a token (a string), got %s" % (name, type(token).__name__))
    return token


class FilterModule:
    """The jwt_claims filter of izuma.device_management."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        """Map filter names to functions."""
        return {"jwt_claims": jwt_claims}
