#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_application_info
short_description: List Izuma Device Management applications
version_added: 1.0.0
description:
  - Lists every application of the account (all pages), or gets one by name or ID.
author:
  - Izuma device management collection maintainers (@izuma)
options:
  name:
    description: Return only the application with this name.
    type: str
  application_id:
    description: Return only the application with this ID (one request).
    type: str
    aliases: [id]
  status:
    description: Return only applications with this status.
    type: str
    choices: [active, inactive]
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.info_module
seealso:
  - module: izuma.device_management.izuma_application
"""

EXAMPLES = r"""
- name: Every application of the account
  izuma.device_management.izuma_application_info:
  register: all_apps

- name: One application by name
  izuma.device_management.izuma_application_info:
    name: telemetry
  register: telemetry

- name: Fail when it is missing
  ansible.builtin.assert:
    that: telemetry.applications | length == 1
"""

RETURN = r"""
applications:
  description: The applications found, as the API returns them; empty when none matches.
  returned: always
  type: list
  elements: dict
  sample:
    - object: application
      id: 0172c9f5a5c3ed9a0a5f5c8f00000000
      name: telemetry
      status: ACTIVE
      groups: []
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.application import INFO_TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.application's INFO_TASK."""
    run_module(INFO_TASK)


if __name__ == "__main__":
    main()
