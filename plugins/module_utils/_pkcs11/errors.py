# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The PKCS#11 error type, and return values (CKR_*) for messages: what the token answered, by name and number.

python-pkcs11 raises one exception class per return value, but maps them in compiled code with no table to read
back; ``return_value(exc)`` inverts that mapping by the exception's class name (the classes are python-pkcs11's
public API), and knows the standard values of the PKCS#11 specification (v2.40 and 3.0, section "Return values")
for codes python-pkcs11 passes on unmapped ("Unmapped error code 0x68"). No python-pkcs11 import: the names alone
are enough, and the module stays importable without it.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaKeyError


class IzumaPkcs11Error(IzumaKeyError):
    """A PKCS#11 library, token, PIN or key object cannot be used as asked."""


# The standard return values of the PKCS#11 specification (CKR_ prefix left out).
CKR_VALUES = {
    "OK": 0x0, "CANCEL": 0x1, "HOST_MEMORY": 0x2, "SLOT_ID_INVALID": 0x3, "GENERAL_ERROR": 0x5, "FUNCTION_FAILED": 0x6,
    "ARGUMENTS_BAD": 0x7, "NO_EVENT": 0x8, "NEED_TO_CREATE_THREADS": 0x9, "CANT_LOCK": 0xA, "ATTRIBUTE_READ_ONLY": 0x10,
    "ATTRIBUTE_SENSITIVE": 0x11, "ATTRIBUTE_TYPE_INVALID": 0x12, "ATTRIBUTE_VALUE_INVALID": 0x13, "ACTION_PROHIBITED": 0x1B,
    "DATA_INVALID": 0x20, "DATA_LEN_RANGE": 0x21, "DEVICE_ERROR": 0x30, "DEVICE_MEMORY": 0x31, "DEVICE_REMOVED": 0x32,
    "ENCRYPTED_DATA_INVALID": 0x40, "ENCRYPTED_DATA_LEN_RANGE": 0x41, "FUNCTION_CANCELED": 0x50, "FUNCTION_NOT_PARALLEL": 0x51,
    "FUNCTION_NOT_SUPPORTED": 0x54, "KEY_HANDLE_INVALID": 0x60, "KEY_SIZE_RANGE": 0x62, "KEY_TYPE_INCONSISTENT": 0x63,
    "KEY_NOT_NEEDED": 0x64, "KEY_CHANGED": 0x65, "KEY_NEEDED": 0x66, "KEY_INDIGESTIBLE": 0x67, "KEY_FUNCTION_NOT_PERMITTED": 0x68,
    "KEY_NOT_WRAPPABLE": 0x69, "KEY_UNEXTRACTABLE": 0x6A, "MECHANISM_INVALID": 0x70, "MECHANISM_PARAM_INVALID": 0x71,
    "OBJECT_HANDLE_INVALID": 0x82, "OPERATION_ACTIVE": 0x90, "OPERATION_NOT_INITIALIZED": 0x91, "PIN_INCORRECT": 0xA0,
    "PIN_INVALID": 0xA1, "PIN_LEN_RANGE": 0xA2, "PIN_EXPIRED": 0xA3, "PIN_LOCKED": 0xA4, "SESSION_CLOSED": 0xB0, "SESSION_COUNT": 0xB1,
    "SESSION_HANDLE_INVALID": 0xB3, "SESSION_PARALLEL_NOT_SUPPORTED": 0xB4, "SESSION_READ_ONLY": 0xB5, "SESSION_EXISTS": 0xB6,
    "SESSION_READ_ONLY_EXISTS": 0xB7, "SESSION_READ_WRITE_SO_EXISTS": 0xB8, "SIGNATURE_INVALID": 0xC0, "SIGNATURE_LEN_RANGE": 0xC1,
    "TEMPLATE_INCOMPLETE": 0xD0, "TEMPLATE_INCONSISTENT": 0xD1, "TOKEN_NOT_PRESENT": 0xE0, "TOKEN_NOT_RECOGNIZED": 0xE1,
    "TOKEN_WRITE_PROTECTED": 0xE2, "UNWRAPPING_KEY_HANDLE_INVALID": 0xF0, "UNWRAPPING_KEY_SIZE_RANGE": 0xF1,
    "UNWRAPPING_KEY_TYPE_INCONSISTENT": 0xF2, "USER_ALREADY_LOGGED_IN": 0x100, "USER_NOT_LOGGED_IN": 0x101,
    "USER_PIN_NOT_INITIALIZED": 0x102, "USER_TYPE_INVALID": 0x103, "USER_ANOTHER_ALREADY_LOGGED_IN": 0x104, "USER_TOO_MANY_TYPES": 0x105,
    "WRAPPED_KEY_INVALID": 0x110, "WRAPPED_KEY_LEN_RANGE": 0x112, "WRAPPING_KEY_HANDLE_INVALID": 0x113, "WRAPPING_KEY_SIZE_RANGE": 0x114,
    "WRAPPING_KEY_TYPE_INCONSISTENT": 0x115, "RANDOM_SEED_NOT_SUPPORTED": 0x120, "RANDOM_NO_RNG": 0x121, "DOMAIN_PARAMS_INVALID": 0x130,
    "CURVE_NOT_SUPPORTED": 0x140, "BUFFER_TOO_SMALL": 0x150, "SAVED_STATE_INVALID": 0x160, "INFORMATION_SENSITIVE": 0x170,
    "STATE_UNSAVEABLE": 0x180, "CRYPTOKI_NOT_INITIALIZED": 0x190, "CRYPTOKI_ALREADY_INITIALIZED": 0x191, "MUTEX_BAD": 0x1A0,
    "MUTEX_NOT_LOCKED": 0x1A1, "NEW_PIN_MODE": 0x1B0, "NEXT_OTP": 0x1B1, "EXCEEDED_MAX_ITERATIONS": 0x1C0, "FIPS_SELF_TEST_FAILED": 0x1C1,
    "LIBRARY_LOAD_FAILED": 0x1C2, "PIN_TOO_WEAK": 0x1C3, "PUBLIC_KEY_INVALID": 0x1C4, "FUNCTION_REJECTED": 0x200,
}
_NAMES = {value: name for name, value in CKR_VALUES.items()}

