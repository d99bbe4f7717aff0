# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated account: applications and policy groups, with each application's keys (see keys.py).

Every method applies the contract's rules (field validation, uniqueness, limits,
If-Match) and raises ApiError when one is broken. The store is not locked per
method: the caller holds ``store.lock`` for a whole request, so a request sees and
changes a consistent account even with many concurrent clients.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from izuma_emulator.clock import Clock, format_time
from izuma_emulator.keys import AccessKeys, VerificationKeys
from izuma_emulator.listing import SortKey, sort_key
from izuma_emulator.messages import ApiError, new_id, not_found
from izuma_emulator.records import ACTIVE, Record, StatusRecord
from izuma_emulator.settings import Settings
from izuma_emulator.validation import MISSING, BodyReader, Missing

ADMINISTRATORS = "Administrators"
DEVELOPERS = "Developers"

APPLICATION_FIELDS = ("name", "description", "status", "groups")
# What every API object shows and no body can change (the specification's readOnly fields).
READ_ONLY_FIELDS = ("object", "id", "account_id", "created_at", "updated_at", "last_used_at", "etag")


@dataclass(kw_only=True)
class PolicyGroup(Record):
    """A fixed group; an application's rights come from the groups it belongs to."""


@dataclass(kw_only=True)
class Application(StatusRecord):
    """An application: the identity that access keys and JWTs authenticate as."""

    groups: list[str]


@dataclass
class Common:
    """The fields every writable object has, as read from a body (MISSING when not sent)."""

    name: str | Missing | None
    description: str | Missing | None
    status: str | Missing

    def initial(self) -> dict[str, str]:
        """The fields of a new object: what was sent, or the defaults ("" and ACTIVE)."""
        return {
            "name": str(self.name),
            "description": self.description if isinstance(self.description, str) else "",
            "status": self.status if isinstance(self.status, str) else ACTIVE,
        }

    def apply(self, record: StatusRecord) -> None:
        """Change what was sent; a description of null means ""."""
        if isinstance(self.name, str):
            record.name = self.name
        if self.description is not MISSING:
            record.description = self.description or ""
        if isinstance(self.status, str):
            record.status = self.status


