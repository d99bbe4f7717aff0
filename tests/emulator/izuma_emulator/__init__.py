# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local emulator of the Izuma Device Management REST API (IAM subset).

It serves the contract in ``docs/api-contract.md``: applications, JWT
verification keys, access keys and policy groups, with access-key and JWT
authentication, plus a control interface under ``/_emulator/`` that tests use to
inject faults, shift the clock and read the request log.

It deliberately imports nothing from the collection's ``plugins/`` directory, so
that it stays an independent check of the collection's API client.
"""

from __future__ import annotations
