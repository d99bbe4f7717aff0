# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application's groups change through the specification's groups/add and groups/remove (issue 10)."""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.izuma.device_management.plugins.module_utils import _applications as applications
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig

from izuma_emulator.testing import ThreadedEmulator


def _group_ids(client: IzumaClient) -> Dict[str, str]:
    return {group["name"]: group["id"] for group in client.list(applications.POLICY_GROUPS_PATH)}


def _requests(emulator: ThreadedEmulator) -> List[str]:
    return ["%s %s" % (entry["method"], entry["path"].rsplit("/", 2)[-1] if "/groups/" in entry["path"] else entry["path"])
            for entry in emulator.log()]


def _update(client: IzumaClient, observed: Dict[str, Any], desired: Dict[str, Any]) -> Dict[str, Any]:
    plan = applications.plan_application(observed, desired, "present")
    return applications.apply_application_plan(client, plan, observed) or {}


def test_groups_are_added_and_removed_by_the_membership_operations(emulator: ThreadedEmulator, admin_client: IzumaClient) -> None:
    ids = _group_ids(admin_client)
    created = admin_client.create(applications.APPLICATIONS_PATH, {"name": "grouped", "groups": [ids["Developers"]]})
    path = applications.application_path(created["id"])
    emulator.clear_log()
    updated = _update(admin_client, created, {"description": "both", "groups": [ids["Administrators"]]})
    assert sorted(updated["groups"]) == [ids["Administrators"]] and updated["description"] == "both"
    assert _requests(emulator) == ["PUT " + path, "POST add", "POST remove", "GET " + path]
    assert updated == admin_client.get(path)
    # Groups only: no PUT at all; converged: nothing sent.
    emulator.clear_log()
    both = _update(admin_client, updated, {"groups": [ids["Developers"], ids["Administrators"]]})
    assert sorted(both["groups"]) == sorted(ids.values()) and _requests(emulator) == ["POST add", "GET " + path]
    emulator.clear_log()
    assert _update(admin_client, both, {"groups": [ids["Administrators"], ids["Developers"]]}) == both
    assert emulator.log() == []


def test_a_lost_answer_to_groups_add_is_read_back_not_sent_again(emulator: ThreadedEmulator) -> None:
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=2), sleep=lambda seconds: None)
    ids = _group_ids(client)
    created = client.create(applications.APPLICATIONS_PATH, {"name": "lossy"})
    emulator.faults({"method": "POST", "path": "/groups/add$", "drop": "after", "nth": 1})
    emulator.clear_log()
    updated = _update(client, created, {"groups": [ids["Developers"]]})
    assert updated["groups"] == [ids["Developers"]]
    assert [entry["method"] for entry in emulator.log() if entry["path"].endswith("/groups/add")] == ["POST"]
