# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List endpoints: query parsing, filtering, ordering, cursor paging and the list envelope.

Items are ordered by creation time, ties broken by id. ``after`` names the last id
of the previous page; the page holds the items that come after it in the requested
order. A cursor stays usable after its object is deleted (the store remembers the
sort position of every id it ever issued), so a client may delete while it pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from izuma_emulator.messages import validation_error
from izuma_emulator.settings import Settings


class Listable(Protocol):
    """What a listed object needs: an id and a creation time."""

    id: str
    created_at: datetime


Item = TypeVar("Item", bound=Listable)
SortKey = tuple[datetime, str]


@dataclass(frozen=True)
class ListQuery:
    """A validated list request."""

    limit: int
    after: str | None
    order: str
    include_total: bool
    filters: dict[str, str]
    # How the envelope shows an absent ``after``: as null, or not at all (Settings.absent_values).
    after_absent_as_null: bool = True


def sort_key(item: Listable) -> SortKey:
    """The position of an item in ASC order: creation time, then id."""
    return (item.created_at, item.id)


def parse_list_query(query: Mapping[str, Sequence[str]], settings: Settings,
                     allowed_filters: Mapping[str, Sequence[str] | None]) -> ListQuery:
    """Validate a list request's query string.

    ``allowed_filters`` maps each accepted filter parameter to its allowed values
    (None: any value). Any other parameter is refused, so a client relying on a
    filter the contract does not offer finds out instead of silently getting
    everything.
    """
    errors: list[tuple[str, str]] = []
    single: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1:
            errors.append((name, "must be given once"))
        else:
            single[name] = values[0]
    limit = settings.list_default_limit
    if "limit" in single:
        text = single.pop("limit")
        if not text.isdigit() or not settings.list_min_limit <= int(text) <= settings.list_max_limit:
            errors.append(("limit", f"must be an integer from {settings.list_min_limit} to {settings.list_max_limit}"))
        else:
            limit = int(text)
    # The specification names the values ASC and DESC without saying the case matters.
    order = single.pop("order", "ASC").upper()
    if order not in ("ASC", "DESC"):
        errors.append(("order", "must be ASC or DESC"))
    include = [part for part in single.pop("include", "").split(",") if part]
    if any(part != "total_count" for part in include):
        errors.append(("include", "may only be total_count"))
    # An empty after= is no cursor at all: the first page.
    after = single.pop("after", None) or None
    filters: dict[str, str] = {}
    for name, value in single.items():
        if name not in allowed_filters:
            accepted = ["limit", "after", "order", "include", *allowed_filters]
            errors.append((name, f"is not a supported query parameter; supported: {', '.join(accepted)}"))
            continue
        choices = allowed_filters[name]
        if choices is not None and value not in choices:
            errors.append((name, f"must be one of {', '.join(choices)}"))
        filters[name] = value
    if errors:
        raise validation_error(errors)
    return ListQuery(limit=limit, after=after, order=order, include_total="total_count" in include or settings.always_total_count,
                     filters=filters, after_absent_as_null=settings.absent_values != "omit")


def render_list(items: list[Item], query: ListQuery, cursor_position: Callable[[str], SortKey | None],
                render: Callable[[Item], dict[str, object]]) -> dict[str, object]:
    """Order, page and render already-filtered ``items`` into the list envelope."""
    descending = query.order == "DESC"
    ordered = sorted(items, key=sort_key, reverse=descending)
    if query.after is not None:
        position = cursor_position(query.after)
        if position is None:
            raise validation_error([("after", f"is not the id of an object in this list: {query.after}")])
        ordered = [item for item in ordered if (sort_key(item) < position if descending else sort_key(item) > position)]
    page = ordered[:query.limit]
    envelope: dict[str, object] = {
        "object": "list",
        "data": [render(item) for item in page],
        "has_more": len(ordered) > len(page),
        "after": query.after,
        "limit": query.limit,
        "order": query.order,
    }
    if query.after is None and not query.after_absent_as_null:
        del envelope["after"]
    if query.include_total:
        envelope["total_count"] = len(items)
    return envelope
