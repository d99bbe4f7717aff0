# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test-only control interface under ``/_emulator/``.

It needs no authentication, is never logged in the request log, and is never subject
to faults or the rate limit, so a test can always inspect and repair the emulator.
Bodies are JSON whatever the Content-Type, so plain ``curl -d`` works.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from izuma_emulator.app import EmulatorApp
from izuma_emulator.clock import format_time
from izuma_emulator.messages import ApiError, Response, error_response

PREFIX = "/_emulator/"

Handler = Callable[[EmulatorApp, object], object]


def _reset(app: EmulatorApp, _body: object) -> object:
    app.reset()
    return {"reset": True}


def _state(app: EmulatorApp, _body: object) -> object:
    with app.store.lock:
        return app.store.dump()


def _log(app: EmulatorApp, _body: object) -> object:
    return app.log.entries()


def _clear_log(app: EmulatorApp, _body: object) -> object:
    app.log.clear()
    return {"cleared": True}


def _faults(app: EmulatorApp, _body: object) -> object:
    return app.faults.describe()


def _add_faults(app: EmulatorApp, body: object) -> object:
    try:
        return app.faults.add(body)
    except ValueError as error:
        raise ApiError(400, "validation_error", f"Bad fault rule: {error}.") from None


def _clear_faults(app: EmulatorApp, _body: object) -> object:
    app.faults.clear()
    return {"cleared": True}


def _release(app: EmulatorApp, _body: object) -> object:
    return {"released": app.faults.release()}


def _status(app: EmulatorApp, _body: object) -> object:
    status = app.faults.status()
    status.update({"url": app.url, "pid": os.getpid(), "now": format_time(app.clock.now()),
                   "clock_offset_seconds": app.clock.offset_seconds, "rate_limit": app.rate_limiter.describe()})
    return status


def _clock(app: EmulatorApp, _body: object) -> object:
    return {"offset_seconds": app.clock.offset_seconds, "now": format_time(app.clock.now())}


def _set_clock(app: EmulatorApp, body: object) -> object:
    offset = body.get("offset_seconds") if isinstance(body, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ApiError(400, "validation_error", "Send {\"offset_seconds\": <number>}.")
    app.clock.set_offset(offset)
    return _clock(app, body)


def _rate_limit(app: EmulatorApp, _body: object) -> object:
    return {"rate_limit": app.rate_limiter.describe()}


def _set_rate_limit(app: EmulatorApp, body: object) -> object:
    if not body:
        app.rate_limiter.configure(None, None)
        return _rate_limit(app, body)
    requests = body.get("requests") if isinstance(body, dict) else None
    per_seconds = body.get("per_seconds") if isinstance(body, dict) else None
    if (isinstance(requests, bool) or not isinstance(requests, int) or requests < 1
            or isinstance(per_seconds, bool) or not isinstance(per_seconds, (int, float)) or per_seconds <= 0):
        raise ApiError(400, "validation_error", "Send {\"requests\": <int >= 1>, \"per_seconds\": <number > 0>}, or {} to disable.")
    app.rate_limiter.configure(requests, float(per_seconds))
    return _rate_limit(app, body)


def _settings(app: EmulatorApp, _body: object) -> object:
    return app.store.settings.as_dict()


def _set_settings(app: EmulatorApp, body: object) -> object:
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", "Send a JSON object of settings to change.")
    with app.store.lock:
        try:
            app.store.settings = app.store.settings.updated(body)
        except ValueError as error:
            raise ApiError(400, "validation_error", f"Bad settings: {error}.") from None
        return app.store.settings.as_dict()


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "reset"): _reset,
    ("GET", "state"): _state,
    ("GET", "log"): _log,
    ("DELETE", "log"): _clear_log,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _add_faults,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "release"): _release,
    ("GET", "status"): _status,
    ("GET", "clock"): _clock,
    ("POST", "clock"): _set_clock,
    ("GET", "rate_limit"): _rate_limit,
    ("POST", "rate_limit"): _set_rate_limit,
    ("GET", "settings"): _settings,
    ("POST", "settings"): _set_settings,
}


def is_control_path(path: str) -> bool:
    """True for paths served by the control interface."""
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def handle_control(app: EmulatorApp, method: str, path: str, body: bytes) -> Response:
    """Answer one control request."""
    name = path[len(PREFIX):] if path.startswith(PREFIX) else ""
    handler = ROUTES.get((method, name))
    if handler is None:
        known = sorted({f"{verb} {PREFIX}{route}" for verb, route in ROUTES})
        status = 405 if any(route == name for _verb, route in ROUTES) else 404
        return error_response(status, "method_not_supported" if status == 405 else "not_found",
                              f"Unknown control request {method} {path}; known: {', '.join(known)}.")
    try:
        parsed = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError) as error:
        return error_response(400, "validation_error", f"The control request body is not valid JSON: {error}.")
    try:
        return Response(200, handler(app, parsed))
    except ApiError as error:
        return error.response()
