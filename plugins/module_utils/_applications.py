# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Applications: the one resolver (by name or id), and observe, plan and apply over the API client."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ID_PATTERN
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaMissingError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Change, Plan, UpdateChange, pick

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


def check_application_id(application_id: str, option: str = "application_id") -> None:
    """Refuse an id that cannot be an application id, before any request."""
    if not ID_PATTERN.match(application_id):
        raise IzumaConfigError("%s must be 32 lowercase hexadecimal characters (got %r)." % (option, application_id))


def missing_application(name: Optional[str] = None, application_id: Optional[str] = None) -> IzumaMissingError:
    """The one error for an application that is not there, by id or by name."""
    if application_id:
        return IzumaMissingError("There is no application with application_id %s: check the id, or give the application's "
                                 "name instead (izuma_application creates an application from its name)." % application_id)
    return IzumaMissingError("There is no application named %r: check the name, or create it first (izuma_application)." % name)


def resolve_application(client: IzumaClient, name: Optional[str] = None, application_id: Optional[str] = None,
                        required: bool = True, fetch: bool = True) -> Optional[Dict[str, Any]]:
    """The application with this id, or else with this name, for every module.

    By id it is one GET; by name it is one list (names are unique in the account, and the contract documents no
    name filter for applications). An id that cannot be an id is refused before any request. A missing application
    raises ``missing_application`` when ``required``, else returns None. With ``fetch=False`` an id is trusted
    without a request and ``{"id": application_id}`` is returned: the caller's next request under the application
    answers 404 if it is missing, and the caller raises ``missing_application`` then (it saves a request per run).
    """
    if application_id:
        check_application_id(application_id)
        if not fetch:
            return {"id": application_id}
        found = client.get_or_none(application_path(application_id))
    elif name is not None:
        found = next((item for item in list_applications(client) if item.get("name") == name), None)
    else:
        raise IzumaConfigError("Give an application name or application_id.")
    if found is None and required:
        raise missing_application(name=name, application_id=application_id)
    return found


def resolve_groups(client: IzumaClient, groups: List[str]) -> List[str]:
    """Group ids for a list of group names or ids; names cost one list request, ids none."""
    if all(ID_PATTERN.match(group) for group in groups):
        return sorted(set(groups))
    by_name = {group["name"]: group["id"] for group in client.list(POLICY_GROUPS_PATH)}
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


# -- typed changes ------------------------------------------------------------------------------------------


