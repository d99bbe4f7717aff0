#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_access_key_info
short_description: List Izuma Device Management access keys, with status, expiration and last use
version_added: 1.0.0
description:
  - Lists the access keys of one application, or of every application of the account (one list of C(/v3/access-keys),
    all pages), with status, expiration, days until it, last use and days since it. Never a secret.
  - Filters by name, status, "expires within N days" and "not used for N days", so that an audit is one task.
author:
  - Izuma device management collection maintainers (@izuma)
options:
  status:
    description: Only keys with this status.
    type: str
    choices: [active, inactive, expired]
  expires_within_days:
    description: Only keys with an expiration less than this many days away (or passed).
    type: int
  unused_for_days:
    description: Only keys not used for at least this many days (a key never used counts from its creation).
    type: int
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.info_module
  - izuma.device_management.application.filter
"""

EXAMPLES = r"""
- name: Access keys that expire within 30 days, or that nobody used for 90 days
  izuma.device_management.izuma_access_key_info:
    expires_within_days: 30
  register: expiring

- name: The keys of one application
  izuma.device_management.izuma_access_key_info:
    application: billing
    unused_for_days: 90
  register: idle
"""

RETURN = r"""
access_keys:
  description: The access keys that pass every filter, as the API returns them without their C(key) field, plus the fields below.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: ID of the key.
      type: str
      returned: always
    name:
      description: Name of the key.
      type: str
      returned: always
    application_id:
      description: ID of the key's application.
      type: str
      returned: always
    application_name:
      description: Name of the key's application (null for an application the caller cannot list).
      type: str
      returned: always
    status:
      description: C(ACTIVE), C(INACTIVE) or C(EXPIRED).
      type: str
      returned: always
    expiration:
      description: When the key expires (RFC 3339).
      type: str
      returned: when the key has an expiration
    expires_in_days:
      description: Whole days until the expiration (negative once passed); null without an expiration.
      type: int
      returned: always
    last_used_at:
      description: When the key last authenticated a request (RFC 3339).
      type: str
      returned: when the key has been used
    days_since_last_use:
      description: Whole days since the key was last used; null when it never was.
      type: int
      returned: always
    age_days:
      description: Whole days since the key was created.
      type: int
      returned: always
applications:
  description: The applications whose keys were listed (id and name).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.access_key import INFO_TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.access_key's INFO_TASK."""
    run_module(INFO_TASK)


if __name__ == "__main__":
    main()
