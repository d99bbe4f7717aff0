# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""How the API client authenticates: an access key, or a JWT it signs itself.

Each kind gives the headers of one request; neither ever puts its secret
anywhere but the ``Authorization`` header.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Union

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig

# A JWT minted for the client's own calls lives this long, and is replaced this long before it expires.
AUTH_TOKEN_LIFETIME = 300
AUTH_TOKEN_REFRESH_MARGIN = 60


class AccessKeyAuth:
    """Administrator (or application) access key: ``Authorization: Bearer ak_...``."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def headers(self) -> Dict[str, str]:
        """Headers for one request."""
        return {"Authorization": "Bearer " + self._api_key}


class JwtAuth:
    """JWT authentication: a short-lived token signed with the application's private key.

    The key is a PEM file, PEM content or a key in a PKCS#11 token (``auth_pkcs11_key_label``); it is read and
    parsed (or found in the token, after one login) once; a token is reused until it comes within
    ``refresh_margin`` seconds of its expiry, then a new one is signed.
    """

    def __init__(self, config: ClientConfig, clock: Callable[[], float] = time.time,
                 lifetime: int = AUTH_TOKEN_LIFETIME, refresh_margin: int = AUTH_TOKEN_REFRESH_MARGIN) -> None:
        self._config = config
        self._clock = clock
        self._lifetime = lifetime
        self._refresh_margin = refresh_margin
        self._key: Any = None
        self._algorithm: Optional[str] = None
        self._token: Optional[str] = None
        self._expires = 0.0

    def _load_key(self) -> None:
        # Imported here so that access-key users need neither cryptography nor PyJWT.
        from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
        from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens

        config = self._config
        # The one key source of the collection, with its per-process cache: the same loader as the izuma_jwt plugins.
        pkcs11 = config.pkcs11_source()
        if pkcs11 is not None:
            # Signs in the token: one login per process (every module is a process of its own).
            self._key = key_source.load_signing_key(pkcs11=pkcs11)
        elif config.auth_private_key_path:
            self._key = key_source.SIGNING_KEY_CACHE.load_file(config.auth_private_key_path, config.auth_private_key_passphrase,
                                                               what="auth_private_key_path", source=config.auth_private_key_path)
        else:
            self._key = key_source.SIGNING_KEY_CACHE.load_content(config.auth_private_key_content or "", config.auth_private_key_passphrase,
                                                                  source="auth_private_key_content")
        self._algorithm = config.auth_jwt_algorithm or tokens.default_algorithm(self._key)
        tokens.check_algorithm(self._algorithm, self._key)

    def headers(self) -> Dict[str, str]:
        """Headers for one request, signing a fresh token when the cached one is about to expire."""
        from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens

        if self._key is None:
            self._load_key()
        now = self._clock()
        if self._token is None or self._expires - now < self._refresh_margin:
            self._token = tokens.sign_token(self._key, self._algorithm, lifetime=self._lifetime, now=now)
            self._expires = now + self._lifetime
        return {"Authorization": "Bearer " + self._token, "X-Application-ID": str(self._config.auth_application_id)}


def authentication(config: ClientConfig, clock: Callable[[], float] = time.time) -> Union[AccessKeyAuth, JwtAuth]:
    """The authentication the configuration asks for: an access key wins over a JWT."""
    if config.auth_method == "access_key":
        return AccessKeyAuth(str(config.api_key))
    return JwtAuth(config, clock=clock)
