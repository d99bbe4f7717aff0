# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Which token of a PKCS#11 library a task means: the one initialised token its label, serial or URI names.

A library lists a slot per token, and many list one more: SoftHSM2 and tpm2-pkcs11 always show a free slot whose token
is not initialised (no label, no PIN, no keys). Such a token is never a candidate. Without a label or serial the
library's one initialised token is meant; several are refused with their labels and serials, so that the message says
what to set (``pkcs11_token`` or ``pkcs11_serial``), never that "the only token" matched two.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.errors import IzumaPkcs11Error
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import SERIAL_ENV, TOKEN_ENV

try:
    from pkcs11 import exceptions as pkcs11_errors
except ImportError:  # session.require_pkcs11 says what to install before anything here runs
    pass

# CK_TOKEN_INFO flags bit of an initialised token (PKCS#11 v2.40, CKF_TOKEN_INITIALIZED).
CKF_TOKEN_INITIALIZED = 0x00000400


def _initialised(token: t.Any) -> bool:
    # An uninitialised token (SoftHSM2 and tpm2-pkcs11 always list a free slot with one) has no keys and no PIN.
    return bool(int(token.flags) & CKF_TOKEN_INITIALIZED)


def _listing(tokens: t.Sequence[t.Any]) -> str:
    return ", ".join("%r (serial %s)" % (str(token.label).strip(), _text(token.serial)) for token in tokens)


def _text(value: t.Any) -> str:
    return (value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)).strip()


def find_token(lib: t.Any, ref: t.Any, library: str) -> t.Any:
    """The one initialised token of ``lib`` that ``ref`` (a session.Pkcs11TokenRef) names.

    Refuses none, or several, naming the library and the tokens it has; ``library`` is the library's path as given.
    """
    name = os.path.basename(library) or library
    try:
        tokens = [token for token in lib.get_tokens() if _initialised(token)]
    except pkcs11_errors.PKCS11Error as exc:
        raise IzumaPkcs11Error("the PKCS#11 library %s could not list its tokens: %s" % (name, errors.describe(exc))) from None
    matching = [token for token in tokens if ref.matches(token)]
    if not matching and not ref.names_a_token():
        raise IzumaPkcs11Error("the PKCS#11 library %s has no initialised token: initialise one (softhsm2-util --init-token --free, "
                               "pkcs11-tool --init-token, or the vendor's tool), and for SoftHSM check the SOFTHSM2_CONF environment "
                               "variable" % name)
    if not matching:
        found = ("its initialised tokens: %s" % _listing(tokens)) if tokens else "it has no initialised token"
        raise IzumaPkcs11Error("%s was not found in the PKCS#11 library %s (%s): check the token label or serial "
                               "(softhsm2-util --show-slots or pkcs11-tool --module <library> --list-token-slots list them), "
                               "and for SoftHSM the SOFTHSM2_CONF environment variable" % (ref.describe(), name, found))
    if len(matching) > 1 and not ref.names_a_token():
        raise IzumaPkcs11Error("no PKCS#11 token is named and the library %s has %d initialised tokens (%s): set pkcs11_token "
                               "(a label or a pkcs11: URI; %s) or pkcs11_serial (%s) to choose one"
                               % (name, len(matching), _listing(matching), TOKEN_ENV, SERIAL_ENV))
    if len(matching) > 1:
        raise IzumaPkcs11Error("%s matches %d tokens of the PKCS#11 library %s (%s): give the token's serial or a pkcs11: URI with "
                               "token= and serial=" % (ref.describe(), len(matching), name, _listing(matching)))
    return matching[0]
