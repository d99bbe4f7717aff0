# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The access-key planner: the typed changes that bring one access key to the desired state (nothing is read here).

The names of a key's generations: ``<name>`` is the current key (its secret at ``dest``), ``<name>-previous`` the one
it replaced (its secret at ``dest.previous``) until it is retired, and ``<name>-orphan-<id>`` a key whose secret nobody
has (the run that created it died before writing it) while its replacement is created; orphans are then deleted.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.izuma.device_management.plugins.module_utils._access_key.changes import (
    CreateKey,
    DeleteKey,
    KeepPrevious,
    RemoveSecret,
    RenameKey,
    UpdateKey,
    WriteMeta,
)
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.state import Observed, parse_time
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._rotation_policy import age_seconds

Facts = Dict[str, Any]


def make_plan(observed: Observed, want: Desired) -> Tuple[Plan, Facts]:
    """The changes for ``want`` and what the report says about them (rotation, orphans replaced, warnings)."""
    plan = Plan()
    facts: Facts = {"rotated": False, "replaced_orphans": [], "warnings": []}
    if want.state == "absent":
        _plan_absent(plan, observed, want)
        return plan, facts
    for secret_file in (observed.current, observed.previous):
        if secret_file.path in observed.reattributed:
            plan.add(WriteMeta(secret_file, observed.by_id(secret_file.key_id) or {"id": secret_file.key_id}))
    current, orphans = _orphans(plan, observed, want, facts)
    previous = observed.named(want.previous_name)
    reason = _rotation_reason(current, want, observed) if current else None
    if reason and previous is not None:
        _retire_or_refuse(plan, observed, want, previous, reason)
        previous = None
    if current is None or reason:
        previous = _keep_previous(plan, observed, previous, current if reason else None, want, reason)
        plan.add(CreateKey(_create_body(want), str(want.dest), why=reason or _why_create(orphans, want)))
        facts.update(rotated=bool(reason), rotation_reason=reason)
        current_age = 0.0
    else:
        _update(plan, current, want, facts)
        current_age = _age(current, observed)
    for orphan in orphans:
        plan.add(DeleteKey(orphan, why="its replacement's secret is on disk; nobody has this key's secret"))
    if previous is not None and want.may_retire(current_age):
        plan.add(DeleteKey(previous, why=_why_retire(want)))
        if observed.previous.exists or any(isinstance(change, KeepPrevious) for change in plan):
            plan.add(RemoveSecret(observed.previous, why="its key '%s' is retired" % previous["name"]))
    elif previous is None and observed.previous.exists and observed.by_id(observed.previous.key_id) is None \
            and not any(isinstance(change, KeepPrevious) for change in plan):
        plan.add(RemoveSecret(observed.previous, why="the application no longer has the key this secret belongs to"))
    return plan, facts


def _plan_absent(plan: Plan, observed: Observed, want: Desired) -> None:
    for item in observed.remote:
        name = str(item.get("name"))
        if name in (want.name, want.previous_name) or want.is_orphan_name(name):
            plan.add(DeleteKey(item, why="state=absent"))
    if want.remove_files:
        for secret_file in (observed.current, observed.previous):
            if secret_file.exists:
                plan.add(RemoveSecret(secret_file, why="state=absent, remove_files=true"))


def _orphans(plan: Plan, observed: Observed, want: Desired, facts: Facts) -> Tuple[Optional[Dict[str, Any]], List[Dict[str, Any]]]:
    """The current key if a secret file holds it, and the orphans to delete once a replacement is on disk."""
    orphans = [item for item in observed.remote if want.is_orphan_name(str(item.get("name")))]
    current = observed.named(want.name)
    if current is not None and not observed.held(current):
        renamed = want.orphan_name(str(current["id"]))
        plan.add(RenameKey(current, {"name": renamed}, why="no secret file holds this key's secret (a run died after "
                                                           "the API created it): it makes room for its replacement"))
        orphans.append(dict(current, name=renamed))
        sentence = ("The access key '%s' (%s) is ACTIVE but no secret file holds its secret (a run died after the API "
                    "created it and before the secret reached %s): it is replaced by a new key whose secret is written "
                    "there, then deleted." % (want.name, current["id"], want.dest))
        facts["replaced_orphans"].append(sentence)
        facts["warnings"].append(sentence)
        current = None
    return current, orphans


