# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every stored object has, and the statuses objects take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
EXPIRED = "EXPIRED"


@dataclass(kw_only=True)
class Record:
    """What every stored object has: identity, name, description, timestamps and etag."""

    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = None
    etag: int = 1

    def written(self, now: datetime) -> None:
        """Mark a write: the etag changes on every write, as the contract requires."""
        self.updated_at = now
        self.etag += 1


@dataclass(kw_only=True)
class StatusRecord(Record):
    """A record with an ACTIVE/INACTIVE status that a client sets: applications and keys."""

    status: str
