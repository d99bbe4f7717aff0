# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""PKCS#11 tokens for Izuma Device Management: find a token, log in once per process.

A private key that never leaves a hardware security module (or SoftHSM, or a
cloud key service's PKCS#11 library) is reached through three things: the path
of the vendor's PKCS#11 library, the token (by label, serial or an RFC 7512
``pkcs11:`` URI) and the user PIN. This module turns them into one logged-in
session, cached for the life of the process, so that a lookup templated a
thousand times logs in once.

The cache is keyed by the library's real path, the token and an HMAC of the
PIN under a random per-process secret: the PIN itself is never a key, never
logged and never part of a message. PKCS#11 login state belongs to the process
and the token, so there is one session per token: a different PIN for the same
token closes the old session and logs in again (and fails if that PIN is
wrong), rather than riding on the earlier login.

Which token a reference means is ``slots``' choice (an uninitialised token is never
one); the session also keeps the token's mechanisms, read once. Key pairs are in
``key_pairs``; signing (JWS signatures, and a ``cryptography`` private key object
backed by the token) in ``signing``; the error type and the PKCS#11 return values
messages quote in ``errors``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import traceback
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import slots
# The PKCS#11 error type, raised here and imported from here by the rest of the collection.
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.errors import IzumaPkcs11Error
# The PIN's environment variable (AWX injects it from a credential), named once in options.
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import PIN_ENV

try:
    import pkcs11
    from pkcs11 import exceptions as pkcs11_errors
except ImportError:
    HAS_PKCS11 = False
    PKCS11_IMPORT_ERROR = traceback.format_exc()  # type: t.Optional[str]
else:
    HAS_PKCS11 = True
    PKCS11_IMPORT_ERROR = None

PKCS11_MISSING_MESSAGE = (
    "the Python library 'python-pkcs11' is required on the host that runs this task to use a PKCS#11 key "
    "(install it with: pip install 'python-pkcs11>=0.10')"
)
PIN_OPTION = "pkcs11_pin"

# RFC 7512 path attributes this collection understands; anything else is refused, not ignored, so that a
# URI that means "this other token" never silently selects the first one.
_TOKEN_ATTRIBUTES = ("token", "serial", "manufacturer", "model")
_OBJECT_ATTRIBUTES = ("object", "id", "type")
_QUERY_ATTRIBUTES = ("module-path", "pin-value")
_OBJECT_TYPES = ("private", "public", "cert")


def require_pkcs11() -> None:
    """Raise IzumaPkcs11Error when python-pkcs11 cannot be imported."""
    if not HAS_PKCS11:
        raise IzumaPkcs11Error(PKCS11_MISSING_MESSAGE, import_error=PKCS11_IMPORT_ERROR)


# ---------------------------------------------------------------------------
# RFC 7512 URIs and token selection
# ---------------------------------------------------------------------------

@dataclass
class Pkcs11TokenRef:
    """Which token (and optionally which object in it) a user means: label, serial, URI attributes."""

    label: t.Optional[str] = None
    serial: t.Optional[str] = None
    manufacturer: t.Optional[str] = None
    model: t.Optional[str] = None
    object_label: t.Optional[str] = None
    object_id: t.Optional[bytes] = None
    object_type: t.Optional[str] = None
    module_path: t.Optional[str] = None
    # Only from a URI whose caller allowed pin-value; never shown (repr=False keeps it out of tracebacks and logs).
    pin: t.Optional[str] = field(default=None, repr=False)

    def describe(self) -> str:
        """Name the token for messages: its label and/or serial, never a PIN."""
        parts = []
        if self.label is not None:
            parts.append("label %r" % self.label)
        if self.serial is not None:
            parts.append("serial %r" % self.serial)
        for name in ("manufacturer", "model"):
            if getattr(self, name) is not None:
                parts.append("%s %r" % (name, getattr(self, name)))
        return "the PKCS#11 token with " + " and ".join(parts) if parts else "the one initialised PKCS#11 token"

    def names_a_token(self) -> bool:
        """Whether this reference names a token at all (without one, the library's one initialised token is meant)."""
        return any(value is not None for value in self.cache_key())

    def matches(self, token: t.Any) -> bool:
        """Tell whether a python-pkcs11 Token has every attribute this reference names."""
        wanted = (("label", self.label), ("serial", self.serial), ("manufacturer_id", self.manufacturer), ("model", self.model))
        for attribute, value in wanted:
            if value is None:
                continue
            actual = getattr(token, attribute)
            if isinstance(actual, bytes):
                actual = actual.decode("ascii", "replace")
            if str(actual).strip() != value:
                return False
        return True

    def cache_key(self) -> t.Tuple[t.Optional[str], ...]:
        """The token part of the session cache key."""
        return (self.label, self.serial, self.manufacturer, self.model)


