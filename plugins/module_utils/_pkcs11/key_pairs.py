# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Key pairs inside a PKCS#11 token: generate, find, describe, relabel, destroy.

A verification key's private key is generated inside the token as a
sensitive, non-extractable token object that signs; its public key is a
token object next to it, with the same CKA_ID. Where the token allows it, the
pair can do nothing else (the sign-only template); a token that refuses that
gets the token-default template and adds capabilities of its own (tpm2-pkcs11:
decrypt, encrypt), which ``KeyPair.describe()`` reports (``generation``).
Nothing here can read a private key's value, because the token will not give it.

Labels: each key name has three generations (current, next, previous), each
an object pair with a distinct label from ``key_label()``. A rotation moves a
pair from one generation to the next with ``relabel_key_pair()``, which keeps
the CKA_ID; ``find_key_pair()`` finds the public half by that CKA_ID, so a
pair whose relabel was interrupted half-way is still found whole. A relabel
is read back in a new session, as some tokens accept a label they do not keep.

Public keys come back as ``cryptography`` public key objects, so the
fingerprints, descriptions and rules of ``_x509.keys`` apply to them unchanged.
"""

from __future__ import annotations

import hashlib
import os
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import generation
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import (
    HAS_PKCS11,
    IzumaPkcs11Error,
    Pkcs11Session,
)

if HAS_PKCS11:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11 import exceptions as pkcs11_errors
    from pkcs11.util import ec as pkcs11_ec
    from pkcs11.util import rsa as pkcs11_rsa

if _keys.HAS_CRYPTOGRAPHY:
    from cryptography.hazmat.primitives import serialization

GENERATIONS = ("current", "next", "previous")
LABEL_PREFIX = "izuma"
# Many HSMs limit CKA_LABEL (32 to 128 bytes); 64 fits most, and longer key names are shortened with a digest.
MAX_LABEL_LENGTH = 64
ID_BYTES = 16
# What each capability attribute lets a key do, read back from the token for describe(): (name, on the private key?).
_CAPABILITIES = (("sign", True, "SIGN"), ("decrypt", True, "DECRYPT"), ("unwrap", True, "UNWRAP"), ("derive", True, "DERIVE"),
                 ("verify", False, "VERIFY"), ("encrypt", False, "ENCRYPT"), ("wrap", False, "WRAP"))


def key_label(key_name: str, generation: str = "current") -> str:
    """Return the CKA_LABEL of a key name's generation (``current``, ``next`` or ``previous``).

    ``izuma:<key name>:<generation>``; a key name too long for MAX_LABEL_LENGTH
    is cut and followed by 8 hex digits of its SHA-256, so distinct names keep
    distinct labels.
    """
    if generation not in GENERATIONS:
        raise IzumaPkcs11Error("key generation %r is not one of %s" % (generation, ", ".join(GENERATIONS)))
    if not isinstance(key_name, str) or not key_name.strip():
        raise IzumaPkcs11Error("a PKCS#11 key label needs a non-empty key name")
    label = "%s:%s:%s" % (LABEL_PREFIX, key_name, generation)
    if len(label.encode("utf-8")) <= MAX_LABEL_LENGTH:
        return label
    digest = hashlib.sha256(key_name.encode("utf-8")).hexdigest()[:8]
    room = MAX_LABEL_LENGTH - len(LABEL_PREFIX) - len(generation) - len(digest) - 4
    short = key_name.encode("utf-8")[:room].decode("utf-8", "ignore")
    return "%s:%s~%s:%s" % (LABEL_PREFIX, short, digest, generation)


class KeyPair:
    """A private key object and its public key object in one token."""

    def __init__(self, session: Pkcs11Session, private: t.Any, public: t.Any, template: t.Optional[str] = None) -> None:
        self.session = session
        self.private = private
        self.public = public
        # Read once: messages must be able to name the key even when its object handle is no longer valid.
        self.label = str(private.label)  # the private key's CKA_LABEL
        self.key_id = bytes(private.id)  # the CKA_ID shared by the two objects
        # The key template the token generated the pair with (generation.SIGN_ONLY or TOKEN_DEFAULT); None for a
        # pair found in the token, whose template is not recorded (its capabilities are: see describe()).
        self.template = template
        self._public_key = None  # type: t.Any
        # The cryptography private key object that signs with this pair (signing.private_key makes it once): one key
        # object per pair, so that what is known about a key object (its fingerprint, the algorithms it signs) is
        # worked out once per pair.
        self.signing_key = None  # type: t.Any

    def public_key(self) -> t.Any:
        """The public key as a ``cryptography`` public key object (read from the token once)."""
        if self._public_key is None:
            self._public_key = public_key_of(self.public)
        return self._public_key

    def capabilities(self) -> t.List[str]:
        """What the token lets the two objects do, read back from it: sign, verify, and any of decrypt, encrypt, ... it added."""
        private = _flags(self.session, self.private, [attribute for _name, on_private, attribute in _CAPABILITIES if on_private])
        public = _flags(self.session, self.public, [attribute for _name, on_private, attribute in _CAPABILITIES if not on_private])
        return sorted(name for name, on_private, attribute in _CAPABILITIES if (private if on_private else public)[attribute])

    def describe(self) -> t.Dict[str, t.Any]:
        """Describe the pair without secrets: label, id, algorithm, size or curve, fingerprint, protection, capabilities.

        ``capabilities`` is what the token reports the key can do (sign and verify, and whatever else the token
        added, e.g. decrypt and encrypt with tpm2-pkcs11); ``template`` is the key template it was generated with
        (``sign-only`` or ``token-default``), or None for a pair found in the token rather than generated here.
        """
        desc = _keys.key_description(self.public_key())
        attrs = _flags(self.session, self.private, ["SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "TOKEN"])
        desc.update({
            "label": self.label,
            "id": self.key_id.hex(),
            "token": self.session.token_label,
            "library": self.session.library_name,
            "public_key_fingerprint": _keys.public_key_fingerprint(self.public_key()),
            "sensitive": attrs["SENSITIVE"],
            "extractable": attrs["EXTRACTABLE"],
            "always_sensitive": attrs["ALWAYS_SENSITIVE"],
            "never_extractable": attrs["NEVER_EXTRACTABLE"],
            "token_object": attrs["TOKEN"],
            "capabilities": self.capabilities(),
            "template": self.template,
        })
        return desc


def _flags(session: Pkcs11Session, obj: t.Any, names: t.Sequence[str]) -> t.Dict[str, bool]:
    """Boolean attributes of ``obj`` by name; one at a time when the token refuses them together, unreadable ones False."""
    attributes = [getattr(Attribute, name) for name in names]
    with session.lock:
        try:
            values = obj.get_attributes(attributes)
        except pkcs11_errors.PKCS11Error:
            values = {}
            for attribute in attributes:
                try:
                    values[attribute] = obj[attribute]
                except pkcs11_errors.PKCS11Error:
                    values[attribute] = False
    return {name: bool(values.get(attribute)) for name, attribute in zip(names, attributes)}


def public_key_of(public: t.Any) -> t.Any:
    """Return a python-pkcs11 public key object as a ``cryptography`` public key.

    Raises IzumaPkcs11Error when the token's public key attributes do not make a valid key (tpm2-pkcs11 1.9.0 gives
    a P-521 key a CKA_EC_POINT that is not valid DER).
    """
    _keys.require_cryptography()
    if public.key_type not in (KeyType.RSA, KeyType.EC):
        raise IzumaPkcs11Error("the PKCS#11 key %r is a %s key; Izuma Device Management accepts only RSA and EC keys"
                               % (str(public.label), public.key_type.name))
    try:
        if public.key_type == KeyType.RSA:
            return serialization.load_der_public_key(pkcs11_rsa.encode_rsa_public_key(public))
        return serialization.load_der_public_key(pkcs11_ec.encode_ec_public_key(public))
    except (ValueError, TypeError) as exc:
        raise IzumaPkcs11Error("the public key of the PKCS#11 key %r cannot be read: the token gives %s that is not a valid "
                               "key (%s)" % (str(public.label), "a modulus or exponent" if public.key_type == KeyType.RSA
                                             else "an EC point (CKA_EC_POINT)", type(exc).__name__)) from None


def _objects(session: Pkcs11Session, object_class: t.Any, **attributes: t.Any) -> t.List[t.Any]:
    template = {Attribute.CLASS: object_class}
    for name, value in attributes.items():
        template[getattr(Attribute, name.upper())] = value
    with session.lock:
        return list(session.session.get_objects(template))


def find_key_pair(session: Pkcs11Session, label: str) -> t.Optional[KeyPair]:
    """Return the key pair whose private key has CKA_LABEL ``label``, or None when there is none.

    The public key is found by the private key's CKA_ID (whatever its label).
    Raises IzumaPkcs11Error when the label is ambiguous or the public half is
    missing, as both mean the token was changed by hand.
    """
    privates = _objects(session, ObjectClass.PRIVATE_KEY, label=label)
    if not privates:
        return None
    if len(privates) > 1:
        raise IzumaPkcs11Error("%s holds %d private keys labelled %r: remove the extra ones (pkcs11-tool --delete-object) "
                               "so that the label names one key" % (session.describe(), len(privates), label))
    private = privates[0]
    publics = _objects(session, ObjectClass.PUBLIC_KEY, id=bytes(private.id))
    if len(publics) != 1:
        raise IzumaPkcs11Error("%s has %d public keys with the CKA_ID of the private key %r (expected one): the pair was "
                               "changed outside this collection" % (session.describe(), len(publics), label))
    return KeyPair(session, private, publics[0])


def cached_key_pair(session: Pkcs11Session, label: str) -> t.Optional[KeyPair]:
    """Like ``find_key_pair``, but the pair found is kept in the session for the next call (a lookup's path).

    This process's own generate, relabel and destroy calls drop the entry; a
    key destroyed by another process makes the next signature fail with a
    clear error and drops it too (see signing.sign).
    """
    pair = session.pairs.get(label)
    if pair is None:
        pair = find_key_pair(session, label)
        if pair is not None:
            session.pairs[label] = pair
    return pair


def forget_key_pair(session: Pkcs11Session, label: str) -> None:
    """Drop ``label`` from the session's key pair cache."""
    session.pairs.pop(label, None)


def generate_key_pair(session: Pkcs11Session, label: str, key_type: str = "RSA", size: t.Optional[int] = None,
                      curve: t.Optional[str] = None) -> KeyPair:
    """Generate a key pair inside the token: RSA 2048/3072/4096 or EC P-256/P-384/P-521.

    The private key is a token object with CKA_SENSITIVE true, CKA_EXTRACTABLE
    false and the sign capability; the public key verifies. The least
    privileged template (sign and verify only) is asked for first, the token's
    own defaults for the other capabilities when the token refuses it
    (``generation``; ``KeyPair.describe()`` reports the template and what the
    key can do). Both get ``label`` and one random 16-byte CKA_ID. Refuses a
    label that a key object in the token already has, and a key type or size
    the token's mechanisms cannot make, and changes nothing then.
    """
    key_type, size, curve = _key_spec(key_type, size, curve)
    forget_key_pair(session, label)
    if _objects(session, ObjectClass.PRIVATE_KEY, label=label) or _objects(session, ObjectClass.PUBLIC_KEY, label=label):
        raise IzumaPkcs11Error("%s already holds a key labelled %r: use that key, or destroy it first" % (session.describe(), label))
    public, private, template = generation.generate(session, key_type, size, curve, label, os.urandom(ID_BYTES))
    pair = KeyPair(session, private, public, template=template)
    try:
        pair.public_key()
    except IzumaPkcs11Error as exc:
        # A pair whose public key cannot be read cannot be certified or used (tpm2-pkcs11 1.9.0 and P-521): it goes.
        destroy_key_pair(session, label)
        raise IzumaPkcs11Error("%s generated an %s key pair it cannot use (%s); the pair was destroyed: choose %s"
                               % (session.describe(), "RSA %d" % size if key_type == "RSA" else "EC %s" % curve, exc.message,
                                  "another key size" if key_type == "RSA" else "another curve (P-256 or P-384)")) from None
    return pair


def _key_spec(key_type: str, size: t.Optional[int], curve: t.Optional[str]) -> t.Tuple[str, t.Optional[int], t.Optional[str]]:
    key_type = str(key_type).upper()
    if key_type == "RSA":
        size = 2048 if size is None else size
        if size not in _keys.RSA_SIZES:
            raise IzumaPkcs11Error("RSA key size %r is not supported for a PKCS#11 key: choose 2048, 3072 or 4096" % (size,))
        return key_type, size, None
    if key_type == "EC":
        curve = "P-256" if curve is None else {"p-256": "P-256", "p-384": "P-384", "p-521": "P-521"}.get(str(curve).lower(), curve)
        if curve not in generation.OPENSSL_CURVES:
            raise IzumaPkcs11Error("EC curve %r is not supported for a PKCS#11 key: choose P-256, P-384 or P-521" % (curve,))
        return key_type, None, curve
    raise IzumaPkcs11Error("key type %r is not supported for a PKCS#11 key: choose RSA or EC" % (key_type,))


def relabel_key_pair(pair: KeyPair, label: str) -> KeyPair:
    """Give both objects of ``pair`` the label ``label`` (a generation change); refuses a label already taken.

    The private key is relabelled first: ``find_key_pair`` finds a pair by its
    private key's label and its public key by CKA_ID, so an interruption
    between the two writes leaves a pair that the new label already finds.
    The labels are then read back in a new session (``_labels_elsewhere``):
    some tokens accept a label change without keeping it. If it did not stick,
    the old label is written back, so the pair is still found by it, and the
    relabel fails naming the token, its library and the label.
    """
    session = pair.session
    old = pair.label
    forget_key_pair(session, old)
    forget_key_pair(session, label)
    for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
        if any(bytes(obj.id) != pair.key_id for obj in _objects(session, object_class, label=label)):
            raise IzumaPkcs11Error("%s already holds another key labelled %r: destroy or relabel it first" % (session.describe(), label))
    _write_labels(pair, label, "refused to relabel the key %r as %r" % (old, label))
    seen = _labels_elsewhere(pair)
    if seen and set(seen) != {label}:
        _write_labels(pair, old, "refused to give the key %r its old label back" % label)
        raise IzumaPkcs11Error("%s accepted the label %r for the key %r but did not keep it (another session reads %s): the key "
                               "keeps its old label %r, so nothing is lost; this token cannot rotate keys by relabelling them"
                               % (session.describe(), label, old, " and ".join(repr(text) for text in sorted(set(seen))), old))
    return pair


def _write_labels(pair: KeyPair, label: str, refusal: str) -> None:
    try:
        with pair.session.lock:
            pair.private[Attribute.LABEL] = label
            pair.label = label
            pair.public[Attribute.LABEL] = label
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s %s: %s" % (pair.session.describe(), refusal, errors.describe(exc))) from None


def _labels_elsewhere(pair: KeyPair) -> t.List[str]:
    """The CKA_LABELs of the pair's objects (by CKA_ID) as a new session on the same token reads them.

    Login state belongs to the application, so the new session sees private objects too. A token that cannot
    open another session is read in this one instead (which still catches a label that was refused quietly).
    """
    session = pair.session
    with session.lock:
        try:
            other = session.token.open()
        except pkcs11_errors.PKCS11Error:
            other = None
        try:
            objects = (other or session.session).get_objects({Attribute.ID: pair.key_id})
            return [str(obj.label) for obj in objects]
        except pkcs11_errors.PKCS11Error as exc:
            raise IzumaPkcs11Error("%s could not read back the label of the key %r: %s"
                                   % (session.describe(), pair.label, errors.describe(exc))) from None
        finally:
            if other is not None:
                other.close()


def destroy_key_pair(session: Pkcs11Session, label: str) -> bool:
    """Destroy the private and public key objects labelled ``label`` (and the public key of its CKA_ID).

    Returns whether anything was destroyed; destroying a missing pair is not
    an error, so a run interrupted after the destruction converges.
    """
    forget_key_pair(session, label)
    pair_ids = {bytes(obj.id) for obj in _objects(session, ObjectClass.PRIVATE_KEY, label=label)}
    victims = _objects(session, ObjectClass.PRIVATE_KEY, label=label) + _objects(session, ObjectClass.PUBLIC_KEY, label=label)
    for key_id in pair_ids:
        victims.extend(obj for obj in _objects(session, ObjectClass.PUBLIC_KEY, id=key_id) if obj not in victims)
    try:
        with session.lock:
            for obj in victims:
                obj.destroy()
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s refused to destroy the key %r: %s" % (session.describe(), label, errors.describe(exc))) from None
    return bool(victims)


def straighten_key_pairs(session: Pkcs11Session, labels: t.Sequence[str]) -> int:
    """Repair what an interrupted relabel or destroy of the pairs labelled ``labels`` left; return the repairs made.

    ``relabel_key_pair`` writes the private key's label first and ``destroy_key_pair`` destroys the private key
    first, so a process killed in between leaves a public key whose label is not its private key's (relabelled
    to it again) or a public key without a private key (destroyed: it is public, and the uploaded certificate holds
    it anyway). Call it before generating or relabelling under these labels, so that neither is refused.
    """
    owners = {}  # type: t.Dict[bytes, str]
    for label in labels:
        for private in _objects(session, ObjectClass.PRIVATE_KEY, label=label):
            owners[bytes(private.id)] = label
    repairs = 0
    try:
        for label in labels:
            for public in _objects(session, ObjectClass.PUBLIC_KEY, label=label):
                owner = owners.get(bytes(public.id))
                if owner == label or (owner is None and _objects(session, ObjectClass.PRIVATE_KEY, id=bytes(public.id))):
                    continue  # whole, or the public half of a pair that is not one of these labels' (left alone)
                with session.lock:
                    if owner is None:
                        public.destroy()
                    else:
                        public[Attribute.LABEL] = owner
                repairs += 1
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("%s refused to repair the key objects labelled %s: %s"
                               % (session.describe(), ", ".join(labels), errors.describe(exc))) from None
    for label in labels:
        forget_key_pair(session, label)
    return repairs
