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

from typing import Any, Dict, List, Optional


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


class IzumaMissingError(IzumaConfigError):
    """The resource the task names (by id or by name) is not there: the API answered 404, or a list lacks it.

    Its own type so that a module's failure can say so in a form a playbook can test (``error.type == 'not_found'``),
    e.g. the jwt_rotation role, which then finds a deleted application again by name instead of failing.
    """

    def to_dict(self) -> Dict[str, Any]:
        """The error's details for a module result, in the shape of an API error's (nothing here is secret)."""
        return {"status": 404, "type": "not_found", "message": self.message, "fields": [], "request_id": None}


class IzumaApiError(IzumaError):
    """An API call failed: the HTTP status and the server's error envelope, never a secret."""

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        error_type: Optional[str] = None,
        fields: Optional[List[Dict[str, str]]] = None,
        request_id: Optional[str] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = error_type
        self.fields = fields or []
        self.request_id = request_id
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = "%s %s" % (self.method, self.path) if self.method else "Izuma API request"
        status = " %s" % self.status if self.status else ""
        kind = " %s" % self.type if self.type else ""
        text = "%s failed:%s%s: %s" % (where, status, kind, self.message)
        if self.fields:
            text += " (" + "; ".join("%s: %s" % (f.get("name"), f.get("message")) for f in self.fields) + ")"
        if self.request_id:
            text += " [request_id %s]" % self.request_id
        return text

    def to_dict(self) -> Dict[str, Any]:
        """The error's details for a module result (safe: nothing here is secret)."""
        return {
            "status": self.status,
            "type": self.type,
            "message": self.message,
            "fields": self.fields,
            "request_id": self.request_id,
        }
