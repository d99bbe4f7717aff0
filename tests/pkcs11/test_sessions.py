# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token selection (label, serial, RFC 7512 URI), PIN handling and the one-login-per-process session cache."""

from __future__ import annotations

import re
import textwrap
import urllib.parse

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.session import IzumaPkcs11Error

from conftest import run_python


def test_uri_attributes_are_decoded() -> None:
    ref = _pkcs11.parse_uri("pkcs11:token=izuma%20keys;serial=0a1b;object=izuma%3Aapp%3Acurrent;id=%01%ff;type=private"
                            "?module-path=/usr/lib/softhsm/libsofthsm2.so")
    assert (ref.label, ref.serial, ref.object_label, ref.object_id, ref.object_type) == (
        "izuma keys", "0a1b", "izuma:app:current", b"\x01\xff", "private")
    assert ref.module_path == "/usr/lib/softhsm/libsofthsm2.so" and ref.pin is None


def test_uri_pin_value_is_refused_without_quoting_it() -> None:
    with pytest.raises(IzumaPkcs11Error) as caught:
        _pkcs11.parse_uri("pkcs11:token=izuma?pin-value=s3cret-4711")
    assert "pkcs11_pin" in caught.value.message and "IZUMA_PKCS11_PIN" in caught.value.message
    assert "s3cret" not in caught.value.message


def test_uri_pin_value_when_explicitly_allowed() -> None:
    ref = _pkcs11.parse_uri("pkcs11:token=izuma?pin-value=1234", allow_pin_value=True)
    assert _pkcs11.resolve_pin(None, ref, environ={}) == "1234"


@pytest.mark.parametrize("uri, fragment", [
    ("izuma", "must start with 'pkcs11:'"),
    ("pkcs11:token=a;slot-id=3", "'slot-id' is not supported"),
    ("pkcs11:token=a;token=b", "twice"),
    ("pkcs11:token", "has no value"),
    ("pkcs11:token=a;type=secret-key", "type 'secret-key' is not supported"),
    ("pkcs11:token=a?pin-source=file:/pin", "'pin-source' is not supported"),
])
def test_bad_uris_are_refused(uri: str, fragment: str) -> None:
    with pytest.raises(IzumaPkcs11Error, match=fragment):
        _pkcs11.parse_uri(uri)


def test_token_option_may_carry_a_uri_but_not_both() -> None:
    assert _pkcs11.token_ref("pkcs11:token=x").label == "x"
    with pytest.raises(IzumaPkcs11Error, match="not both"):
        _pkcs11.token_ref(serial="1", uri="pkcs11:token=x")


def test_pin_comes_from_the_option_then_the_environment() -> None:
    assert _pkcs11.resolve_pin("1111", environ={"IZUMA_PKCS11_PIN": "2222"}) == "1111"
    assert _pkcs11.resolve_pin(None, environ={"IZUMA_PKCS11_PIN": "2222"}) == "2222"
    with pytest.raises(IzumaPkcs11Error, match="pkcs11_pin option .* IZUMA_PKCS11_PIN"):
        _pkcs11.resolve_pin(None, environ={})


@pytest.mark.hsm_where(second_token=True)
def test_label_serial_and_uri_reach_the_same_login(hsm) -> None:
    by_label = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin)
    logins = _pkcs11.STATS["logins"]
    uri = "pkcs11:token=%s;serial=%s" % (urllib.parse.quote(hsm.label), hsm.serial)
    assert _pkcs11.open_session(hsm.module, _pkcs11.token_ref(uri=uri), hsm.pin) is by_label
    if hsm.serials_unique:
        by_serial = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(serial=hsm.serial), hsm.pin)
        by_uri = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(uri="pkcs11:serial=%s" % hsm.serial), hsm.pin)
        assert by_label is by_serial is by_uri
    else:
        # tpm2-pkcs11 gives every token the serial 0000000000000000: a serial alone names several tokens.
        with pytest.raises(IzumaPkcs11Error, match="serial '%s' matches 2 tokens" % re.escape(hsm.serial)):
            _pkcs11.open_session(hsm.module, _pkcs11.token_ref(serial=hsm.serial), hsm.pin)
    assert _pkcs11.STATS["logins"] == logins
    other = _pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.other_label), hsm.pin)
    assert other.token_label == hsm.other_label and other is not by_label


def test_missing_token_and_library_are_named(hsm) -> None:
    with pytest.raises(IzumaPkcs11Error, match="label 'nope' was not found") as caught:
        _pkcs11.open_session(hsm.module, _pkcs11.token_ref("nope"), hsm.pin)
    if hsm.name == "softhsm2":
        assert "SOFTHSM2_CONF" in caught.value.message
    with pytest.raises(IzumaPkcs11Error, match="/nonexistent/libx.so does not exist"):
        _pkcs11.open_session("/nonexistent/libx.so", _pkcs11.token_ref(hsm.label), hsm.pin)


def test_wrong_pin_is_refused_clearly_and_changes_nothing(hsm) -> None:
    # In a process of its own: the refusal must not depend on (or disturb) this process's logged-in session.
    code = textwrap.dedent("""
        import os
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        module, ref = os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(os.environ["IZUMA_TEST_TOKEN"])
        try:
            _pkcs11.open_session(module, ref, "wrong-pin-0000")
        except _pkcs11.IzumaPkcs11Error as exc:
            print("REFUSED", exc.message)
        print("LOGINS", _pkcs11.STATS["logins"])
        session = _pkcs11.open_session(module, ref, os.environ["IZUMA_TEST_PIN"])
        print("OBJECTS", len(list(session.session.get_objects())))
    """)
    before = len(list(_pkcs11.open_session(hsm.module, _pkcs11.token_ref(hsm.label), hsm.pin).session.get_objects()))
    lines = dict(line.split(" ", 1) for line in run_python(code, hsm).splitlines())
    assert "the PIN for the PKCS#11 token with label '%s' is wrong" % hsm.label in lines["REFUSED"]
    assert "pkcs11_pin" in lines["REFUSED"] and "nothing was changed" in lines["REFUSED"]
    assert "wrong-pin" not in lines["REFUSED"]
    assert lines["LOGINS"] == "0"
    assert int(lines["OBJECTS"]) == before


