#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: izuma_verification_key
short_description: Create, upload, edit, renew, rotate and delete Izuma Device Management JWT verification keys
version_added: 1.0.0
description:
  - Manages one JWT verification key of an application, end to end, the way the Izuma Device Management product page
    describes it. The private key never leaves the host this module runs on.
  - "Create and upload: makes an RSA or EC private key (mode 0600, written atomically, optionally encrypted) and a
    self-signed X.509 certificate where the task runs, or uses an existing key and certificate, checks them against
    every rule the API enforces (PEM, at most 2,000 characters, RSA >= 2048 or EC >= 256 bits, not expired, unique name,
    two keys per application at most) and uploads the certificate as a named verification key."
  - "Edit: rename (when the uploaded key is found by its public key under another name), description, status, and
    replace the certificate (when O(certificate_path) or O(certificate_content) holds a new certificate for the same key)."
  - "Renewal: when the certificate expires within O(renew_before) days, a new certificate for the same key is issued
    and uploaded in place; this is also how an expired key is brought back."
  - "Rotation, for zero downtime within the two-keys-per-application limit: on request (O(rotate)), or when the key is
    older than O(rotate_after_days) or expires within O(rotate_before_days) days, a new key pair is made and uploaded
    next to the current one and becomes the signing key at O(private_key_path). The old private key is kept at
    C(<private_key_path>.previous) and its uploaded key is renamed C(<name><previous_suffix>); it is retired after
    O(grace_period), or as O(retire_previous) says."
  - Uploaded keys are matched to local keys by public key, so a renewed certificate, a rename or a killed run never
    makes the module lose track of a key, upload a key twice, or exceed two keys. A new private key is always on disk
    (as C(<private_key_path>.next)) before its certificate is uploaded, and a private key file is removed only after its
    key is deleted from the API; running the task again after a failure or a kill finishes the job.
  - Never deletes a key it cannot account for (neither matching one of its private keys nor named O(name) or
    C(<name><previous_suffix>)), and never deletes the application's last usable key while the other is unusable.
  - Supports check mode (the plan is returned as sentences) and diff mode (the application's keys before and after, by
    name, and the local files the task touches; names, ids, fingerprints, expiry, status; never key material).
author:
  - Izuma device management collection maintainers (@izuma)