# python-pkcs11's exception classes and the return value each stands for (its map_rv_to_error), where the class name
# is not simply the return value's name in CamelCase.
_CLASS_NAMES = {
    "AnotherUserAlreadyLoggedIn": "USER_ANOTHER_ALREADY_LOGGED_IN", "FunctionCancelled": "FUNCTION_CANCELED",
    "RandomNoRNG": "RANDOM_NO_RNG", "SessionReadWriteSOExists": "SESSION_READ_WRITE_SO_EXISTS", "SlotIDInvalid": "SLOT_ID_INVALID",
    "TokenNotRecognised": "TOKEN_NOT_RECOGNIZED",
}
_UNMAPPED = re.compile(r"error code (0x[0-9a-fA-F]+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# What a token answers when it does not accept a key template as asked (the documented fallback is tried then).
# CKR_GENERAL_ERROR is among them because tpm2-pkcs11 answers it ("User specified and TPM specified attr mismatch").
TEMPLATE_REFUSALS = frozenset(("TEMPLATE_INCONSISTENT", "ATTRIBUTE_VALUE_INVALID", "TEMPLATE_INCOMPLETE", "ATTRIBUTE_TYPE_INVALID",
                               "GENERAL_ERROR"))


def return_value(exc: BaseException) -> t.Tuple[t.Optional[str], t.Optional[int]]:
    """The CKR_* name (without the prefix) and value a python-pkcs11 exception stands for; (None, None) if unknown."""
    for cls in type(exc).__mro__:
        name = _CLASS_NAMES.get(cls.__name__) or _CAMEL.sub("_", cls.__name__).upper()
        if name in CKR_VALUES:
            return name, CKR_VALUES[name]
        if cls.__name__ == "PKCS11Error":
            break
    found = _UNMAPPED.search(str(exc))
    if found:
        value = int(found.group(1), 16)
        return _NAMES.get(value), value
    return None, None


def describe(exc: BaseException) -> str:
    """``CKR_GENERAL_ERROR (0x00000005)`` for a python-pkcs11 exception; its class name when the value is unknown."""
    name, value = return_value(exc)
    if value is None:
        return "%s (no PKCS#11 return value)" % type(exc).__name__
    return "%s (0x%08X)" % ("CKR_" + name if name else "a vendor-defined return value", value)


def is_one_of(exc: BaseException, names: t.Iterable[str]) -> bool:
    """Whether ``exc`` stands for one of the return values ``names`` (CKR_ prefix left out)."""
    return return_value(exc)[0] in set(names)
