# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The REST API: routing, authentication, authorization, bodies and the IAM operations.

A request is answered in this order: authenticate (401), find the route (404) and
method (405), authorize (403), read the JSON body (415/400), then the operation
(400/404/409/412 ...). The whole request runs under the store lock.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from izuma_emulator.auth import Authenticator, Principal, may_call
from izuma_emulator.keys import ApplicationKeys
from izuma_emulator.listing import Item, ListQuery, parse_list_query, render_list
from izuma_emulator.messages import ApiError, Response, error_response
from izuma_emulator.store import Store
from izuma_emulator.validation import STATUSES

_ID = r"(?P<{0}>[^/]+)"


@dataclass
class ApiRequest:
    """One API request as the operations see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str]

    def _json(self) -> object:
        """Return the JSON body, or raise 415/400 explaining what is wrong."""
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, "unsupported_media_type",
                           f"Content-Type must be application/json, got {media_type or 'none'}.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, "validation_error", f"The request body is not valid JSON: {error}.") from None

    def json_body(self) -> dict[str, object]:
        """Return the body as a JSON object, or raise 415/400 explaining what is wrong."""
        body = self._json()
        if not isinstance(body, dict):
            raise ApiError(400, "validation_error", "The request body must be a JSON object.")
        return body

    def id_list_body(self) -> list[str]:
        """Return the body as a JSON array of ids (the specification's GroupIdList), or raise 415/400."""
        body = self._json()
        if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
            raise ApiError(400, "validation_error", "The request body must be a JSON array of group ids.",
                           [{"name": "body", "message": "must be a JSON array of strings"}])
        return body

    @property
    def if_match(self) -> str | None:
        """The If-Match header, if sent."""
        return self.headers.get("If-Match")


Operation = Callable[[ApiRequest], Response]


@dataclass(frozen=True)
class Route:
    """A path pattern, its name (used in authorization) and its operations by method."""

    name: str
    pattern: re.Pattern[str]
    operations: dict[str, Operation]


def _pattern(*parts: str) -> re.Pattern[str]:
    return re.compile("^/v3/" + "/".join(_ID.format(part[1:-1]) if part.startswith("{") else part for part in parts) + "$")


def _object(body: dict[str, object], status: int = 200) -> Response:
    """An object response, with its etag also as an ETag header."""
    return Response(status, body, {"ETag": f"\"{body['etag']}\""})


class Api:
    """Answers ``/v3`` requests against one store."""

    def __init__(self, store: Store, admin_key: str) -> None:
        self.store = store
        self.authenticator = Authenticator(store, admin_key)
        app = "{application_id}"
        self.routes = [
            Route("applications", _pattern("applications"),
                  {"GET": self.list_applications, "POST": self.create_application}),
            Route("application", _pattern("applications", app),
                  {"GET": self.get_application, "PUT": self.update_application, "DELETE": self.delete_application}),
            Route("application-groups", _pattern("applications", app, "groups"), {"GET": self.list_application_groups}),
            Route("application-groups-add", _pattern("applications", app, "groups", "add"), {"POST": self.add_to_groups}),
            Route("application-groups-remove", _pattern("applications", app, "groups", "remove"),
                  {"POST": self.remove_from_groups}),
            *KeyEndpoints(self, store.verification_keys).routes(),
            *KeyEndpoints(self, store.access_keys).routes(),
            Route("account-access-keys", _pattern("access-keys"), {"GET": self.list_account_access_keys}),
            Route("account-access-key", _pattern("access-keys", "{key_id}"), {"GET": self.get_account_access_key}),
            Route("policy-groups", _pattern("policy-groups"), {"GET": self.list_groups}),
            Route("policy-group", _pattern("policy-groups", "{group_id}"), {"GET": self.get_group}),
            Route("policy-group-applications", _pattern("policy-groups", "{group_id}", "applications"),
                  {"GET": self.list_group_applications}),
        ]

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> tuple[Response, Principal | None]:
        """Answer one request; return the response and the authenticated caller (None if not authenticated)."""
        principal: Principal | None = None
        with self.store.lock:
            try:
                principal = self.authenticator.authenticate(headers)
                route, params = self._route(method, path)
                if not may_call(self.store, principal, route.name, method, params):
                    raise ApiError(403, "access_denied", f"The caller may not {method} {path}: it needs the Administrators group.")
                request = ApiRequest(method, path, parse_qs(query, keep_blank_values=True), headers, body, params)
                return route.operations[method](request), principal
            except ApiError as error:
                return error.response(), principal
            except Exception:  # an emulator bug: answer like the real API would, and show it to whoever runs the emulator
                traceback.print_exc()
                return error_response(500, "internal_server_error", "The emulator failed; see its stderr."), principal

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                if method not in route.operations:
                    allowed = ", ".join(route.operations)
                    raise ApiError(405, "method_not_supported", f"{method} is not supported on {path}; use {allowed}.",
                                   headers={"Allow": allowed})
                return route, match.groupdict()
        raise ApiError(404, "not_found", f"There is no API endpoint at {path}.")

    def list_query(self, request: ApiRequest, filters: Mapping[str, Sequence[str] | None] | None = None) -> ListQuery:
        """Validate a list request's query string against the standard parameters and ``filters``."""
        return parse_list_query(request.query, self.store.settings, filters or {})

    def page(self, kind: str, items: list[Item], query: ListQuery, render: Callable[[Item], dict[str, object]]) -> Response:
        """One page of ``items`` (already filtered) in the list envelope; ``after`` is an id of ``kind``."""
        return Response(200, render_list(items, query, lambda ident: self.store.cursor_position(kind, ident), render))

    # ---- policy groups ------------------------------------------------------------------

    def list_groups(self, request: ApiRequest) -> Response:
        """GET /v3/policy-groups (``name__eq`` lets a client resolve a group name)."""
        query = self.list_query(request, {"name__eq": None})
        groups = [group for group in self.store.groups.values() if query.filters.get("name__eq", group.name) == group.name]
        return self.page("policy-group", groups, query, self.store.render_group)

    def list_group_applications(self, request: ApiRequest) -> Response:
        """GET /v3/policy-groups/{group_id}/applications: the applications in a group."""
        group = self.store.get_group(request.params["group_id"])
        query = self.list_query(request, {"status__eq": STATUSES})
        applications = [item for item in self.store.applications_in(group.id) if query.filters.get("status__eq", item.status) == item.status]
        return self.page("application", applications, query, self.store.render_application)

    def get_group(self, request: ApiRequest) -> Response:
        """GET /v3/policy-groups/{group_id}."""
        return _object(self.store.render_group(self.store.get_group(request.params["group_id"])))

    # ---- applications -------------------------------------------------------------------

    def list_applications(self, request: ApiRequest) -> Response:
        """GET /v3/applications (filter ``status__eq``)."""
        query = self.list_query(request, {"status__eq": STATUSES})
        applications = [item for item in self.store.applications.values() if query.filters.get("status__eq", item.status) == item.status]
        return self.page("application", applications, query, self.store.render_application)

    def create_application(self, request: ApiRequest) -> Response:
        """POST /v3/applications."""
        return _object(self.store.render_application(self.store.create_application(request.json_body())), 201)

    def get_application(self, request: ApiRequest) -> Response:
        """GET /v3/applications/{application_id}."""
        return _object(self.store.render_application(self.store.get_application(request.params["application_id"])))

    def update_application(self, request: ApiRequest) -> Response:
        """PUT /v3/applications/{application_id}."""
        application = self.store.update_application(request.params["application_id"], request.json_body(), request.if_match)
        return _object(self.store.render_application(application))

    def delete_application(self, request: ApiRequest) -> Response:
        """DELETE /v3/applications/{application_id} (cascades to the application's keys)."""
        self.store.delete_application(request.params["application_id"], request.if_match)
        return Response(204)

    # ---- an application's groups --------------------------------------------------------

    def list_application_groups(self, request: ApiRequest) -> Response:
        """GET /v3/applications/{application_id}/groups: the policy groups the application is in."""
        application = self.store.get_application(request.params["application_id"])
        query = self.list_query(request)
        return self.page("policy-group", [self.store.groups[ident] for ident in application.groups], query, self.store.render_group)

    def add_to_groups(self, request: ApiRequest) -> Response:
        """POST /v3/applications/{application_id}/groups/add with a JSON array of group ids."""
        self.store.change_groups(request.params["application_id"], request.id_list_body(), add=True)
        return Response(204)

    def remove_from_groups(self, request: ApiRequest) -> Response:
        """POST /v3/applications/{application_id}/groups/remove with a JSON array of group ids."""
        self.store.change_groups(request.params["application_id"], request.id_list_body(), add=False)
        return Response(204)

    # ---- the account's access keys ------------------------------------------------------

    def list_account_access_keys(self, request: ApiRequest) -> Response:
        """GET /v3/access-keys: every application's access keys (filters ``status__eq``, ``application_id__eq``)."""
        keys = self.store.access_keys
        query = self.list_query(request, {**keys.filters, "application_id__eq": None})
        return self.page(keys.kind, [key for key in keys.records.values() if keys.matches(key, query.filters)], query, keys.render)

    def get_account_access_key(self, request: ApiRequest) -> Response:
        """GET /v3/access-keys/{key_id}."""
        return _object(self.store.access_keys.render(self.store.access_keys.get_any(request.params["key_id"])))


class KeyEndpoints:
    """The endpoints of one kind of application key: ``/v3/applications/{id}/<kind>s[/{key_id}]``."""

    def __init__(self, api: Api, keys: ApplicationKeys) -> None:  # type: ignore[type-arg]
        self.api = api
        self.keys = keys

    def routes(self) -> list[Route]:
        """The list route (GET, POST) and the item route (GET, PUT, DELETE), named after the kind."""
        plural = self.keys.kind + "s"
        return [
            Route(plural, _pattern("applications", "{application_id}", plural), {"GET": self.list_keys, "POST": self.create_key}),
            Route(self.keys.kind, _pattern("applications", "{application_id}", plural, "{key_id}"),
                  {"GET": self.get_key, "PUT": self.update_key, "DELETE": self.delete_key}),
        ]

    def list_keys(self, request: ApiRequest) -> Response:
        """GET the keys of one application, with the kind's filters."""
        application = self.api.store.get_application(request.params["application_id"])
        query = self.api.list_query(request, self.keys.filters)
        keys = [key for key in self.keys.of(application.id) if self.keys.matches(key, query.filters)]
        return self.api.page(self.keys.kind, keys, query, self.keys.render)

    def create_key(self, request: ApiRequest) -> Response:
        """POST a new key (an access key's create response is the only one that carries its secret)."""
        return _object(self.keys.create(request.params["application_id"], request.json_body()), 201)

    def get_key(self, request: ApiRequest) -> Response:
        """GET one key."""
        return _object(self.keys.render(self.keys.get(request.params["application_id"], request.params["key_id"])))

    def update_key(self, request: ApiRequest) -> Response:
        """PUT: a partial update of one key."""
        key = self.keys.update(request.params["application_id"], request.params["key_id"], request.json_body(), request.if_match)
        return _object(self.keys.render(key))

    def delete_key(self, request: ApiRequest) -> Response:
        """DELETE one key."""
        self.keys.delete(request.params["application_id"], request.params["key_id"], request.if_match)
        return Response(204)
