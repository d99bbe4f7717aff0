# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Verification keys: ``converge`` (what izuma_verification_key returns) and ``info`` (izuma_verification_key_info).

``converge`` is observe -> plan -> apply -> report, with the key store the task's key_backend chooses (``store_for``);
the package's ``__init__`` says which module does what.

Every new private key is stored (``.next``, mode 0600, or the PKCS#11
``:next`` pair) before its certificate is uploaded, and a private key is
removed only after its key has been deleted from the API: whatever point a
run is killed at, no private key of an uploaded key is lost, and the next run
picks up where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._applications import list_applications, resolve_application
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.changes import KeyContext
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.file_store import FileStore, KeyStore
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.plan import Planner, plan_absent
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.present import plan_present
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import (
    Observed,
    days_left,
    is_usable,
    list_keys,
    observe,
    summary,
)
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times


def converge(client: IzumaClient, want: Desired, check_mode: bool, diff: bool, application: Optional[str] = None,
             application_id: Optional[str] = None, now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """Bring the key to the desired state (or, in check mode, say how); return the module's result."""
    found = resolve_application(client, name=application, application_id=application_id, fetch=False)
    store = store_for(want)
    # One run at a time per key on this host, from observe to the last write: a run that waited observes what the
    # other one did. Check mode writes nothing, not even a lock file.
    with store.lock(want) if not check_mode else contextlib.nullcontext(""):
        observed = observe(client, str(found["id"] if found else ""), want, now=now or times.utcnow(), store=store)
        plan, facts = make_plan(observed, want)
        results = None
        if not check_mode:
            plan, facts, results = apply_plan(KeyContext(client, observed.application_id), observed, want, plan, facts)
    after = outcome(observed, plan, results)
    result = report(observed, want, plan, facts, after)
    if diff:
        result["diff"] = diff_of(observed, plan, after)
    return store.conceal(result) if check_mode else result


def store_for(want: Desired) -> KeyStore:
    """The key store of the task's key_backend: PEM files, or key pairs in a PKCS#11 token."""
    if want.key_backend == "pkcs11":
        # Imported here: the pkcs11 store (and python-pkcs11) is needed only by keys in a PKCS#11 token.
        from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.pkcs11_store import (  # pylint: disable=import-outside-toplevel
            Pkcs11Store,
        )
        return Pkcs11Store(want)
    return FileStore()


def make_plan(observed: Observed, want: Desired) -> Tuple[Plan, Dict[str, Any]]:
    """The plan for the task, and facts about it (rotated, renewed, rotation_reason, warnings) for the result."""
    planner = Planner(observed, want)
    if want.state == "absent":
        plan_absent(planner)
    else:
        plan_present(planner)
    return planner.plan, planner.facts


def apply_plan(context: KeyContext, observed: Observed, want: Desired, plan: Plan,
               facts: Dict[str, Any]) -> Tuple[Plan, Dict[str, Any], List[Any]]:
    """Apply the plan; return the changes applied, the facts and their results.

    A key that a PKCS#11 token generates is known only once it exists: the plan stops after that change (a
    ``barrier``), the store reads the new key, and the rest is planned again from it, exactly as the next run would
    plan it if this one were killed there. The uploaded keys are not read again: generating a key does not touch them.
    """
    applied: List[Any] = []
    done = Plan()
    for _round in range(2):
        barrier = next((index for index, change in enumerate(plan) if getattr(change, "barrier", False)), None)
        head = plan.changes if barrier is None else plan.changes[:barrier + 1]
        applied.extend(Plan(head).apply(context))
        for change in head:
            done.add(change)
        if barrier is None:
            return done, facts, applied
        again = dataclasses.replace(observed, pending_why=head[-1].why)
        again.store.observe_keys(again, want)
        plan, more = make_plan(again, want)
        more["rotated"] = bool(facts.get("rotated") or more.get("rotated"))
        if facts.get("rotation_reason"):
            more.setdefault("rotation_reason", facts["rotation_reason"])
        facts = more
    raise AssertionError("a plan made after a key was generated generates another")  # pragma: no cover


def outcome(observed: Observed, plan: Plan, results: Optional[List[Any]]) -> List[Dict[str, Any]]:
    """The application's keys after the plan: as the API returned them, or (results None) as check mode predicts them."""
    items: Dict[str, Dict[str, Any]] = {item["id"]: dict(item) for item in observed.remote}
    for index, change in enumerate(plan):
        change.settle(items, results[index] if results is not None else None)
    return list(items.values())


def diff_of(observed: Observed, plan: Plan, after: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Ansible's diff: the application's keys before and after (by name), and the local files the plan touches.

    Keys are shown as whole states, not change by change, because a rotation renames one key and creates another
    under the same name. Only names, ids, status, fingerprints and expiry are shown; never a certificate or key.
    """
    shown: Dict[str, Dict[str, Any]] = {
        "before": {item["name"]: summary(item) for item in observed.remote},
        "after": {item["name"]: summary(item) for item in after},
    }
    for change in plan:
        change.show(shown, observed, plan)
    return shown


def report(observed: Observed, want: Desired, plan: Plan, facts: Dict[str, Any], after: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The module's result: the keys, the plan and why, and the names and paths of the key's files."""
    present = want.state == "present"
    current = next((item for item in after if item.get("name") == want.name), None) if present else None
    previous = next((item for item in after if item.get("name") == want.previous_name), None) if present else None
    result: Dict[str, Any] = dict(
        changed=plan.changed, plan=plan.describe(), plan_details=plan.details(),
        application_id=observed.application_id, verification_keys=after,
        verification_key=current or {}, previous_verification_key=previous or {},
        rotated=bool(facts.get("rotated") and plan.changed), renewed=bool(facts.get("renewed")),
        name=want.name, previous_name=want.previous_name, warnings=list(facts.get("warnings", [])),
        key_backend=want.key_backend,
    )
    if facts.get("rotation_reason"):
        result["rotation_reason"] = facts["rotation_reason"]
    if facts.get("repaired"):
        result["repaired"] = facts["repaired"]
    if facts.get("rotation_skipped"):
        result["rotation_skipped"] = facts["rotation_skipped"]
    result["certificate_requested"] = bool(facts.get("certificate_requested"))
    if facts.get("certificate_request"):
        result["certificate_request"] = facts["certificate_request"]
    if facts.get("blocked"):
        # certificate_provider=external without a usable certificate yet: the run fails, after writing the request.
        result.update(failed=True, msg=facts["blocked"])
    # After this run, a rotation is under way while the previous generation is still uploaded.
    result["rotation_under_way"] = bool(previous)
    result.update(observed.store.result(observed, plan))
    if current:
        result.update(
            public_key_fingerprint=current.get("public_key_fingerprint"),
            certificate_fingerprint=current.get("certificate_fingerprint"),
            expires_at=current.get("expires_at"),
            days_left=days_left(current, observed.now),
            usable=is_usable(current, observed.now),
        )
    return result


def info(client: IzumaClient, params: Dict[str, Any], now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """izuma_verification_key_info: the keys of one application (by name or id) or of all, filtered."""
    if params.get("application_id") or params.get("application"):
        scope = [resolve_application(client, name=params.get("application"), application_id=params.get("application_id"))]
    else:
        scope = list_applications(client)
    now = now or times.utcnow()
    wanted_status = params["status"].upper() if params.get("status") else None
    within = params.get("expires_within_days")
    result = []
    for application in scope:
        for item in list_keys(client, application["id"]):
            item["application_name"] = application["name"]
            item["days_left"] = days_left(item, now)
            item["usable"] = is_usable(item, now)
            if params.get("name") is not None and item.get("name") != params["name"]:
                continue
            if wanted_status and item.get("status") != wanted_status:
                continue
            if within is not None and (item["days_left"] is None or item["days_left"] >= within):
                continue
            if params.get("usable") is not None and item["usable"] != params["usable"]:
                continue
            result.append(item)
    return dict(changed=False, verification_keys=result,
                applications=[{"id": application["id"], "name": application["name"]} for application in scope])
