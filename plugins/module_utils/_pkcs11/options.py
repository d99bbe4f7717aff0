# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The PKCS#11 key source: its options, written once, and the value every signer receives.

Everything that signs with a key inside a PKCS#11 token (izuma_jwt, the
lookup, the API client's JWT authentication, certificate issuing in
izuma_verification_key) takes the same five options, with the same names and
the same ``IZUMA_PKCS11_*`` environment fallbacks (which an AWX credential
injects): ``pkcs11_library``, ``pkcs11_token`` (a label or an RFC 7512
``pkcs11:`` URI), ``pkcs11_serial``, ``pkcs11_pin`` (no_log) and
``pkcs11_key_label``. ``pkcs11_source()`` turns them into a ``Pkcs11KeySource``
that ``_jwt.key_source.load_signing_key`` opens. No python-pkcs11 import here: the
options are checked before the library is needed.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError

LIBRARY_ENV = "IZUMA_PKCS11_LIBRARY"
TOKEN_ENV = "IZUMA_PKCS11_TOKEN"
SERIAL_ENV = "IZUMA_PKCS11_SERIAL"
PIN_ENV = "IZUMA_PKCS11_PIN"
OPTION_NAMES = ("pkcs11_library", "pkcs11_token", "pkcs11_serial", "pkcs11_pin", "pkcs11_key_label")
SOFTHSM_EXAMPLE = "/usr/lib/softhsm/libsofthsm2.so"
# The options with an environment fallback, and its variable.
_FALLBACKS = (("pkcs11_library", LIBRARY_ENV), ("pkcs11_token", TOKEN_ENV), ("pkcs11_serial", SERIAL_ENV), ("pkcs11_pin", PIN_ENV))


def argument_spec(prefix: str = "") -> t.Dict[str, t.Dict[str, t.Any]]:
    """The PKCS#11 options of a module, named ``<prefix>pkcs11_*`` (the API client's are ``auth_pkcs11_*``).

    The environment fallbacks are the same for every prefix: one token, one PIN per environment. The key label has
    none: it names the key of one task, and an environment variable would turn every task into a PKCS#11 one.
    """
    from ansible.module_utils.basic import env_fallback  # pylint: disable=import-outside-toplevel

    return {
        prefix + "pkcs11_library": dict(type="path", fallback=(env_fallback, [LIBRARY_ENV])),
        # Not secrets (a token label or URI, a key label), though their names say "token" and "key".
        prefix + "pkcs11_token": dict(type="str", no_log=False, fallback=(env_fallback, [TOKEN_ENV])),
        prefix + "pkcs11_serial": dict(type="str", fallback=(env_fallback, [SERIAL_ENV])),
        prefix + "pkcs11_pin": dict(type="str", no_log=True, fallback=(env_fallback, [PIN_ENV])),
        prefix + "pkcs11_key_label": dict(type="str", no_log=False),
    }


@dataclass(frozen=True)
class Pkcs11KeySource:
    """A private key object in a PKCS#11 token: where it is and how to log in. The PIN is never shown."""

    library: str
    label: str
    token: t.Optional[str] = None
    serial: t.Optional[str] = None
    pin: t.Optional[str] = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """Name the key for messages (no PIN)."""
        if self.token:
            where = "token %r" % self.token
        elif self.serial:
            where = "the token with serial %s" % self.serial
        else:
            where = "the one initialised token of %s" % self.library
        return "PKCS#11 key %r in %s" % (self.label, where)


def pkcs11_source(params: t.Mapping[str, t.Any], prefix: str = "", label: t.Optional[str] = None,
                  environ: t.Optional[t.Mapping[str, str]] = None) -> t.Optional[Pkcs11KeySource]:
    """The PKCS#11 key the ``<prefix>pkcs11_*`` options name, or None when they name none (no key label).

    ``label`` overrides the key label option (izuma_verification_key derives its labels from the key name). Options
    that a module's argument spec filled from the environment arrive in ``params``; a plugin passes ``environ`` so
    that the same fallbacks apply. Raises IzumaKeyError naming the option to fix.
    """
    environ = os.environ if environ is None else environ

    def option(name: str, env: t.Optional[str] = None) -> t.Optional[str]:
        value = params.get(prefix + name)
        if (value is None or value == "") and env is not None:
            value = environ.get(env) or None
        if value is not None and not isinstance(value, str):
            raise IzumaKeyError("%s%s must be a string, got %s" % (prefix, name, type(value).__name__))
        return value or None

    key_label = label if label is not None else option("pkcs11_key_label")
    if key_label is None:
        # Only what the task itself gave: a module's argument spec fills the options from IZUMA_PKCS11_* too, and an
        # environment that names a token (an AWX credential) must not fail every task that signs with a key file.
        extra = [prefix + name for name, env in _FALLBACKS if params.get(prefix + name) and params.get(prefix + name) != environ.get(env)]
        if extra and label is None and prefix + "pkcs11_key_label" in params:
            raise IzumaKeyError("%s given without %spkcs11_key_label: give the label of the private key object in the token "
                                "(izuma_verification_key returns it as pkcs11_key_label)" % (", ".join(extra), prefix))
        return None
    library = option("pkcs11_library", LIBRARY_ENV)
    if library is None:
        raise IzumaKeyError("a PKCS#11 key needs the PKCS#11 library: set %spkcs11_library or the %s environment variable to "
                            "the vendor's PKCS#11 module (for SoftHSM2: %s)" % (prefix, LIBRARY_ENV, SOFTHSM_EXAMPLE))
    token = option("pkcs11_token", TOKEN_ENV)
    serial = option("pkcs11_serial", SERIAL_ENV)
    return Pkcs11KeySource(library=library, label=key_label, token=token, serial=serial, pin=option("pkcs11_pin", PIN_ENV))