def _uri_value(name: str, raw: str) -> str:
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise IzumaPkcs11Error("the pkcs11: URI attribute %s is not UTF-8 once percent-decoded: fix its %%XX escapes" % name) from None


def parse_uri(uri: str, allow_pin_value: bool = False) -> Pkcs11TokenRef:
    """Parse an RFC 7512 ``pkcs11:`` URI into a Pkcs11TokenRef.

    Understood: ``token``, ``serial``, ``manufacturer``, ``model`` (select the
    token), ``object``, ``id`` (percent-encoded bytes) and ``type`` (select an
    object) in the path; ``module-path`` and ``pin-value`` in the query. A PIN
    in a URI ends up in inventories and logs, so ``pin-value`` is refused
    unless ``allow_pin_value`` is set; give the PIN through the no_log option
    or IZUMA_PKCS11_PIN instead. Messages never quote a PIN.
    """
    if not isinstance(uri, str) or not uri.lower().startswith("pkcs11:"):
        raise IzumaPkcs11Error("a PKCS#11 URI must start with 'pkcs11:' (RFC 7512), e.g. pkcs11:token=izuma;object=my-key")
    body = uri[len("pkcs11:"):]
    path, _sep, query = body.partition("?")
    values = {}  # type: t.Dict[str, str]
    for part, separator, allowed in ((path, ";", _TOKEN_ATTRIBUTES + _OBJECT_ATTRIBUTES), (query, "&", _QUERY_ATTRIBUTES)):
        for item in filter(None, part.split(separator)):
            name, equals, raw = item.partition("=")
            name = name.strip().lower()
            if not equals:
                raise IzumaPkcs11Error("the pkcs11: URI attribute %r has no value: write it as name=value" % name[:40])
            if name not in allowed:
                where = "path" if separator == ";" else "query"
                raise IzumaPkcs11Error("the pkcs11: URI %s attribute %r is not supported here: use %s"
                                       % (where, name[:40], ", ".join(allowed)))
            if name in values:
                raise IzumaPkcs11Error("the pkcs11: URI gives attribute %s twice: give it once" % name)
            values[name] = raw
    if "pin-value" in values and not allow_pin_value:
        raise IzumaPkcs11Error("the pkcs11: URI contains a pin-value, which would put the PIN in inventories and logs: "
                               "remove it from the URI and give the PIN with the %s option (no_log) or the %s environment variable"
                               % (PIN_OPTION, PIN_ENV))
    object_type = _uri_value("type", values["type"]) if "type" in values else None
    if object_type is not None and object_type not in _OBJECT_TYPES:
        raise IzumaPkcs11Error("the pkcs11: URI type %r is not supported: use private, public or cert" % object_type[:20])
    object_id = urllib.parse.unquote_to_bytes(values["id"]) if "id" in values else None
    decoded = {name: _uri_value(name, raw) for name, raw in values.items() if name not in ("id", "type")}
    return Pkcs11TokenRef(label=decoded.get("token"), serial=decoded.get("serial"), manufacturer=decoded.get("manufacturer"),
                          model=decoded.get("model"), object_label=decoded.get("object"), object_id=object_id, object_type=object_type,
                          module_path=decoded.get("module-path"), pin=decoded.get("pin-value"))


