# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the decisions in key generation and relabelling that no available token can be made to take.

SoftHSM2 accepts the sign-only template and keeps every label, so the fallback to the token-default template and a
label that does not stick are tested here, with stand-ins for the token (python-pkcs11 is not installed in the unit
test environments: its names are stood in for on the modules under test). The real tokens: tests/pkcs11 (SoftHSM2)
and tpm2-pkcs11, which refuses the sign-only template with CKR_GENERAL_ERROR.
"""

from __future__ import annotations

import types
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import generation, key_pairs, session
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.errors import IzumaPkcs11Error

KEY_ID = bytes(range(16))


class PKCS11Error(RuntimeError):
    """python-pkcs11's base exception (errors.describe reads class names)."""


GeneralError = type("GeneralError", (PKCS11Error,), {})
DeviceMemory = type("DeviceMemory", (PKCS11Error,), {})
TemplateInconsistent = type("TemplateInconsistent", (PKCS11Error,), {})


class Mechanism(int):
    """A python-pkcs11 Mechanism: an int with a name."""

    def __new__(cls, value: int, name: str) -> "Mechanism":
        obj = super().__new__(cls, value)
        obj.name = name  # type: ignore[attr-defined]
        return obj


RSA_GEN, EC_GEN = Mechanism(0x0, "RSA_PKCS_KEY_PAIR_GEN"), Mechanism(0x1040, "EC_KEY_PAIR_GEN")


