# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The typed changes of a verification-key plan: each applies itself, says what it is and why, and returns its result.

Besides ``apply``, each change knows how it changes the application's key list (``settle``: from its result, or
as check mode predicts it) and what it shows in the diff (``show``). The order of the changes in a plan is the crash
safety: a new private key is written before its upload, and a key file is removed only after its key's deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaKeyError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Change, Plan, UpdateChange
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import (
    KeyFiles,
    LocalKey,
    Observed,
    certificate_state,
    key_path,
    keys_path,
    list_keys,
    remote_public_key_fingerprint,
    summary,
)

KeyItems = Dict[str, Dict[str, Any]]
DiffState = Dict[str, Dict[str, Any]]


@dataclass
class KeyContext:
    """What applying a verification-key plan needs, and what one change tells the next."""

    client: IzumaClient
    application_id: str
    # The private key file this run wrote for an upload; removed again if the server refuses the upload.
    written_pending: Optional[str] = None
    # Undoes the new key a key store made for an upload (a PKCS#11 token's generated pair), if the server refuses it.
    discard: Optional[Callable[[], Any]] = None


class KeyChange(Change):
    """A change of a verification-key plan; by default it leaves the key list alone and shows its before and after."""

    # True for a change after which the rest of the plan is made again (a key pair a PKCS#11 token generates is known only then).
    barrier = False

    def settle(self, items: KeyItems, result: Any) -> None:
        """Update the application's keys (by id) with this change's result (None in check mode)."""

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:  # pylint: disable=unused-argument
        """Add what this change does to the diff (``diff["before"]``, ``diff["after"]``)."""
        if self.before is not None:
            diff["before"][self.name] = self.before
        if self.after is not None:
            diff["after"][self.name] = self.after


class _ApiChange(KeyChange):
    """A change of an uploaded key: the diff shows the application's keys as whole states instead."""

    resource = "verification key"

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:
        return None


