# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The thin layer between AnsibleModule and the core.

It adds the connection options (with their environment fallbacks, each
recording the variable it read, so that the client knows which options came
from the environment) to a module's argument spec, builds the one API client of
the run and shows its warnings (``module.warn``), checks the libraries the module needs, and turns
every ``IzumaError`` into a clean ``fail_json``: a message and the API's error
details, never a traceback and never a secret.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.izuma.device_management.plugins.module_utils._api import HAS_REQUESTS, REQUESTS_IMPORT_ERROR, IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import (
    DEFAULT_HOST,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    AUTH_PREFIX,
    ClientConfig,
)
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as pkcs11_options
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaError, IzumaMissingError
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.algorithms import ALGORITHMS


def connection_argument_spec() -> Dict[str, Dict[str, Any]]:
    """The connection options of the ``izuma.device_management.connection`` doc fragment."""
    return dict(
        api_host=dict(type="str", default=DEFAULT_HOST, fallback=(env_fallback, ["IZUMA_API_HOST"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["IZUMA_API_KEY"])),
        auth_application_id=dict(type="str", fallback=(env_fallback, ["IZUMA_APPLICATION_ID"])),
        auth_private_key_path=dict(type="path", fallback=(env_fallback, ["IZUMA_PRIVATE_KEY_PATH"])),
        auth_private_key_content=dict(type="str", no_log=True, fallback=(env_fallback, ["IZUMA_PRIVATE_KEY"])),
        auth_private_key_passphrase=dict(type="str", no_log=True, fallback=(env_fallback, ["IZUMA_PRIVATE_KEY_PASSPHRASE"])),
        auth_jwt_algorithm=dict(
            type="str", fallback=(env_fallback, ["IZUMA_JWT_ALGORITHM"]),
            choices=list(ALGORITHMS)),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["IZUMA_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["IZUMA_CA_BUNDLE"])),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT, fallback=(env_fallback, ["IZUMA_TIMEOUT"])),
        retries=dict(type="int", default=DEFAULT_RETRIES, fallback=(env_fallback, ["IZUMA_RETRIES"])),
        **pkcs11_options.argument_spec(AUTH_PREFIX),
    )


def key_filter_spec(**more: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The options of the ``application.filter`` doc fragment (whose keys, which name) for the _info modules, and ``more``.

    Give ``mutually_exclusive=KEY_FILTER_EXCLUSIVE`` with it: an application is named by name or by id.
    """
    return dict(application=dict(type="str"), application_id=dict(type="str"), name=dict(type="str"), **more)


KEY_FILTER_EXCLUSIVE = [("application", "application_id")]


def _note_environment_sources(spec: Dict[str, Dict[str, Any]], sources: Dict[str, str]) -> None:
    """Make each option's environment fallback record in ``sources`` (option -> variable) when it gives the value,
    so that a warning about a value can name where the user set it."""
    for option, settings in spec.items():
        fallback = settings.get("fallback") or (None,)
        if fallback[0] is env_fallback:
            settings["fallback"] = (_noting_env_fallback(option, sources), fallback[1])


def _noting_env_fallback(option: str, sources: Dict[str, str]) -> Callable[..., Any]:
    """Ansible's ``env_fallback`` for ``option``, recording which variable gave the value (Ansible calls a fallback
    only for an option the task did not set)."""
    def fallback(*variables: str) -> Any:
        value = env_fallback(*variables)
        sources[option] = next(name for name in variables if name in os.environ)
        return value
    return fallback


class IzumaModule:
    """An AnsibleModule with the connection options, one lazily built client, and clean failures."""

    def __init__(self, argument_spec: Dict[str, Any], supports_check_mode: bool = True, **kwargs: Any) -> None:
        # Filled in by the fallbacks while AnsibleModule validates the arguments.
        self._sources: Dict[str, str] = {}
        spec = connection_argument_spec()
        _note_environment_sources(spec, self._sources)
        spec.update(argument_spec)
        # The keys of JWT authentication are not mutually_exclusive here: Ansible would count the values its fallbacks
        # took from the environment, and the task's key wins over one from there (ClientConfig settles it and refuses two
        # keys given at the same level).
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._client: Optional[IzumaClient] = None
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    @property
    def diff_mode(self) -> bool:
        """True when the task runs with --diff."""
        return bool(self.module._diff)

    @property
    def client(self) -> IzumaClient:
        """The run's API client, built on first use."""
        if self._client is None:
            self._client = IzumaClient(ClientConfig.from_options(self.params.get, sources=self._sources))
            for warning in self._client.warnings:
                self.module.warn(warning)
        return self._client

    def require(self, has_library: bool, library: str, import_error: Optional[str]) -> None:
        """Fail with Ansible's standard message when a Python library the task needs is missing."""
        if not has_library:
            self.module.fail_json(msg=missing_required_lib(library), exception=import_error)

    def run(self, main: Callable[["IzumaModule"], Dict[str, Any]]) -> None:
        """Call ``main(self)`` and exit with its result, or fail cleanly on an IzumaError."""
        try:
            result = main(self)
        except (IzumaApiError, IzumaMissingError) as exc:
            self.module.fail_json(msg=str(exc), error=exc.to_dict())
        except IzumaError as exc:
            self.module.fail_json(msg=str(exc))
        # The core returns its warnings in the result; Ansible shows them through warn().
        for warning in result.pop("warnings", None) or []:
            self.module.warn(warning)
        self.module.exit_json(**result)
