# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API client's JWT authentication with a key in a PKCS#11 token: the auth_pkcs11_* options, checked without a token.

Signing in a token (SoftHSM2) and the emulator accepting the client's tokens are tested in tests/pkcs11.
"""

from __future__ import annotations

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _tasks
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11.options import OPTION_NAMES

APPLICATION_ID = "0123456789abcdef0123456789abcdef"
PIN = "4711-secret"


@pytest.fixture(autouse=True)
def no_token_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IZUMA_PKCS11_LIBRARY", "IZUMA_PKCS11_TOKEN", "IZUMA_PKCS11_SERIAL", "IZUMA_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)


def config(**values: str) -> ClientConfig:
    return ClientConfig.from_options(dict(api_host="http://127.0.0.1:8080", **values).get)


def test_a_token_key_label_means_jwt_authentication_with_that_key() -> None:
    cfg = config(auth_application_id=APPLICATION_ID, auth_pkcs11_key_label="izuma:automation:current",
                 auth_pkcs11_library="/usr/lib/softhsm/libsofthsm2.so", auth_pkcs11_token="izuma", auth_pkcs11_pin=PIN)
    assert cfg.auth_method == "jwt"
    source = cfg.pkcs11_source()
    assert (source.library, source.token, source.label, source.pin) == ("/usr/lib/softhsm/libsofthsm2.so", "izuma",
                                                                        "izuma:automation:current", PIN)
    assert PIN not in repr(cfg) and PIN not in repr(source)


def test_refusals_name_the_option() -> None:
    with pytest.raises(IzumaConfigError, match="set auth_pkcs11_library or the IZUMA_PKCS11_LIBRARY environment variable"):
        config(auth_application_id=APPLICATION_ID, auth_pkcs11_key_label="izuma:automation:current")
    with pytest.raises(IzumaConfigError, match="auth_private_key_path and auth_pkcs11_key_label were given"):
        config(auth_application_id=APPLICATION_ID, auth_pkcs11_key_label="k", auth_private_key_path="/k.pem",
               auth_pkcs11_library="/lib/p11.so")
    with pytest.raises(IzumaConfigError, match="auth_pkcs11_token given without auth_pkcs11_key_label"):
        config(auth_application_id=APPLICATION_ID, auth_private_key_path="/k.pem", auth_pkcs11_token="izuma")
    with pytest.raises(IzumaConfigError, match="auth_pkcs11_key_label \\(a key in a PKCS#11 token\\)"):
        config(auth_pkcs11_key_label="izuma:automation:current", auth_pkcs11_library="/lib/p11.so")


def test_a_token_in_the_environment_alone_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # An AWX credential of the PKCS#11 type injects these for every task; a module's argument spec copies them in.
    monkeypatch.setenv("IZUMA_PKCS11_TOKEN", "izuma")
    monkeypatch.setenv("IZUMA_PKCS11_PIN", PIN)
    cfg = config(auth_application_id=APPLICATION_ID, auth_private_key_path="/k.pem", auth_pkcs11_token="izuma", auth_pkcs11_pin=PIN)
    assert cfg.auth_method == "jwt" and cfg.pkcs11_source() is None


def test_the_module_options_are_the_shared_ones_with_the_auth_prefix() -> None:
    spec = _tasks.connection_argument_spec()
    names = {"auth_" + name for name in OPTION_NAMES}
    assert names <= set(spec) and names <= set(ClientConfig.OPTION_NAMES)
    assert spec["auth_pkcs11_pin"]["no_log"] is True
    assert spec["auth_pkcs11_pin"]["fallback"][1] == ["IZUMA_PKCS11_PIN"]
