# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""What a token for Izuma Device Management may be: its algorithms, their curves, its lifetime ceilings.

The one place these facts are written. It imports nothing, so that modules
shipped to managed hosts (which need neither cryptography nor PyJWT) can take
their argument spec ``choices`` from it; the token library checks the same
values before signing.
"""

from __future__ import annotations

# The JWS algorithms Izuma Device Management verifies a token with (RSA, ECDSA and RSA-PSS; never none or HMAC).
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
# The curve each ES algorithm is defined on (RFC 7518 section 3.4).
ES_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

# The default ``max_lifetime`` of the plugins that sign tokens: one year. A token that lives longer is a
# credential nobody rotates; a user who needs one raises max_lifetime knowingly.
DEFAULT_MAX_LIFETIME = 365 * 24 * 3600
# No token lives longer than this (ten years), whatever max_lifetime says: beyond it an ``exp`` soon leaves the
# range that dates can represent, and such a token is a mistake, not a policy.
HARD_MAX_LIFETIME = 10 * DEFAULT_MAX_LIFETIME
