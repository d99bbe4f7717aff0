# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the emulator's own tests: one in-process emulator per session, reset before each test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

# The package lives one directory up; put it on the path so the suite also runs without PYTHONPATH
# (for example as part of a repository-wide pytest run).
EMULATOR_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if EMULATOR_ROOT not in sys.path:
    sys.path.insert(0, EMULATOR_ROOT)

from emulator_helpers import ApiClient, CertFactory  # noqa: E402 (needs the path set above)
from izuma_emulator.testing import ThreadedEmulator, start_in_thread  # noqa: E402


@pytest.fixture(scope="session")
def emulator() -> Iterator[ThreadedEmulator]:
    """An emulator serving from a thread for the whole session (one per xdist worker)."""
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_emulator(request: pytest.FixtureRequest) -> None:
    """Give every test that uses the emulator an empty account and a clean control state."""
    if "emulator" in request.fixturenames or "api" in request.fixturenames:
        request.getfixturevalue("emulator").reset()


@pytest.fixture
def api(emulator: ThreadedEmulator) -> ApiClient:
    """An API client authenticated with the bootstrap administrator key."""
    return ApiClient(emulator.url, emulator.admin_key)


@pytest.fixture(scope="session")
def certs() -> CertFactory:
    """Keys and certificates, keys cached for the session."""
    return CertFactory()