def test_one_login_per_process_across_many_signatures(hsm) -> None:
    # What a lookup templated many times does: resolve the session and the key on every call, sign every time.
    code = textwrap.dedent("""
        import os, jwt
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
        from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
        module = os.environ["IZUMA_TEST_MODULE"]
        label = _pkcs11_keys.key_label("login-count")
        session = _pkcs11.open_session(module, _pkcs11.token_ref(os.environ["IZUMA_TEST_TOKEN"]), os.environ["IZUMA_TEST_PIN"])
        _pkcs11_keys.destroy_key_pair(session, label)
        public = _pkcs11_keys.generate_key_pair(session, label, "EC", curve="P-256").public_key()
        for number in range(50):
            session = _pkcs11.open_session(module, _pkcs11.token_ref(uri=%r), os.environ["IZUMA_TEST_PIN"])
            key = _pkcs11_signing.private_key(_pkcs11_keys.find_key_pair(session, label))
            token = _tokens.sign_token(key, "ES256", subject="host-%%d" %% number)
            assert jwt.decode(token, public, algorithms=["ES256"])["sub"] == "host-%%d" %% number
        _pkcs11_keys.destroy_key_pair(session, label)
        print(_pkcs11.STATS["logins"], _pkcs11.STATS["library_loads"])
    """ % ("pkcs11:token=" + urllib.parse.quote(hsm.label)))
    assert run_python(code, hsm).split() == ["1", "1"]


@pytest.mark.hsm_where(fork_safe=True)
def test_a_forked_child_logs_in_once_itself(hsm) -> None:
    # Ansible forks its workers: a child must not use the parent's session handles, and the parent keeps working.
    # Not with tpm2-pkcs11: its D-Bus connection to tpm2-abrmd does not survive fork (implementations.Profile.fork_safe).
    code = textwrap.dedent("""
        import os
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        module, ref, pin = os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(os.environ["IZUMA_TEST_TOKEN"]), os.environ["IZUMA_TEST_PIN"]
        absent = _pkcs11_keys.key_label("fork-absent")
        parent = _pkcs11.open_session(module, ref, pin)
        _pkcs11_keys.find_key_pair(parent, absent)
        pid = os.fork()
        if pid == 0:
            child = _pkcs11.open_session(module, ref, pin)
            _pkcs11_keys.find_key_pair(_pkcs11.open_session(module, ref, pin), absent)
            os._exit(0 if child is not parent and _pkcs11.STATS["logins"] == 2 else 3)
        _pid, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), _pkcs11.open_session(module, ref, pin) is parent, _pkcs11_keys.find_key_pair(parent, absent) is None)
    """)
    assert run_python(code, hsm).split() == ["0", "True", "True"]


def test_another_pin_for_the_same_token_is_checked_by_the_token(hsm) -> None:
    # A second PIN must not ride on the first login: the token checks it (and refuses it here).
    code = textwrap.dedent("""
        import os
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        module, ref = os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref(os.environ["IZUMA_TEST_TOKEN"])
        _pkcs11.open_session(module, ref, os.environ["IZUMA_TEST_PIN"])
        try:
            _pkcs11.open_session(module, ref, "another-pin")
            print("ACCEPTED")
        except _pkcs11.IzumaPkcs11Error as exc:
            print("REFUSED" if "is wrong" in exc.message else exc.message)
    """)
    assert run_python(code, hsm).strip() == "REFUSED"


def test_labels_of_the_three_generations_are_distinct() -> None:
    labels = [_pkcs11_keys.key_label("jwt-signer", generation) for generation in _pkcs11_keys.GENERATIONS]
    assert labels == ["izuma:jwt-signer:current", "izuma:jwt-signer:next", "izuma:jwt-signer:previous"]
    long_a, long_b = "a" * 90 + "1", "a" * 90 + "2"
    for generation in _pkcs11_keys.GENERATIONS:
        label_a, label_b = _pkcs11_keys.key_label(long_a, generation), _pkcs11_keys.key_label(long_b, generation)
        assert label_a != label_b and len(label_a) <= 64 and label_a.endswith(":" + generation)
    with pytest.raises(IzumaPkcs11Error, match="generation 'older'"):
        _pkcs11_keys.key_label("x", "older")


def test_a_pin_allowed_in_a_uri_stays_out_of_the_reference_repr() -> None:
    ref = _pkcs11.parse_uri("pkcs11:token=izuma?pin-value=9876", allow_pin_value=True)
    assert "9876" not in repr(ref) and "izuma" in repr(ref)


def test_without_python_pkcs11_the_modules_import_and_say_what_to_install(hsm) -> None:
    code = textwrap.dedent("""
        import os, sys
        sys.modules["pkcs11"] = None  # as if python-pkcs11 were not installed
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import session as _pkcs11
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
        from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
        try:
            _pkcs11.open_session(os.environ["IZUMA_TEST_MODULE"], _pkcs11.token_ref("x"), "pin")
        except _pkcs11.IzumaPkcs11Error as exc:
            print(_pkcs11.HAS_PKCS11, exc.message)
    """)
    assert run_python(code, hsm).strip() == "False " + _pkcs11.PKCS11_MISSING_MESSAGE
    assert "pip install 'python-pkcs11>=0.10'" in _pkcs11.PKCS11_MISSING_MESSAGE
