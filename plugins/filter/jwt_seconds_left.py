# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jwt_seconds_left filter (documented in jwt_seconds_left.yml): seconds until a JWT expires.

It decodes without verifying the signature, for renewal decisions, and never quotes
the token in an error. It takes a token or the claims that jwt_claims returned.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.filter.jwt_claims import _text
from ansible_collections.izuma.device_management.plugins.module_utils import _tokens as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError


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
        return tokens.seconds_left(source, now=now)
    except IzumaError as exc:
        raise AnsibleFilterError("jwt_seconds_left: %s" % exc.message) from None


class FilterModule:
    """The jwt_seconds_left filter of izuma.device_management."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        """Map filter names to functions."""
        return {"jwt_seconds_left": jwt_seconds_left}
