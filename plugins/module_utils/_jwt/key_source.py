# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Key sources: where a private key that signs tokens lives, and the one way to reach it.

Everything that signs reaches its key here: the izuma_jwt action plugin and
lookup on the controller, and the API client's JWT authentication inside
modules on a managed host (so this lives in module_utils, not plugin_utils).
A key lives in a PEM file, in PEM content, or in a PKCS#11 token
(``Pkcs11KeySource``, from ``_pkcs11.options``): the token's key comes back as
a ``cryptography`` private key object whose ``sign()`` is done by the token, so
nothing that signs knows which source it has.

Keys are parsed once per process through ``SigningKeyCache`` (again only
when the file changes, as ``_files.file_identity`` tells): a lookup templated
a thousand times, or a client signing a token per request, parses its key
once; and each parse is cheap (``parse_private_key``: no RSA consistency
checks, a sign-and-verify instead), because every Ansible worker process
parses the key again. The same key object comes back for the same key (a
PKCS#11 key pair keeps its one key object), so that what ``key_facts`` knows
of it is worked out once. Messages never quote key material or passphrases,
and the cache keeps no passphrase.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils import _files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError, IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import Pkcs11KeySource

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError:
    pass  # _keys.load_private_key says so before any use.

# What the self-test signs: any fixed bytes do.
_SELF_TEST_MESSAGE = b"izuma.device_management signing key self-test"


def parse_private_key(data: t.Union[str, bytes], passphrase: t.Optional[t.Union[str, bytes]] = None, source: str = "private key",
                      **load_options: t.Any) -> t.Any:
    """Parse a PEM private key quickly and prove it: the one parse of every key that signs.

    cryptography's RSA consistency checks are most of the cost of parsing an RSA key (tens of milliseconds for
    RSA 2048, paid again in every Ansible worker), so they are skipped and replaced by what signing needs: a
    sign-and-verify of a fixed message with the key and its own public half. A key that fails it is parsed again
    with the full checks, so that it is refused with the precise reason (or, if those pass, as damaged).
    """
    key = _keys.load_private_key(data, passphrase=passphrase, source=source, skip_rsa_validation=True, **load_options)
    if not _signs_and_verifies(key):
        key = _keys.load_private_key(data, passphrase=passphrase, source=source, **load_options)
        if not _signs_and_verifies(key):
            raise IzumaKeyError("%s is damaged: a signature made with it does not verify with its own public key; replace the key" % source)
    return key


def _signs_and_verifies(key: t.Any) -> bool:
    try:
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(_SELF_TEST_MESSAGE, padding.PKCS1v15(), hashes.SHA256())
            key.public_key().verify(signature, _SELF_TEST_MESSAGE, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(_SELF_TEST_MESSAGE, ec.ECDSA(hashes.SHA256()))
            key.public_key().verify(signature, _SELF_TEST_MESSAGE, ec.ECDSA(hashes.SHA256()))
    except Exception:  # pylint: disable=broad-except
        # InvalidSignature, or whatever OpenSSL makes of an inconsistent key: either way it cannot sign.
        return False
    return True


class SigningKeyCache:
    """Parsed private keys, so that a lookup templated many times parses its key once.

    Entries for files are keyed by the file's identity (``_files.file_identity``:
    device, inode, size, mtime) so that a rewritten file (atomic writes make a
    new inode) is parsed again;
    entries for content by its SHA-256. The passphrase is part of the key as
    an HMAC with a random per-process secret, so that a wrong passphrase is
    never accepted because an earlier call gave the right one, and the
    passphrase itself is not kept. Thread-safe; oldest entries are dropped
    beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries = {}  # type: t.Dict[t.Tuple[t.Any, ...], t.Any]
        self._secret = os.urandom(32)
        self.hits = 0
        self.misses = 0

    def _passphrase_tag(self, passphrase: t.Optional[t.Union[str, bytes]]) -> str:
        if not passphrase:
            return ""
        data = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def _get(self, cache_key: t.Tuple[t.Any, ...], load: t.Callable[[], t.Any]) -> t.Any:
        with self._lock:
            if cache_key in self._entries:
                self.hits += 1
                return self._entries[cache_key]
        key = load()
        with self._lock:
            self.misses += 1
            self._entries[cache_key] = key
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return key

    def load_file(self, path: str, passphrase: t.Optional[t.Union[str, bytes]] = None, what: str = "private key",
                  source: t.Optional[str] = None, **load_options: t.Any) -> t.Any:
        """Return the private key in file ``path``, parsing it only if the file changed since the last call.

        ``what`` names the file in messages about reading it (e.g. the option that gave the path), ``source``
        the key in messages about parsing it (default: "private key file <path>").
        """
        return self.load_file_identity(path, passphrase=passphrase, what=what, source=source, **load_options)[0]

    def load_file_identity(self, path: str, passphrase: t.Optional[t.Union[str, bytes]] = None, what: str = "private key",
                           source: t.Optional[str] = None, **load_options: t.Any) -> t.Tuple[t.Any, t.Tuple[int, int, int, int]]:
        """``load_file``, and the identity (``_files.file_identity``) of the file the key was read from, from one stat."""
        identity = _files.file_identity(path)
        if identity is None:
            # Let read_file produce its precise message (missing, permission, ...).
            _files.read_file(path, what=what)
            raise IzumaKeyError("private key file %s cannot be read" % path)
        cache_key = ("file",) + identity + (self._passphrase_tag(passphrase), tuple(sorted(load_options.items())) if load_options else ())
        return self._get(cache_key, lambda: parse_private_key(_files.read_file(path, what=what), passphrase=passphrase,
                                                              source="private key file %s" % path if source is None else source,
                                                              **load_options)), identity

    def load_content(self, content: t.Union[str, bytes], passphrase: t.Optional[t.Union[str, bytes]] = None,
                     source: str = "private_key_content", **load_options: t.Any) -> t.Any:
        """Return the private key in PEM ``content``, parsing each distinct content once."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        cache_key = ("content", hashlib.sha256(data).hexdigest(), self._passphrase_tag(passphrase), tuple(sorted(load_options.items())))
        return self._get(cache_key, lambda: parse_private_key(data, passphrase=passphrase, source=source, **load_options))

    def clear(self) -> None:
        """Forget every cached key."""
        with self._lock:
            self._entries.clear()


def load_pkcs11_key(source: Pkcs11KeySource) -> t.Any:
    """Return the private key object ``source`` names, signing in its token; one login per process and token.

    The session and the key pair found by label are kept for the process
    (``_pkcs11.session.open_session``, ``_pkcs11.key_pairs.cached_key_pair``), so a lookup
    templated a thousand times logs in and finds its key once. Raises
    IzumaKeyError (python-pkcs11 missing, library, token, PIN, no such key).
    """
    # Imported here: python-pkcs11 is needed only by those who use a token.
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as pkcs11_session  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as pkcs11_keys  # pylint: disable=import-outside-toplevel
    from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as pkcs11_signing  # pylint: disable=import-outside-toplevel

    ref = pkcs11_session.token_ref(source.token, source.serial)
    session = pkcs11_session.open_session(source.library, ref, pkcs11_session.resolve_pin(source.pin, ref))
    pair = pkcs11_keys.cached_key_pair(session, source.label)
    if pair is None:
        raise IzumaKeyError("%s has no private key labelled %r: check pkcs11_key_label (izuma_verification_key returns the "
                            "label of the current key as pkcs11_key_label; pkcs11-tool --list-objects lists a token's keys)"
                            % (session.describe(), source.label))
    # The same key object for the same pair (kept on the pair): key_facts knows a key by its object.
    return pkcs11_signing.private_key(pair)


def load_signing_key(path: t.Optional[str] = None, content: t.Optional[t.Union[str, bytes]] = None,
                     passphrase: t.Optional[t.Union[str, bytes]] = None, cache: t.Optional["SigningKeyCache"] = None,
                     pkcs11: t.Optional[Pkcs11KeySource] = None) -> t.Any:
    """Return the private key that signs tokens: file ``path``, PEM ``content`` or the PKCS#11 key ``pkcs11``.

    ``cache`` defaults to the process-wide SIGNING_KEY_CACHE, so that a key is
    parsed once per process (and again only when its file changes). Raises an
    IzumaError naming private_key_path, private_key_content or pkcs11_key_label and the fix.
    """
    return load_signing_key_identity(path, content, passphrase, cache, pkcs11)[0]


def load_signing_key_identity(path: t.Optional[str] = None, content: t.Optional[t.Union[str, bytes]] = None,
                              passphrase: t.Optional[t.Union[str, bytes]] = None, cache: t.Optional["SigningKeyCache"] = None,
                              pkcs11: t.Optional[Pkcs11KeySource] = None) -> t.Tuple[t.Any, t.Optional[t.Tuple[int, int, int, int]]]:
    """``load_signing_key``, and the identity of the key file (None for content or a token key), for callers that cache on it."""
    cache = SIGNING_KEY_CACHE if cache is None else cache
    if path and not content and not pkcs11:
        return cache.load_file_identity(path, passphrase=passphrase)  # the usual case, first: a lookup's every call
    given = [name for name, value in (("private_key_path", path), ("private_key_content", content), ("pkcs11_key_label", pkcs11))
             if value]
    if len(given) > 1:
        raise IzumaTokenError("give one of private_key_path, private_key_content and pkcs11_key_label: %s were given, not both"
                              % " and ".join(given) if len(given) == 2 else "give one of private_key_path, private_key_content and "
                              "pkcs11_key_label, not all three")
    if not given:
        raise IzumaTokenError("a private key is needed to sign the token: give private_key_path (a PEM file on the controller), "
                              "private_key_content (PEM text, for example from Ansible Vault) or pkcs11_key_label (a key in "
                              "a PKCS#11 token, with pkcs11_library, pkcs11_token and pkcs11_pin)")
    if pkcs11 is not None:
        return load_pkcs11_key(pkcs11), None
    if path:
        return cache.load_file_identity(path, passphrase=passphrase)
    return cache.load_content(t.cast(t.Union[str, bytes], content), passphrase=passphrase, source="private_key_content"), None


# Shared by everything that signs in one process (an Ansible worker runs one task for one host).
SIGNING_KEY_CACHE = SigningKeyCache()
