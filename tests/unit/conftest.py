# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures: a local Izuma API emulator served from a thread, and API clients for it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ansible.plugins.loader import init_plugin_loader

# Ansible's collection loader, before anything imports ansible_collections (as ansible-playbook and ansible-test units
# install it): the plugins' tests load them through Ansible's plugin loader, with the options of their documentation.
# The tests run in a collection tree, .../ansible_collections/izuma/device_management (hack/build-tree.sh).
init_plugin_loader([str(Path(__file__).resolve().parents[5])])

from izuma_emulator.testing import ThreadedEmulator, start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[ThreadedEmulator]:
    """One emulator for the whole session (one per xdist worker)."""
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: ThreadedEmulator) -> ThreadedEmulator:
    """The session's emulator, emptied for this test."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def admin_client(emulator: ThreadedEmulator) -> IzumaClient:
    """A client of the collection authenticated with the emulator's administrator key."""
    return IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
