#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_access_key
short_description: Create, edit, rotate and delete Izuma Device Management access keys, keeping their secret safe
version_added: 1.0.0
description:
  - Manages one access key (C(ak_...)) of an application, found by its name (names are unique in an application).
    Access keys are the other type of key an application can use besides JWT verification keys (see
    M(izuma.device_management.izuma_verification_key)).
  - "Create: the API shows the full key only once, in the response that creates it. The module writes it at once,
    atomically and with mode 0600, to O(dest) on the host the task runs on (encrypted with Ansible Vault when
    O(vault_password) is given), before anything else can fail, and a sidecar C(<dest>.meta) that names the key it
    belongs to. The secret is returned only with O(return_secret)."
  - "Edit: O(description), O(status) and O(expiration), with the key's ETag."
  - "Nothing lost when a run dies: a key named O(name) whose secret no local file holds (a run was killed after the API
    created it and before the secret reached the disk) is an orphan. The module renames it C(<name>-orphan-<id>),
    creates a new key, writes its secret, then deletes the orphan, and says so (RV(replaced_orphans) and a warning)."
  - "Rotation without downtime: O(rotate) or O(rotate_after_days) create a new key beside the current one. The current
    secret is kept at C(<dest>.previous) and its key renamed C(<name>-previous); the new secret is written to O(dest).
    The previous key is deleted (and C(<dest>.previous) removed) once O(grace_period) has passed, or as
    O(retire_previous) says."
  - The run holds an exclusive lock on C(<dest>.lock) from the moment it reads the application's keys until its last
    write, so that two runs on one host never create two keys.
  - Supports check mode (the plan as sentences) and diff mode (the application's keys by name, and the secret files by
    path; ids, names, status and dates, never a secret).
author:
  - Izuma device management collection maintainers (@izuma)
