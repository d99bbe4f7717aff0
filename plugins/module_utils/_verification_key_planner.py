# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The verification-key planner: from (observed, desired) to a typed plan, for state=present and state=absent.

Rotation, room-making and retirement are in ``_verification_key_rotation``; what they share is ``Planning``.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from ansible_collections.izuma.device_management.plugins.module_utils import _certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key_options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key_planning import Planning, missing_key_error
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key_rotation import (
    make_room,
    retire,
    rotate,
    rotation_reason,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key_state import Observed


def plan(observed: Observed, want: Desired) -> Tuple[Plan, Dict[str, Any]]:
    """The plan for the task, and facts about it (rotated, renewed, rotation_reason, warnings) for the result."""
    planning = Planning(observed, want)
    if want.state == "absent":
        plan_absent(planning)
    else:
        plan_present(planning)
    return planning.plan, planning.facts


def plan_present(planning: Planning) -> None:
    """Create, edit, renew or rotate the key so that it matches the task."""
    obs, want = planning.obs, planning.want
    current_remote = obs.by_fingerprint(obs.current)
    pending_remote = obs.by_fingerprint(obs.pending)
    previous_remote = obs.by_fingerprint(obs.previous)
    named_previous = obs.by_name(want.previous_name)
    if previous_remote is None and named_previous is not None and named_previous not in (current_remote, pending_remote):
        # Ours by name: its private key file was removed by hand, but we created that name.
        previous_remote = named_previous

    if obs.pending is not None:
        # A rotation (or first creation) was interrupted: finish it with the key already on disk.
        rotate(planning, obs.pending, pending_remote, current_remote, previous_remote, resume=True,
               why="finish what a run left unfinished (%s is on disk)" % obs.pending.path)
    elif obs.current is None:
        holder = obs.by_name(want.name)
        if holder is not None:
            raise missing_key_error(want, holder)
        pending = planning.new_key()
        planning.write_pending_key(pending, why="there is no private key at %s" % want.private_key_path)
        rotate(planning, pending, None, None, previous_remote, resume=False, why="create the key")
    elif current_remote is None:
        upload_existing(planning, previous_remote)
    else:
        reason = rotation_reason(planning, current_remote)
        if reason:
            pending = planning.new_key()
            planning.write_pending_key(pending, why="rotate: %s" % reason)
            planning.facts["rotation_reason"] = reason
            rotate(planning, pending, None, current_remote, previous_remote, resume=False, why="rotate: %s" % reason)
        else:
            converge_current(planning, current_remote)
            retire(planning, previous_remote, current_remote)


def upload_existing(planning: Planning, previous_remote: Any) -> None:
    """Upload a private key that exists locally but not in the application, with its certificate or a new one."""
    obs, want = planning.obs, planning.want
    holder = obs.by_name(want.name)
    if holder is not None:
        raise missing_key_error(want, holder)
    make_room(planning, previous_remote, current_remote=None, purpose="upload '%s'" % want.name)
    pem = planning.input_certificate(obs.current)
    why = "the private key %s is not uploaded" % (obs.current.path or "private_key_content")
    if pem is not None and planning.given_content():
        check_given_content(planning, pem, uploaded=False)
    elif pem is None or planning.expiry_reason(pem):
        pem = planning.new_certificate(obs.current.key)
    planning.upload(want.name, pem, why=why)
    planning.write_certificate(pem, why="keep the uploaded certificate beside its key")
    planning.facts["uploaded"] = True


def converge_current(planning: Planning, item: Dict[str, Any]) -> None:
    """Rename, describe, re-certify or (de)activate the current key in one PUT, and sync the certificate file."""
    obs, want = planning.obs, planning.want
    body: Dict[str, Any] = {}
    reasons = []
    if item["name"] != want.name:
        holder = obs.by_name(want.name)
        if holder is not None:
            raise missing_key_error(want, holder)
        body["name"] = want.name
        reasons.append("the key is named '%s', the task says '%s'" % (item["name"], want.name))
    if want.description is not None and (item.get("description") or "") != want.description:
        body["description"] = want.description
        reasons.append("the description differs")
    remote_pem = certs.normalize_certificate_pem(item["certificate"], source="uploaded certificate")
    given = planning.input_certificate(obs.current)
    pem = given or remote_pem
    renewal = None
    if given is not None and planning.given_content():
        check_given_content(planning, given, uploaded=given.strip() == remote_pem.strip())
    elif want.renew_before:
        renewal = planning.expiry_reason(pem)
        if renewal:
            pem = planning.new_certificate(obs.current.key)
            planning.facts["renewed"] = True
            reasons.append("renew: %s" % renewal)
    if pem.strip() != remote_pem.strip():
        planning.check_upload(pem, want.name)
        body["certificate"] = pem
        if not renewal:
            reasons.append("%s holds another certificate for the key" % obs.certificate_source)
    status = want.api_status
    if status and status != item.get("status"):
        info = planning.info(pem)
        if status == "ACTIVE" and not info["valid"]:
            fix = ("give a certificate that has not expired in certificate_content" if planning.given_content() else
                   "set renew_before (days) to issue a new certificate for the same key in this run")
            raise IzumaKeyError("Cannot activate '%s': its certificate expired at %s. Izuma Device Management only activates "
                                "keys with an unexpired certificate; %s." % (item["name"], info["expires_at"], fix))
        body["status"] = status
        reasons.append("the status is %s, the task says %s" % (item.get("status"), status))
    if body:
        planning.update(item, body, why="; ".join(reasons))
    planning.write_certificate(pem, why="renewed certificate" if planning.facts["renewed"] else
                               "the certificate file differs from the uploaded certificate")


def check_given_content(planning: Planning, pem: str, uploaded: bool) -> None:
    """Refuse an expired certificate_content that is still to be uploaded; warn when it expires soon.

    The module renews only certificates it can write back (certificate_path, or none given): a renewed certificate
    for certificate_content could not be kept, and the next run would replace it again.
    """
    want = planning.want
    info = planning.info(pem)
    if info["expired"] and not uploaded:
        raise IzumaKeyError("certificate_content expired at %s; Izuma Device Management does not accept an expired "
                            "verification key, and the module does not replace a certificate you give: give a certificate "
                            "that has not expired, or leave certificate_content out to have the module issue (and renew) "
                            "one for the key." % info["expires_at"])
    if info["expired"]:
        planning.warn("The certificate of '%s' (certificate_content) expired at %s, so the key cannot verify JWTs: give a "
                      "certificate that has not expired." % (want.name, info["expires_at"]))
    elif want.renew_before and info["days_left"] < want.renew_before:
        planning.warn("The certificate of '%s' (certificate_content) expires in %d days, at %s (renew_before=%d); the module "
                      "renews only certificates it issues: give a renewed certificate before then."
                      % (want.name, info["days_left"], info["expires_at"], want.renew_before))


def plan_absent(planning: Planning) -> None:
    """Delete the named keys (and this key's previous generation); remove local files only when asked."""
    want, paths = planning.want, planning.obs.files
    names = [want.name, want.previous_name] + list(want.extra_names)
    for item in planning.obs.remote:
        if item.get("name") in names:
            planning.delete(item, "state=absent")
    if want.remove_files and want.private_key_path:
        for path in (paths.private_key, paths.pending, paths.previous):
            planning.remove_file(path, "state=absent with remove_files")
        for path in (paths.certificate, paths.previous_certificate):
            planning.remove_file(path, "state=absent with remove_files")
