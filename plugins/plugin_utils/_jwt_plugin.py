# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""What the plugins that sign tokens on the controller share: the izuma_jwt action plugin and lookup.

Controller-only (plugin_utils is never sent to a managed host), as
community.hashi_vault's and community.crypto's plugin_utils are:

- ``resolve_key_path``: where a relative private_key_path points (the role's
  directory in a role, else the playbook's), written once for both plugins;
- ``sign_options``: plugin options turned into ``_jwt.signing.sign_token`` keywords;
- ``TokenCache`` / ``TOKEN_CACHE``: tokens reused within one process while
  enough of their lifetime remains;
- ``CallCache`` / ``CALL_CACHE``: whole lookup calls answered again.

The key itself is reached through module_utils ``_jwt.key_source``, which the
API client's JWT authentication on managed hosts uses too; what is known about
a key (its fingerprint, the algorithms it signs) is in ``_jwt.key_facts``, the
one table the token cache and the signer read. docs/jwt.md lists every cache
of the signing path.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError
from ansible_collections.izuma.device_management.plugins.module_utils._files import file_identity
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import jws
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_facts
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens


def resolve_key_path(path: t.Optional[str], variables: t.Mapping[str, t.Any], loader: t.Any) -> t.Optional[str]:
    """Return the key file's path: ``~`` expanded, a relative path joined to the role's directory (in a role) or the playbook's.

    ``variables`` are the task's (or lookup's) variables, whose ``role_path`` is set in a role; ``loader`` is the
    plugin's DataLoader, whose basedir is the playbook's directory. None (no path) stays None. Both plugins take
    the path as a plain string for this reason: a config ``path`` would make it relative to the working directory.
    """
    if not path:
        return None
    base = None if loader is None else variables.get("role_path") or loader.get_basedir()
    # A lookup resolves the same path on every call: the answer is kept, as it depends on nothing else (a path
    # with ~ depends on HOME too, and is resolved each time).
    known = _KEY_PATHS.get((path, base))
    if known is None:
        known = os.path.expanduser(str(path))
        if not os.path.isabs(known) and base is not None:
            known = os.path.join(base, known)
        if not str(path).startswith("~"):
            if len(_KEY_PATHS) >= 256:
                _KEY_PATHS.clear()
            _KEY_PATHS[(path, base)] = known
    return known


_KEY_PATHS = {}  # type: t.Dict[t.Tuple[t.Any, t.Optional[str]], str]


# Plugin option names that sign_options() turns into sign_token keywords.
SIGN_OPTION_NAMES = ("algorithm", "lifetime", "max_lifetime", "claims", "headers", "issuer", "subject", "audience",
                     "jwt_id", "random_jwt_id", "key_id", "not_before_skew")


def sign_options(get: t.Callable[[str], t.Any]) -> t.Dict[str, t.Any]:
    """Turn plugin options into ``sign_token`` keywords (other than key and now).

    ``get`` reads one option by name (``params.get`` of a module or action,
    ``get_option`` of a lookup) for each name in SIGN_OPTION_NAMES. Options
    that are None are left out, so sign_token's defaults apply. The plugin
    options differ from sign_token's keywords in three places, each chosen so
    that an option has one type:

    - ``audience`` is a list; one audience is signed as a string, as usual;
    - ``jwt_id`` is a fixed jti string and ``random_jwt_id`` a bool asking for
      a random one (sign_token's ``jwt_id=True``); giving both is refused;
    - ``key_id`` is a bool: true adds ``kid`` derived from the key (a chosen
      kid goes in ``headers``).
    """
    options = {}  # type: t.Dict[str, t.Any]
    for name in ("algorithm", "lifetime", "max_lifetime", "claims", "headers", "issuer", "subject", "not_before_skew"):
        value = get(name)
        if value is not None:
            options[name] = value
    audience = get("audience")
    if isinstance(audience, (list, tuple)):
        audience = list(audience)
        if not audience:
            audience = None
        elif len(audience) == 1:
            audience = audience[0]
    if audience is not None:
        options["audience"] = audience
    jwt_id, random_jwt_id = get("jwt_id"), get("random_jwt_id")
    if jwt_id is not None and random_jwt_id:
        raise IzumaTokenError("give jwt_id (a fixed jti) or random_jwt_id=true (a new random jti per token), not both")
    if random_jwt_id:
        options["jwt_id"] = True
    elif jwt_id is not None:
        options["jwt_id"] = jwt_id
    if get("key_id"):
        options["key_id"] = True
    return options


class TokenCache:
    """Signed tokens reused while enough of their lifetime remains.

    Keyed by the signing key's public key fingerprint (``key_facts``: worked
    out once per key object), the algorithm and the canonical JSON of every
    other signing option, so a change in claims, headers, lifetime or key
    signs anew. A cached token is handed out again
    only while more than ``min_remaining_fraction`` of its lifetime and more
    than ``min_remaining_seconds`` remain; otherwise it is re-signed. A reused
    token is the same token, so with ``jwt_id=True`` its jti repeats too.
    Thread-safe; oldest entries are dropped beyond ``max_entries``.
    """

    def __init__(self, min_remaining_fraction: float = 0.5, min_remaining_seconds: int = 30, max_entries: int = 256) -> None:
        self.min_remaining_fraction = min_remaining_fraction
        self.min_remaining_seconds = min_remaining_seconds
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries = {}  # type: t.Dict[t.Tuple[str, str, str], t.Tuple[str, int, int]]
        self.hits = 0
        self.misses = 0

    def get_or_sign_window(self, key: t.Any, algorithm: t.Optional[str] = None, now: t.Optional[float] = None,
                           **sign_options: t.Any) -> t.Tuple[str, float, float]:
        """Return ``(token, from, until)``: a cached token for these options, or one signed now and cached.

        ``from`` and ``until`` are the window in which this cache would hand out the same token again. ``sign_options``
        are ``sign_token``'s keyword arguments other than key, algorithm and now.
        """
        algorithm = tokens.default_algorithm(key) if algorithm is None else algorithm
        try:
            options = _CANONICAL_JSON.encode(sign_options)
        except (TypeError, ValueError):
            raise IzumaTokenError("token options must be JSON values (strings, numbers, booleans, lists, mappings)") from None
        cache_key = (key_facts.fingerprint(key), algorithm, options)
        current = time.time() if now is None else now
        entry = self._entries.get(cache_key)  # one dictionary read is atomic: the lock guards the writes
        if entry is not None:
            token, issued, expires = entry
            start, until = self._window(issued, expires)
            if start <= current < until:
                with self._lock:
                    self.hits += 1
                return token, start, until
        token = tokens.sign_token(key, algorithm=algorithm, now=current, **sign_options)
        # sign_token sets iat to int(now) and exp to iat + lifetime (checked there); no need to decode the token again.
        issued = int(current)
        expires = issued + int(sign_options.get("lifetime", 300))
        with self._lock:
            self.misses += 1
            self._entries.pop(cache_key, None)
            self._entries[cache_key] = (token, issued, expires)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return (token,) + self._window(issued, expires)

    def _window(self, issued: int, expires: int) -> t.Tuple[float, float]:
        # Handed out again while more than the minimum remains (and not before it was issued, give or take a second).
        return issued - 1, expires - max(self.min_remaining_fraction * (expires - issued), self.min_remaining_seconds)

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._entries.clear()


class CallCache:
    """Whole lookup calls answered again at the cost of a dictionary lookup: options, key and signing all skipped.

    A lookup is templated again each time its value is used, with the same arguments and variables; its answer
    changes only when they do, when the key file changes, or when the token cache would sign anew. So an answer is
    kept under an HMAC (random per-process secret: the arguments may hold a passphrase, which is not kept) of
    everything it depends on, with the window in which the token cache would hand out the same tokens and the
    identity of the key file. Thread-safe; oldest entries are dropped beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._secret = os.urandom(32)
        self._entries = {}  # type: t.Dict[str, t.Tuple[t.Tuple[str, ...], float, float, t.Optional[t.Tuple[str, t.Tuple[int, ...]]]]]
        self.hits = 0

    def key(self, *parts: t.Any) -> str:
        """The digest of a call made of ``parts`` (JSON values; anything else counts by its repr)."""
        data = _CALL_JSON.encode(parts).encode("utf-8", "surrogatepass")
        # BLAKE2b with a key is a MAC (RFC 7693), in one call: cheaper than HMAC-SHA256 for the same purpose.
        return hashlib.blake2b(data, key=self._secret, digest_size=32).hexdigest()

    def get(self, call: str, now: float) -> t.Optional[t.List[str]]:
        """The answer kept for ``call``, while its window is open and its key file unchanged; else None."""
        with self._lock:
            entry = self._entries.get(call)
        if entry is None:
            return None
        results, start, until, key_file = entry
        if not start <= now < until or (key_file is not None and file_identity(key_file[0]) != key_file[1]):
            return None
        with self._lock:
            self.hits += 1
        return list(results)

    def put(self, call: str, results: t.List[str], window: t.Tuple[float, float], key_path: t.Optional[str],
            identity: t.Optional[t.Tuple[int, ...]] = None) -> None:
        """Keep ``results`` for ``call`` within ``window``, as long as the key file at ``key_path`` (if any) is the same.

        ``identity`` is the file's identity when the key was read (``_files.file_identity``), if the caller has it.
        """
        key_file = None
        if key_path:
            identity = file_identity(key_path) if identity is None else identity
            if identity is None:
                return
            key_file = (key_path, identity)
        with self._lock:
            self._entries.pop(call, None)
            # A tuple, not a list: a tuple of strings is not tracked by the garbage collector, which a long-lived entry
            # per call would otherwise make run full collections over the whole process (a few microseconds per call).
            self._entries[call] = (tuple(results), window[0], window[1], key_file)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._entries.clear()


# Made once (json.dumps makes its encoder on every call, a third of the cost of encoding a few options).
_CANONICAL_JSON = jws.CompactJson(sort_keys=True)
_CALL_JSON = jws.CompactJson(sort_keys=True, default=repr)

# Shared by the plugins of one process (an Ansible worker runs one task for one host).
TOKEN_CACHE = TokenCache()
CALL_CACHE = CallCache()
