# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The log of API requests that tests read to see what a client actually did.

Entries hold the method, path, query string, status, and who the caller was, never a
header or a body: secrets travel in those. Query values that look like a secret (an
access key or a JWT) are masked too, in case a client ever puts one in a URL.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qsl, urlencode

from izuma_emulator.auth import looks_like_jwt
from izuma_emulator.clock import Clock, format_time


def redact_query(query: str) -> str:
    """Return the query string with secret-looking values replaced by ``REDACTED``."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = [(name, "REDACTED" if value.startswith("ak_") or looks_like_jwt(value) else value) for name, value in pairs]
    return urlencode(masked, safe=",")


class RequestLog:
    """An append-only, clearable list of request summaries."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[dict[str, object]] = []
        self._seq = 0

    def add(self, method: str, path: str, query: str, status: int, auth: str,
            application_id: str | None, fault: str | None = None) -> dict[str, object]:
        """Record one request; status 0 means the connection was dropped without an answer."""
        with self._lock:
            self._seq += 1
            entry: dict[str, object] = {
                "seq": self._seq,
                "time": format_time(self._clock.now()),
                "method": method,
                "path": path,
                "query": redact_query(query),
                "status": status,
                "auth": auth,
                "application_id": application_id,
                "fault": fault,
            }
            self._entries.append(entry)
            return entry

    def entries(self) -> list[dict[str, object]]:
        """A copy of all entries, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Forget all entries (the sequence number keeps counting)."""
        with self._lock:
            self._entries.clear()
