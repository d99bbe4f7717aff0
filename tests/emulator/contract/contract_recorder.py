# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pytest plugin (``-p contract_recorder``): every API response a test receives is checked against the contract.

It wraps ``requests.Session.send``, through which the emulator's own test suite sends every API request, so the
suite runs unchanged. A response that breaks the contract fails the test that received it (at its teardown),
naming the operation and the problem. The terminal summary counts what was checked, by operation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from izuma_contract import SPEC_SETTINGS, Contract

_CONTRACT = Contract()
_PROBLEMS: list[str] = []
_COUNTS: Counter[str] = Counter()
_original_send = requests.Session.send
_DEFAULTS: dict[str, object] = {}


def _spec_settings_changed(session: requests.Session, url: str) -> bool:
    """True when the emulator that answered runs with one of the specification's settings changed (by the test)."""
    parts = urlsplit(url)
    answer = _original_send(session, requests.Request("GET", f"{parts.scheme}://{parts.netloc}/_emulator/settings").prepare())
    settings = answer.json()
    if not _DEFAULTS:
        from izuma_emulator.settings import Settings  # the defaults, whatever the test changed
        _DEFAULTS.update(Settings().as_dict())
    return any(settings.get(name) != _DEFAULTS[name] for name in SPEC_SETTINGS)


def _send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    response = _original_send(self, request, **kwargs)
    path = urlsplit(request.url or "").path
    if not path.startswith("/v3/"):
        return response
    if kwargs.get("stream"):
        # Reading a streamed body here would hand the connection back before the test looks at it.
        _COUNTS["streamed (not read here)"] += 1
        return response
    checked = _CONTRACT.check(request.method or "GET", path, response.status_code,
                              response.headers.get("Content-Type"), response.content)
    if checked.problems and _spec_settings_changed(self, request.url or ""):
        _COUNTS["under a setting of the earlier reading"] += 1
        return response
    _COUNTS[checked.operation or "not in the specification"] += 1
    _PROBLEMS.extend(checked.problems)
    return response


def pytest_configure(config: pytest.Config) -> None:
    """Start recording before any test runs."""
    requests.Session.send = _send  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _contract_holds() -> Iterator[None]:
    """Fail the test if any response it received broke the contract."""
    del _PROBLEMS[:]
    yield
    problems, _PROBLEMS[:] = list(_PROBLEMS), []
    if problems:
        pytest.fail("responses that break the contract:\n" + "\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many responses were checked, by operation of the specification."""
    total = sum(_COUNTS.values())
    terminalreporter.write_sep("-", f"contract: {total} API responses checked against the specification")
    for operation, count in sorted(_COUNTS.items()):
        terminalreporter.write_line(f"{count:6d}  {operation}")
