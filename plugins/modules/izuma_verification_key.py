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
  - "Create and upload: makes an RSA or EC private key (mode 0600, written atomically, optionally encrypted) and an
    X.509 certificate (self-signed, or issued by your CA, see O(certificate_provider)) where the task runs, or uses an
    existing key and certificate, checks them against every rule the API enforces (PEM, at most 2,000 characters,
    RSA >= 2048 or EC >= 256 bits, not expired, unique name, two keys per application at most) and uploads the certificate as a named verification key."
  - "Edit: rename (when the uploaded key is found by its public key under another name), description, status, and
    replace the certificate (when O(certificate_path) or O(certificate_content) holds a new certificate for the same key)."
  - "Renewal: when the certificate expires within O(renew_before) days, a new certificate for the same key is issued
    (self-signed, or by your CA: O(certificate_provider)) and uploaded in place; this is also how an expired key is
    brought back. With O(certificate_provider=external) a certificate signing request is written for your CA instead."
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
      - Required unless O(private_key_content) is given or O(key_backend=pkcs11); rotation with key files always needs it.
      - Not with O(key_backend=pkcs11), whose private keys are objects in the token.
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
      - Only certificates the module issued itself (self-signed by the key, or by the CA of
        O(certificate_provider=ownca)) are renewed. A certificate that someone else issued (for example your CA) in
        O(certificate_path) is never replaced; a warning says when it expires within this many days, and the task fails
        once it has expired, saying how to renew it. With O(certificate_provider=external) a certificate signing request
        for it is written to O(csr_path) within this many days.
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
    description:
      - Also remove C(<private_key_path>.previous) once its key is no longer uploaded.
      - With O(key_backend=pkcs11), destroy the token's C(izuma:<name>:previous) key pair instead.
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
    description:
      - With O(state=absent), also remove the local private key files (current, next, previous) and certificate files
        (and, with O(certificate_provider=external), the certificate signing request at O(csr_path)).
      - With O(key_backend=pkcs11), destroy the key pairs in the token (C(izuma:<name>:current), C(:next), C(:previous))
        instead of private key files, after the keys are deleted from the application.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for another run of a task on the same O(private_key_path) (or, with O(key_backend=pkcs11), the
        same key in the same token) on this host (a cron job beside a manual run, two AWX jobs or job slices on one node)
        before failing.
      - The run holds an exclusive lock on C(<private_key_path>.lock) (with O(key_backend=pkcs11), C(<certificate_path>.lock),
        or without O(certificate_path) a lock file in the temporary directory) (mode 0600, removed when the run ends) from the
        moment it reads the application's keys until its last write, so that a run that waited sees what the other one did.
      - Runs on different hosts cannot share the lock; there the API's unique key names keep the outcome clean (one run
        fails with a clear message, nothing is lost, the next run converges). Check mode takes no lock.
    type: int
    default: 300
  on_rotation_under_way:
    description:
      - What to do when a rotation is due (O(rotate), O(rotate_after_days), O(rotate_before_days)) while the previous
        rotation is still under way, that is while the previous generation C(<name><previous_suffix>) is still uploaded.
      - V(rotate) retires the previous generation to make room once its O(grace_period) has passed (or as
        O(retire_previous) says) and rotates again; within the grace period the task fails.
      - V(skip) starts no rotation and converges the current key as it is; RV(rotation_skipped) says why. Runs of the same
        task at once (concurrent job slices of the same fleet) then make one rotation between them, not one each.
      - V(fail) fails, naming the previous key.
      - Decided inside the locked run (see O(lock_timeout)), from what the application holds at that moment.
    type: str
    choices: [rotate, skip, fail]
    default: rotate
  certificate_provider:
    description:
      - Who issues the key's certificates. Izuma Device Management accepts any X.509 PEM certificate that meets its rules
        (at most 2,000 characters, RSA >= 2048 or EC >= 256 bits, not expired), whoever issued it, because it verifies a
        JWT with the certificate's public key; a CA-issued certificate is uploaded as it is.
      - V(selfsigned) - the module issues and renews self-signed certificates.
      - V(ownca) - the module issues and renews certificates with the CA certificate and key you give
        (O(ownca_path) or O(ownca_content), O(ownca_privatekey_path) or O(ownca_privatekey_content)), as
        community.crypto's C(x509_certificate) does with its C(ownca) provider. A rotation's new key gets its certificate
        from the same CA. A self-signed certificate the module issued before is replaced by one from the CA; a certificate
        another CA issued is kept (a warning says so; O(rotate=true) replaces the key pair).
      - V(external) - the module never issues. It uploads the certificate you put at O(certificate_path) (it must belong
        to the key; a new one replaces the uploaded certificate of the same verification key). When a certificate is due
        (it expires within O(renew_before) days, a rotation made a new key, or a key has none yet) it writes a certificate
        signing request to O(csr_path) for your CA, warns and says in RV(certificate_request) what to do. A run that can go
        on with the current key does; a key that has no usable certificate yet (a new key, an expired certificate) fails the
        run after the request is written. A rotation's new key waits at C(<private_key_path>.next) (with
        O(key_backend=pkcs11), as the pair labelled C(izuma:<name>:next)) until its certificate is at
        O(certificate_path), then the rotation finishes. Needs O(certificate_path).
      - With O(key_backend=pkcs11) the token signs the request with the key pair it generated for it (or holds, for a
        renewal); the private key never leaves the token, as with the other providers.
      - Only certificates the module issued (self-signed by the key, or by the O(certificate_provider=ownca) CA) are ever
        replaced by the module.
    type: str
    choices: [selfsigned, ownca, external]
    default: selfsigned
    version_added: 1.0.0
  csr_path:
    description:
      - With O(certificate_provider=external), where the certificate signing request for your CA is written (atomically,
        mode 0644) when a certificate is due. It asks for the key's public key with the subject of new certificates
        (O(common_name), O(subject)); it is written again only when it asks for another key or subject.
      - Default C(<certificate_path>.csr).
    type: path
    version_added: 1.0.0
  ownca_path:
    description:
      - With O(certificate_provider=ownca), the PEM file of the CA certificate that issues the key's certificates. It must
        be a CA's (no basicConstraints CA:FALSE, keyUsage with keyCertSign if any) and not expired.
      - Mutually exclusive with O(ownca_content).
    type: path
    version_added: 1.0.0
  ownca_content:
    description:
      - With O(certificate_provider=ownca), the CA certificate as PEM content. Mutually exclusive with O(ownca_path).
    type: str
    version_added: 1.0.0
  ownca_privatekey_path:
    description:
      - With O(certificate_provider=ownca), the PEM file of the CA's private key (RSA or EC); it must belong to the CA
        certificate. It is only read. Mutually exclusive with O(ownca_privatekey_content).
    type: path
    version_added: 1.0.0
  ownca_privatekey_content:
    description:
      - With O(certificate_provider=ownca), the CA's private key as PEM content, for example from Ansible Vault.
        Mutually exclusive with O(ownca_privatekey_path).
    type: str
    version_added: 1.0.0
  ownca_privatekey_passphrase:
    description:
      - With O(certificate_provider=ownca), the passphrase of the CA's private key.
    type: str
    version_added: 1.0.0
  key_backend:
    description:
      - Where the private keys are. V(file) - PEM files at O(private_key_path) (or O(private_key_content)).
      - V(pkcs11) - key pairs generated inside a PKCS#11 token (a hardware security module, a cloud key service's PKCS#11
        library, SoftHSM2) as sensitive, non-extractable objects that sign (and nothing else where the token allows it,
        see RV(pkcs11_generated_key)); the token is named by O(pkcs11_library),
        O(pkcs11_token) or O(pkcs11_serial), and O(pkcs11_pin) (or the E(IZUMA_PKCS11_*) environment variables). The token
        signs each self-signed certificate; no private key is ever on disk. The current, next and previous generations are
        the objects labelled C(izuma:<name>:current), C(izuma:<name>:next) and C(izuma:<name>:previous) (RV(pkcs11_key_label)),
        promoted by relabelling. O(pkcs11_key_label), if given, must be the current label. With
        O(certificate_provider=external) the token signs the certificate signing requests instead.
      - In check mode nothing is generated, so the fingerprints of a key that a run would generate (and of its
        certificate) are returned as V(null).
    type: str
    choices: [file, pkcs11]
    default: file
    version_added: 1.0.0