def make_session(label: str = "izuma-tpm", library: str = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so") -> session.Pkcs11Session:
    token = types.SimpleNamespace(label=label)
    return session.Pkcs11Session(library, session.token_ref(label), token, None, "digest", library=library)


@pytest.fixture()
def fake_pkcs11(monkeypatch: pytest.MonkeyPatch) -> t.Dict[str, t.Any]:
    """python-pkcs11's names on generation (and key_pairs), and a record of the token calls."""
    monkeypatch.setattr(generation, "pkcs11_errors", types.SimpleNamespace(PKCS11Error=PKCS11Error), raising=False)
    monkeypatch.setattr(generation, "Mechanism", types.SimpleNamespace(RSA_PKCS_KEY_PAIR_GEN=RSA_GEN, EC_KEY_PAIR_GEN=EC_GEN), raising=False)
    calls = {"generate": [], "discard": [], "answers": [], "clean": True}  # type: t.Dict[str, t.Any]

    def generate(_session: t.Any, name: str, key_type: str, *_args: t.Any) -> t.Tuple[str, str]:
        calls["generate"].append((name, key_type))
        answer = calls["answers"].pop(0) if calls["answers"] else None
        if answer is not None:
            raise answer
        return "public", "private"

    def discard(_session: t.Any, key_id: bytes) -> bool:
        calls["discard"].append(key_id)
        return calls["clean"]

    monkeypatch.setattr(generation, "_generate", generate)
    monkeypatch.setattr(generation, "discard", discard)
    return calls


def test_a_refused_sign_only_template_is_retried_once_with_the_token_default_and_remembered(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session()
    # A library that cannot list its mechanisms (nor give their info): the token answers the request itself.
    token._mechanism_facts.update({"mechanisms": None, RSA_GEN: None})
    fake_pkcs11["answers"] = [GeneralError()]
    assert generation.generate(token, "EC", None, "P-256", "izuma:a:next", KEY_ID) == ("public", "private", "token-default")
    assert fake_pkcs11["generate"] == [("sign-only", "EC"), ("token-default", "EC")]
    assert fake_pkcs11["discard"] == [KEY_ID]  # what the refused attempt may have made, by its CKA_ID
    # The next EC key goes straight to the template the token took; an RSA key still asks for sign-only first.
    generation.generate(token, "EC", None, "P-384", "izuma:b:next", KEY_ID)
    generation.generate(token, "RSA", 2048, None, "izuma:c:next", KEY_ID)
    assert fake_pkcs11["generate"][2:] == [("token-default", "EC"), ("sign-only", "RSA")]
    assert token.templates == {"EC": "token-default", "RSA": "sign-only"}


def test_an_error_that_is_not_about_the_template_is_not_retried_and_is_quoted(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session()
    token._mechanism_facts["mechanisms"] = None
    fake_pkcs11["answers"] = [DeviceMemory()]
    with pytest.raises(IzumaPkcs11Error) as caught:
        generation.generate(token, "EC", None, "P-256", "izuma:a:next", KEY_ID)
    assert caught.value.message == (
        "PKCS#11 token 'izuma-tpm' (library libtpm2_pkcs11.so) refused to generate an EC P-256 key pair: CKR_DEVICE_MEMORY "
        "(0x00000031); nothing was left in the token (the library may print the cause on its standard error)")
    assert fake_pkcs11["generate"] == [("sign-only", "EC")] and token.templates == {}


def test_both_templates_refused_names_both_answers(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session()
    token._mechanism_facts.update({"mechanisms": None, RSA_GEN: None})
    fake_pkcs11["answers"] = [GeneralError(), TemplateInconsistent()]
    with pytest.raises(IzumaPkcs11Error) as caught:
        generation.generate(token, "RSA", 3072, None, "izuma:a:next", KEY_ID)
    assert caught.value.message.startswith(
        "PKCS#11 token 'izuma-tpm' (library libtpm2_pkcs11.so) refused to generate an RSA 3072 key pair with the token-default "
        "key template: CKR_TEMPLATE_INCONSISTENT (0x000000D1); it had refused the sign-only template with CKR_GENERAL_ERROR "
        "(0x00000005); nothing was left in the token")
    assert "has room" not in caught.value.message and "check that" not in caught.value.message


def test_a_refused_attempt_that_left_objects_is_not_retried_and_says_what_to_delete(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session()
    token._mechanism_facts["mechanisms"] = None
    fake_pkcs11["answers"], fake_pkcs11["clean"] = [GeneralError()], False
    with pytest.raises(IzumaPkcs11Error, match="objects with CKA_ID 000102030405060708090a0b0c0d0e0f may be left in the token: "
                                               "delete them \\(pkcs11-tool --delete-object --id 000102"):
        generation.generate(token, "EC", None, "P-256", "izuma:a:next", KEY_ID)
    assert fake_pkcs11["generate"] == [("sign-only", "EC")]


def test_a_key_type_without_its_generation_mechanism_is_refused_before_the_token(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session("x", "/opt/vendor/libfoo.so")
    token._mechanism_facts["mechanisms"] = frozenset([RSA_GEN])
    with pytest.raises(IzumaPkcs11Error) as caught:
        generation.generate(token, "EC", None, "P-256", "izuma:a:next", KEY_ID)
    assert caught.value.message == ("PKCS#11 token 'x' (library libfoo.so) cannot generate EC keys: it has no CKM_EC_KEY_PAIR_GEN; "
                                    "use key_type: RSA")
    token._mechanism_facts["mechanisms"] = frozenset()
    with pytest.raises(IzumaPkcs11Error, match="it has no CKM_RSA_PKCS_KEY_PAIR_GEN; use another PKCS#11 token: this one can "
                                               "generate neither RSA nor EC key pairs"):
        generation.generate(token, "RSA", 2048, None, "izuma:a:next", KEY_ID)
    assert fake_pkcs11["generate"] == []


def test_an_rsa_size_outside_the_mechanism_info_is_refused_naming_the_sizes_it_makes(fake_pkcs11: t.Dict[str, t.Any]) -> None:
    token = make_session()
    token._mechanism_facts.update({"mechanisms": frozenset([RSA_GEN, EC_GEN]),
                                   RSA_GEN: types.SimpleNamespace(min_key_length=1024, max_key_length=3072)})
    with pytest.raises(IzumaPkcs11Error) as caught:
        generation.generate(token, "RSA", 4096, None, "izuma:a:next", KEY_ID)
    assert caught.value.message == ("PKCS#11 token 'izuma-tpm' (library libtpm2_pkcs11.so) cannot generate RSA 4096 keys: its "
                                    "CKM_RSA_PKCS_KEY_PAIR_GEN makes RSA keys of 1024 to 3072 bits; use key_size: 2048 or 3072")
    token._mechanism_facts[RSA_GEN] = types.SimpleNamespace(min_key_length=512, max_key_length=1024)
    with pytest.raises(IzumaPkcs11Error, match="512 to 1024 bits; use key_type: EC"):
        generation.generate(token, "RSA", 2048, None, "izuma:a:next", KEY_ID)
    assert generation.generate(token, "EC", None, "P-256", "izuma:a:next", KEY_ID)[2] == "sign-only"


# ---------------------------------------------------------------------------
# Relabelling, read back in another session
# ---------------------------------------------------------------------------

Attribute = types.SimpleNamespace(CLASS="class", LABEL="label", ID="id")
ObjectClass = types.SimpleNamespace(PRIVATE_KEY="private", PUBLIC_KEY="public")


class KeyObject:
    """A key object: the label this session sees, and the one the token keeps (what another session reads)."""

    def __init__(self, token: "Token", object_class: str, label: str) -> None:
        self.token, self.object_class, self.label, self.kept, self.id = token, object_class, label, label, KEY_ID

    def __setitem__(self, attribute: str, value: str) -> None:
        assert attribute == "label"
        self.label = value
        if self.token.keeps_labels:
            self.kept = value


class Session:
    def __init__(self, token: "Token", other: bool = False) -> None:
        self.token, self.other = token, other

    def get_objects(self, template: t.Dict[str, t.Any]) -> t.List[t.Any]:
        wanted = {"class": "object_class", "label": "kept" if self.other else "label", "id": "id"}
        found = [obj for obj in self.token.objects if all(getattr(obj, wanted[key]) == value for key, value in template.items())]
        # Another session reads what the token kept.
        return [types.SimpleNamespace(label=obj.kept, id=obj.id) for obj in found] if self.other else found

    def close(self) -> None:
        self.token.closed += 1


class Token:
    def __init__(self, keeps_labels: bool) -> None:
        self.label, self.keeps_labels, self.closed = "hw-token", keeps_labels, 0
        self.objects = [KeyObject(self, "private", "izuma:k:next"), KeyObject(self, "public", "izuma:k:next")]

    def open(self) -> Session:
        return Session(self, other=True)


@pytest.fixture()
def token_pair(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[bool], key_pairs.KeyPair]:
    monkeypatch.setattr(key_pairs, "Attribute", Attribute, raising=False)
    monkeypatch.setattr(key_pairs, "ObjectClass", ObjectClass, raising=False)
    monkeypatch.setattr(key_pairs, "pkcs11_errors", types.SimpleNamespace(PKCS11Error=PKCS11Error), raising=False)

    def make(keeps_labels: bool) -> key_pairs.KeyPair:
        token = Token(keeps_labels)
        entry = session.Pkcs11Session("/usr/lib/libvendor-p11.so", session.token_ref("hw-token"), token, Session(token), "d")
        return key_pairs.KeyPair(entry, token.objects[0], token.objects[1])
    return make


def test_a_relabel_that_sticks_is_read_back_in_another_session(token_pair: t.Callable[[bool], key_pairs.KeyPair]) -> None:
    pair = token_pair(True)
    key_pairs.relabel_key_pair(pair, "izuma:k:current")
    assert pair.label == "izuma:k:current" and pair.session.token.closed == 1
    assert [obj.kept for obj in pair.session.token.objects] == ["izuma:k:current", "izuma:k:current"]


def test_a_relabel_the_token_does_not_keep_fails_clearly_and_the_pair_keeps_its_old_label(
        token_pair: t.Callable[[bool], key_pairs.KeyPair]) -> None:
    pair = token_pair(False)
    with pytest.raises(IzumaPkcs11Error) as caught:
        key_pairs.relabel_key_pair(pair, "izuma:k:current")
    assert caught.value.message == (
        "PKCS#11 token 'hw-token' (library libvendor-p11.so) accepted the label 'izuma:k:current' for the key 'izuma:k:next' but "
        "did not keep it (another session reads 'izuma:k:next'): the key keeps its old label 'izuma:k:next', so nothing is lost; "
        "this token cannot rotate keys by relabelling them")
    # Nothing lost: the old label is written back, so this session and any other find the pair by it.
    assert pair.label == "izuma:k:next"
    assert [(obj.label, obj.kept) for obj in pair.session.token.objects] == [("izuma:k:next", "izuma:k:next")] * 2
    assert key_pairs.find_key_pair(pair.session, "izuma:k:next") is not None
