# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Responses and errors as the emulator puts them on the wire.

Every error uses the contract's envelope:
``{"object": "error", "code", "type", "message", "fields"?, "request_id"}``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

# The error type a status gets when nothing more specific is said (fault injection uses it).
DEFAULT_ERROR_TYPES: dict[int, str] = {
    400: "validation_error",
    401: "invalid_auth",
    403: "access_denied",
    404: "not_found",
    405: "method_not_supported",
    409: "duplicate",
    412: "precondition_failed",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
    500: "internal_server_error",
    502: "internal_server_error",
    503: "system_unavailable",
    504: "internal_server_error",
}


def new_id() -> str:
    """Return a fresh identifier: 32 lowercase hex characters, like the API's ids."""
    return secrets.token_hex(16)


def default_error_type(status: int) -> str:
    """Return the contract's error type for an HTTP status."""
    if status in DEFAULT_ERROR_TYPES:
        return DEFAULT_ERROR_TYPES[status]
    return "internal_server_error" if status >= 500 else "validation_error"


@dataclass
class Response:
    """One HTTP answer: status, JSON-serialisable body (None for no body) and extra headers."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded_body(self) -> bytes:
        """Return the body as UTF-8 JSON bytes (empty when there is no body)."""
        if self.body is None:
            return b""
        return json.dumps(self.body, sort_keys=True).encode("utf-8")


class ApiError(Exception):
    """An error answer; raised anywhere below the HTTP layer and rendered by it."""

    def __init__(self, status: int, error_type: str, message: str,
                 fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.fields = fields or []
        self.headers = headers or {}

    def response(self) -> Response:
        """Render the error in the contract's envelope, with a fresh request id."""
        return error_response(self.status, self.error_type, self.message, self.fields, self.headers)


def error_response(status: int, error_type: str, message: str,
                   fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> Response:
    """Build an error response in the contract's envelope."""
    body: dict[str, object] = {
        "object": "error",
        "code": status,
        "type": error_type,
        "message": message,
        "request_id": new_id(),
    }
    if fields:
        body["fields"] = fields
    return Response(status, body, dict(headers or {}))


def validation_error(fields: list[tuple[str, str]], message: str = "Validation failed.") -> ApiError:
    """Return a 400 validation_error naming each offending field."""
    listed = [{"name": name, "message": text} for name, text in fields]
    if len(listed) == 1:
        message = f"Validation failed: {listed[0]['name']} {listed[0]['message']}"
    return ApiError(400, "validation_error", message, listed)


def not_found(what: str, ident: str) -> ApiError:
    """Return a 404 not_found for a missing object."""
    return ApiError(404, "not_found", f"{what} {ident} was not found.")
