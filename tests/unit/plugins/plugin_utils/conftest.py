# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the plugin_utils tests: keys made once per process (see jwt_support)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import private_key


@pytest.fixture()
def ec256() -> t.Any:
    """A P-256 private key."""
    return private_key("P-256")
