# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The API client's retry rules: which failures are retried, which are ambiguous, how long to wait.

Plain functions with no I/O, so that each rule is tested on its own.
"""

from __future__ import annotations

import email.utils
import time
from typing import Callable, Optional

RETRY_STATUSES = frozenset((429, 502, 503, 504))
# After one of these the server may have done the work: a POST is read back before it is retried.
AMBIGUOUS_STATUSES = frozenset((502, 504))
# Backoff: attempt n sleeps a random time in [0, min(cap, base * 2**n)] ("full jitter").
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_CAP = 20.0


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_delay(attempt: int, retry_after: Optional[float], retry_after_cap: float, rng: Callable[[], float],
                backoff_base: float = DEFAULT_BACKOFF_BASE, backoff_cap: float = DEFAULT_BACKOFF_CAP) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After (capped), else full-jitter backoff."""
    if retry_after is not None:
        return min(retry_after, retry_after_cap)
    return rng() * min(backoff_cap, backoff_base * (2 ** attempt))


def never_connected(exc: BaseException) -> bool:
    """True when the connection was refused or the name did not resolve, so nothing can have been sent."""
    text = repr(exc)
    return any(marker in text for marker in ("ConnectionRefusedError", "NewConnectionError", "NameResolutionError", "Errno 111"))
