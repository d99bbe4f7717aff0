# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The options of izuma_verification_key: its argument spec (the one source of every default) and the desired state.

The module's argument spec is ``ARGUMENT_SPEC``; ``Desired``, the core's view of a task, takes its defaults from it,
and a unit test compares the module's documentation with it, so that no default is written twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import options as _pkcs11_options
from ansible_collections.izuma.device_management.plugins.module_utils import _rotation_policy as rotated
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._rotation_policy import MAX_NAME_CHARS

ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    **rotated.options("application", "application_id", "name"),
    names=dict(type="list", elements="str", default=[]),
    **rotated.options("description", "status"),
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
    **rotated.options("rotate", "rotate_after_days"),
    rotate_before_days=dict(type="int"),
    **rotated.options("grace_period", "retire_previous"),
    remove_previous_private_key=dict(type="bool", default=False),
    previous_suffix=dict(type="str", default="-previous"),
    **rotated.options("state", "remove_files", "lock_timeout"),
    on_rotation_under_way=dict(type="str", choices=["rotate", "skip", "fail"], default="rotate"),
    certificate_provider=dict(type="str", choices=["selfsigned", "ownca", "external"], default="selfsigned"),
    csr_path=dict(type="path"),
    ownca_path=dict(type="path"),
    ownca_content=dict(type="str"),
    ownca_privatekey_path=dict(type="path"),
    ownca_privatekey_content=dict(type="str", no_log=True),
    ownca_privatekey_passphrase=dict(type="str", no_log=True),
    key_backend=dict(type="str", choices=["file", "pkcs11"], default="file"),
    **_pkcs11_options.argument_spec(),
)
REQUIRED_ONE_OF = rotated.REQUIRED_ONE_OF
MUTUALLY_EXCLUSIVE = [("application", "application_id"), ("private_key_path", "private_key_content"),
                      ("certificate_path", "certificate_content"), ("ownca_path", "ownca_content"),
                      ("ownca_privatekey_path", "ownca_privatekey_content")]
# The options of certificate_provider=ownca (the CA that issues the certificates).
OWNCA_OPTIONS = ("ownca_path", "ownca_content", "ownca_privatekey_path", "ownca_privatekey_content", "ownca_privatekey_passphrase")
# The options that only a key in a file (key_backend=file) takes.
FILE_KEY_OPTIONS = ("private_key_path", "private_key_content", "private_key_passphrase")
# Where the module's options are named differently in the core.
_RENAMED = {"names": "extra_names"}


def default(option: str) -> Any:
    """The default of an option, from the argument spec."""
    value = ARGUMENT_SPEC[option].get("default")
    return list(value) if isinstance(value, list) else value


