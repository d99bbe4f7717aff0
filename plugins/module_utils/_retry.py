# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The API client's retry rules: which failures are retried, which are ambiguous, how long to wait,
and what a read-back after an ambiguous failure decides.

Plain functions with no I/O, so that each rule is tested on its own.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Callable, Dict, Mapping, Optional

RETRY_STATUSES = frozenset((429, 502, 503, 504))
# After one of these the server may have done the work: a write (POST, PUT, DELETE) is read back before it is retried.
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


class Resend:
    """A read-back's verdict after an ambiguous failure: the server did not carry the request out, send it again.

    ``headers`` replace the request's own: for a PUT or DELETE they carry the ``If-Match`` of the object as the
    server holds it now, because the etag the request was sent with is stale if anything changed in between.
    """

    def __init__(self, headers: Optional[Mapping[str, str]] = None) -> None:
        self.headers: Dict[str, str] = dict(headers or {})


def if_match(etag: Optional[str]) -> Dict[str, str]:
    """The ``If-Match`` header for an etag, or no header without one."""
    return {"If-Match": etag} if etag else {}


def holds(current: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """True when the object read back already has every field a PUT sent, so that PUT was carried out.

    The comparison allows for what the API does to a value it stores: a null description reads back as ``""``,
    a list (policy group ids) comes back in any order without duplicates, text without surrounding whitespace, PEM
    with its lines wrapped differently.
    """
    return all(_same(current.get(name), wanted) for name, wanted in body.items())


def _same(have: Any, wanted: Any) -> bool:
    if wanted in (None, "") and have in (None, ""):
        return True
    if isinstance(wanted, (list, tuple)) and isinstance(have, (list, tuple)):
        return {repr(item) for item in wanted} == {repr(item) for item in have}
    if isinstance(wanted, str) and isinstance(have, str):
        if wanted.lstrip().startswith("-----BEGIN "):
            # PEM: a server may wrap or end the base64 lines differently; the text between the markers is what counts.
            return "".join(wanted.split()) == "".join(have.split())
        return wanted.strip() == have.strip()
    return bool(have == wanted)
