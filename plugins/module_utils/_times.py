# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""RFC 3339 time helpers: the one spelling of the API's timestamps, shared by keys, certificates, tokens and the client."""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def utcnow() -> datetime.datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def as_utc(value: t.Union[datetime.datetime, int, float]) -> datetime.datetime:
    """Return ``value`` as an aware UTC datetime.

    Naive datetimes are taken to be UTC already (cryptography returns naive UTC
    times on older versions); numbers are seconds since the epoch.
    """
    if isinstance(value, bool):
        raise TypeError("a time must be a datetime or seconds since the epoch, not a bool")
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if not isinstance(value, datetime.datetime):
        raise TypeError("a time must be a datetime or seconds since the epoch, got %s" % type(value).__name__)
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def to_rfc3339(value: t.Union[datetime.datetime, int, float]) -> str:
    """Format a time as RFC 3339 UTC with whole seconds, e.g. ``2026-11-28T17:00:00Z``.

    The API writes its timestamps this way; sub-second precision is dropped
    (truncated) so that values compare equal to the API's.
    """
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> datetime.datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime.

    Accepts ``Z`` or a numeric offset, and any number of fractional-second
    digits (Python 3.8's ``fromisoformat`` does not). Raises IzumaError naming
    the expected format when ``value`` is not such a timestamp.
    """
    if not isinstance(value, str):
        raise IzumaError("expected an RFC 3339 timestamp string such as 2026-11-28T17:00:00Z, got %s" % type(value).__name__)
    match = _RFC3339_RE.match(value.strip())
    if not match:
        raise IzumaError("%r is not an RFC 3339 timestamp: use the form 2026-11-28T17:00:00Z" % value[:40])
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    if zulu:
        tzinfo = datetime.timezone.utc
    else:
        offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m))
        tzinfo = datetime.timezone(-offset if sign == "-" else offset)
    try:
        parsed = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, tzinfo=tzinfo)
    except ValueError as exc:
        raise IzumaError("%r is not a valid RFC 3339 timestamp (%s): use the form 2026-11-28T17:00:00Z" % (value[:40], exc)) from None
    return parsed.astimezone(datetime.timezone.utc)
