# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""key_backend=pkcs11: a verification key's private keys as key pairs inside a PKCS#11 token.

The three generations of a key named ``name`` are the pairs labelled ``izuma:<name>:current``, ``:next`` and
``:previous`` (``_pkcs11.key_pairs.key_label``), found by label as ``FileStore`` finds files by path. A new key is
generated inside the PKCS#11 token (sensitive, non-extractable, signing) under ``:next`` before anything is
uploaded; a rotation promotes by relabelling (the old previous pair destroyed, current -> previous, next -> current),
and a pair is destroyed only after its key was deleted from the application. Each step in the PKCS#11 token is one
change, and each is safe to be killed after: the next run observes the labels and finishes the job
(``straighten_key_pairs`` repairs a pair whose relabel or destruction was cut in half).

A generated key is known only once it exists, so ``GenerateKey`` is a barrier: the run applies the plan up to it,
reads the new key and plans the rest again (``converge.apply_plan``). Until then, and in check mode, the plan is
made with a stand-in key of the same type made in memory, which is never stored.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, ContextManager, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as pkcs11_session
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._locking import exclusive_lock
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.changes import (
    DiffState,
    KeyChange,
    KeyContext,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.file_store import (
    KeyStore,
    certificate_paths,
    generate_like,
)
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.plan import Planner
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import (
    LocalKey,
    Observed,
    certificate_state,
)

GENERATIONS = (("current", "current"), ("pending", "next"), ("previous", "previous"))


class Pkcs11Store(KeyStore):
    """The key pairs of one key name in one PKCS#11 token; one logged-in session per process (``_pkcs11.session``)."""

    kind = "pkcs11"

    def __init__(self, want: Desired) -> None:
        self.want = want
        self.source = want.pkcs11_source()
        self._session: Any = None
        # The public-key fingerprints of the stand-in keys the planner used (see the module docstring).
        self.standins: "set[str]" = set()
        # What the token reports about the pair this run generated (KeyPair.describe: its template and capabilities).
        self.generated: Optional[Dict[str, Any]] = None

    @property
    def session(self) -> Any:
        """The logged-in session (a wrong PIN fails here, in observe, before anything is changed)."""
        if self._session is None:
            pkcs11_session.require_pkcs11()
            ref = pkcs11_session.token_ref(self.source.token, self.source.serial)
            self._session = pkcs11_session.open_session(self.source.library, ref, pkcs11_session.resolve_pin(self.source.pin, ref))
        return self._session

    def label(self, generation: str) -> str:
        """The CKA_LABEL of a generation: current, next or previous."""
        return self.want.pkcs11_label(generation)

    def labels(self) -> "tuple[str, ...]":
        """The labels of every generation."""
        return tuple(self.label(generation) for _role, generation in GENERATIONS)

    def observe_keys(self, observed: Observed, want: Desired) -> None:
        for role, generation in GENERATIONS:
            pair = pkcs11_keys.find_key_pair(self.session, self.label(generation))
            local = None
            if pair is not None:
                local = LocalKey(role, pair.label, pkcs11_signing.private_key(pair), b"",
                                 keys.public_key_fingerprint(pair.public_key()))
            setattr(observed, role, local)

    def lock(self, want: Desired) -> ContextManager[str]:
        # Beside the certificate file if there is one, else in the temporary directory, named after the PKCS#11 token and label.
        digest = hashlib.sha256(repr((os.path.realpath(self.source.library), self.source.token, self.source.serial,
                                      self.label("current"))).encode("utf-8")).hexdigest()[:16]
        path = want.certificate_path or os.path.join(tempfile.gettempdir(), "izuma-pkcs11-%s" % digest)
        return exclusive_lock(path, timeout=want.lock_timeout, option="lock_timeout",
                              what="the key '%s' (%s)" % (want.name, self.source.describe()))

    def held(self, local: LocalKey) -> str:
        return "the token holds %s" % local.path

    def new_key(self, planner: Planner) -> LocalKey:
        # A stand-in for the planner and check mode only: the key that is uploaded is generated in the PKCS#11 token.
        key = generate_like(planner.want)
        self.standins.add(keys.public_key_fingerprint(key))
        return LocalKey("pending", self.label("next"), key, b"", keys.public_key_fingerprint(key))

    def conceal(self, result: Any) -> Any:
        """Check mode: the fingerprints of a stand-in key (and of its certificate) become None, as they are unknown."""
        if isinstance(result, list):
            return [self.conceal(item) for item in result]
        if not isinstance(result, dict):
            return result
        concealed = {name: self.conceal(value) for name, value in result.items()}
        if result.get("public_key_fingerprint") in self.standins:
            concealed["public_key_fingerprint"] = None
            if "certificate_fingerprint" in concealed:
                concealed["certificate_fingerprint"] = None
        return concealed

    def write_pending(self, planner: Planner, pending: LocalKey, why: str) -> None:
        want = planner.want
        spec = {"label": self.label("next"), "key_type": want.key_type, "sensitive": True, "extractable": False}
        spec.update({"key_size": want.key_size or 2048} if want.key_type == "RSA" else {"curve": want.curve or "P-256"})
        planner.plan.add(GenerateKey(self, spec, why=why))

    def restore_pending(self, planner: Planner, leftover: LocalKey, why: str) -> LocalKey:
        planner.plan.add(RelabelKey(self, str(leftover.path), self.label("next"), why=why))
        return LocalKey("pending", self.label("next"), leftover.key, b"", leftover.fingerprint)

    def promote(self, planner: Planner, pending: LocalKey, new_pem: str, previous_certificate: Optional[bytes], why: str) -> None:
        planner.plan.add(PromoteKeys(self, planner.obs, pending.fingerprint, new_pem, previous_certificate, why=why))

    def remove_key(self, planner: Planner, local: Optional[LocalKey], why: str) -> None:
        if local is not None:
            planner.plan.add(DestroyKey(self, str(local.path), why=why))

    def remove_all(self, planner: Planner, why: str) -> None:
        obs = planner.obs
        for local in (obs.current, obs.pending, obs.previous):
            self.remove_key(planner, local, why)
        for path in (obs.files.certificate, obs.files.previous_certificate, obs.files.csr):
            planner.remove_file(path, why)

    def result(self, observed: Observed, plan: Plan) -> Dict[str, Any]:
        result: Dict[str, Any] = dict(certificate_paths(observed))
        if self.generated is not None:
            result["pkcs11_generated_key"] = self.generated
        if self.want.state == "present":
            result["pkcs11_key_label"] = self.label("current")
        previous = self.label("previous")
        destroyed = {change.name for change in plan if isinstance(change, DestroyKey)}
        kept = observed.previous is not None or any(isinstance(change, PromoteKeys) and change.replaces_a_key for change in plan)
        if kept and previous not in destroyed:
            result["previous_pkcs11_key_label"] = previous
        return result


class _Pkcs11Change(KeyChange):
    """A change of the key objects in the PKCS#11 token."""

    resource = "PKCS#11 key"

    def __init__(self, store: Pkcs11Store, name: str, why: str, before: Optional[Dict[str, Any]] = None,
                 after: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(name, why=why, before=before, after=after)
        self.store = store

    def straighten(self) -> None:
        """Repair a pair that a killed relabel or destroy cut in half, so that the next step is not refused."""
        pkcs11_keys.straighten_key_pairs(self.store.session, self.store.labels())


class GenerateKey(_Pkcs11Change):
    """Generate the new key pair inside the PKCS#11 token as ``:next``; the plan is made again from it (a barrier)."""

    action = "generate"
    barrier = True

    def __init__(self, store: Pkcs11Store, spec: Dict[str, Any], why: str) -> None:
        super().__init__(store, spec["label"], why=why, after=dict(spec))
        self.spec = spec

    def apply(self, context: KeyContext) -> None:
        self.straighten()
        session = self.store.session
        pair = pkcs11_keys.generate_key_pair(session, self.name, self.spec["key_type"], size=self.spec.get("key_size"),
                                             curve=self.spec.get("curve"))
        # The token chooses what it does not refuse: the result says which template it took and what the key can do.
        self.store.generated = pair.describe()
        # The server refusing the upload that follows means nothing was uploaded: the new pair goes too.
        context.discard = lambda: pkcs11_keys.destroy_key_pair(session, self.name)

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:
        # A :next pair that is promoted in the same run does not outlive it.
        if not any(isinstance(change, PromoteKeys) for change in plan):
            super().show(diff, observed, plan)


class RelabelKey(_Pkcs11Change):
    """Give a pair another generation's label (a repair: the uploaded key's pair back to ``:next``)."""

    action = "relabel"

    def __init__(self, store: Pkcs11Store, label: str, target: str, why: str) -> None:
        super().__init__(store, label, why=why, before={"label": label}, after={"label": target})
        self.target = target

    def apply(self, context: KeyContext) -> None:
        self.straighten()
        pair = pkcs11_keys.find_key_pair(self.store.session, self.name)
        if pair is not None:
            pkcs11_keys.relabel_key_pair(pair, self.target)


class PromoteKeys(_Pkcs11Change):
    """``:next`` -> ``:current``, ``:current`` -> ``:previous`` (the old previous pair destroyed), and the certificates."""

    action = "promote"

    def __init__(self, store: Pkcs11Store, observed: Observed, pending_fingerprint: str, certificate: str,
                 previous_certificate: Optional[bytes], why: str) -> None:
        current = observed.current
        before = {"public_key_fingerprint": current.fingerprint} if current is not None else None
        super().__init__(store, store.label("current"), why=why, before=before,
                         after={"public_key_fingerprint": pending_fingerprint})
        self.paths = observed.files
        self.certificate, self.previous_certificate = certificate, previous_certificate

    @property
    def replaces_a_key(self) -> bool:
        """True when a different current key is kept as previous."""
        return self.before is not None and self.before != self.after

    def apply(self, context: KeyContext) -> None:
        self.straighten()
        session, store = self.store.session, self.store
        if self.replaces_a_key:
            # The replaced key's certificate first: once the key is relabelled, the next run no longer sees it as current.
            if self.paths.previous_certificate and self.previous_certificate is not None:
                files.atomic_write(self.paths.previous_certificate, self.previous_certificate, mode=0o644)
            current = pkcs11_keys.find_key_pair(session, store.label("current"))
            if current is not None:
                pkcs11_keys.destroy_key_pair(session, store.label("previous"))
                pkcs11_keys.relabel_key_pair(current, store.label("previous"))
        # The new certificate before the new key's label: killed in between, the next run still sees the new key as
        # :next (and the certificate file is not compared with it), so it finishes the promotion.
        if self.paths.certificate:
            files.atomic_write(self.paths.certificate, self.certificate.encode("ascii"), mode=0o644)
        pending = pkcs11_keys.find_key_pair(session, store.label("next"))
        if pending is not None:
            pkcs11_keys.relabel_key_pair(pending, store.label("current"))

    def show(self, diff: DiffState, observed: Observed, plan: Plan) -> None:
        super().show(diff, observed, plan)
        previous = self.store.label("previous")
        if self.replaces_a_key:
            if observed.previous is not None:
                diff["before"][previous] = {"public_key_fingerprint": observed.previous.fingerprint}
            diff["after"][previous] = self.before
        if self.paths.certificate:
            diff["after"][self.paths.certificate] = certificate_state(self.certificate, observed.now)
            if self.after and self.after.get("public_key_fingerprint") in self.store.standins:
                diff["after"][self.paths.certificate]["certificate_fingerprint"] = None
            if observed.certificate_source == self.paths.certificate and observed.certificate_pem:
                diff["before"][self.paths.certificate] = certificate_state(observed.certificate_pem, observed.now)


class DestroyKey(_Pkcs11Change):
    """Destroy a pair in the PKCS#11 token (only once no uploaded key needs it)."""

    action = "destroy"

    def __init__(self, store: Pkcs11Store, label: str, why: str) -> None:
        super().__init__(store, label, why=why, before={"label": label})

    def apply(self, context: KeyContext) -> None:
        pkcs11_keys.destroy_key_pair(self.store.session, self.name)
