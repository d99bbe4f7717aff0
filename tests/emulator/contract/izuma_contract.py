# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's contract: the public Pelion IAM specification plus the decisions recorded where they differ.

``patched_spec()`` is the copy in ``tests/emulator/spec/`` (Swagger 2.0, unchanged) with each decision of
tests/emulator/README.md ("Held against the public specification") applied to it, and nothing else: every
allowance the contract test makes is one of ``DECISIONS``, named after the README's entry. ``Contract.check``
validates one response (status code, Content-Type, body schema with formats such as ``date-time``) against it
with jsonschema (Swagger 2.0 schema objects are JSON Schema draft 4 with extra keywords, which draft 4 ignores).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

SPEC_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "spec", "pelion-iam-applications.swagger.yaml")

JSON = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def load_spec() -> JSON:
    """The specification exactly as copied."""
    with open(SPEC_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _operations(spec: JSON) -> Iterator[tuple[str, str, JSON]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _error(description: str) -> JSON:
    return {"description": description, "schema": {"$ref": "#/definitions/ErrorResponse"}}


def _add_status(spec: JSON, status: str, description: str, when: Callable[[str, str, JSON], bool]) -> None:
    for path, method, operation in _operations(spec):
        if when(path, method, operation):
            operation["responses"].setdefault(status, _error(description))


def _has_body(_path: str, _method: str, operation: JSON) -> bool:
    return any(parameter.get("in") == "body" for parameter in operation.get("parameters", []))


# ---- the decisions (README: "Held against the public specification") --------------------------------------------


def after_may_be_null(spec: JSON) -> None:
    """Absent values: a list's ``after`` is null when the request had none, as the specification's recorded examples show."""
    for name in ("AccessKeyList", "ApplicationList", "GroupSummaryList"):
        spec["definitions"][name]["properties"]["after"]["x-nullable"] = True


def put_application_answers_an_application(spec: JSON) -> None:
    """PUT /v3/applications/{id} answers the application: the specification's ApiKeyInfoResp (object api-key) is a slip."""
    spec["paths"]["/v3/applications/{application_id}"]["put"]["responses"]["200"]["schema"] = {"$ref": "#/definitions/Application"}


def errors_the_specification_does_not_list(spec: JSON) -> None:
    """Undocumented error statuses, each in the ErrorResponse envelope.

    400 for any bad query parameter or body; 409 for a duplicate name; 412 for a stale If-Match; 415 for a body that
    is not JSON; 404 for any unknown id in the path; 429 (rate limit) and 500, 502, 503, 504 (injected faults) anywhere.
    """
    _add_status(spec, "400", "Bad query parameters or body (emulator decision).", lambda *_: True)
    _add_status(spec, "404", "An id in the path names nothing (emulator decision).", lambda path, *_: "{" in path)
    _add_status(spec, "409", "A duplicate name (emulator decision, setting duplicate_status).",
                lambda path, method, _: method in ("post", "put") and not path.endswith("/groups/remove"))
    _add_status(spec, "412", "If-Match names a stale etag (emulator decision, setting honour_if_match).",
                lambda _path, method, _: method in ("put", "delete"))
    _add_status(spec, "415", "The body is not application/json (emulator decision).", _has_body)
    for status in ("429", "500", "502", "503", "504"):
        _add_status(spec, status, "Rate limit or injected fault (emulator decision).", lambda *_: True)


def policy_groups_are_fixed(spec: JSON) -> None:
    """The emulator's two policy groups are fixed: creating, renaming, deleting and filling groups answer 405."""
    for path, method in (("/v3/policy-groups", "post"), ("/v3/policy-groups/{group_id}", "put"),
                         ("/v3/policy-groups/{group_id}", "post"), ("/v3/policy-groups/{group_id}", "delete")):
        spec["paths"][path][method]["responses"]["405"] = _error("The emulator's policy groups are fixed (emulator decision).")


def applications_of_a_group(spec: JSON) -> None:
    """GET /v3/policy-groups/{group_id}/applications is not in the excerpt; it answers an ApplicationList."""
    listing = spec["paths"]["/v3/applications"]["get"]
    spec["paths"]["/v3/policy-groups/{group_id}/applications"] = {"get": {
        "operationId": "getApplicationsOfGroup",
        "x-izuma-decision": "not in the excerpt of the public specification",
        "parameters": [{"in": "path", "name": "group_id", "required": True, "type": "string"},
                       *copy.deepcopy(listing["parameters"])],
        "produces": ["application/json"],
        "responses": {"200": {"description": "The applications in the group.", "schema": {"$ref": "#/definitions/ApplicationList"}},
                      **copy.deepcopy({code: value for code, value in listing["responses"].items() if code != "200"}),
                      "404": _error("A group with the given ID does not exist.")},
    }}


# The settings that choose between the specification's reading (the default) and the emulator's earlier one.
# A test that switches one of them is checking the earlier reading on purpose: its responses are not held to the
# specification while the setting is changed.
SPEC_SETTINGS = ("accept_read_only_fields", "always_total_count", "show_access_key_without_secret",
                 "allow_inactive_on_expired_key", "absent_values", "limit_exceeded_status", "duplicate_status")

DECISIONS: tuple[Callable[[JSON], None], ...] = (
    after_may_be_null,
    put_application_answers_an_application,
    errors_the_specification_does_not_list,
    policy_groups_are_fixed,
    applications_of_a_group,
)


def patched_spec() -> JSON:
    """The specification with every recorded decision applied."""
    spec = load_spec()
    for decision in DECISIONS:
        decision(spec)
    return spec


# ---- validation --------------------------------------------------------------------------------------------------


def _json_schema(schema: Any) -> Any:
    """Swagger 2.0's ``x-nullable: true`` as draft 4 says it (a null type besides the declared one)."""
    if isinstance(schema, dict):
        converted = {key: _json_schema(value) for key, value in schema.items()}
        if converted.get("x-nullable") and isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        return converted
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


def format_checker() -> jsonschema.FormatChecker:
    """Draft 4 formats (``date-time`` by RFC 3339) and OpenAPI's ``int32``/``int64`` ranges."""
    checker = copy.deepcopy(jsonschema.Draft4Validator.FORMAT_CHECKER)
    if "date-time" not in checker.checkers:
        raise RuntimeError("jsonschema cannot check date-time: rfc3339-validator is missing from requirements/contract.txt")
    for name, bits in (("int32", 31), ("int64", 63)):
        checker.checks(name)(lambda value, bits=bits: not isinstance(value, int) or -(2 ** bits) <= value < 2 ** bits)
    return checker


@dataclass
class Checked:
    """What the contract made of one response."""

    operation: str | None
    problems: list[str] = field(default_factory=list)


class Contract:
    """Checks responses against the patched specification."""

    def __init__(self, spec: JSON | None = None) -> None:
        self.spec = spec or patched_spec()
        self.definitions = _json_schema(self.spec["definitions"])
        self.checker = format_checker()
        self._routes = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in self.spec["paths"]]
        # A literal segment beats a parameter: /v3/applications/{id}/groups/add before any looser match.
        self._routes.sort(key=lambda route: route[1].count("{"))

    def operation(self, method: str, path: str) -> tuple[str, JSON] | None:
        """The specification's path template and operation for a request, None when it has none."""
        for pattern, template in self._routes:
            if pattern.match(path):
                operation = self.spec["paths"][template].get(method.lower())
                return (template, operation) if operation else None
        return None

    def validate(self, schema: JSON, body: Any) -> list[str]:
        """Problems of ``body`` against ``schema`` (refs resolve against the specification's definitions)."""
        validator = jsonschema.Draft4Validator({**_json_schema(schema), "definitions": self.definitions},
                                               format_checker=self.checker)
        return [f"{'/'.join(str(part) for part in error.absolute_path) or '(body)'}: {error.message}"
                for error in sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))]

    def check(self, method: str, path: str, status: int, content_type: str | None, body: bytes) -> Checked:
        """Check one response of the API (paths under /v3 only)."""
        found = self.operation(method, path)
        if found is None:
            # No operation in the specification (verification keys, an unknown path or method): every error
            # still comes in the one ErrorResponse envelope; a success cannot be checked.
            if status < 400 or method.upper() == "HEAD":  # a HEAD answer never has a body
                return Checked(None)
            return Checked(None, self._body(_error("any error"), content_type, body))
        template, operation = found
        label = f"{method.upper()} {template}"
        response = operation["responses"].get(str(status))
        if response is None:
            return Checked(label, [f"{label}: status {status} is not documented (documented: {', '.join(operation['responses'])})"])
        return Checked(label, [f"{label} {status}: {problem}" for problem in self._body(response, content_type, body)])

    def _body(self, response: JSON, content_type: str | None, body: bytes) -> list[str]:
        if "schema" not in response:
            return [] if not body else [f"has a body ({len(body)} bytes) where none is documented"]
        if (content_type or "").split(";")[0].strip() != "application/json":
            return [f"Content-Type is {content_type!r}, not application/json"]
        try:
            document = json.loads(body)
        except ValueError as error:
            return [f"the body is not JSON: {error}"]
        return self.validate(response["schema"], document)
