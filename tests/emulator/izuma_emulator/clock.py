# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's notion of "now", which tests can shift, and RFC 3339 formatting.

Everything time-dependent (timestamps, certificate validity, access-key expiry and
JWT ``exp``/``nbf``) reads this clock, so a test can jump into the future instead
of waiting for a certificate or token to expire.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """Wall-clock time plus an offset in seconds that the control interface can set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    @property
    def offset_seconds(self) -> float:
        """The current shift from real time, in seconds (may be negative)."""
        with self._lock:
            return self._offset

    def set_offset(self, seconds: float) -> None:
        """Shift the emulator's now by ``seconds`` from real time."""
        with self._lock:
            self._offset = float(seconds)

    def now(self) -> datetime:
        """Return the emulator's current time, timezone-aware UTC, truncated to milliseconds.

        Truncating here means a stored timestamp equals what clients see, so ordering
        by the stored value and by the rendered value agree.
        """
        moment = datetime.now(timezone.utc) + timedelta(seconds=self.offset_seconds)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_time(moment: datetime | None) -> str | None:
    """Render a time as RFC 3339 UTC with milliseconds and ``Z`` (None stays None)."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: object) -> datetime:
    """Parse an RFC 3339 timestamp with a ``Z`` or numeric offset; raise ValueError otherwise."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("must be an RFC 3339 timestamp such as 2030-01-31T12:00:00Z")
    # Python 3.10's fromisoformat takes neither a "Z" nor fractions of other than 3 or 6 digits: give it +00:00 and 6.
    stamp = re.sub(r"[zZ]$", "+00:00", text.strip())
    stamp = re.sub(r"\.(\d+)", lambda match: "." + (match.group(1) + "000000")[:6], stamp, count=1)
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (Z or +hh:mm)")
    return moment.astimezone(timezone.utc)
