# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One emulator instance: its account, clock, settings, faults, rate limit and request log."""

from __future__ import annotations

import secrets

from izuma_emulator.api import Api
from izuma_emulator.clock import Clock
from izuma_emulator.faults import FaultBook, RateLimiter
from izuma_emulator.requestlog import RequestLog
from izuma_emulator.settings import Settings
from izuma_emulator.store import Store


def generate_admin_key() -> str:
    """Return a fresh bootstrap administrator access key: ``ak_`` and 32 hex characters."""
    return "ak_" + secrets.token_hex(16)


class EmulatorApp:
    """Everything the HTTP server and the control interface act on."""

    def __init__(self, admin_key: str, settings: Settings | None = None) -> None:
        if not admin_key.startswith("ak_"):
            raise ValueError("the administrator access key must start with ak_")
        self.admin_key = admin_key
        self.initial_settings = settings or Settings()
        self.clock = Clock()
        self.store = Store(self.clock, self.initial_settings)
        self.api = Api(self.store, admin_key)
        self.faults = FaultBook()
        self.rate_limiter = RateLimiter()
        self.log = RequestLog(self.clock)
        # Filled in by the server once it is listening.
        self.url = ""
        self.ca_bundle: str | None = None

    def reset(self) -> None:
        """Back to a fresh start: empty account, startup settings, no faults, no clock shift, no rate limit, empty log.

        The administrator key, the account id and the policy groups are kept.
        """
        self.faults.clear()
        self.rate_limiter.configure(None, None)
        self.clock.set_offset(0)
        with self.store.lock:
            self.store.clear()
            self.store.settings = self.initial_settings
        self.log.clear()
