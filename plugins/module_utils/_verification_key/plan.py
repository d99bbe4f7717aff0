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

from typing import Any, Dict, Optional, Tuple

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import issuing as issuing
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.planning import Planning, missing_key_error
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.rotation import (
    make_room,
    retire,
    rotate,
    rotation_reason,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import LocalKey, Observed


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

    external = want.certificate_provider == "external"
    if obs.pending is not None:
        if external and pending_remote is None and issuing.external_certificate(planning, obs.pending) is None:
            # The new key waits for its certificate from the user's CA.
            await_certificate(planning, obs.pending, current_remote, previous_remote,
                              why="%s without a certificate" % planning.store.held(obs.pending))
            return
        # A rotation (or first creation) was interrupted: finish it with the key already on disk.
        rotate(planning, obs.pending, pending_remote, current_remote, previous_remote, resume=True,
               why=obs.pending_why or "finish what a run left unfinished (%s)" % planning.store.held(obs.pending))
    elif obs.current is None:
        holder = obs.by_name(want.name)
        if holder is not None:
            raise missing_key_error(want, holder)
        pending = planning.new_key()
        planning.write_pending_key(pending, why="there is no private key at %s" % (want.private_key_path or want.pkcs11_label("current")))
        if external:
            await_certificate(planning, pending, None, previous_remote, why="create the key")
            return
        rotate(planning, pending, None, None, previous_remote, resume=False, why="create the key")
    elif current_remote is None:
        holder = obs.by_name(want.name)
        leftover = obs.leftover_of(holder)
        if holder is not None and leftover is not None:
            repair(planning, holder, leftover, previous_remote)
        else:
            upload_existing(planning, previous_remote)
    else:
        reason = rotation_reason(planning, current_remote)
        if reason and previous_remote is not None and want.on_rotation_under_way != "rotate":
            reason = rotation_under_way(planning, reason, previous_remote)
        if reason:
            pending = planning.new_key()
            planning.write_pending_key(pending, why="rotate: %s" % reason)
            planning.facts["rotation_reason"] = reason
            if external:
                await_certificate(planning, pending, current_remote, previous_remote, why="rotate: %s" % reason)
                return
            rotate(planning, pending, None, current_remote, previous_remote, resume=False, why="rotate: %s" % reason)
        else:
            converge_current(planning, current_remote)
            retire(planning, previous_remote, current_remote)


def await_certificate(planning: Planning, pending: LocalKey, current_remote: Any, previous_remote: Any, why: str) -> None:
    """certificate_provider=external: a new key (a rotation's, or the first) needs a certificate from the user's CA.

    The request is written to csr_path; the new key stays at ``.next`` until its certificate is at certificate_path.
    Meanwhile the current key goes on as it is (a warning); without one the run fails after writing the request.
    """
    issuing.request_certificate(planning, pending, why="%s: certificate_provider=external" % why)
    message = "The new key of '%s' (%s) is not uploaded yet: %s%s." % (
        planning.want.name, pending.path, issuing.next_step(planning, "it"),
        ", and the rotation finishes" if current_remote is not None else "")
    planning.facts["certificate_request"] = message
    if current_remote is None:
        planning.block(message)
        return
    planning.warn(message + " Until then the current key stays in use.")
    planning.facts["rotated"] = False
    converge_current(planning, current_remote)
    retire(planning, previous_remote, current_remote)


def repair(planning: Planning, holder: Dict[str, Any], leftover: LocalKey, previous_remote: Any) -> None:
    """The key named ``name`` is uploaded, its private key is a leftover (``.previous``, a temporary file), and the
    file at private_key_path holds a key that was never uploaded: what two runs at once (before locking) left behind.

    Proven by the public keys, so it is repaired like an unfinished rotation: the leftover goes to ``.next`` and is
    promoted, and the never-uploaded key is kept as ``.previous`` (never deleted).
    """
    obs = planning.obs
    sentence = ("the key '%s' in the application belongs to the private key in %s, and %s holds a key that was never "
                "uploaded: the uploaded key's private key is put back at %s, the other one kept at %s"
                % (holder["name"], leftover.path, obs.current.path, obs.files.private_key, obs.files.previous))
    pending = planning.store.restore_pending(planning, leftover, why="repair: " + sentence)
    rotate(planning, pending, holder, None, previous_remote if previous_remote is not holder else None, resume=True,
           why="repair")
    planning.store.drop_leftover(planning, leftover)
    planning.facts["rotated"] = False
    planning.facts["repaired"] = sentence
    planning.warn("Repaired: " + sentence + ".")


def rotation_under_way(planning: Planning, reason: str, previous_remote: Dict[str, Any]) -> Optional[str]:
    """A rotation is due but the previous one is still under way (its previous generation is uploaded): skip or fail.

    Decided inside the locked run, so that runs of the same task at once (job slices, a cron job beside a manual
    run) start one rotation between them, not one each.
    """
    want = planning.want
    if want.on_rotation_under_way == "fail":
        raise IzumaConfigError(
            "A rotation is due (%s), but the previous one is still under way: its previous key '%s' is still uploaded. "
            "Wait until it is retired (grace_period=%ds, retire_previous), or set on_rotation_under_way=rotate to retire it "
            "and rotate again, or on_rotation_under_way=skip to leave the key as it is." % (reason, previous_remote["name"],
                                                                                            want.grace_period))
    planning.facts["rotation_skipped"] = "%s; not started: the previous key '%s' is still uploaded (on_rotation_under_way=skip)" % (
        reason, previous_remote["name"])
    return None


def upload_existing(planning: Planning, previous_remote: Any) -> None:
    """Upload a private key that exists locally but not in the application, with its certificate or a new one."""
    obs, want = planning.obs, planning.want
    holder = obs.by_name(want.name)
    if holder is not None:
        raise missing_key_error(want, holder)
    pem = planning.input_certificate(obs.current)
    why = "the private key %s is not uploaded" % (obs.current.path or "private_key_content")
    if pem is not None and planning.given_content():
        check_given_content(planning, pem, uploaded=False)
    elif pem is None and want.certificate_provider == "external":
        issuing.request_certificate(planning, obs.current, why="%s and certificate_provider=external" % why)
        message = "The key '%s' is not uploaded yet: %s." % (want.name, issuing.next_step(planning, "its private key %s" % obs.current.path))
        planning.facts["certificate_request"] = message
        planning.block(message)
        return
    elif pem is None:
        pem = planning.new_certificate(obs.current.key)
    elif planning.expiry_reason(pem) and issuing.issued_here(planning, pem):
        pem = planning.new_certificate(obs.current.key)
    elif planning.expiry_reason(pem) and want.certificate_provider == "external":
        if issuing.external_due(planning, obs.current, pem, str(planning.expiry_reason(pem)), obs.certificate_source):
            return
    elif planning.expiry_reason(pem):
        foreign_certificate(planning, pem, str(planning.expiry_reason(pem)), obs.certificate_source)
    elif issuing.reissue_reason(planning, pem):
        pem = planning.new_certificate(obs.current.key)
    else:
        issuing.provider_mismatch(planning, pem, obs.certificate_source)
    make_room(planning, previous_remote, current_remote=None, purpose="upload '%s'" % want.name)
    planning.upload(want.name, pem, why=why)
    planning.write_certificate(pem, why="keep the uploaded certificate beside its key")


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
    elif want.renew_before or issuing.reissue_reason(planning, pem):
        renewal = planning.expiry_reason(pem) if want.renew_before else None
        source = obs.certificate_source if given else "the uploaded certificate"
        if renewal and not issuing.issued_here(planning, pem):
            if want.certificate_provider != "external":
                foreign_certificate(planning, pem, renewal, source)
            elif issuing.external_due(planning, obs.current, pem, renewal, source):
                return  # expired: nothing else can be done to the key until its new certificate is there
            renewal = None
        renewal = renewal or issuing.reissue_reason(planning, pem)
        issuing.provider_mismatch(planning, pem, source)
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
        if info["expired"]:
            # The product page: "Status can be set to active or inactive if certificate is not expired."
            raise IzumaKeyError("Cannot set '%s' to %s: its certificate expired at %s, and Izuma Device Management changes "
                                "the status only of keys whose certificate has not expired. Set renew_before (days) to issue "
                                "a new certificate for the same key in this run, or delete the key (state=absent)."
                                % (item["name"], status.lower(), info["expires_at"]))
        body["status"] = status
        reasons.append("the status is %s, the task says %s" % (item.get("status"), status))
    if (body.get("status") or item.get("status")) == "ACTIVE" and status != "INACTIVE":
        check_usable(planning, item, pem)
    if body:
        planning.update(item, body, why="; ".join(reasons))
    planning.write_certificate(pem, why="renewed certificate" if planning.facts["renewed"] else
                               "the certificate file differs from the uploaded certificate")


def check_usable(planning: Planning, item: Dict[str, Any], pem: str) -> None:
    """An ACTIVE key must be able to verify JWTs after the run: refuse one whose certificate is expired or not yet valid."""
    info = planning.info(pem)
    if info["valid"]:
        return
    if info["expired"]:
        problem = "its certificate expired at %s" % info["expires_at"]
    else:
        problem = "its certificate is not valid before %s" % info["valid_from"]
    if planning.given_content():
        fix = "give a certificate that is valid now in certificate_content"
    elif not issuing.issued_here(planning, pem):
        fix = ("renew the certificate with its issuer (%s) for the same key and put it at certificate_path, or rotate=true to "
               "replace the key pair with one whose certificate the module issues" % info["issuer"])
    else:
        fix = ("set renew_before (days, for example renew_before=30) to issue a new certificate for the same key in this "
               "run, or rotate=true to replace the key pair")
    raise IzumaKeyError("The key '%s' is ACTIVE but cannot verify JWTs: %s, so Izuma Device Management refuses every token "
                        "it signed. To fix it, %s." % (item["name"], problem, fix))


def foreign_certificate(planning: Planning, pem: str, reason: str, source: str) -> None:
    """A certificate someone else issued is never replaced: a warning while it is valid, a failure once it has expired.

    The module replaces only certificates it issued itself (self-signed by the key): a certificate from the user's CA
    is theirs to renew, and replacing it with a self-signed one would lose it.
    """
    info = planning.info(pem)
    how = ("renew it with its issuer for the same key and put the new certificate at certificate_path (the module then "
           "uploads it in place), or rotate=true to replace the key pair with one whose certificate the module issues")
    if info["expired"]:
        raise IzumaKeyError("%s of '%s' was issued by %s, not by this module, and expired at %s; the module does not replace "
                            "a certificate it did not issue: %s." % (source, planning.want.name, info["issuer"],
                                                                     info["expires_at"], how))
    planning.warn("%s of '%s' was issued by %s, not by this module, and %s; the module does not replace a certificate it did "
                  "not issue: %s." % (source, planning.want.name, info["issuer"], reason.replace("the certificate ", ""), how))


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
    want = planning.want
    names = [want.name, want.previous_name] + list(want.extra_names)
    for item in planning.obs.remote:
        if item.get("name") in names:
            planning.delete(item, "state=absent")
    if want.remove_files:
        planning.store.remove_all(planning, "state=absent with remove_files")
