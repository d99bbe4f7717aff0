# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated account: applications, verification keys, access keys and policy groups.

Every method applies the contract's rules (field validation, uniqueness, limits,
If-Match) and raises ApiError when one is broken. The store is not locked per
method: the caller holds ``store.lock`` for a whole request, so a request sees and
changes a consistent account even with many concurrent clients.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from izuma_emulator.certs import CertificateInfo, CertificateRejected, inspect_certificate
from izuma_emulator.clock import Clock, format_time
from izuma_emulator.listing import SortKey, sort_key
from izuma_emulator.messages import ApiError, new_id, not_found
from izuma_emulator.settings import Settings
from izuma_emulator.validation import MISSING, BodyReader, Missing

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
EXPIRED = "EXPIRED"

ADMINISTRATORS = "Administrators"
DEVELOPERS = "Developers"

APPLICATION_FIELDS = ("name", "description", "status", "groups")
VERIFICATION_KEY_FIELDS = ("name", "description", "status", "certificate")
ACCESS_KEY_FIELDS = ("name", "description", "status", "expiration")


@dataclass(kw_only=True)
class Record:
    """What every stored object has: identity, name, description, timestamps and etag."""

    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = None
    etag: int = 1

    def written(self, now: datetime) -> None:
        """Mark a write: the etag changes on every write, as the contract requires."""
        self.updated_at = now
        self.etag += 1


@dataclass(kw_only=True)
class PolicyGroup(Record):
    """A fixed group; an application's rights come from the groups it belongs to."""


@dataclass(kw_only=True)
class Application(Record):
    """An application: the identity that access keys and JWTs authenticate as."""

    status: str
    groups: list[str]


@dataclass(kw_only=True)
class VerificationKey(Record):
    """A certificate whose public key verifies an application's JWTs."""

    application_id: str
    status: str
    certificate: CertificateInfo


@dataclass(kw_only=True)
class AccessKey(Record):
    """An ``ak_`` secret that authenticates as its application.

    Only a SHA-256 digest of the secret is kept: the secret itself is returned once,
    by the create response, and can then never leak from a state dump.
    """

    application_id: str
    status: str
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


