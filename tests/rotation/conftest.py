# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the rotation tests: the emulator as a subprocess (ansible-playbook runs in other processes)."""

from __future__ import annotations

from typing import Iterator

import pytest

# fleet puts the emulator's helpers on sys.path.
import fleet  # noqa: F401  pylint: disable=unused-import
from izuma_emulator.testing import Emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for a test module; tests that need a clean account reset it."""
    with Emulator() as running:
        yield running
