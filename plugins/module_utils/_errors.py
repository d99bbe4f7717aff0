# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The exception types of the collection's core.

Every error raised by the core (API client, keys, tokens, files, plans) is an
``IzumaError``. Modules and plugins catch that one type and turn it into a
clean failure message. Messages never contain key material, tokens, passphrases
or access keys.
"""

from __future__ import annotations


class IzumaError(Exception):
    """Base class: a failure the user can act on, with a message fit to show."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class IzumaKeyError(IzumaError):
    """A private key or certificate is missing, unreadable, weak or mismatched."""


class IzumaTokenError(IzumaError):
    """A JWT cannot be signed or inspected as asked (algorithm, claims, lifetime)."""


class IzumaFileError(IzumaError):
    """A local file cannot be read or written safely."""


class IzumaConfigError(IzumaError):
    """The options given do not make a usable configuration."""
