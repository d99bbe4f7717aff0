# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's pagination under both readings of the specification where it is ambiguous (issue 10).

The list schemas type ``after`` as a string and require ``total_count``, yet describe ``total_count`` as sent "if
requested", and the recorded examples show ``"after": null``. The client must page the same whether ``after`` is
null, absent or an id, and whether ``total_count`` is there or not: it follows ``has_more`` and the last id it got.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig

from izuma_emulator.testing import ThreadedEmulator

HOST = "https://api.example.test"
API_KEY = "ak_0123456789abcdef0123456789abcdef"


class Page:
    """A list answer, as much of requests.Response as the client reads."""

    status_code = 200
    reason = "OK"

    def __init__(self, body: Dict[str, Any]) -> None:
        self.headers = {"Content-Type": "application/json"}
        self.content = json.dumps(body).encode()

    def json(self) -> Any:
        return json.loads(self.content.decode())


class Pages:
    """A session that answers each request with the next page and remembers the query it was sent."""

    def __init__(self, pages: List[Dict[str, Any]]) -> None:
        self.pages = list(pages)
        self.queries: List[Dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Page:
        self.queries.append(dict(kwargs.get("params") or {}))
        return Page(self.pages.pop(0))


def _envelope(ids: List[str], has_more: Any, after: Any, total: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {"object": "list", "data": [{"id": ident} for ident in ids], "limit": 2, "order": "ASC"}
    for name, value in (("has_more", has_more), ("after", after), ("total_count", total)):
        if value != "absent":
            body[name] = value
    return body


@pytest.mark.parametrize("first_after", [None, "absent", ""])
@pytest.mark.parametrize("total", [5, None, "absent"])
@pytest.mark.parametrize("last_has_more", [False, None, "absent"])
def test_pages_alike_whatever_after_total_count_and_the_last_has_more(first_after: Any, total: Any, last_has_more: Any) -> None:
    session = Pages([
        _envelope(["a1", "a2"], True, first_after, total),
        _envelope(["a3", "a4"], True, "a2", total),          # the echo of the request's after, as the emulator sends it
        _envelope(["a5"], last_has_more, "absent", total),   # or no after at all
    ])
    client = IzumaClient(ClientConfig(api_host=HOST, api_key=API_KEY), session=session)  # type: ignore[arg-type]
    assert [item["id"] for item in client.list("/v3/applications", page_size=2)] == ["a1", "a2", "a3", "a4", "a5"]
    # The cursor is always the last id received, never the envelope's after.
    assert [query.get("after") for query in session.queries] == [None, "a2", "a4"]


@pytest.mark.parametrize("absent_values", ["spec", "null", "omit"])
@pytest.mark.parametrize("always_total_count", [True, False])
def test_pages_the_emulator_under_each_reading(emulator: ThreadedEmulator, absent_values: str, always_total_count: bool) -> None:
    emulator.settings(absent_values=absent_values, always_total_count=always_total_count)
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    created = [client.create("/v3/applications", {"name": "app-%d" % number})["id"] for number in range(5)]
    emulator.clear_log()
    listed = client.list("/v3/applications", page_size=2)
    assert sorted(item["id"] for item in listed) == sorted(created)
    assert len(emulator.log()) == 3
    # Fields without a value are null or absent by the reading; either way the client reads them as "none".
    assert all(item.get("last_used_at") is None for item in listed)
    assert ("last_used_at" in listed[0]) is (absent_values == "null")
