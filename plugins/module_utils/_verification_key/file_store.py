# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Where a verification key's private keys live: the key store seam of the planner.

A logical key has three generations of private keys (current, pending, previous). ``KeyStore`` is everything the
planner asks of the place that holds them: read them (``observe_keys``), make a new one (``new_key`` and
``write_pending``), promote the pending one, remove one, lock, and name them in the result. Two stores:

* ``FileStore`` (key_backend=file, here): PEM files at ``private_key_path``, ``.next`` and ``.previous``;
* ``Pkcs11Store`` (key_backend=pkcs11, in ``pkcs11_store``): key pairs inside a PKCS#11 token, labelled
  ``izuma:<name>:current``, ``:next`` and ``:previous``.

``converge.store_for`` chooses one for the task. The planner's typed changes are the same for both, except the
ones that touch the private keys, which each store makes itself.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, ContextManager, Dict, List, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils._locking import exclusive_lock
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.changes import (
    PromoteFiles,
    RemoveFile,
    WritePendingKey,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.plan import Planner
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import LocalKey, Observed


class KeyStore:
    """What the planner needs of the place that holds a key's private keys (see the module docstring)."""

    kind = "file"

    def observe_keys(self, observed: Observed, want: Desired) -> None:
        """Read the current, pending and previous private keys into ``observed`` (reads only)."""
        raise NotImplementedError

    def lock(self, want: Desired) -> ContextManager[str]:
        """One run at a time per key on this host, from observe to the last write."""
        raise NotImplementedError

    def held(self, local: LocalKey) -> str:
        """Where a private key is, for the reasons of a plan: ``<path> is on disk``."""
        return "%s is on disk" % local.path

    def new_key(self, planner: Planner) -> LocalKey:
        """A new private key for the pending generation, as the planner sees it."""
        raise NotImplementedError

    def write_pending(self, planner: Planner, pending: LocalKey, why: str) -> None:
        """Add the change that stores a new private key as the pending generation, before anything is uploaded."""
        raise NotImplementedError

    def restore_pending(self, planner: Planner, leftover: LocalKey, why: str) -> LocalKey:
        """Add the change that makes a leftover private key the pending generation again (a repair); return it."""
        raise NotImplementedError

    def drop_leftover(self, planner: Planner, leftover: LocalKey) -> None:
        """After a repair: remove the leftover a restored key came from, if it was not one of the generations."""

    def promote(self, planner: Planner, pending: LocalKey, new_pem: str, previous_certificate: Optional[bytes], why: str) -> None:
        """Add the change that makes the pending key current, the current one previous (with their certificates)."""
        raise NotImplementedError

    def remove_key(self, planner: Planner, local: Optional[LocalKey], why: str) -> None:
        """Add the change that removes one private key (only once no uploaded key needs it)."""
        raise NotImplementedError

    def remove_all(self, planner: Planner, why: str) -> None:
        """state=absent with remove_files: remove every generation's private key and the certificate files."""
        raise NotImplementedError

    def result(self, observed: Observed, plan: Plan) -> Dict[str, str]:
        """Where the key's private keys and certificates are after the plan, for the module's result."""
        raise NotImplementedError

    def conceal(self, result: Any) -> Any:
        """Check mode: hide what the result shows of new keys that only exist once the task runs (files: nothing)."""
        return result


class FileStore(KeyStore):
    """Private keys in PEM files: ``private_key_path`` and its ``.next`` and ``.previous`` (or private_key_content)."""

    def observe_keys(self, observed: Observed, want: Desired) -> None:
        paths = observed.files
        if want.private_key_content:
            key = keys.load_private_key(want.private_key_content, want.private_key_passphrase, source="private_key_content")
            data = want.private_key_content.encode("utf-8")
            observed.current = LocalKey("current", None, key, data, keys.public_key_fingerprint(key))
        elif want.private_key_path:
            observed.current = _load_local("current", paths.private_key, want)
            observed.pending = _load_local("pending", paths.pending, want)
            observed.previous = _load_local("previous", paths.previous, want)
            observed.leftovers = _leftovers(str(paths.private_key), want)

    def lock(self, want: Desired) -> ContextManager[str]:
        if not want.private_key_path:
            return contextlib.nullcontext("")
        return exclusive_lock(str(want.private_key_path), timeout=want.lock_timeout, option="lock_timeout",
                              what="the key '%s' (%s)" % (want.name, want.private_key_path))

    def new_key(self, planner: Planner) -> LocalKey:
        key = generate_like(planner.want)
        return LocalKey("pending", planner.obs.files.pending, key, b"", keys.public_key_fingerprint(key))

    def write_pending(self, planner: Planner, pending: LocalKey, why: str) -> None:
        data = keys.dump_private_key(pending.key, planner.want.private_key_passphrase)
        planner.plan.add(WritePendingKey(str(pending.path), data, 0o600, why=why,
                                         after={"public_key_fingerprint": pending.fingerprint, "mode": "0600"}))

    def restore_pending(self, planner: Planner, leftover: LocalKey, why: str) -> LocalKey:
        obs = planner.obs
        pending = LocalKey("pending", obs.files.pending, leftover.key, leftover.data, leftover.fingerprint)
        planner.plan.add(WritePendingKey(str(pending.path), leftover.data, 0o600, why=why,
                                         after={"public_key_fingerprint": pending.fingerprint, "mode": "0600"}))
        return pending

    def drop_leftover(self, planner: Planner, leftover: LocalKey) -> None:
        obs = planner.obs
        if leftover.path not in (obs.files.previous, obs.files.pending):
            planner.plan.add(RemoveFile(str(leftover.path), why="repair: its key is now at %s" % obs.files.private_key))

    def promote(self, planner: Planner, pending: LocalKey, new_pem: str, previous_certificate: Optional[bytes], why: str) -> None:
        planner.plan.add(PromoteFiles(planner.obs.files, planner.obs.current, pending.fingerprint, new_pem,
                                      previous_certificate, why=why))

    def remove_key(self, planner: Planner, local: Optional[LocalKey], why: str) -> None:
        if local is not None:
            planner.remove_file(local.path, why)

    def remove_all(self, planner: Planner, why: str) -> None:
        paths = planner.obs.files
        if not planner.want.private_key_path:
            return
        for path in (paths.private_key, paths.pending, paths.previous, paths.certificate, paths.previous_certificate, paths.csr):
            planner.remove_file(path, why)

    def result(self, observed: Observed, plan: Plan) -> Dict[str, str]:
        paths = observed.files
        removed = {change.path for change in plan if isinstance(change, RemoveFile)}
        promoted = [change for change in plan if isinstance(change, PromoteFiles)]
        result: Dict[str, str] = {}
        if paths.private_key:
            result["private_key_path"] = paths.private_key
            result["pending_private_key_path"] = str(paths.pending)
            if (observed.exists(paths.previous) or any(change.before for change in promoted)) and paths.previous not in removed:
                result["previous_private_key_path"] = str(paths.previous)
        result.update(certificate_paths(observed))
        return result


def certificate_paths(observed: Observed) -> Dict[str, str]:
    """The certificate (and request) paths of the result, whatever holds the private keys."""
    paths = observed.files
    result: Dict[str, str] = {}
    if paths.certificate:
        result["certificate_path"] = paths.certificate
        result["previous_certificate_path"] = str(paths.previous_certificate)
    if paths.csr:
        result["csr_path"] = paths.csr
    return result


def generate_like(want: Desired) -> Any:
    """A new private key in memory, of the task's key type and size or curve."""
    if want.key_type == "RSA":
        return keys.generate_private_key("RSA", size=want.key_size or 2048)
    return keys.generate_private_key("EC", curve=want.curve or "P-256")


def _load_local(role: str, path: Optional[str], want: Desired) -> Optional[LocalKey]:
    if not path or not os.path.exists(path):
        return None
    data = files.read_file(path, what="private key")
    # The key source's parse: without cryptography's RSA consistency checks (most of an RSA key's parse), proven by
    # a sign-and-verify instead; a key that fails it is refused with the precise reason, as before.
    key = key_source.parse_private_key(data, want.private_key_passphrase, source=path)
    return LocalKey(role=role, path=path, key=key, data=data, fingerprint=keys.public_key_fingerprint(key))


def _leftovers(path: str, want: Desired) -> List[LocalKey]:
    """Private keys in the temporary files of atomic writes of ``path`` or its ``.next`` (``.<name>*.tmp``)."""
    directory, base = os.path.split(os.path.abspath(path))
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("." + base) and name.endswith(".tmp"):
            try:
                found.append(_load_local("leftover", os.path.join(directory, name), want))
            except IzumaError:
                continue  # a partial write, or not a key: nothing to recover from it
    return [local for local in found if local is not None]
