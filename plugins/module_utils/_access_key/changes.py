# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The typed changes of an access-key plan: each applies itself, says what it is and why, and returns its result.

``settle`` tells how a change alters the application's keys and the secret files (from its result, or as check mode
predicts it): the outcome and the diff are built from it. The order of the changes in a plan is the crash safety:
the secret of a new key is written in the same ``apply`` as its creation, before anything else can fail; a key whose
secret is on disk is deleted only once its successor's secret is on disk too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils._access_key import files as akfiles
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.state import key_path, keys_path, list_keys, shown, summary
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError, IzumaFileError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Change, UpdateChange

Items = Dict[str, Dict[str, Any]]
FileStates = Dict[str, Optional[Dict[str, Any]]]


@dataclass
class AccessKeyContext:
    """What applying an access-key plan needs, and what one change tells the next."""

    client: IzumaClient
    application_id: str
    vault_password: Optional[str] = None
    # ETags of keys this run changed (a later change of the same key sends the new one).
    etags: Dict[str, Optional[str]] = field(default_factory=dict)
    # The secret of the key this run created (returned only with return_secret).
    secret: Optional[str] = field(default=None, repr=False)


class AccessKeyChange(Change):
    """A change of an access-key plan; by default it leaves keys and files alone."""

    resource = "access key"

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        """Update the keys (by id) and the file states (by path) with this change's result (None in check mode)."""


class _KeyWrite(AccessKeyChange):
    """A write to one existing key, with the ETag the run observed or the one its last change returned."""

    def __init__(self, item: Dict[str, Any], why: str, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("name", item["name"]), why=why, **kwargs)
        self.key_id, self.etag = str(item["id"]), item.get("etag")

    def _etag(self, context: AccessKeyContext) -> Optional[str]:
        return context.etags.get(self.key_id, self.etag)


class CreateKey(AccessKeyChange):
    """POST a new key and write its secret at once (the create response is the only copy of it)."""

    action = "create"

    def __init__(self, body: Dict[str, Any], dest: str, why: str) -> None:
        after = dict({"id": None, "description": "", "status": "ACTIVE"}, **body)
        super().__init__(body["name"], why=why, after=summary(after))
        self.body, self.dest = body, dest

    def apply(self, context: AccessKeyContext) -> Dict[str, Any]:
        def read_back() -> Optional[Dict[str, Any]]:
            found = next((item for item in list_keys(context.client, context.application_id)
                          if item.get("name") == self.name), None)
            return dict(found, _read_back=True) if found else None

        created = context.client.create(keys_path(context.application_id), self.body, read_back=read_back)
        if created.pop("_read_back", False):
            raise IzumaError(
                "The API created the access key '%s' (%s) but its answer, the only copy of the secret, was lost on the "
                "way. Run the task again: it replaces that key with a new one whose secret it writes to %s, then "
                "deletes it." % (self.name, created.get("id"), self.dest))
        try:
            akfiles.write_secret_file(self.dest, akfiles.encode_secret(str(created.get("key") or ""), context.vault_password), created)
        except IzumaFileError as exc:
            # The secret cannot be kept: a key nobody can use is deleted again rather than left behind.
            context.client.delete(key_path(context.application_id, str(created["id"])))
            raise IzumaFileError("%s. The access key '%s' created for it was deleted again; fix the path and run the "
                                 "task again." % (exc, self.name), path=self.dest) from None
        context.secret = str(created.get("key") or "")
        context.etags[str(created["id"])] = created.get("etag")
        return shown(created)

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        item = result or dict(self.after or {}, id=None)
        items[str(item.get("id") or "new:" + self.name)] = item
        local[self.dest] = {"path": self.dest, "access_key_id": item.get("id")}


class UpdateKey(UpdateChange, _KeyWrite):
    """PUT the fields that differ (description, status, expiration)."""

    def __init__(self, item: Dict[str, Any], body: Dict[str, Any], why: str) -> None:
        before = summary(item) or {}
        super().__init__(item, why=why, before=before, after=dict(before, **body))
        self.body = body

    def apply(self, context: AccessKeyContext) -> Dict[str, Any]:
        updated = context.client.update(key_path(context.application_id, self.key_id), self.body, etag=self._etag(context))
        context.etags[self.key_id] = updated.get("etag")
        return shown(updated)

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        items[self.key_id] = result or dict(items.get(self.key_id, {}), **self.body)


class RenameKey(UpdateKey):
    """PUT a new name: the current key becomes the previous generation, or an orphan makes room for its replacement."""

    def describe(self) -> str:
        return "rename access key '%s' to '%s'" % (self.name, self.body["name"])


class DeleteKey(_KeyWrite):
    """DELETE a key."""

    action = "delete"

    def __init__(self, item: Dict[str, Any], why: str, name: Optional[str] = None) -> None:
        super().__init__(item, why=why, name=name or item["name"], before=summary(item))

    def apply(self, context: AccessKeyContext) -> None:
        context.client.delete(key_path(context.application_id, self.key_id), etag=self._etag(context))

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        items.pop(self.key_id, None)


class KeepPrevious(AccessKeyChange):
    """Copy the current secret file (and a sidecar naming its key) to ``<dest>.previous`` before a new key replaces it."""

    action, resource = "keep", "previous secret"

    def __init__(self, source: akfiles.SecretFile, item: Dict[str, Any], why: str) -> None:
        self.path = akfiles.previous_path(source.path)
        super().__init__(self.path, why=why, after={"path": self.path, "access_key_id": item["id"]})
        self.data, self.item = source.data or b"", item

    def apply(self, context: AccessKeyContext) -> None:
        akfiles.write_secret_file(self.path, self.data, self.item)

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        local[self.path] = self.after


class WriteMeta(AccessKeyChange):
    """Rewrite the sidecar of a secret file whose key was found from the API (a run killed between the two writes)."""

    action, resource = "write", "secret metadata"

    def __init__(self, source: akfiles.SecretFile, item: Dict[str, Any]) -> None:
        super().__init__(akfiles.meta_path(source.path), why="the sidecar of %s does not name the key its secret belongs to "
                         "(%s)" % (source.path, item["id"]))
        self.source, self.item = source, item

    def apply(self, context: AccessKeyContext) -> None:
        akfiles.write_meta(self.source.path, self.source.data or b"", self.item)


class RemoveSecret(AccessKeyChange):
    """Remove a secret file and its sidecar (only once its key is gone, or on request)."""

    action, resource = "remove", "secret file"

    def __init__(self, source: akfiles.SecretFile, why: str) -> None:
        super().__init__(source.path, why=why, before=source.state())
        self.path = source.path

    def apply(self, context: AccessKeyContext) -> None:
        akfiles.remove_secret_file(self.path)

    def settle(self, items: Items, local: FileStates, result: Any) -> None:
        local[self.path] = None
