# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The one definition of each API module: its argument spec, its validation rules and its core.

Each module of the API (``izuma_verification_key``, ``izuma_application``, ``izuma_access_key`` and their ``_info``
modules) is a ``TaskDefinition`` in this package. The module file runs it with ``AnsibleModule`` (module_utils
``_module.run_module``); the module's action plugin runs the same definition in the controller process when the task
runs there (plugin_utils ``_in_controller``). Both build the argument spec with ``full_argument_spec``: the connection
options (whose environment fallbacks record the variable they read) and the module's own options.

The core is called with a ``Facade``: ``params``, ``client``, ``check_mode`` and ``diff_mode``, nothing else; it
returns the result (its warnings in ``result["warnings"]``) or raises an ``IzumaError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import (
    DEFAULT_HOST,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    AUTH_PREFIX,
)
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as pkcs11_options
from ansible_collections.izuma.device_management.plugins.module_utils._jwt.algorithms import ALGORITHMS

# (library name, importable, import error) of a Python library a core needs.
Library = Tuple[str, bool, Optional[str]]


@dataclass(frozen=True)
class TaskDefinition:
    """What one API module is: its options, its validation rules (AnsibleModule's keyword arguments), its core.

    ``libraries`` are checked before the core runs (a missing one fails with Ansible's standard message).
    """

    argument_spec: Dict[str, Dict[str, Any]]
    core: Callable[[Any], Dict[str, Any]]
    rules: Dict[str, Any] = field(default_factory=dict)
    libraries: Tuple[Library, ...] = ()


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


def full_argument_spec(argument_spec: Dict[str, Dict[str, Any]], sources: Dict[str, str]) -> Dict[str, Dict[str, Any]]:
    """The connection options and ``argument_spec``; each connection option's environment fallback records in
    ``sources`` (option -> variable) the variable that gave its value, so that a warning can name where the user set it.

    The keys of JWT authentication are not mutually_exclusive here: Ansible would count the values its fallbacks took
    from the environment, and the task's key wins over one from there (ClientConfig settles it and refuses two keys
    given at the same level).
    """
    spec = connection_argument_spec()
    for option, settings in spec.items():
        fallback = settings.get("fallback") or (None,)
        if fallback[0] is env_fallback:
            settings["fallback"] = (_noting_env_fallback(option, sources), fallback[1])
    spec.update(argument_spec)
    return spec


def _noting_env_fallback(option: str, sources: Dict[str, str]) -> Callable[..., Any]:
    """Ansible's ``env_fallback`` for ``option``, recording which variable gave the value (Ansible calls a fallback
    only for an option the task did not set)."""
    def fallback(*variables: str) -> Any:
        value = env_fallback(*variables)
        sources[option] = next(name for name in variables if name in os.environ)
        return value
    return fallback


def needs_pkcs11(params: Dict[str, Any]) -> bool:
    """True when the validated ``params`` use a key in a PKCS#11 token (the key itself, or the API authentication)."""
    return params.get("key_backend") == "pkcs11" or bool(params.get(AUTH_PREFIX + "pkcs11_key_label"))
