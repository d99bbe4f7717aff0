# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the rotation tests: the emulator as a subprocess (ansible-playbook runs in other processes)."""

from __future__ import annotations

import sys
from typing import Iterator

import pytest

from fleet import COLLECTION_ROOT

sys.path.insert(0, str(COLLECTION_ROOT / "tests" / "emulator"))

from izuma_emulator.testing import Emulator  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for a test module; tests that need a clean account reset it."""
    with Emulator() as running:
        yield running