class Store:
    """One account's IAM objects and the rules that govern them."""

    def __init__(self, clock: Clock, settings: Settings) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.settings = settings
        self.account_id = new_id()
        now = clock.now()
        # The groups are fixed for the emulator's lifetime (a reset keeps them) so that
        # a client may cache the ids it resolved from the names.
        self.groups: dict[str, PolicyGroup] = {}
        for name in (ADMINISTRATORS, DEVELOPERS):
            group = PolicyGroup(id=new_id(), name=name, description="", created_at=now, updated_at=now)
            self.groups[group.id] = group
        self.applications: dict[str, Application] = {}
        self.verification_keys: dict[str, VerificationKey] = {}
        self.access_keys: dict[str, AccessKey] = {}
        self._access_keys_by_digest: dict[str, str] = {}
        self._positions: dict[str, dict[str, SortKey]] = {}
        self._last_created: datetime | None = None
        self.clear()

    def clear(self) -> None:
        """Forget every application and key (the groups and the account id stay)."""
        self.applications.clear()
        self.verification_keys.clear()
        self.access_keys.clear()
        self._access_keys_by_digest.clear()
        self._last_created = None
        self._positions = {"policy-group": {group.id: sort_key(group) for group in self.groups.values()}}

    # ---- helpers shared by all object types -------------------------------------------

    def _creation_time(self) -> datetime:
        """The created_at of a new object: now, but later than the previous object's.

        Timestamps have millisecond resolution, so objects created in a burst would tie
        and list in id order, not creation order. Within a second of the previous creation
        the new object therefore gets at least the previous time plus 1 ms; a clock shifted
        back further than that is followed as it is.
        """
        now = self.clock.now()
        last = self._last_created
        if last is not None and last - timedelta(seconds=1) < now <= last:
            now = last + timedelta(milliseconds=1)
        self._last_created = now
        return now

    def _remember_position(self, kind: str, record: Record) -> None:
        """Keep the sort position of an id forever, so an ``after`` cursor survives deletion."""
        self._positions.setdefault(kind, {})[record.id] = sort_key(record)

    def cursor_position(self, kind: str, ident: str) -> SortKey | None:
        """Return where id ``ident`` of kind ``kind`` sits in ASC order, None if never issued."""
        return self._positions.get(kind, {}).get(ident)

    def check_if_match(self, header: str | None, record: Record) -> None:
        """Refuse a write whose If-Match does not name the object's current etag (412)."""
        if header is None or not self.settings.honour_if_match:
            return
        current = str(record.etag)
        for candidate in header.split(","):
            candidate = candidate.strip()
            if candidate == "*" or candidate.removeprefix("W/").strip('"') == current:
                return
        raise ApiError(412, "precondition_failed",
                       f"If-Match {header} does not match the current etag \"{current}\": the object changed; read it again and retry.")

    def _duplicate(self, field_name: str, message: str) -> ApiError:
        return ApiError(self.settings.duplicate_status, "duplicate", message, [{"name": field_name, "message": message}])

    def _check_unique_name(self, records: Iterable[Record], name: str | object, exclude: str | None, scope: str) -> None:
        """Refuse a name already used by another record in ``records``."""
        if not isinstance(name, str):
            return
        for record in records:
            if record.name == name and record.id != exclude:
                raise self._duplicate("name", f"the name {name!r} is already used by {record.id} in {scope}")

    def _limit_exceeded(self, message: str) -> ApiError:
        return ApiError(self.settings.limit_exceeded_status, "account_limit_exceeded", message)

    # ---- policy groups ------------------------------------------------------------------

    def get_group(self, group_id: str) -> PolicyGroup:
        """Return a policy group or raise 404."""
        if group_id not in self.groups:
            raise not_found("Policy group", group_id)
        return self.groups[group_id]

    def group_id(self, name: str) -> str:
        """Return the id of the fixed group called ``name``."""
        return next(group.id for group in self.groups.values() if group.name == name)

    def render_group(self, group: PolicyGroup) -> dict[str, object]:
        """The API's policy-group object."""
        return {
            "object": "policy-group",
            "id": group.id,
            "account_id": self.account_id,
            "name": group.name,
            "created_at": format_time(group.created_at),
            "updated_at": format_time(group.updated_at),
            "etag": str(group.etag),
        }

    # ---- applications -------------------------------------------------------------------

    def get_application(self, application_id: str) -> Application:
        """Return an application or raise 404."""
        if application_id not in self.applications:
            raise not_found("Application", application_id)
        return self.applications[application_id]

    def is_administrator(self, application: Application) -> bool:
        """True when the application belongs to the Administrators group."""
        return self.group_id(ADMINISTRATORS) in application.groups

    def create_application(self, body: dict[str, object]) -> Application:
        """Create an application after checking fields, name uniqueness and the account limit."""
        settings = self.settings
        reader = BodyReader(body, APPLICATION_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required=True)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        groups = reader.id_list("groups", self.groups)
        reader.finish()
        # A retried POST whose first answer was lost must learn the name exists (409), so
        # uniqueness is checked before the limit.
        self._check_unique_name(self.applications.values(), name, None, "this account")
        if len(self.applications) >= settings.max_applications:
            raise self._limit_exceeded(f"the account already has {len(self.applications)} applications, the limit is {settings.max_applications}")
        now = self._creation_time()
        application = Application(
            id=new_id(), name=str(name), description=description if isinstance(description, str) else "",
            status=status if isinstance(status, str) else ACTIVE, groups=groups if isinstance(groups, list) else [],
            created_at=now, updated_at=now,
        )
        self.applications[application.id] = application
        self._remember_position("application", application)
        return application

    def update_application(self, application_id: str, body: dict[str, object], if_match: str | None) -> Application:
        """Change the fields given in ``body`` (PUT is a partial update)."""
        application = self.get_application(application_id)
        self.check_if_match(if_match, application)
        settings = self.settings
        reader = BodyReader(body, APPLICATION_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required="name" in body)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        groups = reader.id_list("groups", self.groups)
        reader.finish()
        self._check_unique_name(self.applications.values(), name, application.id, "this account")
        if isinstance(name, str):
            application.name = name
        if description is not MISSING:
            application.description = description or ""
        if isinstance(status, str):
            application.status = status
        if isinstance(groups, list):
            application.groups = groups
        application.written(self.clock.now())
        return application

    def delete_application(self, application_id: str, if_match: str | None) -> None:
        """Delete an application and, with it, all its verification and access keys."""
        application = self.get_application(application_id)
        self.check_if_match(if_match, application)
        for key in [key for key in self.verification_keys.values() if key.application_id == application_id]:
            del self.verification_keys[key.id]
        for access_key in [key for key in self.access_keys.values() if key.application_id == application_id]:
            self._delete_access_key_record(access_key)
        del self.applications[application_id]

    def render_application(self, application: Application) -> dict[str, object]:
        """The API's application object."""
        return {
            "object": "application",
            "id": application.id,
            "account_id": self.account_id,
            "name": application.name,
            "description": application.description,
            "status": application.status,
            "groups": list(application.groups),
            "created_at": format_time(application.created_at),
            "updated_at": format_time(application.updated_at),
            "last_used_at": format_time(application.last_used_at),
            "etag": str(application.etag),
        }

    # ---- verification keys --------------------------------------------------------------

    def verification_keys_of(self, application_id: str) -> list[VerificationKey]:
        """The verification keys of one application."""
        return [key for key in self.verification_keys.values() if key.application_id == application_id]

    def get_verification_key(self, application_id: str, key_id: str) -> VerificationKey:
        """Return a verification key of an existing application or raise 404."""
        self.get_application(application_id)
        key = self.verification_keys.get(key_id)
        if key is None or key.application_id != application_id:
            raise not_found("Verification key", key_id)
        return key

    def _read_certificate(self, reader: BodyReader, required: bool) -> CertificateInfo | None:
        """Read and check the ``certificate`` field; an expired certificate is refused."""
        settings = self.settings
        # The length rule has its own message in inspect_certificate, so no limit here.
        text = reader.text("certificate", sys.maxsize, required=required)
        if not isinstance(text, str):
            return None
        try:
            info = inspect_certificate(text, settings.max_certificate_chars, settings.min_rsa_bits, settings.min_ec_bits)
        except CertificateRejected as error:
            reader.add("certificate", str(error))
            return None
        if info.is_expired(self.clock.now()):
            reader.add("certificate", f"expired at {format_time(info.expires_at)}; upload a certificate that is still valid")
            return None
        return info

    def _check_unique_certificate(self, info: CertificateInfo | None, exclude: str | None) -> None:
        """Refuse a certificate already uploaded anywhere in the account."""
        if info is None:
            return
        for key in self.verification_keys.values():
            if key.certificate.fingerprint == info.fingerprint and key.id != exclude:
                raise self._duplicate("certificate", f"this certificate is already uploaded as verification key {key.id} "
                                                     f"of application {key.application_id}")

    def create_verification_key(self, application_id: str, body: dict[str, object]) -> VerificationKey:
        """Upload a verification key after checking the certificate, uniqueness and the per-application limit."""
        self.get_application(application_id)
        settings = self.settings
        reader = BodyReader(body, VERIFICATION_KEY_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required=True)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        info = self._read_certificate(reader, required=True)
        reader.finish()
        existing = self.verification_keys_of(application_id)
        self._check_unique_name(existing, name, None, "this application")
        self._check_unique_certificate(info, None)
        if len(existing) >= settings.max_verification_keys:
            raise self._limit_exceeded(f"application {application_id} already has {len(existing)} verification keys, "
                                       f"the limit is {settings.max_verification_keys}; delete one first")
        now = self._creation_time()
        key = VerificationKey(
            id=new_id(), application_id=application_id, name=str(name),
            description=description if isinstance(description, str) else "",
            status=status if isinstance(status, str) else ACTIVE,
            certificate=cast(CertificateInfo, info),  # required: reader.finish() raised if it was missing or bad
            created_at=now, updated_at=now,
        )
        self.verification_keys[key.id] = key
        self._remember_position("verification-key", key)
        return key

    def update_verification_key(self, application_id: str, key_id: str, body: dict[str, object], if_match: str | None) -> VerificationKey:
        """Rename, describe, (de)activate or replace the certificate of a verification key."""
        key = self.get_verification_key(application_id, key_id)
        self.check_if_match(if_match, key)
        settings = self.settings
        reader = BodyReader(body, VERIFICATION_KEY_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required="name" in body)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        info = self._read_certificate(reader, required=False)
        resulting = info or key.certificate
        if status == ACTIVE and resulting.is_expired(self.clock.now()):
            reader.add("status", f"cannot be set to ACTIVE: the certificate expired at {format_time(resulting.expires_at)}; "
                                 "replace the certificate with one that has not expired")
        reader.finish()
        self._check_unique_name(self.verification_keys_of(application_id), name, key.id, "this application")
        self._check_unique_certificate(info, key.id)
        if isinstance(name, str):
            key.name = name
        if description is not MISSING:
            key.description = description or ""
        if isinstance(status, str):
            key.status = status
        if info is not None:
            key.certificate = info
        key.written(self.clock.now())
        return key

    def delete_verification_key(self, application_id: str, key_id: str, if_match: str | None) -> None:
        """Delete one verification key."""
        key = self.get_verification_key(application_id, key_id)
        self.check_if_match(if_match, key)
        del self.verification_keys[key.id]

    def render_verification_key(self, key: VerificationKey) -> dict[str, object]:
        """The API's verification-key object; ``valid`` is computed from the emulator clock."""
        info = key.certificate
        return {
            "object": "verification-key",
            "id": key.id,
            "account_id": self.account_id,
            "application_id": key.application_id,
            "name": key.name,
            "description": key.description,
            "status": key.status,
            "certificate": info.pem,
            "certificate_fingerprint": info.fingerprint,
            "subject": info.subject,
            "issuer": info.issuer,
            "algorithm": info.algorithm,
            "key_size": info.key_size,
            "valid_from": format_time(info.valid_from),
            "expires_at": format_time(info.expires_at),
            "valid": info.is_valid(self.clock.now()),
            "created_at": format_time(key.created_at),
            "updated_at": format_time(key.updated_at),
            "last_used_at": format_time(key.last_used_at),
            "etag": str(key.etag),
        }

    # ---- access keys --------------------------------------------------------------------

    def access_keys_of(self, application_id: str) -> list[AccessKey]:
        """The access keys of one application."""
        return [key for key in self.access_keys.values() if key.application_id == application_id]

    def get_access_key(self, application_id: str, key_id: str) -> AccessKey:
        """Return an access key of an existing application or raise 404."""
        self.get_application(application_id)
        key = self.access_keys.get(key_id)
        if key is None or key.application_id != application_id:
            raise not_found("Access key", key_id)
        return key

    def _read_expiration(self, reader: BodyReader) -> datetime | None | Missing:
        """Read ``expiration``: null for none, or a time that has not passed yet."""
        expiration = reader.timestamp("expiration")
        if isinstance(expiration, datetime) and expiration <= self.clock.now():
            reader.add("expiration", "must be in the future")
            return MISSING
        return expiration

    def create_access_key(self, application_id: str, body: dict[str, object]) -> tuple[AccessKey, str]:
        """Create an access key; return it with its secret, which is never available again."""
        self.get_application(application_id)
        settings = self.settings
        reader = BodyReader(body, ACCESS_KEY_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required=True)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        expiration = self._read_expiration(reader)
        reader.finish()
        self._check_unique_name(self.access_keys_of(application_id), name, None, "this application")
        secret = "ak_" + secrets.token_hex(32)
        now = self._creation_time()
        key = AccessKey(
            id=new_id(), application_id=application_id, name=str(name),
            description=description if isinstance(description, str) else "",
            status=status if isinstance(status, str) else ACTIVE,
            expiration=expiration if isinstance(expiration, datetime) else None,
            secret_digest=secret_digest(secret), created_at=now, updated_at=now,
        )
        self.access_keys[key.id] = key
        self._access_keys_by_digest[key.secret_digest] = key.id
        self._remember_position("access-key", key)
        return key, secret

    def update_access_key(self, application_id: str, key_id: str, body: dict[str, object], if_match: str | None) -> AccessKey:
        """Rename, describe, (de)activate or change the expiration of an access key."""
        key = self.get_access_key(application_id, key_id)
        self.check_if_match(if_match, key)
        settings = self.settings
        reader = BodyReader(body, ACCESS_KEY_FIELDS, settings.reject_unknown_fields)
        name = reader.text("name", settings.max_name_chars, required="name" in body)
        description = reader.text("description", settings.max_description_chars, nullable=True)
        status = reader.status()
        expiration = self._read_expiration(reader)
        reader.finish()
        self._check_unique_name(self.access_keys_of(application_id), name, key.id, "this application")
        if isinstance(name, str):
            key.name = name
        if description is not MISSING:
            key.description = description or ""
        if isinstance(status, str):
            key.status = status
        if expiration is not MISSING:
            key.expiration = expiration if isinstance(expiration, datetime) else None
        key.written(self.clock.now())
        return key

    def _delete_access_key_record(self, key: AccessKey) -> None:
        del self.access_keys[key.id]
        del self._access_keys_by_digest[key.secret_digest]

    def delete_access_key(self, application_id: str, key_id: str, if_match: str | None) -> None:
        """Delete one access key; its secret stops working at once."""
        key = self.get_access_key(application_id, key_id)
        self.check_if_match(if_match, key)
        self._delete_access_key_record(key)

    def find_access_key(self, secret: str) -> AccessKey | None:
        """Return the access key whose secret this is, if any."""
        key_id = self._access_keys_by_digest.get(secret_digest(secret))
        return self.access_keys.get(key_id) if key_id else None

    def render_access_key(self, key: AccessKey, secret: str | None = None) -> dict[str, object]:
        """The API's access-key object; ``key`` holds the secret only when given (the create response)."""
        return {
            "object": "access-key",
            "id": key.id,
            "account_id": self.account_id,
            "application_id": key.application_id,
            "name": key.name,
            "description": key.description,
            "status": key.effective_status(self.clock.now()),
            "expiration": format_time(key.expiration),
            "key": secret,
            "created_at": format_time(key.created_at),
            "updated_at": format_time(key.updated_at),
            "last_used_at": format_time(key.last_used_at),
            "etag": str(key.etag),
        }

    # ---- whole-account views ------------------------------------------------------------

    def dump(self) -> dict[str, object]:
        """Everything in the account, nested by application; access-key secrets are never included."""
        applications = []
        for application in sorted(self.applications.values(), key=sort_key):
            rendered = self.render_application(application)
            rendered["verification_keys"] = [self.render_verification_key(key)
                                             for key in sorted(self.verification_keys_of(application.id), key=sort_key)]
            rendered["access_keys"] = [self.render_access_key(key) for key in sorted(self.access_keys_of(application.id), key=sort_key)]
            applications.append(rendered)
        return {
            "account_id": self.account_id,
            "now": format_time(self.clock.now()),
            "settings": self.settings.as_dict(),
            "policy_groups": [self.render_group(group) for group in sorted(self.groups.values(), key=sort_key)],
            "applications": applications,
        }
