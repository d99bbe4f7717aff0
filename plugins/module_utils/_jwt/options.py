# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The options of the izuma_jwt module: one argument spec for the module on the host and its action plugin.

community.crypto's ``get_privatekey_argument_spec`` pattern: the module
(documentation plus glue) and the action plugin, which validates the task on
the controller before any host is contacted, read the same spec, so an option,
a default or a choice is written once. No cryptography import: the module that
ships to managed hosts imports this.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS, env_fallback

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import DEFAULT_HOST, DEFAULT_TIMEOUT

from ansible_collections.izuma.device_management.plugins.module_utils._jwt.algorithms import ALGORITHMS, DEFAULT_MAX_LIFETIME
from ansible_collections.izuma.device_management.plugins.module_utils._locking import DEFAULT_LOCK_TIMEOUT
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as pkcs11_options

# Options the host side uses: the file and its attributes (AnsibleModule's file arguments, add_file_common_args).
# Everything else is read by the action plugin on the controller and never sent to the host.
HOST_OPTIONS = ("dest", "follow", "lock_timeout", "directory_mode") + tuple(FILE_COMMON_ARGUMENTS)
# Set by the action plugin only; a task that sets them is refused.
INTERNAL_OPTIONS = ("_operation", "_token", "_expected")
# One key source: a PEM file, PEM content or a PKCS#11 key (whose PIN is pkcs11_pin, not a passphrase).
MUTUALLY_EXCLUSIVE = [("private_key_path", "private_key_content", "pkcs11_key_label"), ("private_key_passphrase", "pkcs11_key_label"),
                      ("jwt_id", "random_jwt_id")]


# When renew_margin is not given, a token is renewed in the last quarter of its lifetime, and at most 6 hours before it
# expires: the default lifetime (one day) keeps 6 hours, and a one-hour token needs no second option.
DEFAULT_RENEW_MARGIN = 21600
RENEW_MARGIN_FRACTION = 4


def renew_margin(lifetime: int, margin: t.Optional[int] = None) -> int:
    """The renewal margin in seconds: ``margin`` when given, else a quarter of ``lifetime`` capped at 6 hours."""
    if margin is not None:
        return margin
    return min(DEFAULT_RENEW_MARGIN, max(lifetime, 0) // RENEW_MARGIN_FRACTION)


def argument_spec() -> t.Dict[str, t.Dict[str, t.Any]]:
    """The options of izuma_jwt, without AnsibleModule's file arguments (``add_file_common_args`` adds them).

    The PKCS#11 options (``_pkcs11.options``) are read by the action plugin on the controller, like the key options;
    none of them is in HOST_OPTIONS, so the PIN never reaches a managed host.
    """
    spec = dict(
        dest=dict(type="path", required=True),
        private_key_path=dict(type="path"),
        private_key_content=dict(type="str", no_log=True),
        private_key_passphrase=dict(type="str", no_log=True),
        algorithm=dict(type="str", choices=list(ALGORITHMS)),
        lifetime=dict(type="int", default=86400),
        max_lifetime=dict(type="int", default=DEFAULT_MAX_LIFETIME),
        renew_margin=dict(type="int"),
        issuer=dict(type="str"),
        subject=dict(type="str"),
        audience=dict(type="list", elements="str"),
        jwt_id=dict(type="str"),
        random_jwt_id=dict(type="bool", default=False),
        claims=dict(type="dict"),
        headers=dict(type="dict"),
        key_id=dict(type="bool", default=False),
        not_before_skew=dict(type="int"),
        force=dict(type="bool", default=False),
        return_token=dict(type="bool", default=False),
        follow=dict(type="bool", default=False),
        directory_mode=dict(type="raw"),
        # verify: a request from the controller, with the connection doc fragment's names and environment fallbacks
        # (no credentials: it authenticates with the deployed token itself).
        verify=dict(type="bool", default=False),
        verify_kept=dict(type="bool", default=True),
        application_id=dict(type="str"),
        api_host=dict(type="str", default=DEFAULT_HOST, fallback=(env_fallback, ["IZUMA_API_HOST"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["IZUMA_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["IZUMA_CA_BUNDLE"])),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT, fallback=(env_fallback, ["IZUMA_TIMEOUT"])),
        lock_timeout=dict(type="int", default=DEFAULT_LOCK_TIMEOUT),
        # The file arguments' mode, with the default a token file needs.
        mode=dict(type="raw", default="0600"),
        _operation=dict(type="str", choices=["inspect", "write", "attributes"]),
        _token=dict(type="str", no_log=True),
        _expected=dict(type="str"),
    )
    spec.update(pkcs11_options.argument_spec())
    return spec


def task_argument_spec() -> t.Dict[str, t.Dict[str, t.Any]]:
    """Every option a task may give, file arguments included: what the action plugin validates a task with."""
    spec = {name: dict(value) for name, value in FILE_COMMON_ARGUMENTS.items()}
    spec.update(argument_spec())
    return spec