extends_documentation_fragment:
  - izuma.device_management.connection
  - izuma.device_management.attributes
  - izuma.device_management.attributes.writes
  - izuma.device_management.application
  - izuma.device_management.pkcs11
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

- name: Certificates issued (and renewed, and issued again at each rotation) by your own CA
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    private_key_path: /etc/izuma/telemetry.key
    certificate_path: /etc/izuma/telemetry.crt
    certificate_provider: ownca
    ownca_path: /etc/pki/izuma-ca.crt
    ownca_privatekey_path: /etc/pki/private/izuma-ca.key
    ownca_privatekey_passphrase: "{{ vault_ca_passphrase }}"

- name: Certificates from a CA the module cannot reach; a request is written to telemetry.csr when one is due
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    private_key_path: /etc/izuma/telemetry.key
    certificate_path: /etc/izuma/telemetry.crt
    certificate_provider: external
    csr_path: /etc/izuma/telemetry.csr
  register: vk

- name: Tell someone to have the request signed
  ansible.builtin.debug:
    msg: "{{ vk.certificate_request }}"
  when: vk.certificate_requested

- name: Delete two keys, and the local files of the first
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-signing
    names: [old-key]
    private_key_path: /etc/izuma/telemetry.key
    remove_files: true
    state: absent

- name: A key inside a PKCS#11 token (HSM, cloud KMS, SoftHSM2); the PIN comes from IZUMA_PKCS11_PIN
  izuma.device_management.izuma_verification_key:
    application: telemetry
    name: telemetry-hsm
    key_backend: pkcs11
    pkcs11_library: /usr/lib/softhsm/libsofthsm2.so
    pkcs11_token: izuma
    key_type: EC
    curve: P-384
    certificate_path: /etc/izuma/telemetry-hsm.crt
    rotate_after_days: 90
  register: hsm_key

