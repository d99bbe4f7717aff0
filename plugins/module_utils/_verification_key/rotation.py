# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Rotation planning: when a rotation is due, how it fits in the two-key limit, and when the previous key retires.

A rotation writes the new key as ``.next`` first, renames the current uploaded key to the previous name, uploads
the new one under the key's name, then promotes the files. A run killed anywhere in between is finished by the next
run from what is on disk and in the application.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.planning import (
    Planning,
    missing_key_error,
    slots_error,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import (
    MAX_KEYS_PER_APPLICATION,
    LocalKey,
    days_left,
    is_usable,
)
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times

Item = Optional[Dict[str, Any]]


def age_days(planning: Planning, item: Dict[str, Any]) -> int:
    """Whole days since the uploaded key was created."""
    return (planning.obs.now - times.parse_rfc3339(item["created_at"])) // datetime.timedelta(days=1)


def rotation_reason(planning: Planning, current: Dict[str, Any]) -> Optional[str]:
    """Why the current key must be rotated now (rotate, rotate_after_days, rotate_before_days), or None."""
    want = planning.want
    if want.rotate:
        return "rotation requested"
    if want.rotate_after_days is not None and age_days(planning, current) >= want.rotate_after_days:
        return "key is %d days old (rotate_after_days=%d)" % (age_days(planning, current), want.rotate_after_days)
    left = days_left(current, planning.obs.now)
    if want.rotate_before_days is not None and left is not None and left < want.rotate_before_days:
        return "certificate expires in %d days (rotate_before_days=%d)" % (left, want.rotate_before_days)
    return None


def grace_passed(planning: Planning, current: Item) -> bool:
    """True when the current key was uploaded at least grace_period seconds ago (or there is none)."""
    if current is None:
        return True
    since = times.parse_rfc3339(current["created_at"])
    return (planning.obs.now - since).total_seconds() >= planning.want.grace_period


def make_room(planning: Planning, previous_remote: Item, current_remote: Item, purpose: str, needs_name: bool = False) -> None:
    """Delete this key's previous generation if one more key would break the two-key limit, or fail.

    ``needs_name``: the previous generation must go even below the limit, because the current key is about to
    take its name.
    """
    obs, want = planning.obs, planning.want
    keep = [item for item in obs.remote if item is not previous_remote]
    if len(obs.remote) < MAX_KEYS_PER_APPLICATION and not (needs_name and previous_remote is not None):
        return
    if previous_remote is None or len(keep) >= MAX_KEYS_PER_APPLICATION:
        blocking = [item for item in obs.remote if item is not current_remote]
        raise slots_error(planning, purpose, blocking, previous_remote)
    if want.retire_previous == "never" or (want.retire_previous == "auto" and not grace_passed(planning, current_remote)):
        raise slots_error(planning, purpose, [previous_remote], previous_remote)
    if not any(is_usable(item, obs.now) for item in keep) and is_usable(previous_remote, obs.now):
        raise IzumaConfigError("Cannot %s: the only usable key is the previous one ('%s'); deleting it would leave the "
                               "application without a usable key. Renew the current key first (renew_before)."
                               % (purpose, previous_remote["name"]))
    planning.delete(previous_remote, "make room for the new key (two keys at most)")
    if want.remove_previous_private_key and obs.previous is not None:
        planning.remove_private_key(obs.previous, "its key was retired")


def rotate(planning: Planning, pending: LocalKey, pending_remote: Item, current_remote: Item, previous_remote: Item,
           resume: bool, why: str) -> None:
    """Upload the pending key next to the current one and make it the signing key; the current becomes previous."""
    obs, want = planning.obs, planning.want
    planning.facts["rotated"] = current_remote is not None or (resume and obs.current is not None)
    if resume and current_remote is None and obs.current is not None:
        current_remote = obs.by_fingerprint(obs.current)
    if pending_remote is None:
        if previous_remote is not None and previous_remote is not current_remote:
            make_room(planning, previous_remote, current_remote, "rotate '%s'" % want.name, needs_name=current_remote is not None)
        elif len(obs.remote) >= MAX_KEYS_PER_APPLICATION:
            raise slots_error(planning, "upload the new key '%s'" % want.name,
                              [item for item in obs.remote if item is not current_remote])
        holder = obs.by_name(want.name)
        if holder is not None and holder is not current_remote:
            raise missing_key_error(want, holder)
    if current_remote is not None and current_remote["name"] != want.previous_name:
        planning.update(current_remote, {"name": want.previous_name},
                        why="%s: the current key becomes the previous generation" % why)
    if pending_remote is None:
        new_pem = planning.certificate_for_new_key(pending)
        planning.upload(want.name, new_pem, why="%s: upload the new key" % why)
    else:
        new_pem = certs.normalize_certificate_pem(pending_remote["certificate"])
        if pending_remote["name"] != want.name:
            planning.update(pending_remote, {"name": want.name}, why="%s: the new key takes the name" % why)
    planning.promote(pending, new_pem, why="%s: the new key becomes the signing key at %s" % (why, want.private_key_path or want.pkcs11_label("current")),
                     current_remote=current_remote)


def retire(planning: Planning, previous_remote: Item, current_remote: Dict[str, Any]) -> None:
    """Delete the previous generation once its grace period has passed (or when asked), never the last usable key."""
    obs, want = planning.obs, planning.want
    if previous_remote is not None:
        due = want.retire_previous == "now" or (want.retire_previous == "auto" and grace_passed(planning, current_remote))
        if not due:
            return
        if not is_usable(current_remote, obs.now) and is_usable(previous_remote, obs.now):
            planning.warn("The previous key '%s' was kept: the current key '%s' is not usable (inactive or expired), and "
                          "deleting the previous one would leave the application without a usable key."
                          % (previous_remote["name"], current_remote["name"]))
            return
        planning.delete(previous_remote, "retired after the grace period" if want.retire_previous == "auto" else "retired on request")
    if want.remove_previous_private_key and obs.previous is not None and (previous_remote is not None or want.retire_previous != "never"):
        planning.remove_private_key(obs.previous, "its key is no longer uploaded")
        planning.remove_file(obs.files.previous_certificate, "its key is no longer uploaded")
