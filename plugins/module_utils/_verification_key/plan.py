# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The verification-key planner: ``Planner``, what every step of planning shares, and the certificate-issuing decisions.

A ``Planner`` is made for one (observed, desired) pair: it holds the plan being built (typed changes, in the order
they are applied) and the facts for the result (rotated, renewed, warnings, ...), and its verbs add the changes.
The steps that decide what to add take the planner first: state=absent is here, state=present in ``present``
(create, upload, edit, renew), with the rotation steps (rotate, make room, retire) in ``rotation``;
``converge.make_plan`` makes the planner for a task and runs one or the other. These modules import this one, and
it imports none of them: no cycle.

The certificate decisions are here too, beside the planner that uses them: which certificate a new key gets, the
certificate the user gave, which certificates the module issued (and may replace), and for
``certificate_provider=external`` the signing requests and the certificates the user's CA sends back. The providers
themselves (the CA of ``ownca``, where requests go) are in ``issuers``, read once by ``observe``.

The planner reads nothing from disk: everything comes from ``Observed``. New key material is made here, in memory, so
that check mode is exact.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.changes import (
    DeleteKey,
    RemoveFile,
    UpdateKey,
    UploadKey,
    WriteCertificate,
    WriteCsr,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import (
    LocalKey,
    Observed,
    certificate_state,
    summary,
)
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times


class Planner:
    """The plan being made for one (observed, desired) pair, the facts for the result, and the verbs that add changes."""

    def __init__(self, observed: Observed, want: Desired) -> None:
        self.obs = observed
        self.want = want
        self.plan = Plan()
        self.facts: Dict[str, Any] = {"rotated": False, "renewed": False, "warnings": []}

    def warn(self, message: str) -> None:
        """A warning for the result."""
        self.facts["warnings"].append(message)

    @property
    def store(self) -> Any:
        """Where the private keys are: files, or key pairs in a PKCS#11 token (``file_store``, ``pkcs11_store``)."""
        return self.obs.store

    def new_key(self) -> LocalKey:
        """A new private key for the pending generation, as the planner sees it (the key store makes it)."""
        return self.store.new_key(self)

    def block(self, message: str) -> None:
        """The run cannot go on without the user (external: no usable certificate yet): it fails after its writes."""
        self.facts.setdefault("blocked", message)

    def info(self, pem: str) -> Dict[str, Any]:
        """``certificate_info`` of a PEM certificate, now."""
        return certs.certificate_info(certs.load_certificate(pem), now=self.obs.now)

    def given_content(self) -> bool:
        """True when the certificate is the task's certificate_content: uploaded as it is, never replaced by the module."""
        return self.obs.certificate_source == "certificate_content"

    def expiry_reason(self, pem: str) -> Optional[str]:
        """Why the certificate must be renewed (expired, or within renew_before), or None."""
        info = self.info(pem)
        if info["expired"]:
            return "the certificate expired at %s" % info["expires_at"]
        if info["days_left"] < self.want.renew_before:
            return "the certificate expires in %d days (renew_before=%d)" % (info["days_left"], self.want.renew_before)
        return None

    def check_upload(self, pem: str, name: str) -> None:
        """Refuse a certificate the API would refuse, before anything is written."""
        certs.assert_certificate_uploadable(pem, now=self.obs.now, source="the certificate for '%s'" % name)

    # changes ---------------------------------------------------------------------------------------------

    def write_pending_key(self, pending: LocalKey, why: str) -> None:
        """Store a new private key as the pending generation (a 0600 ``.next`` file, or a PKCS#11 key pair), before any upload."""
        self.store.write_pending(self, pending, why)

    def upload(self, name: str, pem: str, why: str) -> None:
        """Upload a certificate as the key ``name``."""
        self.check_upload(pem, name)
        status = self.want.api_status
        body: Dict[str, Any] = {"name": name, "certificate": pem}
        if self.want.description is not None:
            body["description"] = self.want.description
        if status:
            body["status"] = status
        info = self.info(pem)
        after = {"id": None, "name": name, "description": self.want.description, "status": status or "ACTIVE",
                 "public_key_fingerprint": info["public_key_fingerprint"], "certificate_fingerprint": info["fingerprint"],
                 "expires_at": info["expires_at"]}
        self.plan.add(UploadKey(body, info["public_key_fingerprint"], after=after, why=why))

    def update(self, item: Dict[str, Any], body: Dict[str, Any], why: str) -> None:
        """Change fields of an uploaded key."""
        after = dict(summary(item) or {})
        for field_name, value in body.items():
            if field_name == "certificate":
                info = self.info(value)
                after.update(certificate_fingerprint=info["fingerprint"], expires_at=info["expires_at"])
            else:
                after[field_name] = value
        self.plan.add(UpdateKey(item, body, after=after, why=why))

    def delete(self, item: Dict[str, Any], why: str) -> None:
        """Delete an uploaded key."""
        self.plan.add(DeleteKey(item, why=why))

    def write_certificate(self, pem: str, why: str) -> None:
        """Make the certificate file hold ``pem`` (nothing when it already does, or no certificate_path is given)."""
        path = self.want.certificate_path
        if not path:
            return
        current = self.obs.certificate_pem if self.obs.certificate_source == path else None
        if current is not None and current.strip() == pem.strip():
            return
        before = certificate_state(current, self.obs.now) if current is not None else None
        self.plan.add(WriteCertificate(path, pem.encode("ascii"), 0o644, why=why, before=before,
                                       after=certificate_state(pem, self.obs.now)))

    def promote(self, pending: LocalKey, new_pem: str, why: str, current_remote: Optional[Dict[str, Any]] = None) -> None:
        """Make the pending key the current one, keeping the current one as previous (files only)."""
        previous_certificate = self.obs.certificate_data
        if previous_certificate is not None and external_certificate(self, pending) is not None:
            # The user put the new key's certificate at certificate_path (external): the replaced key's certificate is
            # the uploaded one.
            previous_certificate = (certs.normalize_certificate_pem(current_remote["certificate"]).encode("ascii")
                                    if current_remote else None)
        self.store.promote(self, pending, new_pem, previous_certificate, why)

    def remove_private_key(self, local: Optional[LocalKey], why: str) -> None:
        """Remove one generation's private key (the key store's way), once no uploaded key needs it."""
        self.store.remove_key(self, local, why)

    def remove_file(self, path: Optional[str], why: str) -> None:
        """Remove a file that existed when the run observed it."""
        if path and self.obs.exists(path):
            self.plan.add(RemoveFile(path, why=why))


# -- the certificate decisions ----------------------------------------------------------------------------------------


def new_certificate(planner: Planner, key: Any) -> str:
    """A new certificate for ``key``, as PEM: self-signed, or issued by the CA of certificate_provider=ownca."""
    # Certificate building only where a certificate is issued: a converged run never loads it.
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing  # pylint: disable=import-outside-toplevel
    want, authority = planner.want, planner.obs.authority
    if want.certificate_provider == "external":
        raise AssertionError("certificate_provider=external never issues a certificate")  # pragma: no cover
    issuer = (authority.cert, authority.key) if authority is not None else None
    cert = issuing.create_certificate(key, want.common_name or want.name, want.valid_days, subject=want.subject,
                                      now=planner.obs.now, issuer=issuer)
    if authority is not None and certs.certificate_times(cert)[1] > authority.expires_at:
        planner.warn("The CA certificate %s (%s) expires at %s, before the certificate it issues for '%s' (valid_days=%d): "
                     "renew the CA certificate in time, or a verifier that checks the chain refuses the key's certificate."
                     % (authority.source, authority.name, times.to_rfc3339(authority.expires_at), want.name, want.valid_days))
    return certs.dump_certificate(cert)


def certificate_for_new_key(planner: Planner, pending: LocalKey) -> str:
    """The certificate a new key is uploaded with: the module's, or (external) the one the user put at certificate_path."""
    if planner.want.certificate_provider != "external":
        return new_certificate(planner, pending.key)
    pem = external_certificate(planner, pending)
    if pem is None:
        raise AssertionError("the caller waits for the certificate of %s" % pending.path)  # pragma: no cover
    return pem


def input_certificate(planner: Planner, local: LocalKey) -> Optional[str]:
    """The certificate the user gave (path or content), checked against the key."""
    obs = planner.obs
    pem = obs.certificate_pem
    if pem is None:
        return None
    cert = certs.load_certificate(pem, source=obs.certificate_source)
    if not certs.certificate_matches_key(cert, local.key):
        if _left_by_a_promotion(obs, cert, local):
            return None
        raise IzumaKeyError("%s does not belong to the private key %s (their public keys differ): give the matching "
                            "certificate, or remove the file to have a new one issued."
                            % (obs.certificate_source, local.path or "private_key_content"))
    return certs.normalize_certificate_pem(pem, source=obs.certificate_source)


def _left_by_a_promotion(obs: Observed, cert: Any, local: LocalKey) -> bool:
    """Whether the certificate file is the replaced key's, as a promotion killed before it wrote the new one leaves it.

    The new key was moved into place but its certificate not yet written: the file still certifies the key now kept
    as ``.previous``. The planner then takes the uploaded certificate of the current key and writes it over the file.
    """
    previous = obs.previous
    return (local.role == "current" and previous is not None and obs.certificate_source == str(obs.files.certificate)
            and certs.certificate_matches_key(cert, previous.key))


def external_certificate(planner: Planner, local: LocalKey) -> Optional[str]:
    """The certificate at certificate_path if it belongs to ``local`` (a CA's answer to the request), else None."""
    if planner.obs.certificate_pem is None or planner.given_content():
        return None
    cert = certs.load_certificate(planner.obs.certificate_pem, source=planner.obs.certificate_source)
    if not certs.certificate_matches_key(cert, local.key):
        return None
    return certs.dump_certificate(cert)


def issued_here(planner: Planner, pem: str) -> bool:
    """Whether the module issued the certificate, so that it may replace it: self-signed by the key, or issued by
    the CA of certificate_provider=ownca. With certificate_provider=external the module issues nothing."""
    if planner.want.certificate_provider == "external":
        return False
    if planner.info(pem)["self_signed"]:
        return True
    return planner.obs.authority is not None and planner.obs.authority.issued(certs.load_certificate(pem))


def reissue_reason(planner: Planner, pem: str) -> Optional[str]:
    """certificate_provider=ownca: a self-signed certificate (the module's own, from before) is replaced by the CA's."""
    authority = planner.obs.authority
    if authority is not None and planner.info(pem)["self_signed"]:
        return "certificate_provider=ownca: the certificate is self-signed, not issued by %s" % authority.name
    return None


def provider_mismatch(planner: Planner, pem: str, source: str) -> None:
    """certificate_provider=ownca, but another CA issued the certificate: it is kept (not the module's), and said so."""
    authority = planner.obs.authority
    if authority is None or issued_here(planner, pem):
        return
    planner.warn("certificate_provider=ownca, but %s of '%s' was issued by %s, not by the CA %s (%s); the module does not "
                 "replace a certificate it did not issue: rotate=true replaces the key pair with one whose certificate this "
                 "CA issues." % (source, planner.want.name, planner.info(pem)["issuer"], authority.source, authority.name))


def request_certificate(planner: Planner, local: LocalKey, why: str) -> None:
    """certificate_provider=external: write a certificate signing request for ``local`` to csr_path (0644), unless
    the file already asks for that key with that subject."""
    from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing  # pylint: disable=import-outside-toplevel

    want, path = planner.want, str(planner.obs.files.csr)
    planner.facts["certificate_requested"] = True
    common_name = want.common_name or want.name
    if issuing.csr_matches(planner.obs.csr_data, local.key, common_name, want.subject):
        return
    pem = issuing.create_csr(local.key, common_name, want.subject)
    before = issuing.csr_info(planner.obs.csr_data) if planner.obs.csr_data is not None else None
    planner.plan.add(WriteCsr(path, pem.encode("ascii"), 0o644, why=why, before=before, after=issuing.csr_info(pem)))


def next_step(planner: Planner, what: str) -> str:
    """What the user does with the request (certificate_provider=external), for the warning and the result."""
    return ("a certificate signing request for %s is at %s: have your CA issue a certificate from it (PEM, at most 2,000 "
            "characters) and put it at certificate_path (%s); the next run "
            "uploads it" % (what, planner.obs.files.csr, planner.want.certificate_path))


def external_due(planner: Planner, local: LocalKey, pem: str, reason: str, source: str) -> bool:
    """certificate_provider=external and the certificate is due (within renew_before, or expired): request a new one.

    A warning while the current certificate still works; once it has expired the run fails after writing the request
    (the key cannot verify JWTs until the new certificate is there). Returns True when the run is blocked.
    """
    info = planner.info(pem)
    if not planner.facts.get("certificate_requested"):
        request_certificate(planner, local, why="certificate_provider=external: %s" % reason)
        sentence = next_step(planner, "the same key")
    else:
        sentence = "the certificate signing request at %s asks for a new key's certificate" % planner.obs.files.csr
    message = ("%s of '%s' (issued by %s) %s, and certificate_provider=external: %s." % (
        source, planner.want.name, info["issuer"], reason.replace("the certificate ", ""), sentence))
    planner.facts.setdefault("certificate_request", message)
    if info["expired"]:
        planner.block(message + " Until then the key cannot verify JWTs.")
        return True
    planner.warn(message)
    return False


# -- errors that name the way out, and state=absent -------------------------------------------------------------------


def missing_key_error(want: Desired, item: Dict[str, Any]) -> IzumaKeyError:
    """A key holds our name but not our public key: never touched, the user decides."""
    return IzumaKeyError(
        "The application already has a verification key named '%s' (id %s, certificate fingerprint %s), but it does not "
        "belong to the private key %s. This module never replaces or deletes a key it cannot account for. Give that "
        "key's private key (private_key_path or private_key_content), choose another name, or delete the uploaded key "
        "first (state=absent)." % (item["name"], item["id"], item.get("certificate_fingerprint"),
                                   want.private_key_path or (want.pkcs11_label("current") if want.key_backend == "pkcs11"
                                                             else "private_key_content")))


def slots_error(planner: Planner, needed_for: str, blocking: List[Dict[str, Any]],
                previous: Optional[Dict[str, Any]] = None) -> IzumaConfigError:
    """Two keys already: name them, and the choices that can make room (which depend on whose keys they are)."""
    names = ", ".join("'%s' (%s)" % (item["name"], item["id"]) for item in blocking)
    if previous is not None and any(item is previous for item in blocking):
        if planner.want.retire_previous == "never":
            choices = ("retire_previous=never keeps the previous key '%s': retire it with retire_previous=now (tokens it "
                       "signed stop working), or delete a key you no longer need with state=absent." % previous["name"])
        else:
            choices = ("wait until the previous key's grace period (grace_period=%ds) has passed, retire it now with "
                       "retire_previous=now (tokens it signed stop working), or delete a key you no longer need with "
                       "state=absent." % planner.want.grace_period)
    else:
        choices = ("this module never deletes a key it cannot account for: delete one you no longer need with state=absent "
                   "(several at once with names), or use another application.")
    described = ", ".join("'%s' (%s, %s, expires %s)" % (item.get("name"), item.get("id"), item.get("status"),
                                                         item.get("expires_at")) for item in planner.obs.remote) or "none"
    return IzumaConfigError(
        "Cannot %s: the application already has %d verification keys (%s), the most Izuma Device Management allows. "
        "Keys in the way: %s. Choices: %s" % (needed_for, len(planner.obs.remote), described, names, choices))


def plan_absent(planner: Planner) -> None:
    """Delete the named keys (and this key's previous generation); remove local files only when asked."""
    want = planner.want
    names = [want.name, want.previous_name] + list(want.extra_names)
    for item in planner.obs.remote:
        if item.get("name") in names:
            planner.delete(item, "state=absent")
    if want.remove_files:
        planner.store.remove_all(planner, "state=absent with remove_files")