@dataclass
class Desired(rotated.RotatedKey):
    """What the task asks for, in the core's terms (defaults: the argument spec's); the options every rotated key
    takes are ``RotatedKey``'s."""

    private_key_path: Optional[str] = None
    private_key_content: Optional[str] = field(default=None, repr=False)
    private_key_passphrase: Optional[str] = field(default=None, repr=False)
    certificate_path: Optional[str] = None
    certificate_content: Optional[str] = None
    key_type: str = default("key_type")
    key_size: Optional[int] = None
    curve: Optional[str] = None
    common_name: Optional[str] = None
    subject: Optional[Dict[str, str]] = None
    valid_days: int = default("valid_days")
    renew_before: int = default("renew_before")
    rotate_before_days: Optional[int] = None
    remove_previous_private_key: bool = default("remove_previous_private_key")
    previous_suffix: str = default("previous_suffix")
    extra_names: List[str] = field(default_factory=lambda: default("names"))
    on_rotation_under_way: str = default("on_rotation_under_way")
    certificate_provider: str = default("certificate_provider")
    csr_path: Optional[str] = None
    ownca_path: Optional[str] = None
    ownca_content: Optional[str] = None
    ownca_privatekey_path: Optional[str] = None
    ownca_privatekey_content: Optional[str] = field(default=None, repr=False)
    ownca_privatekey_passphrase: Optional[str] = field(default=None, repr=False)
    key_backend: str = default("key_backend")
    pkcs11_library: Optional[str] = None
    pkcs11_token: Optional[str] = None
    pkcs11_serial: Optional[str] = None
    pkcs11_pin: Optional[str] = field(default=None, repr=False)
    pkcs11_key_label: Optional[str] = None

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> "Desired":
        """The module's parameters as a validated desired state."""
        if params.get("key_size") and params.get("key_type") != "RSA":
            raise IzumaConfigError("key_size is for RSA keys; for EC keys set curve (P-256, P-384 or P-521), or set key_type=RSA.")
        if params.get("curve") and params.get("key_type") != "EC":
            raise IzumaConfigError("curve is for EC keys; for RSA keys set key_size (2048, 3072 or 4096), or set key_type=EC.")
        fields = set(cls.__dataclass_fields__)  # pylint: disable=no-member
        values = {_RENAMED.get(option, option): value for option, value in params.items()
                  if _RENAMED.get(option, option) in fields and value is not None}
        want = cls(**values)
        want.validate()
        return want

    def validate(self) -> None:
        """Refuse options that cannot work, before anything is read or written."""
        if not self.name or len(self.name) > MAX_NAME_CHARS:
            raise IzumaConfigError("name must be 1 to %d characters (got %d)." % (MAX_NAME_CHARS, len(self.name or "")))
        if len(self.name + self.previous_suffix) > MAX_NAME_CHARS:
            raise IzumaConfigError("name plus previous_suffix (%r) must fit in %d characters, the API's limit for a key name."
                                   % (self.name + self.previous_suffix, MAX_NAME_CHARS))
        self.check_description()
        if self.key_backend == "pkcs11":
            self.validate_pkcs11()
        elif self.pkcs11_key_label:
            raise IzumaConfigError("pkcs11_key_label is for a key in a PKCS#11 token: set key_backend=pkcs11, or remove pkcs11_key_label.")
        elif self.state == "present" and not (self.private_key_path or self.private_key_content):
            raise IzumaConfigError("Give private_key_path (where the private key is, or is to be created) or private_key_content.")
        if self.lock_timeout < 0:
            raise IzumaConfigError("lock_timeout must be zero or more seconds (got %d)." % self.lock_timeout)
        if self.grace_period < 0 or self.renew_before < 0 or self.valid_days < 1:
            raise IzumaConfigError("grace_period and renew_before must be zero or more, and valid_days at least 1.")
        if self.renew_before >= self.valid_days:
            raise IzumaConfigError("renew_before (%d days) must be shorter than valid_days (%d days), or every run would renew "
                                   "the certificate." % (self.renew_before, self.valid_days))
        if self.rotate_before_days is not None and self.rotate_before_days >= self.valid_days:
            raise IzumaConfigError("rotate_before_days (%d) must be shorter than valid_days (%d), or every run would rotate."
                                   % (self.rotate_before_days, self.valid_days))
        if self.rotation_asked and not self.private_key_path and self.key_backend == "file":
            raise IzumaConfigError("Rotation writes a new private key, so it needs private_key_path (not private_key_content).")
        if self.rotation_asked and self.certificate_content:
            raise IzumaConfigError("Rotation makes a new key pair, which certificate_content cannot belong to: use "
                                   "certificate_path (each new certificate is written there) or leave it out.")
        validate_provider(self)

    def validate_pkcs11(self) -> None:
        """key_backend=pkcs11: the PKCS#11 library is named, and no option of a key file is given."""
        given = [option for option in FILE_KEY_OPTIONS if getattr(self, option)]
        if given:
            raise IzumaConfigError("%s is for key_backend=file; with key_backend=pkcs11 the private keys are objects in the token, "
                                   "labelled from name: remove %s." % (given[0], ", ".join(given)))
        if not self.pkcs11_library:
            raise IzumaConfigError("key_backend=pkcs11 needs the PKCS#11 library: set pkcs11_library or the %s environment "
                                   "variable (for SoftHSM2: %s)." % (_pkcs11_options.LIBRARY_ENV, _pkcs11_options.SOFTHSM_EXAMPLE))
        if self.pkcs11_key_label and self.pkcs11_key_label != self.pkcs11_label("current"):
            raise IzumaConfigError("pkcs11_key_label is %r, but izuma_verification_key labels the current key of '%s' %r (from "
                                   "name): remove pkcs11_key_label, or give that label." % (
                                       self.pkcs11_key_label, self.name, self.pkcs11_label("current")))
        if self.certificate_content and self.rotation_asked:
            raise IzumaConfigError("Rotation makes a new key pair, which certificate_content cannot belong to: use "
                                   "certificate_path (each new certificate is written there) or leave it out.")

    def pkcs11_label(self, generation: str) -> str:
        """The CKA_LABEL of a generation (current, next, previous) of this key in the PKCS#11 token."""
        # Only key_backend=pkcs11 asks: a file key's run never loads the PKCS#11 key code (nor python-pkcs11).
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs  # pylint: disable=import-outside-toplevel

        return key_pairs.key_label(self.name, generation)

    def pkcs11_source(self) -> _pkcs11_options.Pkcs11KeySource:
        """The PKCS#11 key source of key_backend=pkcs11 (library, token, PIN), with the current key's label."""
        source = _pkcs11_options.pkcs11_source(vars(self), label=self.pkcs11_label("current"))
        if source is None:  # pragma: no cover - a label is given, so there is always a source
            raise AssertionError("no PKCS#11 key source for a given label")
        return source

    @property
    def rotation_asked(self) -> bool:
        """True when the task asks for a rotation, now or when one is due."""
        return self.rotate or self.rotate_after_days is not None or self.rotate_before_days is not None

    @property
    def previous_name(self) -> str:
        """The API name of the previous generation."""
        return self.name + self.previous_suffix

    @property
    def api_status(self) -> Optional[str]:
        """The status in the API's spelling."""
        return self.status.upper() if self.status else None


