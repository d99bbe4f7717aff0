# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point for ``python -m izuma_emulator``."""

from __future__ import annotations

from izuma_emulator.cli import main

raise SystemExit(main())
