# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The options of izuma_access_key: its argument spec (the one source of every default) and the desired state."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _rotation_policy as rotated
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._rotation_policy import MAX_NAME_CHARS

# The names the module gives the other keys of a generation: the longest suffix must still fit in a name.
PREVIOUS_SUFFIX = "-previous"
ORPHAN_SUFFIX = "-orphan-"
MAX_OWN_NAME_CHARS = MAX_NAME_CHARS - len(ORPHAN_SUFFIX) - 8

ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    **rotated.options("application", "application_id", "name", "description", "status"),
    expiration=dict(type="str"),
    dest=dict(type="path"),
    vault_password=dict(type="str", no_log=True),
    return_secret=dict(type="bool", default=False),
    **rotated.options("rotate", "rotate_after_days", "grace_period", "retire_previous", "state", "remove_files", "lock_timeout"),
)
REQUIRED_ONE_OF = rotated.REQUIRED_ONE_OF
MUTUALLY_EXCLUSIVE = [("application", "application_id")]
REQUIRED_IF = [("state", "present", ("dest",))]


def default(option: str) -> Any:
    """The default of an option, from the argument spec."""
    return ARGUMENT_SPEC[option].get("default")


def parse_expiration(value: Optional[str]) -> Optional[str]:
    """``expiration`` in the API's form: None (leave as it is), "" (no expiration) or RFC 3339 UTC with ``Z``."""
    if value is None or value == "":
        return value
    text = value.strip()
    try:
        parsed = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise IzumaConfigError("expiration must be an RFC 3339 time such as 2027-01-31T00:00:00Z, or '' for none "
                               "(got %r)." % value) from None
    if parsed.tzinfo is None:
        raise IzumaConfigError("expiration must say its time zone, for example 2027-01-31T00:00:00Z (got %r)." % value)
    if parsed <= datetime.datetime.now(datetime.timezone.utc):
        raise IzumaConfigError("expiration must be in the future (got %r): a key cannot be created or changed to have "
                               "expired already; use status=inactive to stop it." % value)
    return parsed.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (parsed.microsecond // 1000)


@dataclass
class Desired(rotated.RotatedKey):
    """What the task asks for, in the core's terms (defaults: the argument spec's); the shared options are
    ``RotatedKey``'s."""

    expiration: Optional[str] = None
    dest: Optional[str] = None
    vault_password: Optional[str] = field(default=None, repr=False)
    return_secret: bool = default("return_secret")

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> "Desired":
        """The desired state of a task's parameters, checked (an IzumaConfigError names the option and the fix)."""
        names = [name for name in cls.__dataclass_fields__ if name in params]  # pylint: disable=no-member
        want = cls(**{name: params[name] for name in names if params[name] is not None or name in ("name",)})
        want.check()
        return want

    def check(self) -> None:
        """Refuse what the API or the module's naming would refuse, before any request."""
        if not self.name or len(self.name) > MAX_OWN_NAME_CHARS:
            raise IzumaConfigError("name must be 1 to %d characters (the module adds up to %d for the other generations "
                                   "of the key); got %d." % (MAX_OWN_NAME_CHARS, MAX_NAME_CHARS - MAX_OWN_NAME_CHARS, len(self.name)))
        if self.name.endswith(PREVIOUS_SUFFIX) or ORPHAN_SUFFIX in self.name:
            raise IzumaConfigError("name must not end with %r or contain %r: the module names the other generations "
                                   "of a key so." % (PREVIOUS_SUFFIX, ORPHAN_SUFFIX))
        self.check_description()
        if self.state == "present" and not self.dest:
            raise IzumaConfigError("dest is required with state=present: the secret of a new key exists only in the API's "
                                   "answer that creates it, and is written to dest at once (give the path of a file).")
        self.expiration = parse_expiration(self.expiration)
        for option in ("rotate_after_days", "grace_period", "lock_timeout"):
            value = getattr(self, option)
            if value is not None and value < 0:
                raise IzumaConfigError("%s must be 0 or more (got %s)." % (option, value))
        if self.vault_password is not None and not self.vault_password:
            raise IzumaConfigError("vault_password must not be empty: leave it out to write the key unencrypted.")

    @property
    def previous_name(self) -> str:
        """The name of the previous generation in the application."""
        return self.name + PREVIOUS_SUFFIX

    def orphan_name(self, key_id: str) -> str:
        """The name an orphan (a key whose secret nobody has) is given while its replacement is created."""
        return "%s%s%s" % (self.name, ORPHAN_SUFFIX, key_id[:8])

    def is_orphan_name(self, name: str) -> bool:
        """True for a name ``orphan_name`` gave."""
        return name.startswith(self.name + ORPHAN_SUFFIX)
