# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keys an application owns: one generic per-application child collection, two kinds of key.

``ApplicationKeys`` holds what verification keys and access keys have in common: they
belong to one application, have a name unique within it, a description and a status, are
created, partially updated and deleted the same way, and list with the same filters.
``VerificationKeys`` and ``AccessKeys`` add only their own fields and rules (the
certificate and its checks; the expiration and the secret seen once).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from izuma_emulator.certs import CertificateInfo, CertificateRejected, inspect_certificate
from izuma_emulator.clock import format_time
from izuma_emulator.messages import new_id, not_found
from izuma_emulator.records import ACTIVE, EXPIRED, StatusRecord
from izuma_emulator.validation import MISSING, BodyReader, Missing, STATUSES

if TYPE_CHECKING:
    from izuma_emulator.store import Common, Store


@dataclass(kw_only=True)
class ApplicationKey(StatusRecord):
    """What every key has besides a record's fields: the application it belongs to."""

    application_id: str


@dataclass(kw_only=True)
class VerificationKey(ApplicationKey):
    """A certificate whose public key verifies an application's JWTs."""

    certificate: CertificateInfo


@dataclass(kw_only=True)
class AccessKey(ApplicationKey):
    """An ``ak_`` secret that authenticates as its application.

    Only a SHA-256 digest of the secret is kept: the secret itself is returned once,
    by the create response, and can then never leak from a state dump.
    """

    expiration: datetime | None
    secret_digest: str

    def effective_status(self, now: datetime) -> str:
        """ACTIVE or INACTIVE as set, or EXPIRED once the expiration has passed."""
        if self.expiration is not None and now >= self.expiration:
            return EXPIRED
        return self.status