- name: Sign a token with it (the key never leaves the token)
  ansible.builtin.debug:
    msg: "{{ lookup('izuma.device_management.izuma_jwt', pkcs11_key_label=hsm_key.pkcs11_key_label, lifetime=300) }}"
"""

RETURN = r"""
key_backend:
  description: Where the private keys are (O(key_backend)).
  returned: always
  type: str
  sample: pkcs11
pkcs11_key_label:
  description:
    - The CKA_LABEL of the current key's private key object in the token; give it to
      M(izuma.device_management.izuma_jwt) as O(izuma.device_management.izuma_jwt#module:pkcs11_key_label). Never a secret.
  returned: when O(key_backend=pkcs11) and O(state=present)
  type: str
  sample: "izuma:telemetry-signing:current"
pkcs11_generated_key:
  description:
    - The key pair this run generated in the token, as the token reports it (never key material).
    - C(template) is the key template the token accepted, C(sign-only) (the private key may only sign, the public key
      only verify) or C(token-default) (sign and verify asked for, the rest left to the token, for a token that refuses
      the first, such as tpm2-pkcs11); C(capabilities) lists what the token says the key can do (C(sign), C(verify),
      and for example C(decrypt), C(encrypt) with tpm2-pkcs11). C(label) is the label it was generated with.
  returned: when O(key_backend=pkcs11) and the run generated a key pair (not in check mode)
  type: dict
  sample:
    label: "izuma:telemetry-signing:next"
    algorithm: EC
    curve: P-256
    template: token-default
    capabilities: [decrypt, encrypt, sign, verify]
    sensitive: true
    extractable: false
    never_extractable: true
    token: izuma-tpm
    library: libtpm2_pkcs11.so
previous_pkcs11_key_label:
  description: The label of the previous key's object in the token, while it is there.
  returned: when O(key_backend=pkcs11) and the token holds the previous key after the run
  type: str
  sample: "izuma:telemetry-signing:previous"
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
rotation_under_way:
  description:
    - Whether a rotation is under way after the task, that is whether the previous generation is still uploaded (it is
      retired after O(grace_period), or as O(retire_previous) says).
  returned: always
  type: bool
rotation_skipped:
  description: Why a rotation that was due was not started (O(on_rotation_under_way=skip)).
  returned: when a due rotation was skipped
  type: str
repaired:
  description:
    - What the task repaired, when the key named O(name) was uploaded but its private key was left in
      C(<private_key_path>.previous) or in a temporary file, and O(private_key_path) held a key that was never uploaded (what
      two runs at once could leave before this module locked its runs). The uploaded key's private key is put back at
      O(private_key_path); the other one is kept at C(<private_key_path>.previous). The same sentence is also a warning.
  returned: when the task repaired such a state
  type: str
renewed:
  description: Whether a new certificate was issued for the same key.
  returned: always
  type: bool
certificate_requested:
  description:
    - Whether a certificate from your CA is due (O(certificate_provider=external)); the request is at RV(csr_path)
      (written by this run, or by an earlier one when it already asked for that key).
  returned: always
  type: bool
  version_added: 1.0.0
certificate_request:
  description:
    - What to do with the certificate signing request (have your CA issue the certificate, put it at
      O(certificate_path), run the task again); the same sentence is a warning.
  returned: when RV(certificate_requested) is true
  type: str
  version_added: 1.0.0
csr_path:
  description: Where certificate signing requests are written (O(csr_path), by default C(<certificate_path>.csr)).
  returned: when O(certificate_provider=external)
  type: str
  version_added: 1.0.0
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
plan_details:
  description:
    - One entry per change of RV(plan), in the same order, saying what kind of change it is and why the task plans it.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description:
        - The kind of change, one of V(WritePendingKey), V(UploadKey), V(UpdateKey), V(DeleteKey), V(PromoteFiles),
          V(WriteCertificate), V(WriteCsr), V(RemoveFile).
      type: str
    why:
      description: Why the change is planned, for example the rotation's reason.
      type: str
    change:
      description: The same sentence as in RV(plan).
      type: str
  sample:
    - change: "write private key '/etc/izuma/telemetry.key.next'"
      kind: WritePendingKey
      why: "rotate: key is 91 days old (rotate_after_days=90)"
    - change: "update verification key 'telemetry-signing': name"
      kind: UpdateKey
      why: "rotate: key is 91 days old (rotate_after_days=90): the current key becomes the previous generation"
name:
  description: Name of the current key in the application (O(name)).
  returned: always
  type: str
  sample: telemetry-signing
previous_name:
  description: Name of the previous generation in the application (O(name) followed by O(previous_suffix)).
  returned: always
  type: str
  sample: telemetry-signing-previous
pending_private_key_path:
  description: Where a new private key is kept while a rotation is under way (C(<private_key_path>.next)).
  returned: when O(private_key_path) is given
  type: str
  sample: /etc/izuma/telemetry.key.next
certificate_path:
  description: Path of the current key's certificate (O(certificate_path)).
  returned: when O(certificate_path) is given
  type: str
previous_certificate_path:
  description: Where the previous key's certificate is kept after a rotation (C(<certificate_path>.previous)).
  returned: when O(certificate_path) is given
  type: str
error:
  description:
    - Why the task failed, when an API request failed or the application is not there. For a missing application
      (its id unknown to the API, or no application of that name) C(type) is V(not_found) and C(status) 404, so that
      a playbook can tell it apart, e.g. to create the application and try again (the jwt_rotation role does).
  returned: on failure, for an API error or a missing application
  type: dict
  contains:
    status:
      description: The HTTP status.
      type: int
    type:
      description: The API's error type.
      type: str
    message:
      description: The API's message.
      type: str
    fields:
      description: The fields the API refused, each with C(name) and C(message).
      type: list
      elements: dict
    request_id:
      description: The API's request id, for support.
      type: str
  sample:
    status: 404
    type: not_found
    message: "There is no application with application_id 016f0a6f2f8e4a6ee5a5e7c100000000: check the id, ..."
    fields: []
    request_id:
"""

from ansible_collections.izuma.device_management.plugins.module_utils._module import run_module
from ansible_collections.izuma.device_management.plugins.module_utils._tasks.verification_key import TASK


def main() -> None:
    """Module entry point: the definition (its options and core) is module_utils _tasks.verification_key's TASK."""
    run_module(TASK)


if __name__ == "__main__":
    main()
