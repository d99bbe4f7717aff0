# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The API client's connection options and their defaults.

``ClientConfig`` is built the same way by modules (``module.params.get``) and by
controller-side plugins (``get_option``), and refuses a configuration that
cannot work with a message naming the option to fix. What it accepts but the
user should know about (TLS verification off, a credential it does not use) it
lists in ``warnings()``.

Which credential authenticates is never left to chance (``settle_authentication``):
an access key and JWT authentication (or two keys for the JWT) that reach the
client together are settled by where each came from. The one the task spelled
out (its arguments or the play's ``module_defaults``) wins over one from an
environment variable; at the same level the access key wins (and of two keys,
none: an error). Whatever is set aside is named in a warning, by its option or
its variable, never by its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import (
    OPTION_NAMES as PKCS11_OPTION_NAMES,
    Pkcs11KeySource,
    pkcs11_source,
)

DEFAULT_HOST = "https://api.us-east-1.mbedcloud.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
# A Retry-After above this many seconds is cut down to it, so that a run never stalls for long.
DEFAULT_RETRY_AFTER_CAP = 60.0
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
# The connection options of a key in a PKCS#11 token are the pkcs11_* options with this prefix.
AUTH_PREFIX = "auth_"
# The options that choose JWT authentication: the application, and the key that signs its JWTs. The others
# (passphrase, algorithm, the PKCS#11 library, token and PIN) only serve the key these name.
KEY_OPTIONS = ("auth_private_key_path", "auth_private_key_content", "auth_pkcs11_key_label")
JWT_OPTIONS = ("auth_application_id",) + KEY_OPTIONS


@dataclass
class ClientConfig:
    """Connection options, the same for modules and controller-side plugins."""

    api_host: str = DEFAULT_HOST
    api_key: Optional[str] = field(default=None, repr=False)
    auth_application_id: Optional[str] = None
    auth_private_key_path: Optional[str] = None
    auth_private_key_content: Optional[str] = field(default=None, repr=False)
    auth_private_key_passphrase: Optional[str] = field(default=None, repr=False)
    auth_jwt_algorithm: Optional[str] = None
    # A key in a PKCS#11 token that signs the authentication JWT (_pkcs11_options with the prefix auth_).
    auth_pkcs11_library: Optional[str] = None
    auth_pkcs11_token: Optional[str] = None
    auth_pkcs11_serial: Optional[str] = None
    auth_pkcs11_pin: Optional[str] = field(default=None, repr=False)
    auth_pkcs11_key_label: Optional[str] = None
    validate_certs: bool = True
    ca_path: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    # The environment variable an option's value came from, for the options that did not come from the task itself,
    # e.g. {"validate_certs": "IZUMA_VALIDATE_CERTS"}: a warning about a value names where the user set it.
    sources: Dict[str, str] = field(default_factory=dict, compare=False)
    # What settle_authentication set aside, said once per run (see warnings()).
    notes: List[str] = field(default_factory=list, compare=False)

    OPTION_NAMES = (
        "api_host", "api_key", "auth_application_id", "auth_private_key_path", "auth_private_key_content",
        "auth_private_key_passphrase", "auth_jwt_algorithm", "validate_certs", "ca_path", "timeout", "retries",
    ) + tuple(AUTH_PREFIX + name for name in PKCS11_OPTION_NAMES)

    @classmethod
    def from_options(cls, get: Callable[[str], Any], sources: Optional[Dict[str, str]] = None) -> "ClientConfig":
        """Build a configuration from an option getter (``module.params.get`` or a plugin's ``get_option``).

        An empty string counts as not set: AWX injects every environment variable of a credential type, with ``''``
        for the inputs a credential leaves empty (an access-key credential has no application id, and so on).
        ``sources`` maps options to the environment variables their values came from (see the ``sources`` field); a
        plugin builds it with ``get_option_and_origin`` (an origin ``env: IZUMA_API_KEY`` gives ``IZUMA_API_KEY``).
        Which credential authenticates is then settled by where each came from (``settle_authentication``).
        """
        values = {name: get(name) for name in cls.OPTION_NAMES}
        config = cls(**{name: value for name, value in values.items() if value is not None and value != ""})
        config.sources = dict(sources or {})
        settle_authentication(config)
        config.validate()
        return config

    @property
    def auth_method(self) -> str:
        """``access_key`` or ``jwt``, chosen from the options given (an access key wins; ``from_options`` has already set
        aside the credential that loses by where it came from, see ``settle_authentication``)."""
        if self.api_key:
            return "access_key"
        if self.auth_application_id and (self.auth_private_key_path or self.auth_private_key_content or self.auth_pkcs11_key_label):
            return "jwt"
        return "none"

    def validate(self) -> None:
        """Refuse a configuration that cannot work, naming the option to fix."""
        if not re.match(r"^https?://[^/\s]+", self.api_host or ""):
            raise IzumaConfigError(
                "api_host must be an http(s) URL such as %s (got %r); set api_host or IZUMA_API_HOST." % (DEFAULT_HOST, self.api_host))
        if self.api_key is not None and not self.api_key.startswith("ak_"):
            raise IzumaConfigError("api_key must be an Izuma access key starting with 'ak_'; check api_key or IZUMA_API_KEY.")
        if self.auth_method == "none":
            raise IzumaConfigError(
                "No credentials for the Izuma API: set api_key (IZUMA_API_KEY) to an administrator access key, "
                "or auth_application_id (IZUMA_APPLICATION_ID) with auth_private_key_path (IZUMA_PRIVATE_KEY_PATH) "
                "or auth_private_key_content (IZUMA_PRIVATE_KEY) or auth_pkcs11_key_label (a key in a PKCS#11 token) to "
                "authenticate with a JWT.")
        given = [name for name in KEY_OPTIONS if getattr(self, name)]
        if len(given) > 1:
            raise IzumaConfigError("Give one of auth_private_key_path, auth_private_key_content and auth_pkcs11_key_label: %s were "
                                   "given." % _names(self, given, both=True))
        if self.auth_method != "access_key":
            try:
                self.pkcs11_source()
            except IzumaKeyError as exc:
                raise IzumaConfigError(exc.message) from None
        if self.auth_application_id and not ID_PATTERN.match(self.auth_application_id):
            raise IzumaConfigError("auth_application_id must be an application id of 32 lowercase hex characters.")
        if self.timeout <= 0:
            raise IzumaConfigError("timeout must be a positive number of seconds.")
        if self.retries < 0:
            raise IzumaConfigError("retries must be zero or a positive number.")

    def pkcs11_source(self) -> Optional[Pkcs11KeySource]:
        """The PKCS#11 key that signs the authentication JWT (the ``auth_pkcs11_*`` options), or None."""
        return pkcs11_source({name: getattr(self, name) for name in self.OPTION_NAMES if name.startswith(AUTH_PREFIX + "pkcs11_")},
                             prefix=AUTH_PREFIX)

    def warnings(self) -> List[str]:
        """What the user should be told about this configuration: a credential set aside, and TLS verification off."""
        if self.validate_certs:
            return list(self.notes)
        origin = self.sources.get("validate_certs")
        setting = "%s is false in the environment" % origin if origin else "validate_certs is false"
        # The host is not named: a URL may carry user:password, and the message is shown wherever the task output goes.
        tls = ("TLS certificate verification is off (%s): the API server is not authenticated, so anyone on the network "
               "path can read the credentials sent to it and forge its answers. Give ca_path (IZUMA_CA_BUNDLE) the CA "
               "bundle that signed the server's certificate instead; turn verification off for tests only." % setting)
        return list(self.notes) + [tls]

    @property
    def verify(self) -> Any:
        """What requests takes as ``verify``: a CA bundle path, or a bool."""
        if not self.validate_certs:
            return False
        return self.ca_path or True


# -- which credential authenticates -----------------------------------------------------------------------------------


def _from_task(config: ClientConfig, option: str) -> bool:
    """True when the option's value came from the task (its arguments or module_defaults), not from the environment."""
    return option not in config.sources


def _names(config: ClientConfig, options: List[str], both: bool = False) -> str:
    """Options as the user set them: an option by its name, one from the environment by its variable (never a value).

    ``both`` names an option from the environment by both, as ``auth_private_key_path (IZUMA_PRIVATE_KEY_PATH)``.
    """
    named = []
    for option in options:
        variable = config.sources.get(option)
        named.append(option if variable is None else "%s (%s)" % (option, variable) if both else variable)
    return named[0] if len(named) == 1 else "%s and %s" % (", ".join(named[:-1]), named[-1])


def _verb(options: List[str]) -> str:
    return "is" if len(options) == 1 else "are"


def settle_authentication(config: ClientConfig) -> None:
    """Set aside the credential that loses, and say so in ``config.notes``; raise when the task's choice cannot work.

    An access key and JWT authentication: the one the task spelled out wins over one from the environment; at the same
    level (both in the task, or both from the environment) the access key wins. JWT options from the environment that
    do not make a whole JWT configuration (an application id without a key) are dropped without a word, as the
    ``IZUMA_PKCS11_*`` variables alone change nothing. Then, of two keys for the JWT, the task's wins over the
    environment's; two at the same level stay for ``validate`` to refuse.
    """
    jwt = [option for option in JWT_OPTIONS if getattr(config, option)]
    from_task = [option for option in jwt if _from_task(config, option)]
    if config.api_key and jwt and not (from_task and not _from_task(config, "api_key")):
        # The access key wins: same level, or the task's access key over the environment's JWT options.
        if from_task or (config.auth_application_id and len(jwt) > 1):
            config.notes.append(_jwt_set_aside(config, jwt, from_task))
        for option in jwt:
            setattr(config, option, None)
        return
    if config.api_key and jwt:
        # The task's JWT authentication wins over the environment's access key.
        _require_whole_jwt(config, from_task)
        variable = config.sources["api_key"]
        config.api_key = None
        _settle_keys(config)
        used = [option for option in JWT_OPTIONS if getattr(config, option)]
        config.notes.insert(0, "%s is set in the environment but not used: the task asks for JWT authentication (%s), which "
                               "wins over an access key from the environment. Unset %s for these tasks, or give api_key in "
                               "the task to authenticate with an access key." % (variable, _names(config, used), variable))
        return
    _settle_keys(config)


def _settle_keys(config: ClientConfig) -> None:
    """Of two keys for the JWT, the task's wins over the environment's (a note names the variables not used)."""
    keys = [option for option in KEY_OPTIONS if getattr(config, option)]
    from_task = [option for option in keys if _from_task(config, option)]
    if from_task and len(from_task) < len(keys):
        ignored = [option for option in keys if option not in from_task]
        config.notes.append("%s %s set in the environment but not used: the task gives %s, which wins over a key from the "
                            "environment." % (_names(config, ignored), _verb(ignored), _names(config, from_task)))
        for option in ignored:
            setattr(config, option, None)


def _jwt_set_aside(config: ClientConfig, jwt: List[str], from_task: List[str]) -> str:
    """The warning when the access key wins over JWT options."""
    ignored = _names(config, jwt)
    if _from_task(config, "api_key") and from_task:
        return ("%s %s not used: the task gives api_key too, and an access key wins over JWT authentication given at the "
                "same level. Remove api_key to authenticate with a JWT, or the JWT options to silence this warning."
                % (ignored, _verb(jwt)))
    if _from_task(config, "api_key"):
        return ("%s %s set in the environment but not used: the task gives api_key, which wins over JWT authentication "
                "from the environment." % (ignored, _verb(jwt)))
    return ("%s %s set in the environment but not used: %s is set too, and an access key wins over JWT authentication "
            "given at the same level. Unset one of them, or spell the authentication out in the task (api_key, or "
            "auth_application_id with its key)." % (ignored, _verb(jwt), config.sources["api_key"]))


def _require_whole_jwt(config: ClientConfig, from_task: List[str]) -> None:
    """The task asks for JWT authentication over an access key from the environment: it must be whole, as the access
    key is not used in its place."""
    instead = "; %s in the environment is not used in its place" % config.sources["api_key"]
    if not config.auth_application_id:
        raise IzumaConfigError(
            "%s %s given but auth_application_id is not: JWT authentication needs the application's id (auth_application_id "
            "or IZUMA_APPLICATION_ID)%s. Give auth_application_id, or remove %s to authenticate with the access key."
            % (_names(config, from_task), _verb(from_task), instead, _names(config, from_task)))
    if not any(getattr(config, option) for option in KEY_OPTIONS):
        raise IzumaConfigError(
            "auth_application_id is given but no key to sign the JWT: give auth_private_key_path, auth_private_key_content "
            "or auth_pkcs11_key_label (or IZUMA_PRIVATE_KEY_PATH or IZUMA_PRIVATE_KEY)%s. Or remove auth_application_id to "
            "authenticate with the access key." % instead)
