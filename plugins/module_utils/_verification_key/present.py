# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""state=present: what the planner does with the task's key: create it, upload it, keep it in line with the task
(rename, describe, renew, (de)activate), or start or finish a rotation (the steps of which are in ``rotation``).

Every step takes the ``Planner`` (in ``plan``) first; certificate_provider=external waits here for the user's CA.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.plan import (
    Planner,
    external_certificate,
    external_due,
    input_certificate,
    issued_here,
    missing_key_error,
    new_certificate,
    next_step,
    provider_mismatch,
    reissue_reason,
    request_certificate,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.rotation import (
    make_room,
    repair,
    retire,
    rotate,
    rotation_reason,
    rotation_under_way,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import LocalKey


def plan_present(planner: Planner) -> None:
    """Create, edit, renew or rotate the key so that it matches the task."""
    obs, want = planner.obs, planner.want
    current_remote = obs.by_fingerprint(obs.current)
    pending_remote = obs.by_fingerprint(obs.pending)
    previous_remote = obs.by_fingerprint(obs.previous)
    named_previous = obs.by_name(want.previous_name)
    if previous_remote is None and named_previous is not None and named_previous not in (current_remote, pending_remote):
        # Ours by name: its private key file was removed by hand, but we created that name.
        previous_remote = named_previous

    external = want.certificate_provider == "external"
    if obs.pending is not None:
        if external and pending_remote is None and external_certificate(planner, obs.pending) is None:
            # The new key waits for its certificate from the user's CA.
            await_certificate(planner, obs.pending, current_remote, previous_remote,
                              why="%s without a certificate" % planner.store.held(obs.pending))
            return
        # A rotation (or first creation) was interrupted: finish it with the key already on disk.
        rotate(planner, obs.pending, pending_remote, current_remote, previous_remote, resume=True,
               why=obs.pending_why or "finish what a run left unfinished (%s)" % planner.store.held(obs.pending))
    elif obs.current is None:
        holder = obs.by_name(want.name)
        if holder is not None:
            raise missing_key_error(want, holder)
        pending = planner.new_key()
        planner.write_pending_key(pending, why="there is no private key at %s" % (want.private_key_path or want.pkcs11_label("current")))
        if external:
            await_certificate(planner, pending, None, previous_remote, why="create the key")
            return
        rotate(planner, pending, None, None, previous_remote, resume=False, why="create the key")
    elif current_remote is None:
        holder = obs.by_name(want.name)
        leftover = obs.leftover_of(holder)
        if holder is not None and leftover is not None:
            repair(planner, holder, leftover, previous_remote)
        else:
            upload_existing(planner, previous_remote)
    else:
        reason = rotation_reason(planner, current_remote)
        if reason and previous_remote is not None and want.on_rotation_under_way != "rotate":
            reason = rotation_under_way(planner, reason, previous_remote)
        if reason:
            pending = planner.new_key()
            planner.write_pending_key(pending, why="rotate: %s" % reason)
            planner.facts["rotation_reason"] = reason
            if external:
                await_certificate(planner, pending, current_remote, previous_remote, why="rotate: %s" % reason)
                return
            rotate(planner, pending, None, current_remote, previous_remote, resume=False, why="rotate: %s" % reason)
        else:
            converge_current(planner, current_remote)
            retire(planner, previous_remote, current_remote)


def await_certificate(planner: Planner, pending: LocalKey, current_remote: Any, previous_remote: Any, why: str) -> None:
    """certificate_provider=external: a new key (a rotation's, or the first) needs a certificate from the user's CA.

    The request is written to csr_path; the new key stays at ``.next`` until its certificate is at certificate_path.
    Meanwhile the current key goes on as it is (a warning); without one the run fails after writing the request.
    """
    request_certificate(planner, pending, why="%s: certificate_provider=external" % why)
    message = "The new key of '%s' (%s) is not uploaded yet: %s%s." % (
        planner.want.name, pending.path, next_step(planner, "it"),
        ", and the rotation finishes" if current_remote is not None else "")
    planner.facts["certificate_request"] = message
    if current_remote is None:
        planner.block(message)
        return
    planner.warn(message + " Until then the current key stays in use.")
    planner.facts["rotated"] = False
    converge_current(planner, current_remote)
    retire(planner, previous_remote, current_remote)


def upload_existing(planner: Planner, previous_remote: Any) -> None:
    """Upload a private key that exists locally but not in the application, with its certificate or a new one."""
    obs, want = planner.obs, planner.want
    holder = obs.by_name(want.name)
    if holder is not None:
        raise missing_key_error(want, holder)
    pem = input_certificate(planner, obs.current)
    why = "the private key %s is not uploaded" % (obs.current.path or "private_key_content")
    if pem is not None and planner.given_content():
        check_given_content(planner, pem, uploaded=False)
    elif pem is None and want.certificate_provider == "external":
        request_certificate(planner, obs.current, why="%s and certificate_provider=external" % why)
        message = "The key '%s' is not uploaded yet: %s." % (want.name, next_step(planner, "its private key %s" % obs.current.path))
        planner.facts["certificate_request"] = message
        planner.block(message)
        return
    elif pem is None:
        pem = new_certificate(planner, obs.current.key)
    elif planner.expiry_reason(pem) and issued_here(planner, pem):
        pem = new_certificate(planner, obs.current.key)
    elif planner.expiry_reason(pem) and want.certificate_provider == "external":
        if external_due(planner, obs.current, pem, str(planner.expiry_reason(pem)), obs.certificate_source):
            return
    elif planner.expiry_reason(pem):
        foreign_certificate(planner, pem, str(planner.expiry_reason(pem)), obs.certificate_source)
    elif reissue_reason(planner, pem):
        pem = new_certificate(planner, obs.current.key)
    else:
        provider_mismatch(planner, pem, obs.certificate_source)
    make_room(planner, previous_remote, current_remote=None, purpose="upload '%s'" % want.name)
    planner.upload(want.name, pem, why=why)
    planner.write_certificate(pem, why="keep the uploaded certificate beside its key")


def converge_current(planner: Planner, item: Dict[str, Any]) -> None:
    """Rename, describe, re-certify or (de)activate the current key in one PUT, and sync the certificate file."""
    obs, want = planner.obs, planner.want
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
    given = input_certificate(planner, obs.current)
    pem = given or remote_pem
    renewal = None
    if given is not None and planner.given_content():
        check_given_content(planner, given, uploaded=given.strip() == remote_pem.strip())
    elif want.renew_before or reissue_reason(planner, pem):
        renewal = planner.expiry_reason(pem) if want.renew_before else None
        source = obs.certificate_source if given else "the uploaded certificate"
        if renewal and not issued_here(planner, pem):
            if want.certificate_provider != "external":
                foreign_certificate(planner, pem, renewal, source)
            elif external_due(planner, obs.current, pem, renewal, source):
                return  # expired: nothing else can be done to the key until its new certificate is there
            renewal = None
        renewal = renewal or reissue_reason(planner, pem)
        provider_mismatch(planner, pem, source)
        if renewal:
            pem = new_certificate(planner, obs.current.key)
            planner.facts["renewed"] = True
            reasons.append("renew: %s" % renewal)
    if pem.strip() != remote_pem.strip():
        planner.check_upload(pem, want.name)
        body["certificate"] = pem
        if not renewal:
            reasons.append("%s holds another certificate for the key" % obs.certificate_source)
    status = want.api_status
    if status and status != item.get("status"):
        check_status_change(planner, item, pem, status)
        body["status"] = status
        reasons.append("the status is %s, the task says %s" % (item.get("status"), status))
    if (body.get("status") or item.get("status")) == "ACTIVE" and status != "INACTIVE":
        check_usable(planner, item, pem)
    if body:
        planner.update(item, body, why="; ".join(reasons))
    planner.write_certificate(pem, why="renewed certificate" if planner.facts["renewed"] else
                              "the certificate file differs from the uploaded certificate")


def check_status_change(planner: Planner, item: Dict[str, Any], pem: str, status: str) -> None:
    """Refuse a change of status the API refuses: activating a key whose certificate is not valid, or any change of
    an expired key's status."""
    info = planner.info(pem)
    if status == "ACTIVE" and not info["valid"]:
        fix = ("give a certificate that has not expired in certificate_content" if planner.given_content() else
               "set renew_before (days) to issue a new certificate for the same key in this run")
        raise IzumaKeyError("Cannot activate '%s': its certificate expired at %s. Izuma Device Management only activates "
                            "keys with an unexpired certificate; %s." % (item["name"], info["expires_at"], fix))
    if info["expired"]:
        # The product page: "Status can be set to active or inactive if certificate is not expired."
        raise IzumaKeyError("Cannot set '%s' to %s: its certificate expired at %s, and Izuma Device Management changes "
                            "the status only of keys whose certificate has not expired. Set renew_before (days) to issue "
                            "a new certificate for the same key in this run, or delete the key (state=absent)."
                            % (item["name"], status.lower(), info["expires_at"]))


def check_usable(planner: Planner, item: Dict[str, Any], pem: str) -> None:
    """An ACTIVE key must be able to verify JWTs after the run: refuse one whose certificate is expired or not yet valid."""
    info = planner.info(pem)
    if info["valid"]:
        return
    if info["expired"]:
        problem = "its certificate expired at %s" % info["expires_at"]
    else:
        problem = "its certificate is not valid before %s" % info["valid_from"]
    if planner.given_content():
        fix = "give a certificate that is valid now in certificate_content"
    elif not issued_here(planner, pem):
        fix = ("renew the certificate with its issuer (%s) for the same key and put it at certificate_path, or rotate=true to "
               "replace the key pair with one whose certificate the module issues" % info["issuer"])
    else:
        fix = ("set renew_before (days, for example renew_before=30) to issue a new certificate for the same key in this "
               "run, or rotate=true to replace the key pair")
    raise IzumaKeyError("The key '%s' is ACTIVE but cannot verify JWTs: %s, so Izuma Device Management refuses every token "
                        "it signed. To fix it, %s." % (item["name"], problem, fix))


def foreign_certificate(planner: Planner, pem: str, reason: str, source: str) -> None:
    """A certificate someone else issued is never replaced: a warning while it is valid, a failure once it has expired.

    The module replaces only certificates it issued itself (self-signed by the key): a certificate from the user's CA
    is theirs to renew, and replacing it with a self-signed one would lose it.
    """
    info = planner.info(pem)
    how = ("renew it with its issuer for the same key and put the new certificate at certificate_path (the module then "
           "uploads it in place), or rotate=true to replace the key pair with one whose certificate the module issues")
    if info["expired"]:
        raise IzumaKeyError("%s of '%s' was issued by %s, not by this module, and expired at %s; the module does not replace "
                            "a certificate it did not issue: %s." % (source, planner.want.name, info["issuer"],
                                                                     info["expires_at"], how))
    planner.warn("%s of '%s' was issued by %s, not by this module, and %s; the module does not replace a certificate it did "
                 "not issue: %s." % (source, planner.want.name, info["issuer"], reason.replace("the certificate ", ""), how))


def check_given_content(planner: Planner, pem: str, uploaded: bool) -> None:
    """Refuse an expired certificate_content that is still to be uploaded; warn when it expires soon.

    The module renews only certificates it can write back (certificate_path, or none given): a renewed certificate
    for certificate_content could not be kept, and the next run would replace it again.
    """
    want = planner.want
    info = planner.info(pem)
    if info["expired"] and not uploaded:
        raise IzumaKeyError("certificate_content expired at %s; Izuma Device Management does not accept an expired "
                            "verification key, and the module does not replace a certificate you give: give a certificate "
                            "that has not expired, or leave certificate_content out to have the module issue (and renew) "
                            "one for the key." % info["expires_at"])
    if info["expired"]:
        planner.warn("The certificate of '%s' (certificate_content) expired at %s, so the key cannot verify JWTs: give a "
                     "certificate that has not expired." % (want.name, info["expires_at"]))
    elif want.renew_before and info["days_left"] < want.renew_before:
        planner.warn("The certificate of '%s' (certificate_content) expires in %d days, at %s (renew_before=%d); the module "
                     "renews only certificates it issues: give a renewed certificate before then."
                     % (want.name, info["days_left"], info["expires_at"], want.renew_before))