options:
  name:
    description:
      - Name of the access key, unique in the application (at most 84 characters, so that C(<name>-orphan-<id>) fits in
        the API's 100). It must not end with C(-previous) or contain C(-orphan-), the names of the other generations.
      - With O(state=absent), this key, its previous generation and its orphans are deleted.
    type: str
    required: true
  description:
    description: Description of the key (at most 500 characters). Left as it is when not given.
    type: str
  status:
    description:
      - V(active) lets the key authenticate; V(inactive) stops it. Left as it is when not given; new keys are active.
      - The API shows C(EXPIRED) once O(expiration) has passed; that status cannot be set, and a warning says how to
        bring the key back (a later O(expiration), or a rotation).
    type: str
    choices: [active, inactive]
  expiration:
    description:
      - When the key stops working, as an RFC 3339 time (for example V(2027-01-31T00:00:00Z)); it must be in the future.
        V('') removes the expiration. Left as it is when not given.
    type: str
  dest:
    description:
      - Path of the file that holds the key's secret, on the host the task runs on. Written atomically with mode 0600
        when the key is created; its directory must exist. Required with O(state=present).
      - A symbolic link at O(dest) or C(<dest>.previous) is refused (a secret is never written through a link).
      - Beside it, C(<dest>.meta) names the key (id, name, application, SHA-256 of the file; no secret),
        C(<dest>.previous) and C(<dest>.previous.meta) keep the previous generation during a rotation, and
        C(<dest>.lock) exists while a run holds the lock.
      - A secret file whose sidecar is missing or does not match it (a run killed between the two writes, or a file put
        there by hand) is matched to its key again from the API, and its sidecar is rewritten.
    type: path
  vault_password:
    description:
      - Write the secret encrypted with Ansible Vault (format 1.1, AES256) with this password, readable with
        C(ansible-vault view), C(lookup('file')) in a play given the same vault password, or this module's
        O(return_secret).
      - The encryption is done by the module where it runs (with the Python library cryptography), so the secret never
        travels unencrypted to the controller. Ansible's own vault library is controller code that is not shipped to
        the host a module runs on.
    type: str
  return_secret:
    description:
      - Return the current key's secret as RV(secret) (the one created by this run, or the one read from O(dest)).
      - The result is then marked C(no_log), so Ansible shows none of it at any verbosity (the registered variable holds
        it). Without it, no secret is ever in the result.
    type: bool
    default: false
  rotate:
    description:
      - Rotate now. Not idempotent by nature; every run with V(true) rotates once more (and fails while the previous
        generation's grace period lasts).
    type: bool
    default: false
  rotate_after_days:
    description: Rotate when the current key is at least this many days old.
    type: int
  grace_period:
    description:
      - Seconds after a rotation during which the previous key still works, so that services can move to the new secret.
    type: int
    default: 86400
  retire_previous:
    description:
      - What to do with the previous generation. V(auto) deletes it once O(grace_period) has passed since the current key
        was created; V(now) deletes it now; V(never) keeps it (a rotation then fails while it is there).
    type: str
    choices: [auto, now, never]
    default: auto
  state:
    description: V(present) creates, edits or rotates the key; V(absent) deletes it (and its other generations).
    type: str
    choices: [present, absent]
    default: present
  remove_files:
    description: With O(state=absent), also remove O(dest), C(<dest>.previous) and their sidecars.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run on the same O(dest) on this host before failing. Check mode takes no lock.
    type: int
    default: 300
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.writes
  - izuma.device_management.application
notes:
  - Runs on different hosts cannot share the lock; there the API's unique key names keep the outcome clean (one run
    fails, the next run on each host converges). Give each host its own O(name) if each keeps its own secret.
seealso:
  - module: izuma.device_management.izuma_access_key_info
  - module: izuma.device_management.izuma_verification_key
"""

EXAMPLES = r"""
- name: An access key for the billing service, its secret kept on the service's host
  izuma.device_management.izuma_access_key:
    application: billing
    name: billing-service
    description: Used by the billing exporter
    dest: /etc/billing/izuma-access-key

- name: Rotate every 90 days; the previous key keeps working for a day
  izuma.device_management.izuma_access_key:
    application: billing
    name: billing-service
    dest: /etc/billing/izuma-access-key
    rotate_after_days: 90
    grace_period: 86400

- name: Keep the secret encrypted with Ansible Vault, and use it in the play
  izuma.device_management.izuma_access_key:
    application: billing
    name: billing-ci
    dest: "{{ playbook_dir }}/secrets/billing-ci.vault"
    vault_password: "{{ vault_ci_password }}"
    return_secret: true
  delegate_to: localhost
  register: ci_key

- name: Delete the key and its files
  izuma.device_management.izuma_access_key:
    application: billing
    name: billing-service
    dest: /etc/billing/izuma-access-key
    remove_files: true
    state: absent
"""

RETURN = r"""
access_key:
  description:
    - The current key as the API returns it, without its C(key) field; in check mode, as it would be (without an C(id)
      when it is still to be created). Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    object: access-key
    id: 0172c9f5a5c3ed9a0a5f5c8f00000001
    application_id: 0172c9f5a5c3ed9a0a5f5c8f00000000
    name: billing-service
    description: Used by the billing exporter
    status: ACTIVE
    created_at: "2026-12-01T07:00:00.000Z"
    etag: "1"
previous_access_key:
  description: The previous generation while it exists (after a rotation, within the grace period); empty otherwise.
  returned: always
  type: dict
access_keys:
  description: Every access key of the application after the task (without their C(key) fields).
  returned: always
  type: list
  elements: dict
application_id:
  description: ID of the application.
  returned: always
  type: str
name:
  description: Name of the current key (O(name)).
  returned: always
  type: str
previous_name:
  description: Name of the previous generation (C(<name>-previous)).
  returned: always
  type: str
dest:
  description: Path of the current secret file (O(dest)).
  returned: when O(dest) is given
  type: str
previous_dest:
  description: Path of the previous generation's secret file (C(<dest>.previous)), while it exists after the task.
  returned: when a previous secret file exists after the task
  type: str
secret:
  description: The current key's full secret. The task's result is then marked C(no_log).
  returned: when O(return_secret=true), O(state=present) and not in check mode
  type: str
rotated:
  description: Whether a new generation was (or in check mode would be) created.
  returned: always
  type: bool
rotation_reason:
  description: Why the key was rotated.
  returned: when RV(rotated) is true
  type: str
rotation_under_way:
  description: Whether the previous generation still exists after the task.
  returned: always
  type: bool
replaced_orphans:
  description:
    - One sentence per key that was replaced because no local file held its secret (also shown as a warning).
  returned: always
  type: list
  elements: str
plan:
  description: What the task did, or in check mode would do, one sentence per change; empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample:
    - "keep previous secret '/etc/billing/izuma-access-key.previous'"
    - "rename access key 'billing-service' to 'billing-service-previous'"
    - "create access key 'billing-service'"
plan_details:
  description: One entry per change of RV(plan), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description:
        - The kind of change, one of V(CreateKey), V(UpdateKey), V(RenameKey), V(DeleteKey), V(KeepPrevious),
          V(WriteMeta), V(RemoveSecret).
      type: str
    why:
      description: Why the change is planned.
      type: str
    change:
      description: The same sentence as in RV(plan).
      type: str
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.access_key import TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.access_key's TASK."""
    run_module(TASK)


if __name__ == "__main__":
    main()