options:
  application:
    description: Name of the application the key belongs to. One of O(application) and O(application_id) is required.
    type: str
  application_id:
    description: ID of the application the key belongs to (saves one list request per run).
    type: str
  name:
    description:
      - Name of the verification key, unique in the application (at most 100 characters).
      - With O(state=absent), the key with this name and its previous generation are deleted.
    type: str
    required: true
  names:
    description:
      - With O(state=absent), more keys of the application to delete by name, like the Portal's bulk delete.
    type: list
    elements: str
    default: []
  description:
    description: Description of the key (at most 500 characters). Left as it is when not given.
    type: str
  status:
    description:
      - V(active) lets the key verify JWTs; V(inactive) stops it. Left as it is when not given; new keys are active.
      - A key whose certificate has expired cannot be activated; set O(renew_before) to renew it in the same run.
    type: str
    choices: [active, inactive]
  private_key_path:
    description:
      - Path of the PEM private key that signs the JWTs (the current signing key). Created, with mode 0600, when it does not exist.
      - Its directory must exist; the module creates no directories (give the directory a restrictive mode such as 0700
        with M(ansible.builtin.file) first).
      - Next to it live C(<path>.next) during a rotation and C(<path>.previous) after one.
      - Required unless O(private_key_content) is given; rotation always needs it.
    type: path
  private_key_content:
    description:
      - The private key as PEM content, for example from Ansible Vault. Nothing is written for it; no rotation.
      - Mutually exclusive with O(private_key_path).
    type: str
  private_key_passphrase:
    description:
      - Passphrase of the private key(s). New keys are written encrypted with it.
    type: str
  certificate_path:
    description:
      - Where the key's certificate is kept. If the file exists, its certificate is the one to upload (it must belong to the
        private key); if not, the uploaded or newly issued certificate is written there (mode 0644).
      - After a rotation the replaced certificate is kept at C(<path>.previous).
    type: path
  certificate_content:
    description:
      - A certificate for the private key, as PEM content, to upload instead of a self-signed one made by the module.
      - It is uploaded as it is and never replaced by the module, which could not keep a renewed one here. An expired
        certificate is refused; one that expires within O(renew_before) days is uploaded with a warning.
      - Mutually exclusive with O(certificate_path). Not with rotation (a new key pair needs a new certificate).
    type: str
  key_type:
    description: Type of new private keys.
    type: str
    choices: [RSA, EC]
    default: EC
  key_size:
    description: Size in bits of new RSA keys. The product's minimum is 2048.
    type: int
    choices: [2048, 3072, 4096]
  curve:
    description: Curve of new EC keys. The product's minimum is 256 bits.
    type: str
    choices: [P-256, P-384, P-521]
  common_name:
    description: Common name (CN) of new certificates; by default the key's O(name).
    type: str
  subject:
    description:
      - Further subject attributes of new certificates, by short name (C, ST, L, O, OU, emailAddress).
    type: dict
  valid_days:
    description: Validity of new certificates, in days.
    type: int
    default: 365
  renew_before:
    description:
      - Issue and upload a new certificate for the same key when the current one expires within this many days (or has
        expired). V(0) turns renewal off.
      - A certificate given as O(certificate_content) is never renewed; a warning says when it expires within this many days.
    type: int
    default: 30
  rotate:
    description:
      - Rotate now - a new key pair is made and uploaded, the current key becomes the previous one.
      - Not idempotent by nature; every run with V(true) rotates once more (and fails while the previous key's grace period lasts).
    type: bool
    default: false
  rotate_after_days:
    description: Rotate when the uploaded current key is at least this many days old.
    type: int
  rotate_before_days:
    description: Rotate (instead of renewing) when the current certificate expires within this many days.
    type: int
  grace_period:
    description:
      - Seconds after a rotation during which the previous key stays uploaded, so that tokens it signed keep working.
        Set it to at least the longest lifetime of the tokens you sign.
    type: int
    default: 86400
  retire_previous:
    description:
      - What to do with the previous generation. V(auto) deletes it from the application once O(grace_period) has passed
        since the current key was uploaded; V(now) deletes it now; V(never) keeps it (a rotation then fails while it is there).
    type: str
    choices: [auto, now, never]
    default: auto
  remove_previous_private_key:
    description: Also remove C(<private_key_path>.previous) once its key is no longer uploaded.
    type: bool
    default: false
  previous_suffix:
    description: Appended to O(name) to name the previous generation in the application.
    type: str
    default: -previous
  state:
    description: V(present) creates, edits, renews or rotates the key; V(absent) deletes it from the application.
    type: str
    choices: [present, absent]
    default: present
  remove_files:
    description: With O(state=absent), also remove the local private key files (current, next, previous) and certificate files.
    type: bool
    default: false
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
seealso:
  - module: izuma.device_management.izuma_verification_key_info
  - module: izuma.device_management.izuma_application
"""

EXAMPLES = r"""
- name: A key for the telemetry application (EC P-256, self-signed, one year), renewed 30 days before it expires
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    private_key_path: /etc/izuma/telemetry.key
    certificate_path: /etc/izuma/telemetry.crt
    description: Signs the collectors' JWTs
  register: vk

- name: Rotate every 90 days; keep the old key for a day after each rotation
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    private_key_path: /etc/izuma/telemetry.key
    rotate_after_days: 90
    grace_period: 86400

- name: Retire the previous key now (every host has a token signed by the new key)
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    private_key_path: /etc/izuma/telemetry.key
    retire_previous: now
    remove_previous_private_key: true

- name: Upload an existing RSA key and certificate kept in Vault
  izuma.device_management.izuma_verification_key:
    application_id: "{{ app_id }}"
    name: legacy
    private_key_content: "{{ vault_legacy_key }}"
    certificate_content: "{{ legacy_certificate }}"

- name: Delete two keys, and the local files of the first
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    names: [old-key]
    private_key_path: /etc/izuma/telemetry.key
    remove_files: true
    state: absent
"""

RETURN = r"""
verification_key:
  description:
    - The current key as the API returns it (certificate included), plus C(public_key_fingerprint); in check mode, as it
      would be (without an C(id) when it is still to be created). Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    object: verification-key
    id: 0172c9f5a5c3ed9a0a5f5c8f00000001
    application_id: 0172c9f5a5c3ed9a0a5f5c8f00000000
    name: telemetry-signing
    status: ACTIVE
    algorithm: EC
    key_size: 256
    certificate_fingerprint: 5b1c0b1e...
    public_key_fingerprint: 9f86d081...
    expires_at: "2027-11-28T17:00:00Z"
    valid: true
previous_verification_key:
  description: The previous generation, while it is still uploaded (after a rotation); empty otherwise.
  returned: always
  type: dict
verification_keys:
  description: Every verification key of the application after the task (at most two).
  returned: always
  type: list
  elements: dict
application_id:
  description: ID of the application.
  returned: always
  type: str
private_key_path:
  description: Path of the current signing key.
  returned: when O(private_key_path) is given
  type: str
previous_private_key_path:
  description: Path of the previous private key, while the file exists.
  returned: when a previous private key file exists after the task
  type: str
public_key_fingerprint:
  description: SHA-256 of the current key's public key (SubjectPublicKeyInfo DER), hex.
  returned: when O(state=present)
  type: str
certificate_fingerprint:
  description: SHA-256 of the current certificate's DER, hex, as the API reports it.
  returned: when O(state=present)
  type: str
expires_at:
  description: When the current certificate expires (RFC 3339).
  returned: when O(state=present)
  type: str
days_left:
  description: Whole days until the current certificate expires (negative once expired).
  returned: when O(state=present)
  type: int
usable:
  description: Whether the API would verify JWTs with the current key now (ACTIVE and unexpired).
  returned: when O(state=present)
  type: bool
rotated:
  description: Whether a new key pair was (or in check mode would be) put in place.
  returned: always
  type: bool
rotation_reason:
  description: Why the key was rotated.
  returned: when RV(rotated) is true and a reason applies
  type: str
renewed:
  description: Whether a new certificate was issued for the same key.
  returned: always
  type: bool
plan:
  description: What the task did, or in check mode would do, one sentence per change; empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample:
    - "write private key '/etc/izuma/telemetry.key.next'"
    - "update verification key 'telemetry-signing': name"
    - "create verification key 'telemetry-signing'"
    - "promote private key '/etc/izuma/telemetry.key'"
"""

import os

from ansible_collections.izuma.device_management.plugins.module_utils import _applications as applications
from ansible_collections.izuma.device_management.plugins.module_utils import _verification_keys as vk
from ansible_collections.izuma.device_management.plugins.module_utils._keys import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    utcnow,
)
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._module import IzumaModule


def resolve_application_id(izuma: IzumaModule) -> str:
    """The application's id: given, or found by name (one list request)."""
    params = izuma.params
    if params["application_id"]:
        applications.check_application_id(params["application_id"])
        return params["application_id"]
    found = applications.find_application(izuma.client, name=params["application"])
    if found is None:
        raise IzumaConfigError("There is no application named %r; create it first (izuma_application) or check the name."
                               % params["application"])
    return found["id"]


def desired(params: dict) -> vk.Desired:
    """The task's options as the core's desired state."""
    if params["key_size"] and params["key_type"] != "RSA":
        raise IzumaConfigError("key_size is for RSA keys; for EC keys set curve (P-256, P-384 or P-521), or set key_type=RSA.")
    if params["curve"] and params["key_type"] != "EC":
        raise IzumaConfigError("curve is for EC keys; for RSA keys set key_size (2048, 3072 or 4096), or set key_type=EC.")
    want = vk.Desired(
        name=params["name"], state=params["state"], description=params["description"], status=params["status"],
        private_key_path=params["private_key_path"], private_key_content=params["private_key_content"],
        private_key_passphrase=params["private_key_passphrase"], certificate_path=params["certificate_path"],
        certificate_content=params["certificate_content"], key_type=params["key_type"], key_size=params["key_size"],
        curve=params["curve"], common_name=params["common_name"], subject=params["subject"], valid_days=params["valid_days"],
        renew_before=params["renew_before"], rotate=params["rotate"], rotate_after_days=params["rotate_after_days"],
        rotate_before_days=params["rotate_before_days"], grace_period=params["grace_period"],
        retire_previous=params["retire_previous"], remove_previous_private_key=params["remove_previous_private_key"],
        previous_suffix=params["previous_suffix"], remove_files=params["remove_files"], extra_names=params["names"],
    )
    want.validate()
    return want


def run(izuma: IzumaModule) -> dict:
    """Observe, plan, apply, report."""
    want = desired(izuma.params)
    application_id = resolve_application_id(izuma)
    observed = vk.observe(izuma.client, application_id, want, now=utcnow())
    plan, facts = vk.plan(observed, want)
    if not izuma.check_mode:
        vk.apply(izuma.client, observed, plan)
    after = vk.outcome(observed, plan, executed=not izuma.check_mode)

    current = next((item for item in after if item.get("name") == want.name), None) if want.state == "present" else None
    previous = next((item for item in after if item.get("name") == want.previous_name), None) if want.state == "present" else None
    result = dict(
        changed=plan.changed, plan=plan.describe(), application_id=application_id, verification_keys=after,
        verification_key=current or {}, previous_verification_key=previous or {},
        rotated=bool(facts.get("rotated") and plan.changed), renewed=bool(facts.get("renewed")),
    )
    if facts.get("rotation_reason"):
        result["rotation_reason"] = facts["rotation_reason"]
    if want.private_key_path:
        result["private_key_path"] = want.private_key_path
        previous_path = want.private_key_path + vk.PREVIOUS_SUFFIX
        if os.path.exists(previous_path) or any(c.action == "promote" and c.before for c in plan.changes):
            if not any(c.action == "remove" and c.name == previous_path for c in plan.changes):
                result["previous_private_key_path"] = previous_path
    if current:
        result.update(
            public_key_fingerprint=current.get("public_key_fingerprint"),
            certificate_fingerprint=current.get("certificate_fingerprint"),
            expires_at=current.get("expires_at"),
            days_left=vk.days_left(current, observed.now),
            usable=vk.is_usable(current, observed.now),
        )
    for warning in facts.get("warnings", []):
        izuma.module.warn(warning)
    if izuma.diff_mode:
        result["diff"] = vk.diff(observed, plan, after)
    return result


def main() -> None:
    """Module entry point."""
    izuma = IzumaModule(
        argument_spec=dict(
            application=dict(type="str"),
            application_id=dict(type="str"),
            name=dict(type="str", required=True),
            names=dict(type="list", elements="str", default=[]),
            description=dict(type="str"),
            status=dict(type="str", choices=["active", "inactive"]),
            private_key_path=dict(type="path"),
            private_key_content=dict(type="str", no_log=True),
            private_key_passphrase=dict(type="str", no_log=True),
            certificate_path=dict(type="path"),
            certificate_content=dict(type="str"),
            key_type=dict(type="str", choices=["RSA", "EC"], default="EC"),
            key_size=dict(type="int", choices=[2048, 3072, 4096]),
            curve=dict(type="str", choices=["P-256", "P-384", "P-521"]),
            common_name=dict(type="str"),
            subject=dict(type="dict"),
            valid_days=dict(type="int", default=365),
            renew_before=dict(type="int", default=30),
            rotate=dict(type="bool", default=False),
            rotate_after_days=dict(type="int"),
            rotate_before_days=dict(type="int"),
            grace_period=dict(type="int", default=86400),
            retire_previous=dict(type="str", choices=["auto", "now", "never"], default="auto"),
            remove_previous_private_key=dict(type="bool", default=False),
            previous_suffix=dict(type="str", default="-previous"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            remove_files=dict(type="bool", default=False),
        ),
        required_one_of=[("application", "application_id")],
        mutually_exclusive=[("application", "application_id"), ("private_key_path", "private_key_content"),
                            ("certificate_path", "certificate_content")],
    )
    izuma.require(HAS_CRYPTOGRAPHY, "cryptography", CRYPTOGRAPHY_IMPORT_ERROR)
    izuma.run(run)


if __name__ == "__main__":
    main()
