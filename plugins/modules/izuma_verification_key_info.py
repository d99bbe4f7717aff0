#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_verification_key_info
short_description: List Izuma Device Management JWT verification keys, with expiry and usability
version_added: 1.0.0
description:
  - Lists the verification keys of one application, or of every application of the account (all pages), with status,
    fingerprints, algorithm and size, expiry, days left and whether each key can verify JWTs now.
  - Filters by name, status and "expires within N days", so that a fleet audit is one task.
author:
  - Izuma device management collection maintainers (@izuma)
options:
  status:
    description: Only keys with this status.
    type: str
    choices: [active, inactive]
  expires_within_days:
    description: Only keys whose certificate expires within this many days (expired keys included).
    type: int
  usable:
    description: Only keys that can (V(true)) or cannot (V(false)) verify JWTs now.
    type: bool
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.info_module
  - izuma.device_management.application.filter
seealso:
  - module: izuma.device_management.izuma_verification_key
"""

EXAMPLES = r"""
- name: Audit - every key of the account that expires within 30 days
  izuma.device_management.izuma_verification_key_info:
    expires_within_days: 30
  register: expiring

- name: Report them
  ansible.builtin.debug:
    msg: "{{ item.application_name }}/{{ item.name }} expires in {{ item.days_left }} days"
  loop: "{{ expiring.verification_keys }}"

- name: The keys of one application
  izuma.device_management.izuma_verification_key_info:
    application: telemetry
"""

RETURN = r"""
verification_keys:
  description:
    - The keys found, as the API returns them (certificate included), with these fields added.
  returned: always
  type: list
  elements: dict
  contains:
    application_name:
      description: Name of the key's application.
      type: str
      returned: always
    public_key_fingerprint:
      description: SHA-256 of the certificate's public key (SubjectPublicKeyInfo DER), hex; matches the private key's.
      type: str
      returned: always
    days_left:
      description: Whole days until the certificate expires; negative once expired.
      type: int
      returned: always
    usable:
      description: Whether the key can verify JWTs now (ACTIVE and unexpired).
      type: bool
      returned: always
applications:
  description: The applications whose keys were listed (id and name).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.verification_key import INFO_TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.verification_key's INFO_TASK."""
    run_module(INFO_TASK)


if __name__ == "__main__":
    main()
