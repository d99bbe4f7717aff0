# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Plans: the changes that turn the observed state into the desired one.

Every module works as ``observe -> plan -> apply``. A ``Plan`` is a list of
``Change`` objects; check mode reports it, normal mode executes it, diff mode
shows it. A converged run has an empty plan. Changes carry only fields that
are safe to show (names, ids, fingerprints, dates, status), never key material.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Change:
    """One write: create, update or delete of one resource."""

    action: str
    resource: str
    name: str
    before: Optional[Dict[str, Any]] = None
    after: Optional[Dict[str, Any]] = None
    # Free data the apply step needs (ids, etags, bodies); never shown to the user.
    payload: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def changed_fields(self) -> List[str]:
        """Fields whose value differs between before and after (for updates)."""
        before, after = self.before or {}, self.after or {}
        return sorted(key for key in after if before.get(key) != after.get(key))

    def describe(self) -> str:
        """A sentence a person can read in the task result."""
        if self.action == "update":
            return "update %s '%s': %s" % (self.resource, self.name, ", ".join(self.changed_fields))
        return "%s %s '%s'" % (self.action, self.resource, self.name)


@dataclass
class Plan:
    """An ordered list of changes; empty when the observed state is already the desired one."""

    changes: List[Change] = field(default_factory=list)

    def add(self, change: Change) -> None:
        """Append a change."""
        self.changes.append(change)

    @property
    def changed(self) -> bool:
        """True when there is anything to do."""
        return bool(self.changes)

    def describe(self) -> List[str]:
        """One sentence per change."""
        return [change.describe() for change in self.changes]

    def diff(self) -> Dict[str, Any]:
        """Ansible's diff: before and after of every change, keyed by resource name."""
        before: Dict[str, Any] = {}
        after: Dict[str, Any] = {}
        for change in self.changes:
            if change.before is not None:
                before[change.name] = change.before
            if change.after is not None:
                after[change.name] = change.after
        return {"before": before, "after": after}


def pick(obj: Optional[Dict[str, Any]], keys: List[str]) -> Optional[Dict[str, Any]]:
    """The subset of an API object that a diff shows."""
    if obj is None:
        return None
    return {key: obj.get(key) for key in keys}
