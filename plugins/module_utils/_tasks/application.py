# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The definitions of izuma_application and izuma_application_info (see the package docstring)."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.izuma.device_management.plugins.module_utils import _applications as applications
from ansible_collections.izuma.device_management.plugins.module_utils._tasks import TaskDefinition


def converge(izuma: Any) -> Dict[str, Any]:
    """The core converges."""
    return applications.converge(izuma.client, izuma.params, izuma.check_mode, izuma.diff_mode)


def info(izuma: Any) -> Dict[str, Any]:
    """The core reads and filters."""
    return applications.info(izuma.client, izuma.params)


TASK = TaskDefinition(
    argument_spec=dict(
        name=dict(type="str"),
        application_id=dict(type="str", aliases=["id"]),
        description=dict(type="str"),
        status=dict(type="str", choices=["active", "inactive"]),
        groups=dict(type="list", elements="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    ),
    core=converge, rules=dict(required_one_of=[("name", "application_id")]))
INFO_TASK = TaskDefinition(
    argument_spec=dict(
        name=dict(type="str"),
        application_id=dict(type="str", aliases=["id"]),
        status=dict(type="str", choices=["active", "inactive"]),
    ),
    core=info)
