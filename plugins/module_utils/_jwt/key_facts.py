# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""What never changes for one key object, worked out once per process: the one fact table of the signing path.

A lookup templated a thousand times, or an API client that signs a token per
request, signs with one key object. What is known about it (its description,
its public key fingerprint, the JWT algorithms found to fit it and its JWS
signers) is kept here, by the key object, and nowhere else: the signer
(``signing``, ``jws``) and the controller's token cache (plugin_utils
``_jwt_plugin``, which keys tokens by the fingerprint) read this table. The
key source gives the same key object for the same key (a parsed file or
content from its cache, a PKCS#11 key pair's one ``_pkcs11.signing.private_key``),
so each fact is worked out once per key.

Entries are found by ``id()`` of the key object and keep the object, so that
its id cannot be taken by another object while its facts are known. A key
object never changes, so nothing invalidates an entry; beyond ``MAX_KEYS``
keys the table starts again.
"""

from __future__ import annotations

import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys

# More keys than one process signs with: a lookup or a client uses one, a play a handful.
MAX_KEYS = 64


class KeyFacts:
    """What never changes for one key object: its description, fingerprint, fitting algorithms and signers."""

    __slots__ = ("key", "description", "fingerprint", "fitting", "signers")

    def __init__(self, key: t.Any, description: t.Dict[str, t.Any]) -> None:
        # The key itself is kept, so that its id() cannot be reused by another object while the facts are known.
        self.key = key
        # _x509.keys.key_description, and public_key_fingerprint when it is first asked for.
        self.description = description
        self.fingerprint = None  # type: t.Optional[str]
        # The JWT algorithms signing.check_algorithm accepted for the key, and the key's jws signers by algorithm.
        self.fitting = set()  # type: t.Set[str]
        self.signers = {}  # type: t.Dict[str, t.Callable[[bytes], bytes]]


_FACTS = {}  # type: t.Dict[int, KeyFacts]


def facts(key: t.Any) -> KeyFacts:
    """The facts of ``key`` (a private key, public key or certificate), described on first use.

    Raises IzumaTokenError when ``key`` is not a key at all.
    """
    known = _FACTS.get(id(key))  # one dictionary read is atomic: no lock needed
    if known is not None and known.key is key:
        return known
    try:
        description = _keys.key_description(key)
    except IzumaKeyError as exc:
        raise IzumaTokenError(exc.message) from None
    if len(_FACTS) >= MAX_KEYS:
        _FACTS.clear()
    _FACTS[id(key)] = known = KeyFacts(key, description)
    return known


def fingerprint(key: t.Any) -> str:
    """The SHA-256 fingerprint of ``key``'s public key (``_x509.keys.public_key_fingerprint``), worked out once per key."""
    known = facts(key)
    if known.fingerprint is None:
        known.fingerprint = _keys.public_key_fingerprint(key)
    return known.fingerprint
