# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The rotation steps of the planner: when a rotation is due, how it fits in the two-key limit, when the previous
key retires, and the repair of what two runs at once left behind.

A rotation writes the new key as ``.next`` first, renames the current uploaded key to the previous name, uploads
the new one under the key's name, then promotes the files. A run killed anywhere in between is finished by the next
run from what is on disk and in the application. When a rotation is due by age and when the grace period has passed
is the policy access keys share (``_rotation_policy``); the reasons and errors are worded here.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._rotation_policy import age_seconds
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.plan import (
    Planner,
    certificate_for_new_key,
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


def rotation_reason(planner: Planner, current: Dict[str, Any]) -> Optional[str]:
    """Why the current key must be rotated now (rotate, rotate_after_days, rotate_before_days), or None."""
    want, now = planner.want, planner.obs.now
    if want.rotate:
        return "rotation requested"
    if want.rotate_after_days is not None:
        aged = want.age_reason(times.parse_rfc3339(current["created_at"]), now)
        if aged:
            return aged
    left = days_left(current, now)
    if want.rotate_before_days is not None and left is not None and left < want.rotate_before_days:
        return "certificate expires in %d days (rotate_before_days=%d)" % (left, want.rotate_before_days)
    return None


def rotation_under_way(planner: Planner, reason: str, previous_remote: Dict[str, Any]) -> Optional[str]:
    """A rotation is due but the previous one is still under way (its previous generation is uploaded): skip or fail.

    Decided inside the locked run, so that runs of the same task at once (job slices, a cron job beside a manual
    run) start one rotation between them, not one each.
    """
    want = planner.want
    if want.on_rotation_under_way == "fail":
        raise IzumaConfigError(
            "A rotation is due (%s), but the previous one is still under way: its previous key '%s' is still uploaded. "
            "Wait until it is retired (grace_period=%ds, retire_previous), or set on_rotation_under_way=rotate to retire it "
            "and rotate again, or on_rotation_under_way=skip to leave the key as it is." % (reason, previous_remote["name"],
                                                                                            want.grace_period))
    planner.facts["rotation_skipped"] = "%s; not started: the previous key '%s' is still uploaded (on_rotation_under_way=skip)" % (
        reason, previous_remote["name"])
    return None


def may_retire(planner: Planner, current: Item) -> bool:
    """Whether retire_previous lets the previous key go: its grace period counts from the current key's upload (with
    no current key there is nothing to wait for)."""
    want = planner.want
    if current is None:
        return want.retire_previous != "never"
    return want.may_retire(age_seconds(times.parse_rfc3339(current["created_at"]), planner.obs.now))


def make_room(planner: Planner, previous_remote: Item, current_remote: Item, purpose: str, needs_name: bool = False) -> None:
    """Delete this key's previous generation if one more key would break the two-key limit, or fail.

    ``needs_name``: the previous generation must go even below the limit, because the current key is about to
    take its name.
    """
    obs, want = planner.obs, planner.want
    keep = [item for item in obs.remote if item is not previous_remote]
    if len(obs.remote) < MAX_KEYS_PER_APPLICATION and not (needs_name and previous_remote is not None):
        return
    if previous_remote is None or len(keep) >= MAX_KEYS_PER_APPLICATION:
        blocking = [item for item in obs.remote if item is not current_remote]
        raise slots_error(planner, purpose, blocking, previous_remote)
    if not may_retire(planner, current_remote):
        raise slots_error(planner, purpose, [previous_remote], previous_remote)
    if not any(is_usable(item, obs.now) for item in keep) and is_usable(previous_remote, obs.now):
        raise IzumaConfigError("Cannot %s: the only usable key is the previous one ('%s'); deleting it would leave the "
                               "application without a usable key. Renew the current key first (renew_before)."
                               % (purpose, previous_remote["name"]))
    planner.delete(previous_remote, "make room for the new key (two keys at most)")
    if want.remove_previous_private_key and obs.previous is not None:
        planner.remove_private_key(obs.previous, "its key was retired")


def rotate(planner: Planner, pending: LocalKey, pending_remote: Item, current_remote: Item, previous_remote: Item,
           resume: bool, why: str) -> None:
    """Upload the pending key next to the current one and make it the signing key; the current becomes previous."""
    obs, want = planner.obs, planner.want
    planner.facts["rotated"] = current_remote is not None or (resume and obs.current is not None)
    if resume and current_remote is None and obs.current is not None:
        current_remote = obs.by_fingerprint(obs.current)
    if pending_remote is None:
        if previous_remote is not None and previous_remote is not current_remote:
            make_room(planner, previous_remote, current_remote, "rotate '%s'" % want.name, needs_name=current_remote is not None)
        elif len(obs.remote) >= MAX_KEYS_PER_APPLICATION:
            raise slots_error(planner, "upload the new key '%s'" % want.name,
                              [item for item in obs.remote if item is not current_remote])
        holder = obs.by_name(want.name)
        if holder is not None and holder is not current_remote:
            raise missing_key_error(want, holder)
    if current_remote is not None and current_remote["name"] != want.previous_name:
        planner.update(current_remote, {"name": want.previous_name},
                       why="%s: the current key becomes the previous generation" % why)
    if pending_remote is None:
        new_pem = certificate_for_new_key(planner, pending)
        planner.upload(want.name, new_pem, why="%s: upload the new key" % why)
    else:
        new_pem = certs.normalize_certificate_pem(pending_remote["certificate"])
        if pending_remote["name"] != want.name:
            planner.update(pending_remote, {"name": want.name}, why="%s: the new key takes the name" % why)
    planner.promote(pending, new_pem, why="%s: the new key becomes the signing key at %s" % (why, want.private_key_path or want.pkcs11_label("current")),
                    current_remote=current_remote)


def retire(planner: Planner, previous_remote: Item, current_remote: Dict[str, Any]) -> None:
    """Delete the previous generation once its grace period has passed (or when asked), never the last usable key."""
    obs, want = planner.obs, planner.want
    if previous_remote is not None:
        if not may_retire(planner, current_remote):
            return
        if not is_usable(current_remote, obs.now) and is_usable(previous_remote, obs.now):
            planner.warn("The previous key '%s' was kept: the current key '%s' is not usable (inactive or expired), and "
                         "deleting the previous one would leave the application without a usable key."
                         % (previous_remote["name"], current_remote["name"]))
            return
        planner.delete(previous_remote, "retired after the grace period" if want.retire_previous == "auto" else "retired on request")
    if want.remove_previous_private_key and obs.previous is not None and (previous_remote is not None or want.retire_previous != "never"):
        planner.remove_private_key(obs.previous, "its key is no longer uploaded")
        planner.remove_file(obs.files.previous_certificate, "its key is no longer uploaded")


def repair(planner: Planner, holder: Dict[str, Any], leftover: LocalKey, previous_remote: Any) -> None:
    """The key named ``name`` is uploaded, its private key is a leftover (``.previous``, a temporary file), and the
    file at private_key_path holds a key that was never uploaded: what two runs at once (before locking) left behind.

    Proven by the public keys, so it is repaired like an unfinished rotation: the leftover goes to ``.next`` and is
    promoted, and the never-uploaded key is kept as ``.previous`` (never deleted).
    """
    obs = planner.obs
    sentence = ("the key '%s' in the application belongs to the private key in %s, and %s holds a key that was never "
                "uploaded: the uploaded key's private key is put back at %s, the other one kept at %s"
                % (holder["name"], leftover.path, obs.current.path, obs.files.private_key, obs.files.previous))
    pending = planner.store.restore_pending(planner, leftover, why="repair: " + sentence)
    rotate(planner, pending, holder, None, previous_remote if previous_remote is not holder else None, resume=True,
           why="repair")
    planner.store.drop_leftover(planner, leftover)
    planner.facts["rotated"] = False
    planner.facts["repaired"] = sentence
    planner.warn("Repaired: " + sentence + ".")