class WriteFile(KeyChange):
    """Write a file atomically (a private key with mode 0600, a certificate with 0644)."""

    action = "write"

    def __init__(self, path: str, data: bytes, mode: int, why: str, before: Optional[Dict[str, Any]] = None,
                 after: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(path, why=why, before=before, after=after)
        self.path, self.data, self.mode = path, data, mode

    def __repr__(self) -> str:
        return "<%s %r mode=%04o>" % (type(self).__name__, self.path, self.mode)

    def apply(self, context: KeyContext) -> None:
        files.atomic_write(self.path, self.data, mode=self.mode)


class WritePendingKey(WriteFile):
    """Write a new private key as ``.next``, before its certificate is uploaded."""

    resource = "private key"

    def apply(self, context: KeyContext) -> None:
        super().apply(context)
        context.written_pending = self.path

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:
        # A .next that is promoted in the same run does not outlive it.
        if not any(isinstance(change, PromoteFiles) and change.pending == self.path for change in plan):
            super().show(diff, observed, plan)


class WriteCertificate(WriteFile):
    """Write the certificate file so that it holds the uploaded certificate."""

    resource = "certificate"


class WriteCsr(WriteFile):
    """Write a certificate signing request for the user's CA (certificate_provider=external); mode 0644."""

    resource = "certificate signing request"


class UploadKey(_ApiChange):
    """POST a certificate as a new verification key; a lost answer is resolved by finding the key by public key."""

    action = "create"

    def __init__(self, body: Dict[str, Any], fingerprint: str, after: Dict[str, Any], why: str) -> None:
        super().__init__(body["name"], why=why, after=after)
        self.body, self.fingerprint = body, fingerprint

    def apply(self, context: KeyContext) -> Dict[str, Any]:
        def read_back() -> Optional[Dict[str, Any]]:
            return next((item for item in list_keys(context.client, context.application_id)
                         if item.get("public_key_fingerprint") == self.fingerprint), None)

        try:
            created = context.client.create(keys_path(context.application_id), self.body, read_back=read_back)
        except IzumaApiError as exc:
            # The server refused the upload: nothing was uploaded, so the key written for it goes too.
            if exc.status is not None and 400 <= exc.status < 500:
                if context.written_pending:
                    files.remove_file(context.written_pending)
                if context.discard is not None:
                    context.discard()
            if (exc.status == 409 or exc.type == "duplicate") and any(
                    isinstance(field, dict) and field.get("name") == "name" for field in exc.fields):
                # The name was free when this run looked: a run elsewhere (another controller, whose lock this host
                # cannot see) took it in between.
                raise IzumaKeyError(
                    "Another run uploaded a key named '%s' to the application while this one was preparing its own (%s). "
                    "This run's new private key was removed again and nothing else was changed. Run the task again: it then "
                    "finds the key that holds the name; if that key is another controller's, give this one its private key "
                    "or another name." % (self.name, exc.message)) from None
            raise
        created["public_key_fingerprint"] = self.fingerprint
        return created

    def settle(self, items: KeyItems, result: Any) -> None:
        if result:
            items[result["id"]] = result
        else:
            items["new:" + self.name] = dict(self.after or {}, public_key_fingerprint=self.fingerprint)


class UpdateKey(UpdateChange, _ApiChange):
    """PUT the fields of an uploaded key that differ (name, description, status, certificate), with its ETag."""

    def __init__(self, item: Dict[str, Any], body: Dict[str, Any], after: Dict[str, Any], why: str) -> None:
        super().__init__(item["name"], why=why, before=summary(item) or {}, after=after)
        self.key_id, self.etag, self.body = item["id"], item.get("etag"), body

    def apply(self, context: KeyContext) -> Dict[str, Any]:
        updated = context.client.update(key_path(context.application_id, self.key_id), self.body, etag=self.etag)
        updated["public_key_fingerprint"] = remote_public_key_fingerprint(updated)
        return updated

    def settle(self, items: KeyItems, result: Any) -> None:
        items[self.key_id] = result if result else dict(items.get(self.key_id, {}), **(self.after or {}))


class DeleteKey(_ApiChange):
    """DELETE an uploaded key, with its ETag."""

    action = "delete"

    def __init__(self, item: Dict[str, Any], why: str) -> None:
        super().__init__(item["name"], why=why, before=summary(item))
        self.key_id, self.etag = item["id"], item.get("etag")

    def apply(self, context: KeyContext) -> None:
        context.client.delete(key_path(context.application_id, self.key_id), etag=self.etag)

    def settle(self, items: KeyItems, result: Any) -> None:
        items.pop(self.key_id, None)


class PromoteFiles(KeyChange):
    """Pending key -> current, current -> previous (with their certificates); the current path never lacks a key."""

    action, resource = "promote", "private key"

    def __init__(self, paths: KeyFiles, current: Optional[LocalKey], pending_fingerprint: str, certificate: str,
                 previous_certificate: Optional[bytes], why: str) -> None:
        before = {"public_key_fingerprint": current.fingerprint} if current is not None else None
        super().__init__(str(paths.private_key), why=why, before=before, after={"public_key_fingerprint": pending_fingerprint})
        self.paths, self.path, self.pending, self.previous = paths, str(paths.private_key), str(paths.pending), str(paths.previous)
        # The current key's bytes as observed, kept as .previous (None: no current key, or it is the pending one).
        self.current_data: Optional[bytes] = current.data if current is not None and current.fingerprint != pending_fingerprint else None
        self.certificate, self.previous_certificate = certificate, previous_certificate
        self.certificate_path = paths.certificate

    def apply(self, context: KeyContext) -> None:
        if self.current_data is not None:
            files.atomic_write(self.previous, self.current_data, mode=0o600)
            if self.paths.previous_certificate and self.previous_certificate is not None:
                files.atomic_write(self.paths.previous_certificate, self.previous_certificate, mode=0o644)
        files.move_file(self.pending, self.path)
        if self.certificate_path:
            files.atomic_write(self.certificate_path, self.certificate.encode("ascii"), mode=0o644)

    @property
    def replaces_a_key(self) -> bool:
        """True when a different current key is kept as previous."""
        return self.before is not None and self.before != self.after

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:
        super().show(diff, observed, plan)
        if self.replaces_a_key:
            # The replaced key is kept beside the new one.
            if observed.previous is not None:
                diff["before"][self.previous] = {"public_key_fingerprint": observed.previous.fingerprint}
            diff["after"][self.previous] = self.before
        if self.certificate_path:
            # The new key's certificate is written beside it; the one it replaces is kept as .previous.
            diff["after"][self.certificate_path] = certificate_state(self.certificate, observed.now)
            if observed.certificate_source == self.certificate_path and observed.certificate_pem:
                diff["before"][self.certificate_path] = certificate_state(observed.certificate_pem, observed.now)
                if self.replaces_a_key:
                    diff["after"][str(self.paths.previous_certificate)] = diff["before"][self.certificate_path]


class RemoveFile(KeyChange):
    """Remove a local file (only once no uploaded key needs it)."""

    action, resource = "remove", "file"

    def __init__(self, path: str, why: str) -> None:
        super().__init__(path, why=why, before={"path": path})
        self.path = path

    def apply(self, context: KeyContext) -> None:
        files.remove_file(self.path)
