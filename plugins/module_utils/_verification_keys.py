# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Verification keys: observe, plan and apply, including renewal and zero-downtime rotation.

The local side of one logical key ("telemetry") is a set of files next to
``private_key_path``:

* ``private_key_path``: the current signing key;
* ``private_key_path.next``: a new key that is being rotated in (only while a
  rotation is under way, or after a run was killed in the middle of one);
* ``private_key_path.previous``: the key it replaced, kept so that tokens it
  signed can be re-verified or the rotation rolled back.

On the API side the current key is named ``name`` and the previous one
``name`` + ``previous_suffix``. Uploaded keys are matched to local keys by
public key, so a renewed certificate or a killed run never makes the module
lose track of a key, and a key is never uploaded twice.

Every new private key is written to disk (``.next``, mode 0600) before its
certificate is uploaded, and a key file is removed only after its key has
been deleted from the API: whatever point a run is killed at, no private key
of an uploaded key is lost, and the next run picks up where it stopped.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _certificates as certs, _files as files, _keys as keys
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._applications import application_path
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaConfigError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Change, Plan

# Product limit (DOC): an application holds at most two verification keys.
MAX_KEYS_PER_APPLICATION = 2
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 500
PENDING_SUFFIX = ".next"
PREVIOUS_SUFFIX = ".previous"
# What a diff shows of an uploaded key: never the certificate or any key material.
DIFF_FIELDS = ("id", "name", "description", "status", "public_key_fingerprint", "certificate_fingerprint", "expires_at")


def keys_path(application_id: str) -> str:
    """The API path of an application's verification keys."""
    return application_path(application_id) + "/verification-keys"


def key_path(application_id: str, key_id: str) -> str:
    """The API path of one verification key."""
    return "%s/%s" % (keys_path(application_id), key_id)


def list_keys(client: IzumaClient, application_id: str) -> List[Dict[str, Any]]:
    """Every verification key of an application (all pages), each with ``public_key_fingerprint`` added."""
    items = client.list(keys_path(application_id))
    for item in items:
        item["public_key_fingerprint"] = remote_public_key_fingerprint(item)
    return items


def remote_public_key_fingerprint(item: Dict[str, Any]) -> Optional[str]:
    """The public-key fingerprint of an uploaded key's certificate (None if the API sent no readable certificate)."""
    try:
        return keys.public_key_fingerprint(certs.load_certificate(item.get("certificate") or "", source="uploaded certificate"))
    except IzumaKeyError:
        return None


def is_usable(item: Optional[Dict[str, Any]], now: datetime.datetime) -> bool:
    """True when the API would verify JWTs with this key now: ACTIVE and within its validity window."""
    if not item or item.get("status") != "ACTIVE":
        return False
    expires = item.get("expires_at")
    return bool(expires) and keys.parse_rfc3339(expires) > now


def days_left(item: Dict[str, Any], now: datetime.datetime) -> Optional[int]:
    """Whole days until the key's certificate expires (negative once expired)."""
    expires = item.get("expires_at")
    if not expires:
        return None
    return (keys.parse_rfc3339(expires) - now) // datetime.timedelta(days=1)


