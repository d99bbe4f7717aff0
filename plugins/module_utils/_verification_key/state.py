# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Verification keys: the naming conventions, the API's view, and ``observe`` (the only step that reads).

The local side of one logical key ("telemetry") is a set of files next to
``private_key_path`` (key_backend=file; with key_backend=pkcs11 the three
private keys are key pairs in a PKCS#11 token instead, see ``file_store``
and ``pkcs11_store``):

* ``private_key_path``: the current signing key;
* ``private_key_path.next``: a new key that is being rotated in (only while a
  rotation is under way, or after a run was killed in the middle of one);
* ``private_key_path.previous``: the key it replaced, kept so that tokens it
  signed can be re-verified or the rotation rolled back;
* ``certificate_path`` and ``certificate_path.previous``: their certificates.

On the API side the current key is named ``name`` and the previous one
``name`` + ``previous_suffix``. These conventions are known here only: results
carry the names and paths (``KeyFiles``), so that nobody rebuilds them.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._applications import application_path, missing_application
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import issuers as provider
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times

# Product limit (DOC): an application holds at most two verification keys.
MAX_KEYS_PER_APPLICATION = 2
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
    """Every verification key of an application (all pages), each with ``public_key_fingerprint`` added.

    A 404 means the application is not there: the same error as every module's for a missing application.
    """
    try:
        items = client.list(keys_path(application_id))
    except IzumaApiError as exc:
        if exc.status == 404:
            raise missing_application(application_id=application_id) from None
        raise
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
    return bool(expires) and times.parse_rfc3339(expires) > now


def days_left(item: Dict[str, Any], now: datetime.datetime) -> Optional[int]:
    """Whole days until the key's certificate expires (negative once expired)."""
    expires = item.get("expires_at")
    if not expires:
        return None
    return (times.parse_rfc3339(expires) - now) // datetime.timedelta(days=1)


def summary(item: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The fields of an uploaded key a diff or plan shows."""
    if item is None:
        return None
    shown = {name: item.get(name) for name in DIFF_FIELDS}
    if shown["expires_at"]:
        # One spelling for the API's timestamps (milliseconds) and the module's predictions (whole seconds).
        shown["expires_at"] = times.to_rfc3339(times.parse_rfc3339(shown["expires_at"]))
    return shown


def certificate_state(pem: str, now: datetime.datetime) -> Dict[str, Any]:
    """What a diff shows of a certificate file: its fingerprint and expiry."""
    try:
        info = certs.certificate_info(certs.load_certificate(pem), now=now)
    except IzumaKeyError:
        return {"certificate_fingerprint": None, "expires_at": None}
    return {"certificate_fingerprint": info["fingerprint"], "expires_at": info["expires_at"]}


@dataclass(frozen=True)
class KeyFiles:
    """The paths of one logical key's files (None where the task gives no path)."""

    private_key: Optional[str]
    certificate: Optional[str]
    # Where certificate signing requests go (certificate_provider=external only).
    csr: Optional[str] = None

    @classmethod
    def of(cls, want: Desired) -> "KeyFiles":
        """The files of the task's key."""
        return cls(want.private_key_path, want.certificate_path, provider.csr_path(want))

    @property
    def pending(self) -> Optional[str]:
        """The key being rotated in."""
        return self.private_key + PENDING_SUFFIX if self.private_key else None

    @property
    def previous(self) -> Optional[str]:
        """The key it replaced."""
        return self.private_key + PREVIOUS_SUFFIX if self.private_key else None

    @property
    def previous_certificate(self) -> Optional[str]:
        """The certificate of the key it replaced."""
        return self.certificate + PREVIOUS_SUFFIX if self.certificate else None

    def all(self) -> List[str]:
        """Every path, private keys first."""
        return [path for path in (self.private_key, self.pending, self.previous, self.certificate, self.previous_certificate,
                                  self.csr) if path]


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
    """The application's uploaded keys and the local files, read once; the planner reads nothing else."""

    application_id: str
    remote: List[Dict[str, Any]]
    now: datetime.datetime
    files: KeyFiles = KeyFiles(None, None)
    current: Optional[LocalKey] = None
    previous: Optional[LocalKey] = None
    pending: Optional[LocalKey] = None
    # The certificate the task gives: certificate_content, or the file at certificate_path.
    certificate_pem: Optional[str] = None
    certificate_source: str = ""
    # The bytes of the certificate file as they are on disk (kept as .previous in a rotation).
    certificate_data: Optional[bytes] = field(default=None, repr=False)
    existing: FrozenSet[str] = frozenset()
    # Private keys in temporary files that a killed or raced write left beside private_key_path.
    leftovers: List[LocalKey] = field(default_factory=list)
    # certificate_provider=ownca: the CA that issues the certificates; external: the request file as it is on disk.
    authority: Optional[provider.CertificateAuthority] = None
    csr_data: Optional[bytes] = field(default=None, repr=False)
    # Where the private keys are (``file_store.KeyStore``: files, or key pairs in a PKCS#11 token).
    store: Any = None
    # Why the pending key was made, when this run made it (a PKCS#11 key pair is generated, then the plan is made again).
    pending_why: Optional[str] = None

    def exists(self, path: Optional[str]) -> bool:
        """Whether one of the key's files existed when the run observed it."""
        return bool(path) and path in self.existing

    def leftover_of(self, item: Optional[Dict[str, Any]]) -> Optional[LocalKey]:
        """The private key of an uploaded key among the files a lost race can leave: ``.previous`` or a temporary file."""
        if item is None or not item.get("public_key_fingerprint"):
            return None
        for local in [self.previous] + list(self.leftovers):
            if local is not None and local.fingerprint == item["public_key_fingerprint"]:
                return local
        return None

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


def observe(client: IzumaClient, application_id: str, want: Desired, store: Any, now: Optional[datetime.datetime] = None) -> Observed:
    """Read the uploaded keys (one list, all pages), the private keys (from ``store``, the task's key store) and the
    certificate files."""
    paths = KeyFiles.of(want)
    observed = Observed(application_id=application_id, remote=list_keys(client, application_id), now=now or times.utcnow(),
                        files=paths, existing=frozenset(path for path in paths.all() if os.path.exists(path)))
    observed.store = store
    observed.store.observe_keys(observed, want)
    if want.certificate_content:
        observed.certificate_pem, observed.certificate_source = want.certificate_content, "certificate_content"
    elif observed.exists(paths.certificate):
        observed.certificate_data = files.read_file(str(paths.certificate), what="certificate")
        observed.certificate_pem = observed.certificate_data.decode("utf-8", "replace")
        observed.certificate_source = str(paths.certificate)
    observed.authority = provider.load_authority(want, observed.now)
    if observed.exists(paths.csr):
        observed.csr_data = files.read_file(str(paths.csr), what="certificate signing request")
    return observed
