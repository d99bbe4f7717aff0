# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The definitions of izuma_verification_key and izuma_verification_key_info (see the package docstring)."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import converge as vk
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import options
from ansible_collections.izuma.device_management.plugins.module_utils._x509.keys import CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import KEY_FILTER_EXCLUSIVE, TaskDefinition, key_filter_spec

CRYPTOGRAPHY = ("cryptography", HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)


def converge(izuma: Any) -> Dict[str, Any]:
    """The task's options as the desired state; the core does the rest."""
    want = options.Desired.from_params(izuma.params)
    return vk.converge(izuma.client, want, izuma.check_mode, izuma.diff_mode,
                       application=izuma.params["application"], application_id=izuma.params["application_id"])


def info(izuma: Any) -> Dict[str, Any]:
    """The core lists and filters."""
    return vk.info(izuma.client, izuma.params)


TASK = TaskDefinition(argument_spec=dict(options.ARGUMENT_SPEC), core=converge, libraries=(CRYPTOGRAPHY,),
                      rules=dict(required_one_of=options.REQUIRED_ONE_OF, mutually_exclusive=options.MUTUALLY_EXCLUSIVE))
INFO_TASK = TaskDefinition(
    argument_spec=key_filter_spec(
        status=dict(type="str", choices=["active", "inactive"]),
        expires_within_days=dict(type="int"),
        usable=dict(type="bool"),
    ),
    core=info, libraries=(CRYPTOGRAPHY,), rules=dict(mutually_exclusive=KEY_FILTER_EXCLUSIVE))
