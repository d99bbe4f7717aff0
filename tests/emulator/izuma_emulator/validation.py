# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading request bodies field by field, collecting every problem before answering.

A client gets one 400 ``validation_error`` listing all bad fields, rather than
fixing them one round trip at a time.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from izuma_emulator.clock import parse_time
from izuma_emulator.messages import validation_error

STATUSES = ("ACTIVE", "INACTIVE")


class Missing:
    """Marks a field that the body does not contain (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


class BodyReader:
    """Typed access to a JSON request body; ``finish()`` raises the collected field errors."""

    def __init__(self, body: dict[str, object], writable: Collection[str], reject_unknown: bool,
                 ignored: Collection[str] = ()) -> None:
        """``ignored`` names fields that may be sent and are not read (an object's read-only fields)."""
        self.body = body
        self.errors: list[tuple[str, str]] = []
        if reject_unknown:
            for name in body:
                if name not in writable and name not in ignored:
                    self.errors.append((name, f"is not a writable field; writable fields are {', '.join(writable)}"))

    def add(self, name: str, message: str) -> None:
        """Record a problem with field ``name``."""
        self.errors.append((name, message))

    def finish(self) -> None:
        """Raise a 400 validation_error if any problem was recorded."""
        if self.errors:
            raise validation_error(self.errors)

    def text(self, name: str, max_chars: int, required: bool = False, nullable: bool = False) -> str | Missing | None:
        """Return a string field, MISSING when absent; a required one must be non-blank."""
        if name not in self.body:
            if required:
                self.add(name, "is required")
            return MISSING
        value = self.body[name]
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.add(name, "must be a string")
            return MISSING
        if required and not value.strip():
            self.add(name, "must not be empty")
            return MISSING
        if len(value) > max_chars:
            self.add(name, f"must be at most {max_chars} characters long, got {len(value)}")
            return MISSING
        return value

    def status(self, name: str = "status") -> str | Missing:
        """Return an ``ACTIVE``/``INACTIVE`` field, MISSING when absent."""
        if name not in self.body:
            return MISSING
        value = self.body[name]
        if value not in STATUSES:
            self.add(name, f"must be one of {', '.join(STATUSES)}")
            return MISSING
        return value

    def id_list(self, name: str, known: Collection[str]) -> list[str] | Missing:
        """Return a list of ids that must all be in ``known`` (duplicates collapse), MISSING when absent."""
        if name not in self.body:
            return MISSING
        value = self.body[name]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.add(name, "must be a list of ids")
            return MISSING
        unknown = [item for item in value if item not in known]
        if unknown:
            self.add(name, f"contains unknown ids: {', '.join(unknown)}")
            return MISSING
        return list(dict.fromkeys(value))

    def timestamp(self, name: str) -> datetime | None | Missing:
        """Return an RFC 3339 field as an aware datetime; null is allowed and means "none"."""
        if name not in self.body:
            return MISSING
        value = self.body[name]
        if value is None:
            return None
        try:
            return parse_time(value)
        except ValueError:
            self.add(name, "must be null or an RFC 3339 timestamp with a time zone, such as 2030-01-31T12:00:00Z")
            return MISSING