class CreateApplication(Change):
    """POST a new application; a lost answer is resolved by reading the application back by name."""

    action, resource = "create", "application"

    def __init__(self, body: Dict[str, Any], why: str) -> None:
        after = dict({"id": None, "description": "", "status": "ACTIVE", "groups": []}, **body)
        super().__init__(body["name"], why=why, after=pick(after, DIFF_FIELDS))
        self.body = body

    def apply(self, context: IzumaClient) -> Dict[str, Any]:
        return context.create(APPLICATIONS_PATH, self.body,
                              read_back=lambda: resolve_application(context, name=self.body["name"], required=False))

    def predict(self, application: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The application after this change, as check mode reports it."""
        return dict(application or {}, **(self.after or {}))


class UpdateApplication(UpdateChange):
    """PUT the fields that differ, with the ETag that was observed."""

    resource = "application"

    def __init__(self, observed: Dict[str, Any], body: Dict[str, Any]) -> None:
        before = pick(observed, DIFF_FIELDS) or {}
        super().__init__(observed["name"], why="%s differ from the task" % ", ".join(sorted(body)),
                         before=before, after=dict(before, **body))
        self.application_id, self.etag, self.body = observed["id"], observed.get("etag"), body

    def apply(self, context: IzumaClient) -> Dict[str, Any]:
        return send_update(context, self.application_id, self.etag, self.body, (self.before or {}).get("groups"))

    def predict(self, application: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The application after this change, as check mode reports it."""
        return dict(application or {}, **(self.after or {}))


class DeleteApplication(Change):
    """DELETE the application (the API deletes its keys with it)."""

    action, resource = "delete", "application"

    def __init__(self, observed: Dict[str, Any]) -> None:
        super().__init__(observed["name"], why="state=absent", before=pick(observed, DIFF_FIELDS))
        self.application_id, self.etag = observed["id"], observed.get("etag")

    def apply(self, context: IzumaClient) -> None:
        context.delete(application_path(self.application_id), etag=self.etag)

    def predict(self, application: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:  # pylint: disable=unused-argument
        """Nothing is left."""
        return None


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return sorted(current or []) != sorted(wanted)
    if wanted == "" and current is None:
        return False
    return current != wanted


def plan_application(observed: Optional[Dict[str, Any]], desired: Dict[str, Any], state: str) -> Plan:
    """The changes that bring the application to ``state`` with the ``desired`` fields."""
    plan = Plan()
    if state == "absent":
        if observed is not None:
            plan.add(DeleteApplication(observed))
        return plan
    if observed is None:
        if "name" not in desired:
            raise IzumaConfigError("The application does not exist; give its name to create it.")
        plan.add(CreateApplication(desired, why="there is no application named %r" % desired["name"]))
        return plan
    body = {key: value for key, value in desired.items() if _differs(observed.get(key), value)}
    if body:
        plan.add(UpdateApplication(observed, body))
    return plan


def apply_application_plan(client: IzumaClient, plan: Plan, observed: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Carry out the plan; return the application as the API now has it (None once deleted)."""
    application = observed
    for result in plan.apply(client):
        application = result
    return application


def send_update(client: IzumaClient, application_id: str, etag: Optional[str], body: Dict[str, Any],
                current_groups: Optional[List[str]]) -> Dict[str, Any]:
    """Send an update: a PUT of the fields, and the group change through groups/add and groups/remove.

    The public specification offers both ways to change groups (``groups`` is a writable field of the Application
    body a PUT takes, and addApplicationToGroups/removeApplicationFromGroups change membership). The membership
    operations name exactly the groups that change, so they are used; their 204 carries no body, so the
    application is read back. A lost answer is resolved by reading the groups back, never by sending again.
    """
    path = application_path(application_id)
    fields = {key: value for key, value in body.items() if key != "groups"}
    application = client.update(path, fields, etag=etag) if fields else {}
    if "groups" not in body:
        return application
    wanted, current = body["groups"], current_groups or []
    for operation, groups, done in (("add", [group for group in wanted if group not in current], True),
                                    ("remove", [group for group in current if group not in wanted], False)):
        if groups:
            client.request("POST", "%s/groups/%s" % (path, operation), body=groups,  # type: ignore[arg-type]
                           read_back=lambda groups=groups, done=done: _groups_are(client, path, groups, done))
    return client.get(path)


def _groups_are(client: IzumaClient, path: str, groups: List[str], members: bool) -> Optional[Dict[str, Any]]:
    """The application if it is (``members``) or is not in every one of ``groups``, else None."""
    application = client.get(path)
    return application if all((group in application.get("groups", [])) is members for group in groups) else None


def predicted_application(observed: Optional[Dict[str, Any]], plan: Plan) -> Optional[Dict[str, Any]]:
    """What the application would look like after the plan (check mode's result)."""
    application = dict(observed) if observed else None
    for change in plan:
        application = change.predict(application)
    return application


# -- entry points -------------------------------------------------------------------------------------------


def converge(client: IzumaClient, params: Dict[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """izuma_application: observe, plan, apply; the module's result."""
    application_id = params.get("application_id")
    # A missing id is an error only when it would have to be updated; state=absent is then already true.
    observed = resolve_application(client, name=params.get("name"), application_id=application_id,
                                   required=bool(application_id) and params.get("state", "present") == "present")
    # Group names cost a list of the policy groups; only a present application has groups to compare or set.
    present = params.get("state", "present") == "present"
    groups = resolve_groups(client, params["groups"]) if params.get("groups") is not None and present else None
    desired = desired_fields(params.get("name"), params.get("description"), params.get("status"), groups)
    plan = plan_application(observed, desired, params.get("state", "present"))
    application = predicted_application(observed, plan) if check_mode else apply_application_plan(client, plan, observed)
    result: Dict[str, Any] = dict(changed=plan.changed, application=application or {}, plan=plan.describe(),
                                  plan_details=plan.details())
    if diff:
        result["diff"] = plan.diff()
    return result


def info(client: IzumaClient, params: Dict[str, Any]) -> Dict[str, Any]:
    """izuma_application_info: the applications that match every filter given (none is not an error)."""
    if params.get("application_id"):
        found = resolve_application(client, application_id=params["application_id"], required=False)
        items = [found] if found else []
    else:
        items = list_applications(client)
    if params.get("name") is not None:
        items = [item for item in items if item.get("name") == params["name"]]
    if params.get("status") is not None:
        items = [item for item in items if item.get("status") == params["status"].upper()]
    return dict(changed=False, applications=items)
