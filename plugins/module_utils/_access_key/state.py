# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""What an access-key run observes (the only reads): the application's access keys and the local secret files.

Each secret file is matched to the key it belongs to: by its sidecar when the sidecar's digest matches the file, or
else (a run killed between writing the secret and its sidecar, or a file put there by hand) by the key whose public
part (the API's ``key`` outside the create response) starts the secret, or by being the same bytes as the other file,
or by being the only key named ``name`` that no other file holds. A key named ``name`` that no file holds is an orphan:
its secret was only in a create response that never reached the disk.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._access_key import files as akfiles
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._applications import application_path, missing_application
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._rotation_policy import age_days
from ansible_collections.izuma.device_management.plugins.module_utils._times import parse_rfc3339

# What results and diffs show of a key; never ``key`` (outside the create response it is only the public part, but
# nothing that looks like a key is shown).
SUMMARY_FIELDS = ["id", "name", "description", "status", "expiration", "created_at", "last_used_at"]


def keys_path(application_id: str) -> str:
    """The API path of an application's access keys."""
    return "%s/access-keys" % application_path(application_id)


def key_path(application_id: str, key_id: str) -> str:
    """The API path of one access key."""
    return "%s/%s" % (keys_path(application_id), key_id)


def shown(item: Dict[str, Any]) -> Dict[str, Any]:
    """An API access key without its ``key`` field: what results return."""
    return {name: value for name, value in item.items() if name != "key"}


def summary(item: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What a diff shows of a key."""
    if item is None:
        return None
    return {name: item.get(name) for name in SUMMARY_FIELDS if item.get(name) is not None or name == "id"}


def list_keys(client: IzumaClient, application_id: str) -> List[Dict[str, Any]]:
    """The application's access keys (all pages); a missing application is named as such."""
    try:
        return client.list(keys_path(application_id))
    except IzumaApiError as exc:
        if exc.status == 404:
            raise missing_application(application_id=application_id) from None
        raise


def parse_time(value: Optional[str]) -> Optional[datetime.datetime]:
    """An API timestamp as an aware UTC datetime (``_times.parse_rfc3339``); None or empty stays None."""
    return parse_rfc3339(value) if value else None


def days_since(value: Optional[str], now: datetime.datetime) -> Optional[int]:
    """Whole days from an API timestamp to ``now``."""
    moment = parse_time(value)
    return None if moment is None else age_days(moment, now)


@dataclass
class Observed:
    """Everything a run read: the application's keys and the two secret files."""

    application_id: str
    remote: List[Dict[str, Any]]
    current: akfiles.SecretFile
    previous: akfiles.SecretFile
    now: datetime.datetime
    # Files whose sidecar had to be rebuilt (path -> key id): the plan rewrites them.
    reattributed: Dict[str, str] = field(default_factory=dict)

    def named(self, name: str) -> Optional[Dict[str, Any]]:
        """The key with this name (names are unique in an application)."""
        return next((item for item in self.remote if item.get("name") == name), None)

    def by_id(self, key_id: Optional[str]) -> Optional[Dict[str, Any]]:
        """The key with this id, if the application still has it."""
        return next((item for item in self.remote if key_id and item.get("id") == key_id), None)

    def held(self, item: Dict[str, Any]) -> bool:
        """True when a local secret file holds this key's secret."""
        return item.get("id") in (self.current.key_id, self.previous.key_id)


def observe(client: IzumaClient, application_id: str, want: Desired, now: datetime.datetime) -> Observed:
    """Read the application's access keys and the secret files of ``want.dest`` (the only reads of a run)."""
    dest = want.dest
    if dest and want.state == "present" and not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
        raise IzumaConfigError("dest: the directory %s does not exist; create it first (the secret is written there the "
                               "moment the key is created, and nowhere else)." % os.path.dirname(os.path.abspath(dest)))
    for path in (dest, akfiles.previous_path(dest) if dest else None):
        if path and os.path.islink(path):
            raise IzumaConfigError("%s is a symbolic link: the module never writes a secret through a link (the classic attack "
                                   "on a shared directory). Give dest the real path, or remove the link." % path)
    remote = list_keys(client, application_id)
    current = akfiles.read_secret_file(dest) if dest else akfiles.SecretFile("")
    previous = akfiles.read_secret_file(akfiles.previous_path(dest)) if dest else akfiles.SecretFile("")
    observed = Observed(application_id, remote, current, previous, now)
    for secret_file, other in ((current, previous), (previous, current)):
        if secret_file.stale_meta:
            _reattribute(observed, secret_file, other, want)
    return observed


def _reattribute(observed: Observed, secret_file: akfiles.SecretFile, other: akfiles.SecretFile, want: Desired) -> None:
    """Find the key of a secret file whose sidecar does not match it (see the module docstring)."""
    try:
        secret = akfiles.decode_secret(secret_file.data or b"", want.vault_password, secret_file.path)
    except IzumaConfigError:
        secret = ""
    found = next((item for item in observed.remote if item.get("key") and secret.startswith(str(item["key"]))), None)
    if found is None and other.exists and not other.stale_meta and other.data == secret_file.data:
        found = observed.by_id(other.key_id)
    if found is None:
        candidate = observed.named(want.name)
        if candidate is not None and candidate.get("id") != other.key_id:
            found = candidate
    if found is not None:
        secret_file.key_id = str(found["id"])
        observed.reattributed[secret_file.path] = secret_file.key_id