def summary(item: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The fields of an uploaded key a diff or plan shows."""
    if item is None:
        return None
    shown = {name: item.get(name) for name in DIFF_FIELDS}
    if shown["expires_at"]:
        # One spelling for the API's timestamps (milliseconds) and the module's predictions (whole seconds).
        shown["expires_at"] = keys.to_rfc3339(keys.parse_rfc3339(shown["expires_at"]))
    return shown


# -- the desired state ------------------------------------------------------------------------------------


@dataclass
class Desired:
    """What the task asks for, in the core's terms."""

    name: str
    state: str = "present"
    description: Optional[str] = None
    status: Optional[str] = None
    private_key_path: Optional[str] = None
    private_key_content: Optional[str] = field(default=None, repr=False)
    private_key_passphrase: Optional[str] = field(default=None, repr=False)
    certificate_path: Optional[str] = None
    certificate_content: Optional[str] = None
    key_type: str = "EC"
    key_size: Optional[int] = None
    curve: Optional[str] = None
    common_name: Optional[str] = None
    subject: Optional[Dict[str, str]] = None
    valid_days: int = 365
    renew_before: int = 30
    rotate: bool = False
    rotate_after_days: Optional[int] = None
    rotate_before_days: Optional[int] = None
    grace_period: int = 86400
    retire_previous: str = "auto"
    remove_previous_private_key: bool = False
    previous_suffix: str = "-previous"
    remove_files: bool = False
    extra_names: List[str] = field(default_factory=list)

    def validate(self) -> None:
        """Refuse options that cannot work, before anything is read or written."""
        if not self.name or len(self.name) > MAX_NAME_CHARS:
            raise IzumaConfigError("name must be 1 to %d characters (got %d)." % (MAX_NAME_CHARS, len(self.name or "")))
        if len(self.name + self.previous_suffix) > MAX_NAME_CHARS:
            raise IzumaConfigError("name plus previous_suffix (%r) must fit in %d characters, the API's limit for a key name."
                                   % (self.name + self.previous_suffix, MAX_NAME_CHARS))
        if self.description is not None and len(self.description) > MAX_DESCRIPTION_CHARS:
            raise IzumaConfigError("description must be at most %d characters (got %d)." % (MAX_DESCRIPTION_CHARS, len(self.description)))
        if self.state == "present" and not (self.private_key_path or self.private_key_content):
            raise IzumaConfigError("Give private_key_path (where the private key is, or is to be created) or private_key_content.")
        if self.grace_period < 0 or self.renew_before < 0 or self.valid_days < 1:
            raise IzumaConfigError("grace_period and renew_before must be zero or more, and valid_days at least 1.")
        if self.renew_before >= self.valid_days:
            raise IzumaConfigError("renew_before (%d days) must be shorter than valid_days (%d days), or every run would renew "
                                   "the certificate." % (self.renew_before, self.valid_days))
        if self.rotate_before_days is not None and self.rotate_before_days >= self.valid_days:
            raise IzumaConfigError("rotate_before_days (%d) must be shorter than valid_days (%d), or every run would rotate."
                                   % (self.rotate_before_days, self.valid_days))
        rotation_asked = self.rotate or self.rotate_after_days is not None or self.rotate_before_days is not None
        if rotation_asked and not self.private_key_path:
            raise IzumaConfigError("Rotation writes a new private key, so it needs private_key_path (not private_key_content).")
        if rotation_asked and self.certificate_content:
            raise IzumaConfigError("Rotation makes a new key pair, which certificate_content cannot belong to: use "
                                   "certificate_path (each new certificate is written there) or leave it out.")

    @property
    def previous_name(self) -> str:
        """The API name of the previous generation."""
        return self.name + self.previous_suffix

    @property
    def api_status(self) -> Optional[str]:
        """The status in the API's spelling."""
        return self.status.upper() if self.status else None


# -- the observed state -----------------------------------------------------------------------------------


@dataclass
class LocalKey:
    """A private key on disk (or given as content), with the public-key fingerprint that finds its uploaded key."""

    role: str
    path: Optional[str]
    key: Any = field(repr=False)
    data: bytes = field(repr=False)
    fingerprint: str = ""


@dataclass
class Observed:
    """The application's uploaded keys and the local key files, read once."""

    application_id: str
    remote: List[Dict[str, Any]]
    now: datetime.datetime
    current: Optional[LocalKey] = None
    previous: Optional[LocalKey] = None
    pending: Optional[LocalKey] = None
    certificate_pem: Optional[str] = None
    certificate_source: str = ""

    def by_fingerprint(self, local: Optional[LocalKey]) -> Optional[Dict[str, Any]]:
        """The uploaded key of a local key, if any."""
        if local is None:
            return None
        for item in self.remote:
            if item.get("public_key_fingerprint") == local.fingerprint:
                return item
        return None

    def by_name(self, name: str) -> Optional[Dict[str, Any]]:
        """The uploaded key with this name, if any (names are unique in an application)."""
        for item in self.remote:
            if item.get("name") == name:
                return item
        return None


def _load_local(role: str, path: str, want: Desired) -> Optional[LocalKey]:
    if not os.path.exists(path):
        return None
    data = files.read_file(path, what="private key")
    key = keys.load_private_key(data, want.private_key_passphrase, source=path)
    return LocalKey(role=role, path=path, key=key, data=data, fingerprint=keys.public_key_fingerprint(key))


def observe(client: IzumaClient, application_id: str, want: Desired, now: Optional[datetime.datetime] = None) -> Observed:
    """Read the uploaded keys (one list, all pages) and the local key and certificate files."""
    observed = Observed(application_id=application_id, remote=list_keys(client, application_id), now=now or keys.utcnow())
    if want.private_key_content:
        key = keys.load_private_key(want.private_key_content, want.private_key_passphrase, source="private_key_content")
        data = want.private_key_content.encode("utf-8")
        observed.current = LocalKey("current", None, key, data, keys.public_key_fingerprint(key))
    elif want.private_key_path:
        observed.current = _load_local("current", want.private_key_path, want)
        observed.pending = _load_local("pending", want.private_key_path + PENDING_SUFFIX, want)
        observed.previous = _load_local("previous", want.private_key_path + PREVIOUS_SUFFIX, want)
    if want.certificate_content:
        observed.certificate_pem, observed.certificate_source = want.certificate_content, "certificate_content"
    elif want.certificate_path and os.path.exists(want.certificate_path):
        observed.certificate_pem = files.read_file(want.certificate_path, what="certificate").decode("utf-8", "replace")
        observed.certificate_source = want.certificate_path
    return observed


# -- planning ---------------------------------------------------------------------------------------------


class Planner:
    """Turns (observed, desired) into a Plan. New key material is made here, in memory, so check mode is exact."""

    def __init__(self, observed: Observed, want: Desired) -> None:
        self.obs = observed
        self.want = want
        self.plan = Plan()
        self.result: Dict[str, Any] = {"rotated": False, "renewed": False}

    # helpers --------------------------------------------------------------------------------------------

    def _new_key(self) -> Any:
        want = self.want
        if want.key_type == "RSA":
            return keys.generate_private_key("RSA", size=want.key_size or 2048)
        return keys.generate_private_key("EC", curve=want.curve or "P-256")

    def _new_certificate(self, key: Any) -> str:
        want = self.want
        cert = certs.create_self_signed_certificate(key, want.common_name or want.name, want.valid_days, subject=want.subject,
                                                   now=self.obs.now)
        return certs.dump_certificate(cert)

    def _input_certificate(self, local: LocalKey) -> Optional[str]:
        """The certificate the user gave (path or content), checked against the key and the upload rules."""
        pem = self.obs.certificate_pem
        if pem is None:
            return None
        cert = certs.load_certificate(pem, source=self.obs.certificate_source)
        if not certs.certificate_matches_key(cert, local.key):
            raise IzumaKeyError("%s does not belong to the private key %s (their public keys differ): give the matching "
                                "certificate, or remove the file to have a new one issued."
                                % (self.obs.certificate_source, local.path or "private_key_content"))
        return certs.normalize_certificate_pem(pem, source=self.obs.certificate_source)

    def _given_content(self) -> bool:
        """True when the certificate is the task's certificate_content: uploaded as it is, never replaced by the module."""
        return self.obs.certificate_source == "certificate_content"

    def _check_given_content(self, pem: str, uploaded: bool) -> None:
        """Refuse an expired certificate_content that is still to be uploaded; warn when it expires soon.

        The module renews only certificates it can write back (certificate_path, or none given): a renewed certificate
        for certificate_content could not be kept, and the next run would replace it again.
        """
        info = certs.certificate_info(certs.load_certificate(pem), now=self.obs.now)
        if info["expired"] and not uploaded:
            raise IzumaKeyError("certificate_content expired at %s; Izuma Device Management does not accept an expired "
                                "verification key, and the module does not replace a certificate you give: give a certificate "
                                "that has not expired, or leave certificate_content out to have the module issue (and renew) "
                                "one for the key." % info["expires_at"])
        if info["expired"]:
            self.result.setdefault("warnings", []).append(
                "The certificate of '%s' (certificate_content) expired at %s, so the key cannot verify JWTs: give a certificate "
                "that has not expired." % (self.want.name, info["expires_at"]))
        elif self.want.renew_before and info["days_left"] < self.want.renew_before:
            self.result.setdefault("warnings", []).append(
                "The certificate of '%s' (certificate_content) expires in %d days, at %s (renew_before=%d); the module renews "
                "only certificates it issues: give a renewed certificate before then."
                % (self.want.name, info["days_left"], info["expires_at"], self.want.renew_before))

    def _expiring(self, pem: str) -> bool:
        info = certs.certificate_info(certs.load_certificate(pem), now=self.obs.now)
        return info["expired"] or info["days_left"] < self.want.renew_before

    def _age_days(self, item: Dict[str, Any]) -> int:
        return (self.obs.now - keys.parse_rfc3339(item["created_at"])) // datetime.timedelta(days=1)

    def _rotation_reason(self, current: Dict[str, Any]) -> Optional[str]:
        want = self.want
        if want.rotate:
            return "rotation requested"
        if want.rotate_after_days is not None and self._age_days(current) >= want.rotate_after_days:
            return "key is %d days old (rotate_after_days=%d)" % (self._age_days(current), want.rotate_after_days)
        left = days_left(current, self.obs.now)
        if want.rotate_before_days is not None and left is not None and left < want.rotate_before_days:
            return "certificate expires in %d days (rotate_before_days=%d)" % (left, want.rotate_before_days)
        return None

    def _grace_passed(self, current: Optional[Dict[str, Any]]) -> bool:
        if current is None:
            return True
        since = keys.parse_rfc3339(current["created_at"])
        return (self.obs.now - since).total_seconds() >= self.want.grace_period

    def _check_upload(self, pem: str, name: str) -> None:
        certs.assert_certificate_uploadable(pem, now=self.obs.now, source="the certificate for '%s'" % name)

    def _describe_remote(self) -> str:
        return ", ".join("'%s' (%s, %s, expires %s)" % (item.get("name"), item.get("id"), item.get("status"), item.get("expires_at"))
                         for item in self.obs.remote) or "none"

    def _missing_key_error(self, item: Dict[str, Any]) -> IzumaKeyError:
        return IzumaKeyError(
            "The application already has a verification key named '%s' (id %s, certificate fingerprint %s), but it does not "
            "belong to the private key %s. This module never replaces or deletes a key it cannot account for. Give that "
            "key's private key (private_key_path or private_key_content), choose another name, or delete the uploaded key "
            "first (state=absent)." % (item["name"], item["id"], item.get("certificate_fingerprint"),
                                       self.want.private_key_path or "private_key_content"))

    def _slots_error(self, needed_for: str, blocking: List[Dict[str, Any]],
                     previous: Optional[Dict[str, Any]] = None) -> IzumaConfigError:
        """Two keys already: name them, and the choices that can make room (which depend on whose keys they are)."""
        names = ", ".join("'%s' (%s)" % (item["name"], item["id"]) for item in blocking)
        if previous is not None and any(item is previous for item in blocking):
            if self.want.retire_previous == "never":
                choices = ("retire_previous=never keeps the previous key '%s': retire it with retire_previous=now (tokens it "
                           "signed stop working), or delete a key you no longer need with state=absent." % previous["name"])
            else:
                choices = ("wait until the previous key's grace period (grace_period=%ds) has passed, retire it now with "
                           "retire_previous=now (tokens it signed stop working), or delete a key you no longer need with "
                           "state=absent." % self.want.grace_period)
        else:
            choices = ("this module never deletes a key it cannot account for: delete one you no longer need with state=absent "
                       "(several at once with names), or use another application.")
        return IzumaConfigError(
            "Cannot %s: the application already has %d verification keys (%s), the most Izuma Device Management allows. "
            "Keys in the way: %s. Choices: %s" % (needed_for, len(self.obs.remote), self._describe_remote(), names, choices))

    # changes ----------------------------------------------------------------------------------------------

    def _write_pending_key(self, key: Any) -> None:
        want = self.want
        data = keys.dump_private_key(key, want.private_key_passphrase)
        self.plan.add(Change("write", "private key", str(want.private_key_path) + PENDING_SUFFIX,
                             after={"public_key_fingerprint": keys.public_key_fingerprint(key), "mode": "0600"},
                             payload={"path": str(want.private_key_path) + PENDING_SUFFIX, "data": data, "mode": 0o600}))

    def _upload(self, name: str, pem: str, status: Optional[str]) -> None:
        self._check_upload(pem, name)
        body: Dict[str, Any] = {"name": name, "certificate": pem}
        if self.want.description is not None:
            body["description"] = self.want.description
        if status:
            body["status"] = status
        info = certs.certificate_info(certs.load_certificate(pem), now=self.obs.now)
        after = {"id": None, "name": name, "description": self.want.description, "status": status or "ACTIVE",
                 "public_key_fingerprint": info["public_key_fingerprint"], "certificate_fingerprint": info["fingerprint"],
                 "expires_at": info["expires_at"]}
        self.plan.add(Change("create", "verification key", name, after=after,
                             payload={"body": body, "fingerprint": info["public_key_fingerprint"]}))

    def _update(self, item: Dict[str, Any], body: Dict[str, Any]) -> None:
        before = summary(item) or {}
        after = dict(before)
        for key_name, value in body.items():
            if key_name == "certificate":
                info = certs.certificate_info(certs.load_certificate(value), now=self.obs.now)
                after["certificate_fingerprint"] = info["fingerprint"]
                after["expires_at"] = info["expires_at"]
            else:
                after[key_name] = value
        self.plan.add(Change("update", "verification key", item["name"], before=before, after=after,
                             payload={"id": item["id"], "etag": item.get("etag"), "body": body}))

    def _delete(self, item: Dict[str, Any], why: str) -> None:
        self.plan.add(Change("delete", "verification key", item["name"], before=summary(item),
                             payload={"id": item["id"], "etag": item.get("etag"), "why": why}))

    def _write_certificate(self, pem: str, path: Optional[str] = None) -> None:
        path = path or self.want.certificate_path
        if not path:
            return
        current = None
        if os.path.exists(path):
            current = files.read_file(path, what="certificate").decode("utf-8", "replace")
        if current is not None and current.strip() == pem.strip():
            return
        before = _certificate_state(current, self.obs.now) if current is not None else None
        self.plan.add(Change("write", "certificate", path, before=before, after=_certificate_state(pem, self.obs.now),
                             payload={"path": path, "data": pem.encode("ascii"), "mode": 0o644}))

    def _promote(self, pending: LocalKey, new_pem: str) -> None:
        """Make the pending key the current one, keeping the current one as previous (files only)."""
        want = self.want
        path = str(want.private_key_path)
        self.plan.add(Change("promote", "private key", path,
                             before={"public_key_fingerprint": self.obs.current.fingerprint} if self.obs.current else None,
                             after={"public_key_fingerprint": pending.fingerprint},
                             payload={"path": path, "pending": path + PENDING_SUFFIX, "previous": path + PREVIOUS_SUFFIX,
                                      "current_fingerprint": self.obs.current.fingerprint if self.obs.current else None,
                                      "pending_fingerprint": pending.fingerprint,
                                      "certificate_path": want.certificate_path, "certificate": new_pem}))

    def _remove_file(self, path: str, why: str) -> None:
        if os.path.exists(path):
            self.plan.add(Change("remove", "file", path, before={"path": path}, payload={"path": path, "why": why}))

    # the decision ------------------------------------------------------------------------------------------

    def plan_present(self) -> Plan:
        """Create, edit, renew or rotate the key so that it matches the task."""
        obs, want = self.obs, self.want
        current_remote = obs.by_fingerprint(obs.current)
        pending_remote = obs.by_fingerprint(obs.pending)
        previous_remote = obs.by_fingerprint(obs.previous)
        named_previous = obs.by_name(want.previous_name)
        if previous_remote is None and named_previous is not None and named_previous not in (current_remote, pending_remote):
            # Ours by name: its private key file was removed by hand, but we created that name.
            previous_remote = named_previous

        if obs.pending is not None:
            # A rotation (or first creation) was interrupted: finish it with the key already on disk.
            self._rotate(obs.pending, pending_remote, current_remote, previous_remote, resume=True)
        elif obs.current is None:
            holder = obs.by_name(want.name)
            if holder is not None:
                raise self._missing_key_error(holder)
            key = self._new_key()
            pending = LocalKey("pending", str(want.private_key_path) + PENDING_SUFFIX, key, b"", keys.public_key_fingerprint(key))
            self._write_pending_key(key)
            self._rotate(pending, None, None, previous_remote, resume=False)
        elif current_remote is None:
            holder = obs.by_name(want.name)
            if holder is not None:
                raise self._missing_key_error(holder)
            self._make_room(previous_remote, current_remote=None, purpose="upload '%s'" % want.name)
            pem = self._input_certificate(obs.current)
            if pem is not None and self._given_content():
                self._check_given_content(pem, uploaded=False)
            elif pem is None or self._expiring(pem):
                pem = self._new_certificate(obs.current.key)
            self._upload(want.name, pem, want.api_status)
            self._write_certificate(pem)
            self.result["uploaded"] = True
        else:
            reason = self._rotation_reason(current_remote)
            if reason:
                key = self._new_key()
                pending = LocalKey("pending", str(want.private_key_path) + PENDING_SUFFIX, key, b"", keys.public_key_fingerprint(key))
                self._write_pending_key(key)
                self.result["rotation_reason"] = reason
                self._rotate(pending, None, current_remote, previous_remote, resume=False)
            else:
                self._converge_current(current_remote)
                self._retire(previous_remote, current_remote)
        return self.plan

    def _make_room(self, previous_remote: Optional[Dict[str, Any]], current_remote: Optional[Dict[str, Any]], purpose: str,
                   needs_name: bool = False) -> None:
        """Delete this key's previous generation if one more key would break the two-key limit, or fail.

        ``needs_name``: the previous generation must go even below the limit, because the current key is about to
        take its name.
        """
        keep = [item for item in self.obs.remote if item is not previous_remote]
        if len(self.obs.remote) < MAX_KEYS_PER_APPLICATION and not (needs_name and previous_remote is not None):
            return
        if previous_remote is None or len(keep) >= MAX_KEYS_PER_APPLICATION:
            blocking = [item for item in self.obs.remote if item is not current_remote]
            raise self._slots_error(purpose, blocking, previous_remote)
        retire = self.want.retire_previous
        if retire == "never" or (retire == "auto" and not self._grace_passed(current_remote)):
            raise self._slots_error(purpose, [previous_remote], previous_remote)
        if not any(is_usable(item, self.obs.now) for item in keep) and is_usable(previous_remote, self.obs.now):
            raise IzumaConfigError("Cannot %s: the only usable key is the previous one ('%s'); deleting it would leave the "
                                   "application without a usable key. Renew the current key first (renew_before)."
                                   % (purpose, previous_remote["name"]))
        self._delete(previous_remote, "make room for the new key (two keys at most)")
        if self.want.remove_previous_private_key and self.obs.previous is not None:
            self._remove_file(str(self.obs.previous.path), "its key was retired")

    def _rotate(self, pending: LocalKey, pending_remote: Optional[Dict[str, Any]], current_remote: Optional[Dict[str, Any]],
                previous_remote: Optional[Dict[str, Any]], resume: bool) -> None:
        """Upload the pending key next to the current one and make it the signing key; the current becomes previous."""
        want = self.want
        self.result["rotated"] = current_remote is not None or (resume and self.obs.current is not None)
        if resume and current_remote is None and self.obs.current is not None:
            current_remote = self.obs.by_fingerprint(self.obs.current)
        if pending_remote is None:
            if previous_remote is not None and previous_remote is not current_remote:
                self._make_room(previous_remote, current_remote, "rotate '%s'" % want.name, needs_name=current_remote is not None)
            elif len(self.obs.remote) >= MAX_KEYS_PER_APPLICATION:
                raise self._slots_error("upload the new key '%s'" % want.name,
                                        [item for item in self.obs.remote if item is not current_remote])
            holder = self.obs.by_name(want.name)
            if holder is not None and holder is not current_remote:
                raise self._missing_key_error(holder)
        if current_remote is not None and current_remote["name"] != want.previous_name:
            self._update(current_remote, {"name": want.previous_name})
        if pending_remote is None:
            new_pem = self._new_certificate(pending.key)
            self._upload(want.name, new_pem, want.api_status)
        else:
            new_pem = certs.normalize_certificate_pem(pending_remote["certificate"])
            body = {"name": want.name} if pending_remote["name"] != want.name else {}
            if body:
                self._update(pending_remote, body)
        self._promote(pending, new_pem)

    def _converge_current(self, item: Dict[str, Any]) -> None:
        """Rename, describe, re-certify or (de)activate the current key in one PUT, and sync the certificate file."""
        obs, want = self.obs, self.want
        body: Dict[str, Any] = {}
        if item["name"] != want.name:
            holder = obs.by_name(want.name)
            if holder is not None:
                raise self._missing_key_error(holder)
            body["name"] = want.name
        if want.description is not None and (item.get("description") or "") != want.description:
            body["description"] = want.description
        remote_pem = certs.normalize_certificate_pem(item["certificate"], source="uploaded certificate")
        given = self._input_certificate(obs.current)
        pem = given or remote_pem
        if given is not None and self._given_content():
            self._check_given_content(given, uploaded=given.strip() == remote_pem.strip())
        elif want.renew_before and self._expiring(pem):
            pem = self._new_certificate(obs.current.key)
            self.result["renewed"] = True
        if pem.strip() != remote_pem.strip():
            self._check_upload(pem, want.name)
            body["certificate"] = pem
        status = want.api_status
        if status and status != item.get("status"):
            info = certs.certificate_info(certs.load_certificate(pem), now=obs.now)
            if status == "ACTIVE" and not info["valid"]:
                fix = ("give a certificate that has not expired in certificate_content" if self._given_content() else
                       "set renew_before (days) to issue a new certificate for the same key in this run")
                raise IzumaKeyError("Cannot activate '%s': its certificate expired at %s. Izuma Device Management only activates "
                                    "keys with an unexpired certificate; %s." % (item["name"], info["expires_at"], fix))
            body["status"] = status
        if body:
            self._update(item, body)
        self._write_certificate(pem)

    def _retire(self, previous_remote: Optional[Dict[str, Any]], current_remote: Dict[str, Any]) -> None:
        """Delete the previous generation once its grace period has passed (or when asked), never the last usable key."""
        retire = self.want.retire_previous
        if previous_remote is not None:
            due = retire == "now" or (retire == "auto" and self._grace_passed(current_remote))
            if not due:
                return
            if not is_usable(current_remote, self.obs.now) and is_usable(previous_remote, self.obs.now):
                self.result.setdefault("warnings", []).append(
                    "The previous key '%s' was kept: the current key '%s' is not usable (inactive or expired), and deleting the "
                    "previous one would leave the application without a usable key." % (previous_remote["name"], current_remote["name"]))
                return
            self._delete(previous_remote, "retired after the grace period" if retire == "auto" else "retired on request")
        if self.want.remove_previous_private_key and self.obs.previous is not None and (previous_remote is not None or retire != "never"):
            self._remove_file(str(self.obs.previous.path), "its key is no longer uploaded")
            if self.want.certificate_path:
                self._remove_file(self.want.certificate_path + PREVIOUS_SUFFIX, "its key is no longer uploaded")

    def plan_absent(self) -> Plan:
        """Delete the named keys (and this key's previous generation); remove local files only when asked."""
        want = self.want
        names = [want.name, want.previous_name] + list(want.extra_names)
        for item in self.obs.remote:
            if item.get("name") in names:
                self._delete(item, "state=absent")
        if want.remove_files and want.private_key_path:
            for suffix in ("", PENDING_SUFFIX, PREVIOUS_SUFFIX):
                self._remove_file(want.private_key_path + suffix, "state=absent with remove_files")
            if want.certificate_path:
                for suffix in ("", PREVIOUS_SUFFIX):
                    self._remove_file(want.certificate_path + suffix, "state=absent with remove_files")
        return self.plan


def plan(observed: Observed, want: Desired) -> "tuple[Plan, Dict[str, Any]]":
    """The plan for the task, and facts about it (rotated, renewed, reason, warnings) for the result."""
    planner = Planner(observed, want)
    result = planner.plan_absent() if want.state == "absent" else planner.plan_present()
    return result, planner.result


# -- applying ---------------------------------------------------------------------------------------------


def _find_uploaded(client: IzumaClient, application_id: str, fingerprint: str) -> Optional[Dict[str, Any]]:
    for item in list_keys(client, application_id):
        if item.get("public_key_fingerprint") == fingerprint:
            return item
    return None


def _promote_files(payload: Dict[str, Any]) -> None:
    """Pending key -> current, current -> previous, with the current path never missing a key."""
    path, pending, previous = payload["path"], payload["pending"], payload["previous"]
    if os.path.exists(path) and payload["current_fingerprint"] and payload["current_fingerprint"] != payload["pending_fingerprint"]:
        data = files.read_file(path, what="private key")
        files.atomic_write(previous, data, mode=0o600)
        cert_path = payload.get("certificate_path")
        if cert_path and os.path.exists(cert_path):
            files.atomic_write(cert_path + PREVIOUS_SUFFIX, files.read_file(cert_path, what="certificate"), mode=0o644)
    if os.path.exists(pending):
        os.replace(pending, path)
    if payload.get("certificate_path"):
        files.atomic_write(payload["certificate_path"], payload["certificate"].encode("ascii"), mode=0o644)


def apply(client: IzumaClient, observed: Observed, the_plan: Plan) -> None:
    """Carry out the plan in order. A failed upload of a key written in this run removes that key again."""
    written_pending: Optional[str] = None
    for change in the_plan.changes:
        payload = change.payload
        if change.action == "write":
            files.atomic_write(payload["path"], payload["data"], mode=payload["mode"])
            if payload["path"].endswith(PENDING_SUFFIX) and change.resource == "private key":
                written_pending = payload["path"]
        elif change.action == "create":
            fingerprint = payload["fingerprint"]
            try:
                created = client.create(keys_path(observed.application_id), payload["body"],
                                        read_back=lambda fp=fingerprint: _find_uploaded(client, observed.application_id, fp))
            except IzumaApiError as exc:
                # The server refused the upload: nothing was uploaded, so the key written for it goes too.
                if written_pending and exc.status is not None and 400 <= exc.status < 500:
                    files.remove_file(written_pending)
                raise
            payload["result"] = created
        elif change.action == "update":
            payload["result"] = client.update(key_path(observed.application_id, payload["id"]), payload["body"], etag=payload["etag"])
        elif change.action == "delete":
            client.delete(key_path(observed.application_id, payload["id"]), etag=payload["etag"])
        elif change.action == "promote":
            _promote_files(payload)
        elif change.action == "remove":
            files.remove_file(payload["path"])


# -- results ----------------------------------------------------------------------------------------------


def outcome(observed: Observed, the_plan: Plan, executed: bool) -> List[Dict[str, Any]]:
    """The application's keys after the plan: as the API returned them, or as check mode predicts them."""
    items: Dict[str, Dict[str, Any]] = {item["id"]: dict(item) for item in observed.remote}
    for change in the_plan.changes:
        if change.resource != "verification key":
            continue
        payload = change.payload
        if change.action == "delete":
            items.pop(payload["id"], None)
        elif change.action == "create":
            created = payload.get("result") if executed else None
            if created:
                created["public_key_fingerprint"] = payload["fingerprint"]
                items[created["id"]] = created
            else:
                items["new:" + change.name] = dict(change.after or {}, public_key_fingerprint=payload["fingerprint"])
        elif change.action == "update":
            updated = payload.get("result") if executed else None
            previous = items.get(payload["id"], {})
            if updated:
                updated["public_key_fingerprint"] = remote_public_key_fingerprint(updated)
                items[payload["id"]] = updated
            else:
                items[payload["id"]] = dict(previous, **(change.after or {}))
    return list(items.values())


def _certificate_state(pem: str, now: datetime.datetime) -> Dict[str, Any]:
    """What a diff shows of a certificate file: its fingerprint and expiry."""
    try:
        info = certs.certificate_info(certs.load_certificate(pem), now=now)
    except IzumaKeyError:
        return {"certificate_fingerprint": None, "expires_at": None}
    return {"certificate_fingerprint": info["fingerprint"], "expires_at": info["expires_at"]}


def diff(observed: Observed, the_plan: Plan, after: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Ansible's diff: the application's keys before and after (by name), and the local files the plan touches.

    Keys are shown as whole states, not change by change, because a rotation renames one key and creates another
    under the same name. Only names, ids, status, fingerprints and expiry are shown; never a certificate or key.
    The ``.next`` file of a rotation that completes in the same run is not shown: it does not outlive the run.
    """
    before_state: Dict[str, Any] = {item["name"]: summary(item) for item in observed.remote}
    after_state: Dict[str, Any] = {item["name"]: summary(item) for item in after}
    promoted = {change.payload.get("pending") for change in the_plan.changes if change.action == "promote"}
    for change in the_plan.changes:
        if change.resource == "verification key" or (change.action == "write" and change.name in promoted):
            continue
        if change.before is not None:
            before_state[change.name] = change.before
        if change.after is not None:
            after_state[change.name] = change.after
        if change.action == "promote" and change.before is not None and change.before != change.after:
            # The replaced key is kept beside the new one.
            previous = change.payload["previous"]
            if observed.previous is not None:
                before_state[previous] = {"public_key_fingerprint": observed.previous.fingerprint}
            after_state[previous] = change.before
        cert_path = change.payload.get("certificate_path") if change.action == "promote" else None
        if cert_path:
            # The new key's certificate is written beside it; the one it replaces is kept as .previous.
            after_state[cert_path] = _certificate_state(change.payload["certificate"], observed.now)
            if observed.certificate_source == cert_path and observed.certificate_pem:
                before_state[cert_path] = _certificate_state(observed.certificate_pem, observed.now)
                if change.before is not None and change.before != change.after:
                    after_state[cert_path + PREVIOUS_SUFFIX] = before_state[cert_path]
    return {"before": before_state, "after": after_state}