def validate_provider(want: Desired) -> None:
    """Refuse a certificate_provider without what it needs, and options of a provider that is not chosen."""
    provider = want.certificate_provider
    given = [option for option in OWNCA_OPTIONS if getattr(want, option)]
    if provider != "ownca" and given:
        raise IzumaConfigError("%s is for certificate_provider=ownca (a CA you give issues the certificates); set "
                               "certificate_provider=ownca, or remove %s." % (given[0], ", ".join(given)))
    if provider != "external" and want.csr_path:
        raise IzumaConfigError("csr_path is for certificate_provider=external (your CA issues the certificates from the "
                               "requests the module writes); set certificate_provider=external, or remove csr_path.")
    if want.state != "present" or provider == "selfsigned":
        return
    if provider == "ownca" and not (want.ownca_path or want.ownca_content):
        raise IzumaConfigError("certificate_provider=ownca needs the CA certificate: give ownca_path (a PEM file) or ownca_content.")
    if provider == "ownca" and not (want.ownca_privatekey_path or want.ownca_privatekey_content):
        raise IzumaConfigError("certificate_provider=ownca needs the CA's private key: give ownca_privatekey_path (a PEM file) "
                               "or ownca_privatekey_content (and ownca_privatekey_passphrase if it is encrypted).")
    if want.certificate_content:
        raise IzumaConfigError("certificate_provider=%s writes the certificates it %s to certificate_path, which "
                               "certificate_content cannot hold: give certificate_path instead of certificate_content, or "
                               "set certificate_provider=selfsigned." % (provider, "issues" if provider == "ownca" else "picks up"))
    if provider == "external" and not want.certificate_path:
        raise IzumaConfigError("certificate_provider=external needs certificate_path: the file where you put the certificate "
                               "your CA issues for the key (the module uploads it from there).")
    if provider == "external" and want.csr_path and os.path.abspath(want.csr_path) in (
            os.path.abspath(path) for path in (want.certificate_path or "", want.private_key_path or "") if path):
        raise IzumaConfigError("csr_path must be a file of its own, not certificate_path or private_key_path: give "
                               "another path, or leave csr_path out to use <certificate_path>.csr.")