def token_ref(token: t.Optional[str] = None, serial: t.Optional[str] = None, uri: t.Optional[str] = None,
              allow_pin_value: bool = False) -> Pkcs11TokenRef:
    """Combine the token options (a label, a serial, or a ``pkcs11:`` URI) into one Pkcs11TokenRef.

    A token option that itself starts with ``pkcs11:`` is taken as a URI, so
    a single option can carry either. A URI together with a label or serial
    is refused: the two could disagree.
    """
    if token is not None and str(token).lower().startswith("pkcs11:"):
        if uri is not None:
            raise IzumaPkcs11Error("the token is given both as a pkcs11: URI and as the URI option: give it once")
        uri, token = token, None
    if uri is not None:
        if token is not None or serial is not None:
            raise IzumaPkcs11Error("give the token either as a pkcs11: URI or as a label/serial, not both")
        return parse_uri(uri, allow_pin_value=allow_pin_value)
    for name, value in (("token label", token), ("token serial", serial)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise IzumaPkcs11Error("the PKCS#11 %s must be a non-empty string" % name)
    return Pkcs11TokenRef(label=token, serial=serial)


def resolve_pin(pin: t.Optional[str] = None, ref: t.Optional[Pkcs11TokenRef] = None,
                environ: t.Optional[t.Mapping[str, str]] = None) -> str:
    """Return the user PIN: the option, else a pin-value the caller allowed in the URI, else IZUMA_PKCS11_PIN."""
    environ = os.environ if environ is None else environ
    for candidate in (pin, ref.pin if ref is not None else None, environ.get(PIN_ENV)):
        if candidate is not None and candidate != "":
            if not isinstance(candidate, str):
                raise IzumaPkcs11Error("the PKCS#11 PIN (%s) must be a string" % PIN_OPTION)
            return candidate
    raise IzumaPkcs11Error("no PKCS#11 user PIN given: set the %s option (no_log) or the %s environment variable" % (PIN_OPTION, PIN_ENV))


# ---------------------------------------------------------------------------
# Libraries, tokens and the per-process session cache
# ---------------------------------------------------------------------------

# A random per-process secret: the cache compares PINs by HMAC under it, so no PIN (nor a plain hash that could be
# brute-forced from a short numeric PIN) is kept as a dictionary key.
_PIN_SECRET = os.urandom(32)
_LOCK = threading.RLock()
_SESSIONS = {}  # type: t.Dict[t.Tuple[t.Any, ...], "Pkcs11Session"]
_REFS = {}  # type: t.Dict[t.Tuple[t.Any, ...], t.Tuple[t.Any, ...]]
# Deterministic counts for tests and benchmarks: how often this process called C_Login and opened a library.
STATS = {"logins": 0, "library_loads": 0}


def _pin_digest(pin: str) -> str:
    return hmac.new(_PIN_SECRET, pin.encode("utf-8"), hashlib.sha256).hexdigest()


class Pkcs11Session:
    """One logged-in read/write session on one token, shared by every caller in this process.

    Besides the session it keeps what is learnt about the token once per process: its mechanisms
    (C_GetMechanismList, C_GetMechanismInfo), the key template it accepts per key type (``key_pairs``) and the
    mechanism each JWT algorithm signs with (``signing``).
    """

    def __init__(self, library_path: str, ref: Pkcs11TokenRef, token: t.Any, session: t.Any, pin_digest: str,
                 library: t.Optional[str] = None) -> None:
        self.library_path = library_path
        # The library as the user named it (messages name its file), and its real path (the cache key).
        self.library = library or library_path
        self.ref = ref
        self.token = token
        self.session = session
        self.pin_digest = pin_digest
        self.pid = os.getpid()
        self.lock = threading.RLock()
        # Key pairs found by label in this session (see key_pairs.cached_key_pair): finding objects costs
        # milliseconds on some tokens, ten times the signature itself.
        self.pairs = {}  # type: t.Dict[str, t.Any]
        # The key template the token accepted, by key type ("sign-only" or "token-default"; key_pairs).
        self.templates = {}  # type: t.Dict[str, str]
        # The signing mechanism chosen for each JWT algorithm (signing), so that a lookup signing thousands of
        # tokens chooses once.
        self.signers = {}  # type: t.Dict[str, t.Any]
        # The mechanism list and the mechanism infos, read from the token once (see mechanisms()).
        self._mechanism_facts = {}  # type: t.Dict[t.Any, t.Any]

    @property
    def token_label(self) -> str:
        """The label the token reports (stripped of PKCS#11's space padding)."""
        return str(self.token.label).strip()

    @property
    def library_name(self) -> str:
        """The file name of the PKCS#11 library, as the user named it (libsofthsm2.so, libtpm2_pkcs11.so.1)."""
        return os.path.basename(self.library) or self.library

    def describe(self) -> str:
        """Name the token and its library for messages: PKCS#11 token 'x' (library libfoo.so)."""
        return "PKCS#11 token %r (library %s)" % (self.token_label, self.library_name)

    def mechanisms(self) -> t.Optional[t.FrozenSet[t.Any]]:
        """The token's mechanisms (C_GetMechanismList, read once); None when the library cannot list them."""
        return self._read_once("mechanisms", lambda: frozenset(self.token.slot.get_mechanisms()))

    def mechanism_info(self, mechanism: t.Any) -> t.Any:
        """The token's C_GetMechanismInfo for ``mechanism`` (key sizes, flags), read once; None when unavailable."""
        return self._read_once(mechanism, lambda: self.token.slot.get_mechanism_info(mechanism))

    def _read_once(self, key: t.Any, read: t.Callable[[], t.Any]) -> t.Any:
        with self.lock:
            if key not in self._mechanism_facts:
                try:
                    self._mechanism_facts[key] = read()
                except pkcs11_errors.PKCS11Error:
                    self._mechanism_facts[key] = None
            return self._mechanism_facts[key]

    def close(self) -> None:
        """Close the session (which logs out once it is the token's last one); never raises."""
        try:
            self.session.close()
        except Exception:  # pylint: disable=broad-except
            pass


def _load_library(path: str) -> t.Any:
    if not isinstance(path, str) or not path:
        raise IzumaPkcs11Error("the PKCS#11 library path must be a non-empty string, e.g. /usr/lib/softhsm/libsofthsm2.so")
    if not os.path.isfile(path):
        raise IzumaPkcs11Error("the PKCS#11 library %s does not exist: install the vendor's PKCS#11 module "
                               "(for SoftHSM2: apt-get install softhsm2) and give its path" % path)
    STATS["library_loads"] += 1
    try:
        return pkcs11.lib(path)
    except pkcs11_errors.PKCS11Error as exc:
        # Loaded, but its C_Initialize failed: the library's own setup (a daemon, a configuration file) is missing.
        raise IzumaPkcs11Error("the PKCS#11 library %s could not initialise (C_Initialize answered %s): check the library's own "
                               "configuration (for SoftHSM2 the SOFTHSM2_CONF file, for tpm2-pkcs11 TPM2_PKCS11_TCTI and its "
                               "resource manager); the library may print the cause on standard error"
                               % (path, errors.describe(exc))) from None
    except (RuntimeError, OSError) as exc:
        raise IzumaPkcs11Error("the PKCS#11 library %s could not be loaded (%s): check that it is a PKCS#11 module for this "
                               "machine's architecture" % (path, type(exc).__name__)) from None


def _login(token: t.Any, ref: Pkcs11TokenRef, pin: str, library: str) -> t.Any:
    name = ref.describe() if ref.names_a_token() else "the PKCS#11 token %r" % str(token.label).strip()
    try:
        session = token.open(rw=True, user_pin=pin)
    except pkcs11_errors.PinIncorrect:
        raise IzumaPkcs11Error("the PIN for %s is wrong (the token refused the login; nothing was changed): check the %s "
                               "option or the %s environment variable" % (name, PIN_OPTION, PIN_ENV)) from None
    except pkcs11_errors.PinLocked:
        raise IzumaPkcs11Error("the user PIN of %s is locked after too many wrong PINs: the token's security officer must "
                               "reset it (softhsm2-util cannot; use the vendor's tool or pkcs11-tool --init-pin)" % name) from None
    except (pkcs11_errors.PinLenRange, pkcs11_errors.PinInvalid):
        raise IzumaPkcs11Error("the PIN for %s has a length or characters the token refuses: check the %s option"
                               % (name, PIN_OPTION)) from None
    except pkcs11_errors.UserAlreadyLoggedIn:
        raise IzumaPkcs11Error("%s is already logged in by other code in this process, so the PIN cannot be checked: "
                               "use one PKCS#11 configuration per token" % name) from None
    except pkcs11_errors.UserPinNotInitialized:
        raise IzumaPkcs11Error("%s has no user PIN yet: initialise it (softhsm2-util --init-token ... --pin ...)" % name) from None
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("logging in to %s (library %s) failed: %s"
                               % (name, os.path.basename(library) or library, errors.describe(exc))) from None
    STATS["logins"] += 1
    return session


def open_session(library: str, ref: Pkcs11TokenRef, pin: str) -> Pkcs11Session:
    """Return the process's logged-in session on the token ``ref`` names, logging in on first use only.

    Sessions are cached per physical token (library, serial, label), so a
    token named once by label and once by URI shares one login. A forked child
    (Ansible's workers) does not reuse its parent's session: PKCS#11 sessions
    do not survive fork, so the child initialises the library again and logs
    in once itself.
    """
    require_pkcs11()
    digest = _pin_digest(pin)
    ref_key = (library,) + ref.cache_key()
    with _LOCK:
        physical = _REFS.get(ref_key)
        cached = _SESSIONS.get(physical) if physical is not None else None
        if cached is not None and cached.pid == os.getpid() and cached.pin_digest == digest:
            return cached
        # The real path on the slow path only: two spellings of one library are one library.
        library_path = os.path.realpath(library) if isinstance(library, str) and library else library
        lib = _load_library(library_path)
        if any(entry.pid != os.getpid() for entry in _SESSIONS.values()):
            _forget_parent_sessions(lib)
        token = slots.find_token(lib, ref, library)
        physical = (library_path, str(token.serial), str(token.label).strip())
        _REFS[ref_key] = physical
        cached = _SESSIONS.pop(physical, None)
        if cached is not None and cached.pin_digest == digest:
            # The same token named another way (label, serial, URI): one login serves them all.
            _SESSIONS[physical] = cached
            return cached
        if cached is not None:
            # Same token, another PIN: log out first, so that the new PIN is checked by the token rather than
            # accepted on the strength of the earlier login.
            cached.close()
        entry = Pkcs11Session(library_path, ref, token, _login(token, ref, pin, library), digest, library=library)
        _SESSIONS[physical] = entry
        return entry


def _forget_parent_sessions(lib: t.Any) -> None:
    # After fork the inherited Cryptoki state is unusable until C_Initialize runs again in this process; the parent's
    # sessions are the parent's to close.
    _SESSIONS.clear()
    _REFS.clear()
    _reinitialize(lib)


def _reinitialize(lib: t.Any) -> None:
    # After fork the inherited Cryptoki state is unusable until C_Initialize runs again in this process.
    try:
        lib.reinitialize()
    except pkcs11_errors.PKCS11Error:
        pass
