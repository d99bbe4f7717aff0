# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Applications: observe, plan and apply, as plain functions over the API client."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ID_PATTERN
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Change, Plan, pick

APPLICATIONS_PATH = "/v3/applications"
POLICY_GROUPS_PATH = "/v3/policy-groups"
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 500
# The fields a user can set, and so the fields a diff shows.
DIFF_FIELDS = ["id", "name", "description", "status", "groups"]


def application_path(application_id: str) -> str:
    """The API path of one application."""
    return "%s/%s" % (APPLICATIONS_PATH, application_id)


def list_applications(client: IzumaClient) -> List[Dict[str, Any]]:
    """Every application of the account (all pages)."""
    return client.list(APPLICATIONS_PATH)


def find_application(client: IzumaClient, name: Optional[str] = None, application_id: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The application with this id, or else with this name; None when there is none.

    By id it is one GET; by name it is one list (names are unique in the account,
    and the contract documents no name filter for applications).
    """
    if application_id:
        check_application_id(application_id)
        return client.get_or_none(application_path(application_id))
    if name is None:
        raise IzumaConfigError("Give an application name or application_id.")
    for application in list_applications(client):
        if application.get("name") == name:
            return application
    return None


def check_application_id(application_id: str, option: str = "application_id") -> None:
    """Refuse an id that cannot be an application id, before any request."""
    if not ID_PATTERN.match(application_id):
        raise IzumaConfigError("%s must be 32 lowercase hexadecimal characters (got %r)." % (option, application_id))


def resolve_groups(client: IzumaClient, groups: List[str]) -> List[str]:
    """Group ids for a list of group names or ids; names cost one list request, ids none."""
    if all(ID_PATTERN.match(group) for group in groups):
        return sorted(set(groups))
    known = client.list(POLICY_GROUPS_PATH)
    by_name = {group["name"]: group["id"] for group in known}
    ids = set()
    for group in groups:
        if ID_PATTERN.match(group):
            ids.add(group)
        elif group in by_name:
            ids.add(by_name[group])
        else:
            raise IzumaConfigError("groups: there is no policy group named %r; the account has %s."
                                   % (group, ", ".join(sorted(by_name)) or "no groups"))
    return sorted(ids)


def desired_fields(name: Optional[str], description: Optional[str], status: Optional[str],
                   groups: Optional[List[str]]) -> Dict[str, Any]:
    """The fields the task sets (None means "leave as it is"), in the API's form, checked against its limits."""
    desired: Dict[str, Any] = {}
    if name is not None:
        if not name or len(name) > MAX_NAME_CHARS:
            raise IzumaConfigError("name must be 1 to %d characters (got %d)." % (MAX_NAME_CHARS, len(name)))
        desired["name"] = name
    if description is not None:
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise IzumaConfigError("description must be at most %d characters (got %d)." % (MAX_DESCRIPTION_CHARS, len(description)))
        desired["description"] = description
    if status is not None:
        desired["status"] = status.upper()
    if groups is not None:
        desired["groups"] = groups
    return desired


def plan_application(observed: Optional[Dict[str, Any]], desired: Dict[str, Any], state: str) -> Plan:
    """The changes that bring the application to ``state`` with the ``desired`` fields."""
    plan = Plan()
    if state == "absent":
        if observed is not None:
            plan.add(Change("delete", "application", observed["name"], before=pick(observed, DIFF_FIELDS),
                            payload={"id": observed["id"], "etag": observed.get("etag")}))
        return plan
    if observed is None:
        if "name" not in desired:
            raise IzumaConfigError("The application does not exist; give its name to create it.")
        after = dict({"id": None, "description": "", "status": "ACTIVE", "groups": []}, **desired)
        plan.add(Change("create", "application", desired["name"], after=pick(after, DIFF_FIELDS), payload={"body": desired}))
        return plan
    body = {key: value for key, value in desired.items() if _differs(observed.get(key), value)}
    if body:
        before = pick(observed, DIFF_FIELDS)
        after = dict(before or {}, **body)
        plan.add(Change("update", "application", observed["name"], before=before, after=after,
                        payload={"id": observed["id"], "etag": observed.get("etag"), "body": body}))
    return plan


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return sorted(current or []) != sorted(wanted)
    if wanted == "" and current is None:
        return False
    return current != wanted


def apply_application_plan(client: IzumaClient, plan: Plan, observed: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Carry out the plan; return the application as the API now has it (None once deleted)."""
    application = observed
    for change in plan.changes:
        if change.action == "create":
            body = change.payload["body"]
            application = client.create(APPLICATIONS_PATH, body, read_back=lambda: find_application(client, name=body["name"]))
        elif change.action == "update":
            application = client.update(application_path(change.payload["id"]), change.payload["body"], etag=change.payload["etag"])
        elif change.action == "delete":
            client.delete(application_path(change.payload["id"]), etag=change.payload["etag"])
            application = None
    return application


def predicted_application(observed: Optional[Dict[str, Any]], plan: Plan) -> Optional[Dict[str, Any]]:
    """What the application would look like after the plan (check mode's result)."""
    application = dict(observed) if observed else None
    for change in plan.changes:
        if change.action == "delete":
            application = None
        else:
            application = dict(application or {}, **(change.after or {}))
    return application
