# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Access keys: ``converge`` (what izuma_access_key returns) and ``info`` (izuma_access_key_info).

``converge`` is observe -> plan -> apply -> report, under an exclusive lock on ``<dest>.lock`` for the whole run (the
package's ``__init__`` says which module does what). No secret reaches a plan, a diff, a warning or an error; the
result holds one only under ``secret``, and only with ``return_secret``.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._access_key import files as akfiles
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.changes import AccessKeyContext
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.plan import make_plan
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.state import (
    Observed,
    days_since,
    list_keys,
    observe,
    parse_time,
    shown,
    summary,
)
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._applications import list_applications, resolve_application
from ansible_collections.izuma.device_management.plugins.module_utils._locking import exclusive_lock
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._times import utcnow

ACCOUNT_KEYS_PATH = "/v3/access-keys"


def converge(client: IzumaClient, want: Desired, check_mode: bool, diff: bool, application: Optional[str] = None,
             application_id: Optional[str] = None, now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """Bring the access key to the desired state (or, in check mode, say how); return the module's result."""
    found = resolve_application(client, name=application, application_id=application_id, fetch=False)
    # One run at a time per secret file on this host, from observe to the last write. Check mode takes no lock.
    lock = exclusive_lock(str(want.dest), timeout=want.lock_timeout, option="lock_timeout",
                          what="the access key '%s' (%s)" % (want.name, want.dest)) if want.dest and not check_mode \
        else contextlib.nullcontext("")
    with lock:
        observed = observe(client, str(found["id"] if found else ""), want, now=now or utcnow())
        plan, facts = make_plan(observed, want)
        context = AccessKeyContext(client, observed.application_id, vault_password=want.vault_password)
        results = None if check_mode else plan.apply(context)
        items, local = outcome(observed, plan, results)
        secret = _secret(want, observed, context) if want.return_secret and want.state == "present" and not check_mode else None
    result = report(observed, want, plan, facts, items, local)
    if secret is not None:
        result["secret"] = secret
    if diff:
        result["diff"] = {"before": _state(observed.remote, _files(observed)), "after": _state(items, local)}
    return result


def outcome(observed: Observed, plan: Plan, results: Optional[List[Any]]) -> Any:
    """The keys and secret files after the plan: as the API answered, or (results None) as check mode predicts them."""
    items: Dict[str, Dict[str, Any]] = {str(item["id"]): shown(item) for item in observed.remote}
    local = _files(observed)
    for index, change in enumerate(plan):
        change.settle(items, local, results[index] if results is not None else None)
    return list(items.values()), local


def _files(observed: Observed) -> Dict[str, Optional[Dict[str, Any]]]:
    return {secret_file.path: secret_file.state() for secret_file in (observed.current, observed.previous) if secret_file.path}


def _state(items: List[Dict[str, Any]], local: Dict[str, Optional[Dict[str, Any]]]) -> Dict[str, Any]:
    """A diff side: the keys by name and the secret files by path (ids only; never a secret)."""
    return {"access_keys": {str(item.get("name")): summary(item) for item in items},
            "files": {path: state for path, state in local.items() if state is not None}}


def _secret(want: Desired, observed: Observed, context: AccessKeyContext) -> Optional[str]:
    """The current key's secret, for return_secret: the one created now, or the one at ``dest``."""
    if context.secret:
        return context.secret
    data = akfiles.read_secret_file(str(want.dest)).data
    return akfiles.decode_secret(data, want.vault_password, str(want.dest)) if data is not None else None


def report(observed: Observed, want: Desired, plan: Plan, facts: Dict[str, Any], items: List[Dict[str, Any]],
           local: Dict[str, Optional[Dict[str, Any]]]) -> Dict[str, Any]:
    """The module's result: the keys, the plan and why, the secret files."""
    present = want.state == "present"
    current = next((item for item in items if item.get("name") == want.name), None) if present else None
    previous = next((item for item in items if item.get("name") == want.previous_name), None) if present else None
    result: Dict[str, Any] = dict(
        changed=plan.changed, plan=plan.describe(), plan_details=plan.details(),
        application_id=observed.application_id, access_keys=items, access_key=current or {},
        previous_access_key=previous or {}, name=want.name, previous_name=want.previous_name,
        rotated=bool(facts.get("rotated")), rotation_under_way=bool(previous),
        replaced_orphans=list(facts.get("replaced_orphans", [])), warnings=list(facts.get("warnings", [])),
    )
    if facts.get("rotation_reason"):
        result["rotation_reason"] = facts["rotation_reason"]
    if want.dest:
        result["dest"] = want.dest
        previous_dest = akfiles.previous_path(want.dest)
        if local.get(previous_dest):
            result["previous_dest"] = previous_dest
    return result


def info(client: IzumaClient, params: Dict[str, Any], now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """izuma_access_key_info: the access keys of one application (by name or id) or of all, filtered; never a secret."""
    now = now or utcnow()
    if params.get("application_id") or params.get("application"):
        scope = [resolve_application(client, name=params.get("application"), application_id=params.get("application_id"))]
        found = [item for application in scope for item in list_keys(client, application["id"])]
    else:
        scope = list_applications(client)
        # One list for the whole account: the public specification's GET /v3/access-keys.
        found = client.list(ACCOUNT_KEYS_PATH)
    names = {application["id"]: application["name"] for application in scope}
    result = []
    for item in found:
        entry = _enriched(shown(item), names, now)
        if _wanted(entry, params):
            result.append(entry)
    return dict(changed=False, access_keys=result,
                applications=[{"id": application["id"], "name": application["name"]} for application in scope])


def _enriched(item: Dict[str, Any], names: Dict[str, str], now: datetime.datetime) -> Dict[str, Any]:
    expiration = parse_time(item.get("expiration"))
    item["application_name"] = names.get(str(item.get("application_id")))
    item["expires_in_days"] = (expiration - now).days if expiration else None
    item["days_since_last_use"] = days_since(item.get("last_used_at"), now)
    item["age_days"] = days_since(item.get("created_at"), now)
    return item


def _wanted(item: Dict[str, Any], params: Dict[str, Any]) -> bool:
    """True when the key passes every filter given."""
    if params.get("name") is not None and item.get("name") != params["name"]:
        return False
    if params.get("status") and item.get("status") != params["status"].upper():
        return False
    within = params.get("expires_within_days")
    if within is not None and (item["expires_in_days"] is None or item["expires_in_days"] >= within):
        return False
    unused = params.get("unused_for_days")
    if unused is not None:
        idle = item["days_since_last_use"] if item["days_since_last_use"] is not None else item["age_days"]
        if idle is None or idle < unused:
            return False
    return True