class Store:
    """One account's IAM objects and the rules that govern them."""

    def __init__(self, clock: Clock, settings: Settings) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.settings = settings
        self.account_id = new_id()
        now = clock.now()
        # The groups are fixed for the emulator's lifetime (a reset keeps them) so that
        # a client may cache the ids it resolved from the names.
        self.groups: dict[str, PolicyGroup] = {}
        for name in (ADMINISTRATORS, DEVELOPERS):
            group = PolicyGroup(id=new_id(), name=name, description="", created_at=now, updated_at=now)
            self.groups[group.id] = group
        self.applications: dict[str, Application] = {}
        self.verification_keys = VerificationKeys(self)
        self.access_keys = AccessKeys(self)
        self._positions: dict[str, dict[str, SortKey]] = {}
        self._last_created: datetime | None = None
        self.clear()

    def clear(self) -> None:
        """Forget every application and key (the groups and the account id stay)."""
        self.applications.clear()
        self.verification_keys.clear()
        self.access_keys.clear()
        self._last_created = None
        self._positions = {"policy-group": {group.id: sort_key(group) for group in self.groups.values()}}

    # ---- helpers shared by all object types -------------------------------------------

    def creation_time(self) -> datetime:
        """The created_at of a new object: now, but later than the previous object's.

        Timestamps have millisecond resolution, so objects created in a burst would tie
        and list in id order, not creation order. Within a second of the previous creation
        the new object therefore gets at least the previous time plus 1 ms; a clock shifted
        back further than that is followed as it is.
        """
        now = self.clock.now()
        last = self._last_created
        if last is not None and last - timedelta(seconds=1) < now <= last:
            now = last + timedelta(milliseconds=1)
        self._last_created = now
        return now

    def remember_position(self, kind: str, record: Record) -> None:
        """Keep the sort position of an id forever, so an ``after`` cursor survives deletion."""
        self._positions.setdefault(kind, {})[record.id] = sort_key(record)

    def cursor_position(self, kind: str, ident: str) -> SortKey | None:
        """Return where id ``ident`` of kind ``kind`` sits in ASC order, None if never issued."""
        return self._positions.get(kind, {}).get(ident)

    def check_if_match(self, header: str | None, record: Record) -> None:
        """Refuse a write whose If-Match does not name the object's current etag (412)."""
        if header is None or not self.settings.honour_if_match:
            return
        current = str(record.etag)
        for candidate in header.split(","):
            candidate = candidate.strip()
            if candidate == "*" or candidate.removeprefix("W/").strip('"') == current:
                return
        raise ApiError(412, "precondition_failed",
                       f"If-Match {header} does not match the current etag \"{current}\": the object changed; read it again and retry.")

    def duplicate(self, field_name: str, message: str) -> ApiError:
        """A ``duplicate`` error on one field, with the configured status."""
        return ApiError(self.settings.duplicate_status, "duplicate", message, [{"name": field_name, "message": message}])

    def check_unique_name(self, records: Iterable[Record], name: object, exclude: str | None, scope: str) -> None:
        """Refuse a name already used by another record in ``records``."""
        if not isinstance(name, str):
            return
        for record in records:
            if record.name == name and record.id != exclude:
                raise self.duplicate("name", f"the name {name!r} is already used by {record.id} in {scope}")

    def limit_exceeded(self, message: str) -> ApiError:
        """An ``account_limit_exceeded`` error, with the configured status."""
        return ApiError(self.settings.limit_exceeded_status, "account_limit_exceeded", message)

    def render_record(self, kind: str, record: Record) -> dict[str, object]:
        """The fields every API object has: ``object``, id, account, name, timestamps and etag."""
        return {
            "object": kind,
            "id": record.id,
            "account_id": self.account_id,
            "name": record.name,
            "created_at": format_time(record.created_at),
            "updated_at": format_time(record.updated_at),
            "etag": str(record.etag),
        }

    def without_absent(self, rendered: dict[str, object], *names: str) -> dict[str, object]:
        """Leave out the optional fields ``names`` that have no value, unless the settings want them as null."""
        if self.settings.absent_values != "null":
            for name in names:
                if rendered.get(name, "") is None:
                    del rendered[name]
        return rendered

    def read_common(self, body: dict[str, object], writable: Collection[str], creating: bool,
                    read_only: Collection[str] = ()) -> tuple[BodyReader, Common]:
        """Start reading a body: the name (required on create), the description and the status.

        The object's read-only fields (``read_only`` besides those of every object) are ignored, so that a client may
        send back an object as it read it; ``accept_read_only_fields: false`` refuses them like unknown fields.
        """
        settings = self.settings
        ignored = (*READ_ONLY_FIELDS, *read_only) if settings.accept_read_only_fields else ()
        reader = BodyReader(body, writable, settings.reject_unknown_fields, ignored)
        common = Common(
            name=reader.text("name", settings.max_name_chars, required=creating or "name" in body),
            description=reader.text("description", settings.max_description_chars, nullable=True),
            status=reader.status(),
        )
        return reader, common

    # ---- policy groups ------------------------------------------------------------------

    def get_group(self, group_id: str) -> PolicyGroup:
        """Return a policy group or raise 404."""
        if group_id not in self.groups:
            raise not_found("Policy group", group_id)
        return self.groups[group_id]

    def group_id(self, name: str) -> str:
        """Return the id of the fixed group called ``name``."""
        return next(group.id for group in self.groups.values() if group.name == name)

    def applications_in(self, group_id: str) -> list[Application]:
        """The applications that belong to a policy group."""
        return [application for application in self.applications.values() if group_id in application.groups]

    def render_group(self, group: PolicyGroup) -> dict[str, object]:
        """The API's policy-group object (the specification's GroupSummary).

        The emulator has no users; ``apikey_count`` is deprecated in favour of ``application_count`` and counts the same.
        """
        members = len(self.applications_in(group.id))
        return {**self.render_record("group", group), "application_count": members, "apikey_count": members, "user_count": 0}

    # ---- applications -------------------------------------------------------------------

    def get_application(self, application_id: str) -> Application:
        """Return an application or raise 404."""
        if application_id not in self.applications:
            raise not_found("Application", application_id)
        return self.applications[application_id]

    def is_administrator(self, application: Application) -> bool:
        """True when the application belongs to the Administrators group."""
        return self.group_id(ADMINISTRATORS) in application.groups

    def create_application(self, body: dict[str, object]) -> Application:
        """Create an application after checking fields, name uniqueness and the account limit."""
        reader, common = self.read_common(body, APPLICATION_FIELDS, creating=True)
        groups = reader.id_list("groups", self.groups)
        reader.finish()
        # A retried POST whose first answer was lost must learn the name exists (409), so
        # uniqueness is checked before the limit.
        self.check_unique_name(self.applications.values(), common.name, None, "this account")
        limit = self.settings.max_applications
        if len(self.applications) >= limit:
            raise self.limit_exceeded(f"the account already has {len(self.applications)} applications, the limit is {limit}")
        now = self.creation_time()
        application = Application(id=new_id(), **common.initial(), groups=groups if isinstance(groups, list) else [],
                                  created_at=now, updated_at=now)
        self.applications[application.id] = application
        self.remember_position("application", application)
        return application

    def update_application(self, application_id: str, body: dict[str, object], if_match: str | None) -> Application:
        """Change the fields given in ``body`` (PUT is a partial update)."""
        application = self.get_application(application_id)
        self.check_if_match(if_match, application)
        reader, common = self.read_common(body, APPLICATION_FIELDS, creating=False)
        groups = reader.id_list("groups", self.groups)
        reader.finish()
        self.check_unique_name(self.applications.values(), common.name, application.id, "this account")
        common.apply(application)
        if isinstance(groups, list):
            application.groups = groups
        application.written(self.clock.now())
        return application

    def change_groups(self, application_id: str, group_ids: list[str], add: bool) -> None:
        """Add the application to the groups ``group_ids``, or remove it from them (``groups/add``, ``groups/remove``).

        Adding refuses an unknown group (404) and a group the application is in already (409), as the
        specification documents; removing refuses an unknown group (400) and passes over a group it is not in.
        Either changes all the groups or none.
        """
        application = self.get_application(application_id)
        unknown = [group_id for group_id in group_ids if group_id not in self.groups]
        if unknown and add:
            raise not_found("Policy group", ", ".join(unknown))
        if unknown:
            raise ApiError(400, "validation_error", f"There is no policy group {', '.join(unknown)}.",
                           [{"name": "body", "message": f"contains unknown group ids: {', '.join(unknown)}"}])
        if add:
            members = [group_id for group_id in group_ids if group_id in application.groups]
            if members:
                raise ApiError(self.settings.duplicate_status, "duplicate",
                               f"The application {application_id} is a member of group {', '.join(members)} already.")
            groups = list(dict.fromkeys([*application.groups, *group_ids]))
        else:
            groups = [group_id for group_id in application.groups if group_id not in group_ids]
        if groups != application.groups:
            application.groups = groups
            application.written(self.clock.now())

    def delete_application(self, application_id: str, if_match: str | None) -> None:
        """Delete an application and, with it, all its verification and access keys."""
        application = self.get_application(application_id)
        self.check_if_match(if_match, application)
        self.verification_keys.discard_application(application_id)
        self.access_keys.discard_application(application_id)
        del self.applications[application_id]

    def render_application(self, application: Application) -> dict[str, object]:
        """The API's application object."""
        return self.without_absent({
            **self.render_record("application", application),
            "description": application.description,
            "status": application.status,
            "groups": list(application.groups),
            "last_used_at": format_time(application.last_used_at),
        }, "last_used_at")

    # ---- whole-account views ------------------------------------------------------------

    def dump(self) -> dict[str, object]:
        """Everything in the account, nested by application; access-key secrets are never included."""
        applications = []
        for application in sorted(self.applications.values(), key=sort_key):
            rendered = self.render_application(application)
            for name, keys in (("verification_keys", self.verification_keys), ("access_keys", self.access_keys)):
                rendered[name] = [keys.render(key) for key in sorted(keys.of(application.id), key=sort_key)]
            applications.append(rendered)
        return {
            "account_id": self.account_id,
            "now": format_time(self.clock.now()),
            "settings": self.settings.as_dict(),
            "policy_groups": [self.render_group(group) for group in sorted(self.groups.values(), key=sort_key)],
            "applications": applications,
        }
