# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_pkcs11/slots.py: which token a reference means, with the tokens a library lists.

Stand-in tokens with python-pkcs11's attributes (label, serial, flags); tests/pkcs11/test_portability.py does the same
against a real SoftHSM2 with its free, uninitialised slot.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session, slots
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.errors import IzumaPkcs11Error

LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
INITIALISED = 0x0000040D  # CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
FREE = 0x00000005  # SoftHSM2's free slot: CKF_RNG | CKF_LOGIN_REQUIRED


@dataclass
class Token:
    label: str
    serial: bytes
    flags: int = INITIALISED
    manufacturer_id: str = "SoftHSM project"
    model: str = "SoftHSM v2"


class Library:
    def __init__(self, *tokens: Token) -> None:
        self.tokens = tokens

    def get_tokens(self) -> t.Iterator[Token]:
        return iter(self.tokens)


def refused(library: Library, ref: t.Any) -> str:
    with pytest.raises(IzumaPkcs11Error) as caught:
        slots.find_token(library, ref, LIBRARY)
    return caught.value.message


def test_without_a_token_name_the_one_initialised_token_is_chosen_over_the_free_slot() -> None:
    used = Token("izuma", b"5a3c0e1f0b2d4e6f")
    assert slots.find_token(Library(used, Token("", b"", FREE)), session.token_ref(), LIBRARY) is used
    assert slots.find_token(Library(Token("", b"", FREE), used), session.token_ref(), LIBRARY) is used


def test_an_uninitialised_token_is_never_a_candidate_even_by_its_empty_label() -> None:
    message = refused(Library(Token("", b"", FREE)), session.token_ref())
    assert message.startswith("the PKCS#11 library libsofthsm2.so has no initialised token: initialise one")
    assert "SOFTHSM2_CONF" in message


def test_several_initialised_tokens_without_a_name_are_listed_and_pkcs11_token_is_asked_for() -> None:
    message = refused(Library(Token("a", b"11"), Token("b", b"22"), Token("", b"", FREE)), session.token_ref())
    assert message == ("no PKCS#11 token is named and the library libsofthsm2.so has 2 initialised tokens ('a' (serial 11), "
                       "'b' (serial 22)): set pkcs11_token (a label or a pkcs11: URI; IZUMA_PKCS11_TOKEN) or pkcs11_serial "
                       "(IZUMA_PKCS11_SERIAL) to choose one")
    assert "only" not in message


def test_a_label_found_twice_lists_the_serials_and_a_missing_label_lists_what_there_is() -> None:
    library = Library(Token("same", b"11"), Token("same", b"22"), Token("", b"", FREE))
    assert "matches 2 tokens of the PKCS#11 library libsofthsm2.so ('same' (serial 11), 'same' (serial 22))" in refused(
        library, session.token_ref("same"))
    assert slots.find_token(library, session.token_ref("same", serial="22"), LIBRARY) is library.tokens[1]
    message = refused(library, session.token_ref("nope"))
    assert "label 'nope' was not found in the PKCS#11 library libsofthsm2.so (its initialised tokens: 'same' (serial 11)" in message
