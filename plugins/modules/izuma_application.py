#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_application
short_description: Create, update and delete Izuma Device Management applications
version_added: 1.0.0
description:
  - Makes sure an application of the Izuma Device Management account exists with the given description, status and
    policy groups, or that it does not exist.
  - An application is what JWT verification keys and access keys belong to; API calls made with its keys are
    authorized by the policies of its groups.
  - Idempotent; supports check mode and diff mode.
author:
  - Izuma device management collection maintainers (@izuma)
options:
  name:
    description:
      - Name of the application, unique in the account (at most 100 characters).
      - Identifies the application unless O(application_id) is given; then a different O(name) renames it.
      - Required to create an application.
    type: str
  application_id:
    description:
      - ID of an existing application (32 hexadecimal characters). Use it to rename an application or to be immune to
        renames by others.
    type: str
    aliases: [id]
  description:
    description:
      - Description of the application (at most 500 characters). Left as it is when not given.
    type: str
  status:
    description:
      - V(active) lets the application's keys call the API; V(inactive) refuses them. Left as it is when not given;
        new applications are active.
    type: str
    choices: [active, inactive]
  groups:
    description:
      - Policy groups the application belongs to, by name (for example V(Administrators)) or by ID.
      - The list is the complete set; order does not matter. Left as it is when not given.
    type: list
    elements: str
  state:
    description:
      - V(present) creates or updates the application; V(absent) deletes it, with all its access keys and verification
        keys (the API cascades the delete).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.writes
seealso:
  - module: izuma.device_management.izuma_application_info
"""

EXAMPLES = r"""
- name: An application for the telemetry service, allowed to call every IAM endpoint
  izuma.device_management.izuma_application:
    name: telemetry
    description: Telemetry collectors (JWT)
    groups: [Administrators]
    api_key: "{{ izuma_admin_key }}"
  register: telemetry_app

- name: Deactivate it
  izuma.device_management.izuma_application:
    name: telemetry
    status: inactive

- name: Rename by id
  izuma.device_management.izuma_application:
    application_id: "{{ telemetry_app.application.id }}"
    name: telemetry-eu

- name: Delete it, with its keys
  izuma.device_management.izuma_application:
    name: telemetry-eu
    state: absent
"""

RETURN = r"""
application:
  description:
    - The application as the API returns it after the task; in check mode, as it would be.
    - Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    object: application
    id: 0172c9f5a5c3ed9a0a5f5c8f00000000
    account_id: 016f0a6f2f8e4a6ee5a5e7c100000000
    name: telemetry
    description: Telemetry collectors (JWT)
    status: ACTIVE
    groups: [016f0a6f2f8e4a6ee5a5e7c1000000aa]
    created_at: "2026-11-28T17:00:00Z"
    updated_at: "2026-11-28T17:00:00Z"
    last_used_at:
    etag: "1"
plan:
  description: What the task did, or in check mode would do, one sentence per change; empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample: ["update application 'telemetry': description, status"]
plan_details:
  description:
    - The same changes as RV(plan), each with the kind of change and why it is planned.
  returned: always
  type: list
  elements: dict
  contains:
    change:
      description: The sentence of RV(plan).
      type: str
    kind:
      description: The kind of change, one of V(CreateApplication), V(UpdateApplication), V(DeleteApplication).
      type: str
    why:
      description: Why the change is planned.
      type: str
  sample:
    - change: "update application 'telemetry': description, status"
      kind: UpdateApplication
      why: description, status differ from the task
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.application import TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.application's TASK."""
    run_module(TASK)


if __name__ == "__main__":
    main()
