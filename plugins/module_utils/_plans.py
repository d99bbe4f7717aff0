# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Plans: the changes that turn the observed state into the desired one.

Every module works as ``observe -> plan -> apply``. A ``Plan`` is a list of
typed changes: one small class per kind of write (create an application,
upload a key, write a file, ...), each with its own ``apply(context)`` that
returns what the write produced, its own sentence (``describe()``) and the
reason it is planned (``why``). Check mode reports the plan, normal mode
applies it, diff mode shows it. A converged run has an empty plan. Changes
show only what is safe to show (names, ids, fingerprints, dates, status),
never key material.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional


class Change:
    """One write. Subclasses set ``action`` and ``resource`` and implement ``apply``."""

    action = "change"
    resource = "resource"

    def __init__(self, name: str, why: str = "", before: Optional[Dict[str, Any]] = None,
                 after: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self.why = why
        self.before = before
        self.after = after

    def __repr__(self) -> str:
        return "<%s %r>" % (type(self).__name__, self.name)

    @property
    def changed_fields(self) -> List[str]:
        """Fields whose value differs between before and after (for updates)."""
        before, after = self.before or {}, self.after or {}
        return sorted(key for key in after if before.get(key) != after.get(key))

    def describe(self) -> str:
        """A sentence a person can read in the task result."""
        return "%s %s '%s'" % (self.action, self.resource, self.name)

    def details(self) -> Dict[str, str]:
        """The sentence, the kind of change and why it is planned: one entry of the result's ``plan_details``."""
        return {"change": self.describe(), "kind": type(self).__name__, "why": self.why}

    def apply(self, context: Any) -> Any:
        """Carry out the change; return what it produced (an API object, or None)."""
        raise NotImplementedError


class UpdateChange(Change):
    """A change that edits fields of an existing resource: its sentence lists them."""

    action = "update"

    def describe(self) -> str:
        return "update %s '%s': %s" % (self.resource, self.name, ", ".join(self.changed_fields))


class Plan:
    """An ordered list of changes; empty when the observed state is already the desired one."""

    def __init__(self, changes: Optional[List[Change]] = None) -> None:
        self.changes: List[Change] = list(changes or [])

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

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

    def details(self) -> List[Dict[str, str]]:
        """One ``{change, kind, why}`` per change."""
        return [change.details() for change in self.changes]

    def apply(self, context: Any) -> List[Any]:
        """Apply every change in order; the result of each."""
        return [change.apply(context) for change in self.changes]

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
