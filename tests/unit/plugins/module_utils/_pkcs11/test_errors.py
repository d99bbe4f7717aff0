# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_pkcs11/errors.py: python-pkcs11's exceptions named by their PKCS#11 return value.

python-pkcs11 is not installed in the unit test environments: exception classes with python-pkcs11's names and
hierarchy stand in for its own (the mapping reads class names only). tests/pkcs11 raises the real ones.
"""

from __future__ import annotations

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import errors


class PKCS11Error(RuntimeError):
    """python-pkcs11's base exception."""


def _exception(name: str) -> type:
    return type(name, (PKCS11Error,), {})


@pytest.mark.parametrize("name, expected", [
    ("GeneralError", "CKR_GENERAL_ERROR (0x00000005)"),
    ("TemplateInconsistent", "CKR_TEMPLATE_INCONSISTENT (0x000000D1)"),
    ("AttributeValueInvalid", "CKR_ATTRIBUTE_VALUE_INVALID (0x00000013)"),
    ("MechanismInvalid", "CKR_MECHANISM_INVALID (0x00000070)"),
    ("KeySizeRange", "CKR_KEY_SIZE_RANGE (0x00000062)"),
    ("DeviceMemory", "CKR_DEVICE_MEMORY (0x00000031)"),
    ("PinIncorrect", "CKR_PIN_INCORRECT (0x000000A0)"),
    # Class names that are not the return value's name in CamelCase.
    ("FunctionCancelled", "CKR_FUNCTION_CANCELED (0x00000050)"),
    ("TokenNotRecognised", "CKR_TOKEN_NOT_RECOGNIZED (0x000000E1)"),
    ("AnotherUserAlreadyLoggedIn", "CKR_USER_ANOTHER_ALREADY_LOGGED_IN (0x00000104)"),
    ("SessionReadWriteSOExists", "CKR_SESSION_READ_WRITE_SO_EXISTS (0x000000B8)"),
    ("SlotIDInvalid", "CKR_SLOT_ID_INVALID (0x00000003)"),
    ("RandomNoRNG", "CKR_RANDOM_NO_RNG (0x00000121)"),
])
def test_exception_classes_are_named_by_their_return_value(name: str, expected: str) -> None:
    assert errors.describe(_exception(name)()) == expected


def test_codes_python_pkcs11_passes_on_unmapped_are_named_from_the_specification() -> None:
    assert errors.describe(PKCS11Error("Unmapped error code 0x68")) == "CKR_KEY_FUNCTION_NOT_PERMITTED (0x00000068)"
    assert errors.describe(PKCS11Error("Unmapped error code 0x140")) == "CKR_CURVE_NOT_SUPPORTED (0x00000140)"
    assert errors.describe(PKCS11Error("Unmapped error code 0x80000123")) == "a vendor-defined return value (0x80000123)"


def test_an_exception_without_a_return_value_is_named_by_its_class_never_guessed() -> None:
    assert errors.describe(PKCS11Error("Buffer was too small. Should never see this.")) == "PKCS11Error (no PKCS#11 return value)"
    assert errors.describe(ValueError("x")) == "ValueError (no PKCS#11 return value)"
    assert errors.return_value(ValueError("x")) == (None, None)


def test_template_refusals_are_the_answers_that_mean_not_this_template() -> None:
    for name in ("TemplateInconsistent", "AttributeValueInvalid", "TemplateIncomplete", "AttributeTypeInvalid", "GeneralError"):
        assert errors.is_one_of(_exception(name)(), errors.TEMPLATE_REFUSALS), name
    for name in ("DeviceMemory", "MechanismInvalid", "KeySizeRange", "UserNotLoggedIn", "PKCS11Error"):
        assert not errors.is_one_of(_exception(name)(), errors.TEMPLATE_REFUSALS), name


def test_the_specification_values_are_distinct() -> None:
    assert len(set(errors.CKR_VALUES.values())) == len(errors.CKR_VALUES)
    assert errors.CKR_VALUES["GENERAL_ERROR"] == 5 and errors.CKR_VALUES["FUNCTION_REJECTED"] == 0x200