def _rotation_reason(current: Dict[str, Any], want: Desired, observed: Observed) -> Optional[str]:
    if want.rotate:
        return "rotate=true"
    aged = want.age_reason(parse_time(current.get("created_at")), observed.now)
    return "rotate: %s" % aged if aged else None


def _age(item: Optional[Dict[str, Any]], observed: Observed) -> float:
    """How many seconds ago the key was created (0.0 without a creation time): the age grace_period counts."""
    moment = parse_time((item or {}).get("created_at"))
    return age_seconds(moment, observed.now) if moment else 0.0


def _why_retire(want: Desired) -> str:
    if want.retire_previous == "now":
        return "retire_previous=now"
    return "the grace period of %d seconds has passed since its successor was created" % want.grace_period


def _retire_or_refuse(plan: Plan, observed: Observed, want: Desired, previous: Dict[str, Any], reason: str) -> None:
    """A rotation is due while the previous generation is still there: retire it first, if its grace period allows."""
    age = _age(observed.named(want.name), observed)
    if not want.may_retire(age):
        raise IzumaConfigError(
            "A rotation is due (%s) but the previous generation '%s' is still within its grace period (%d of %d seconds, "
            "retire_previous=%s). Wait until grace_period has passed, or set retire_previous=now once every service uses "
            "the current key." % (reason, previous["name"], int(age), want.grace_period, want.retire_previous))
    plan.add(DeleteKey(previous, why="%s: makes room for the next generation (%s)" % (reason, _why_retire(want))))
    if observed.previous.exists:
        plan.add(RemoveSecret(observed.previous, why="its key '%s' is retired" % previous["name"]))


def _keep_previous(plan: Plan, observed: Observed, previous: Optional[Dict[str, Any]], rotating: Optional[Dict[str, Any]],
                   want: Desired, reason: Optional[str]) -> Optional[Dict[str, Any]]:
    """Keep the secret at ``dest`` (when its key still exists) as ``dest.previous``; the previous generation after the plan."""
    holder = observed.by_id(observed.current.key_id)
    if holder is None:
        return previous
    if observed.previous.key_id != holder["id"]:
        if previous is not None and previous["id"] != holder["id"]:
            raise IzumaConfigError("The secret at %s belongs to the key '%s', and the previous generation '%s' is another "
                                   "key: delete one of them (state=absent of its name, or retire_previous=now)."
                                   % (want.dest, holder["name"], previous["name"]))
        plan.add(KeepPrevious(observed.current, holder, why="%s: its key '%s' stays until it is retired"
                              % (reason or "a new key replaces the one at dest", holder["name"])))
    if rotating is not None:
        plan.add(RenameKey(rotating, {"name": want.previous_name}, why="%s: the current key becomes the previous generation" % reason))
        return dict(rotating, name=want.previous_name)
    return holder


def _create_body(want: Desired) -> Dict[str, Any]:
    body: Dict[str, Any] = {"name": want.name}
    if want.description is not None:
        body["description"] = want.description
    if want.status is not None:
        body["status"] = want.status.upper()
    if want.expiration:
        body["expiration"] = want.expiration
    return body


def _why_create(orphans: List[Dict[str, Any]], want: Desired) -> str:
    if orphans:
        return "replaces %s, whose secret nobody has" % ", ".join("'%s'" % item["name"] for item in orphans)
    return "the application has no access key named '%s'" % want.name


def _update(plan: Plan, current: Dict[str, Any], want: Desired, facts: Facts) -> None:
    body: Dict[str, Any] = {}
    if want.description is not None and want.description != (current.get("description") or ""):
        body["description"] = want.description
    if want.expiration == "" and current.get("expiration"):
        body["expiration"] = None
    elif want.expiration and parse_time(want.expiration) != parse_time(current.get("expiration")):
        body["expiration"] = want.expiration
    if want.status is not None and want.status.upper() != current.get("status"):
        if current.get("status") == "EXPIRED" and "expiration" not in body:
            facts["warnings"].append("The access key '%s' has expired (%s): give a later expiration (or '') or rotate it; "
                                     "its status cannot be set while it is expired." % (want.name, current.get("expiration")))
        else:
            body["status"] = want.status.upper()
    if body:
        plan.add(UpdateKey(current, body, why="%s differ from the task" % ", ".join(sorted(body))))