def secret_digest(secret: str) -> str:
    """The digest under which an access-key secret is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


Key = TypeVar("Key", bound=ApplicationKey)


class ApplicationKeys(Generic[Key]):
    """The keys of one kind, each belonging to one application of the store.

    Subclasses name the kind and supply its own fields through the ``_read_own``,
    ``_check_own``, ``_new``, ``_apply_own`` and ``_render_own`` hooks; the order of checks
    (fields, then name uniqueness, then the kind's own rules) is the same for every kind.
    """

    kind = ""      # the API's object name; also the namespace of list cursors
    label = ""     # how errors name one key
    fields: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ("application_id",)  # besides those of every object
    optional: tuple[str, ...] = ()  # fields left out when they have no value (Settings.absent_values)
    filters: Mapping[str, Sequence[str] | None] = {}

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: dict[str, Key] = {}

    # ---- lookup and removal -------------------------------------------------------------

    def of(self, application_id: str) -> list[Key]:
        """The keys of one application."""
        return [key for key in self.records.values() if key.application_id == application_id]

    def get(self, application_id: str, key_id: str) -> Key:
        """Return a key of an existing application or raise 404."""
        self.store.get_application(application_id)
        key = self.records.get(key_id)
        if key is None or key.application_id != application_id:
            raise not_found(self.label, key_id)
        return key

    def status_of(self, key: Key) -> str:
        """The status the API shows for ``key``."""
        return key.status

    def matches(self, key: Key, filters: Mapping[str, str]) -> bool:
        """True when ``key`` passes the list filters given (``name__eq``, ``status__eq``, ``application_id__eq``)."""
        wanted = {"name__eq": key.name, "status__eq": self.status_of(key), "application_id__eq": key.application_id}
        return all(filters.get(name, value) == value for name, value in wanted.items())

    def discard(self, key: Key) -> None:
        """Forget one key."""
        del self.records[key.id]

    def discard_application(self, application_id: str) -> None:
        """Forget every key of an application (it is being deleted)."""
        for key in self.of(application_id):
            self.discard(key)

    def clear(self) -> None:
        """Forget every key."""
        for key in list(self.records.values()):
            self.discard(key)

    # ---- the operations -----------------------------------------------------------------

    def create(self, application_id: str, body: dict[str, object]) -> dict[str, object]:
        """Create a key after checking its fields, its name and the kind's rules; return the create response."""
        store = self.store
        store.get_application(application_id)
        reader, common = store.read_common(body, self.fields, creating=True, read_only=self.read_only)
        own = self._read_own(reader, None)
        reader.finish()
        existing = self.of(application_id)
        store.check_unique_name(existing, common.name, None, "this application")
        self._check_own(own, None, existing, application_id)
        now = store.creation_time()
        key, created_only = self._new(application_id, common, own, now)
        self.records[key.id] = key
        store.remember_position(self.kind, key)
        return {**self.render(key), **created_only}

    def update(self, application_id: str, key_id: str, body: dict[str, object], if_match: str | None) -> Key:
        """Change the fields given in ``body`` (PUT is a partial update)."""
        store = self.store
        key = self.get(application_id, key_id)
        store.check_if_match(if_match, key)
        reader, common = store.read_common(body, self.fields, creating=False, read_only=self.read_only)
        own = self._read_own(reader, key)
        reader.finish()
        store.check_unique_name(self.of(application_id), common.name, key.id, "this application")
        self._check_own(own, key, self.of(application_id), application_id)
        common.apply(key)
        self._apply_own(key, own)
        key.written(store.clock.now())
        return key

    def delete(self, application_id: str, key_id: str, if_match: str | None) -> None:
        """Delete one key."""
        key = self.get(application_id, key_id)
        self.store.check_if_match(if_match, key)
        self.discard(key)

    def render(self, key: Key) -> dict[str, object]:
        """The API's object for ``key``."""
        return self.store.without_absent({
            **self.store.render_record(self.kind, key),
            "application_id": key.application_id,
            "description": key.description,
            "status": self.status_of(key),
            "last_used_at": format_time(key.last_used_at),
            **self._render_own(key),
        }, "last_used_at", *self.optional)

    # ---- what each kind adds ------------------------------------------------------------

    def _read_own(self, reader: BodyReader, key: Key | None) -> object:
        """Read and check the kind's own fields (``key`` is None on create)."""
        raise NotImplementedError

    def _check_own(self, own: object, key: Key | None, existing: list[Key], application_id: str) -> None:
        """The kind's rules that need the other keys (uniqueness, limits); nothing by default."""

    def _new(self, application_id: str, common: Common, own: object, now: datetime) -> tuple[Key, dict[str, object]]:
        """A new key, and what only its create response shows."""
        raise NotImplementedError

    def _apply_own(self, key: Key, own: object) -> None:
        """Apply the kind's own fields read by ``_read_own`` to ``key``."""
        raise NotImplementedError

    def _render_own(self, key: Key) -> dict[str, object]:
        """The kind's own fields in the API's object."""
        raise NotImplementedError


class VerificationKeys(ApplicationKeys[VerificationKey]):
    """Verification keys: one certificate each, unique in the account, a limited number per application."""

    kind = "verification-key"
    label = "Verification key"
    fields = ("name", "description", "status", "certificate")
    read_only = ("application_id", "certificate_fingerprint", "subject", "issuer", "algorithm", "key_size",
                 "valid_from", "expires_at", "valid")
    filters = {"name__eq": None, "status__eq": STATUSES}

    def _read_own(self, reader: BodyReader, key: VerificationKey | None) -> CertificateInfo | None:
        """Read and check the ``certificate`` (required on create); an expired one is refused.

        On update, the product page's rule: "Status can be set to active or inactive if certificate is not
        expired", so a ``status`` is refused while the resulting certificate has expired (only ACTIVE is with
        ``allow_inactive_on_expired_key``).
        """
        info = self._read_certificate(reader, required=key is None)
        status = reader.body.get("status")
        refused = (ACTIVE,) if self.store.settings.allow_inactive_on_expired_key else STATUSES
        if key is not None and status in refused:
            resulting = info or key.certificate
            if resulting.is_expired(self.store.clock.now()):
                reader.add("status", f"cannot be set to {status}: the certificate expired at {format_time(resulting.expires_at)}; "
                                     "replace the certificate with one that has not expired")
        return info

    def _read_certificate(self, reader: BodyReader, required: bool) -> CertificateInfo | None:
        settings = self.store.settings
        # The length rule has its own message in inspect_certificate, so no limit here.
        text = reader.text("certificate", sys.maxsize, required=required)
        if not isinstance(text, str):
            return None
        try:
            info = inspect_certificate(text, settings.max_certificate_chars, settings.min_rsa_bits, settings.min_ec_bits)
        except CertificateRejected as error:
            reader.add("certificate", str(error))
            return None
        if info.is_expired(self.store.clock.now()):
            reader.add("certificate", f"expired at {format_time(info.expires_at)}; upload a certificate that is still valid")
            return None
        return info

    def _check_own(self, own: object, key: VerificationKey | None, existing: list[VerificationKey], application_id: str) -> None:
        """The same certificate nowhere else in the account; on create, the per-application limit."""
        info = cast("CertificateInfo | None", own)
        if info is not None:
            for other in self.records.values():
                if other.certificate.fingerprint == info.fingerprint and other.id != (key.id if key else None):
                    raise self.store.duplicate("certificate", f"this certificate is already uploaded as verification key {other.id} "
                                                              f"of application {other.application_id}")
        limit = self.store.settings.max_verification_keys
        if key is None and len(existing) >= limit:
            raise self.store.limit_exceeded(f"application {application_id} already has {len(existing)} verification keys, "
                                            f"the limit is {limit}; delete one first")

    def _new(self, application_id: str, common: Common, own: object, now: datetime) -> tuple[VerificationKey, dict[str, object]]:
        key = VerificationKey(
            id=new_id(), application_id=application_id, **common.initial(),
            certificate=cast(CertificateInfo, own),  # required: reader.finish() raised if it was missing or bad
            created_at=now, updated_at=now,
        )
        return key, {}

    def _apply_own(self, key: VerificationKey, own: object) -> None:
        if own is not None:
            key.certificate = cast(CertificateInfo, own)

    def _render_own(self, key: VerificationKey) -> dict[str, object]:
        """The certificate and what it says; ``valid`` is computed from the emulator clock."""
        info = key.certificate
        return {
            "certificate": info.pem,
            "certificate_fingerprint": info.fingerprint,
            "subject": info.subject,
            "issuer": info.issuer,
            "algorithm": info.algorithm,
            "key_size": info.key_size,
            "valid_from": format_time(info.valid_from),
            "expires_at": format_time(info.expires_at),
            "valid": info.is_valid(self.store.clock.now()),
        }


class AccessKeys(ApplicationKeys[AccessKey]):
    """Access keys: a secret shown once, an optional expiration after which the key is EXPIRED."""

    kind = "access-key"
    label = "Access key"
    fields = ("name", "description", "status", "expiration")
    read_only = ("application_id", "key")
    optional = ("expiration",)
    filters: Mapping[str, Sequence[str] | None] = {"status__eq": (*STATUSES, EXPIRED)}

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._by_digest: dict[str, str] = {}

    def status_of(self, key: AccessKey) -> str:
        """ACTIVE or INACTIVE as set, or EXPIRED once the expiration has passed."""
        return key.effective_status(self.store.clock.now())

    def get_any(self, key_id: str) -> AccessKey:
        """Return an access key of any application or raise 404 (``/v3/access-keys/{id}``)."""
        key = self.records.get(key_id)
        if key is None:
            raise not_found(self.label, key_id)
        return key

    def public_part(self, key: AccessKey) -> str:
        """The key without its secret part, as the specification's example shows it: ``ak_2``, the account, the key's id."""
        account = base64.b64encode(self.store.account_id.encode("ascii")).decode("ascii").rstrip("=")
        return f"ak_2{account}{key.id}"

    def find(self, secret: str) -> AccessKey | None:
        """Return the access key whose secret this is, if any."""
        key_id = self._by_digest.get(secret_digest(secret))
        return self.records.get(key_id) if key_id else None

    def discard(self, key: AccessKey) -> None:
        """Forget one key; its secret stops working at once."""
        super().discard(key)
        del self._by_digest[key.secret_digest]

    def _read_own(self, reader: BodyReader, key: AccessKey | None) -> datetime | None | Missing:
        """Read ``expiration``: null for none, or a time that has not passed yet."""
        expiration = reader.timestamp("expiration")
        if isinstance(expiration, datetime) and expiration <= self.store.clock.now():
            reader.add("expiration", "must be in the future")
            return MISSING
        return expiration

    def _new(self, application_id: str, common: Common, own: object, now: datetime) -> tuple[AccessKey, dict[str, object]]:
        key = AccessKey(
            id=new_id(), application_id=application_id, **common.initial(),
            expiration=own if isinstance(own, datetime) else None,
            secret_digest="", created_at=now, updated_at=now,
        )
        # The full key: its public part and then the secret, which only the create response shows.
        secret = self.public_part(key) + secrets.token_hex(32)
        key.secret_digest = secret_digest(secret)
        self._by_digest[key.secret_digest] = key.id
        return key, {"key": secret}

    def _apply_own(self, key: AccessKey, own: object) -> None:
        if own is not MISSING:
            key.expiration = own if isinstance(own, datetime) else None

    def _render_own(self, key: AccessKey) -> dict[str, object]:
        """The expiration, and ``key`` without its secret part (the full key is only in the create response)."""
        return {
            "expiration": format_time(key.expiration),
            "key": self.public_part(key) if self.store.settings.show_access_key_without_secret else None,
        }
