# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""What access keys and verification keys share as keys that are rotated: their common options, and the rotation
policy those options set.

Both keep up to two generations under one name: the current key, and after a rotation the previous one, which stays
until its grace period has passed (``retire_previous``). ``ARGUMENT_SPEC`` holds the options both modules take (the
one source of their defaults), ``RotatedKey`` the head of both desired states, and its methods the policy:

* a key is due for rotation by age once it is ``rotate_after_days`` whole days old (``age_reason``);
* the previous generation's grace period has passed once its successor, the current key, is ``grace_period``
  seconds old (``grace_passed``), and it may be retired then with ``retire_previous=auto``, at once with ``now``,
  never with ``never`` (``may_retire``).

Each resource words its own reasons and errors around these answers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError

# The API's limits for a key's name and description (access keys and verification keys alike).
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 500

# The options every rotated key takes; each module's argument spec picks them with ``options``, in its own order.
ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    application=dict(type="str"),
    application_id=dict(type="str"),
    name=dict(type="str", required=True),
    description=dict(type="str"),
    status=dict(type="str", choices=["active", "inactive"]),
    rotate=dict(type="bool", default=False),
    rotate_after_days=dict(type="int"),
    grace_period=dict(type="int", default=86400),
    retire_previous=dict(type="str", choices=["auto", "now", "never"], default="auto"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    remove_files=dict(type="bool", default=False),
    lock_timeout=dict(type="int", default=300),
)
REQUIRED_ONE_OF = [("application", "application_id")]


def options(*names: str) -> Dict[str, Dict[str, Any]]:
    """The argument spec of the shared options ``names``, in that order (copies, for a module's own spec)."""
    return {name: dict(ARGUMENT_SPEC[name]) for name in names}


def default(option: str) -> Any:
    """The default of a shared option, from the argument spec."""
    return ARGUMENT_SPEC[option].get("default")


def age_days(created: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from ``created`` to ``now`` (a key's age, as ``rotate_after_days`` counts it)."""
    return (now - created) // datetime.timedelta(days=1)


def age_seconds(created: datetime.datetime, now: datetime.datetime) -> float:
    """Seconds from ``created`` to ``now`` (how long a key has been current, as ``grace_period`` counts it)."""
    return (now - created).total_seconds()


@dataclass
class RotatedKey:
    """What a task asks of a rotated key, the head of each resource's ``Desired`` (defaults: the argument spec's)."""

    name: str
    state: str = default("state")
    description: Optional[str] = None
    status: Optional[str] = None
    rotate: bool = default("rotate")
    rotate_after_days: Optional[int] = None
    grace_period: int = default("grace_period")
    retire_previous: str = default("retire_previous")
    remove_files: bool = default("remove_files")
    lock_timeout: int = default("lock_timeout")

    def check_description(self) -> None:
        """Refuse a description the API would refuse."""
        if self.description is not None and len(self.description) > MAX_DESCRIPTION_CHARS:
            raise IzumaConfigError("description must be at most %d characters (got %d)." % (MAX_DESCRIPTION_CHARS, len(self.description)))

    def age_reason(self, created: Optional[datetime.datetime], now: datetime.datetime) -> Optional[str]:
        """Why a key created at ``created`` is due for rotation by age (rotate_after_days), or None."""
        if self.rotate_after_days is None or created is None:
            return None
        age = age_days(created, now)
        if age >= self.rotate_after_days:
            return "key is %d days old (rotate_after_days=%d)" % (age, self.rotate_after_days)
        return None

    def grace_passed(self, successor_age: float) -> bool:
        """True when the previous generation's grace period is over: its successor has been current for
        ``successor_age`` seconds, at least grace_period."""
        return successor_age >= self.grace_period

    def may_retire(self, successor_age: float) -> bool:
        """Whether retire_previous lets the previous generation go now, its successor being ``successor_age`` seconds old."""
        return self.retire_previous == "now" or (self.retire_previous == "auto" and self.grace_passed(successor_age))
