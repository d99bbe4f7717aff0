# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX injects every environment variable of a credential type, with '' for inputs left empty: '' means not set."""

from __future__ import annotations

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import DEFAULT_HOST, ClientConfig

APPLICATION_ID = "0123456789abcdef0123456789abcdef"


def test_empty_access_key_from_a_jwt_credential_means_jwt_authentication() -> None:
    values = dict(api_host="http://127.0.0.1:8080", api_key="", auth_application_id=APPLICATION_ID,
                  auth_private_key_path="/runner/env/tmpkey", auth_private_key_content="", auth_private_key_passphrase="")
    config = ClientConfig.from_options(values.get)
    assert config.auth_method == "jwt"
    assert config.api_key is None


def test_empty_application_id_from_an_access_key_credential_means_access_key_authentication() -> None:
    values = dict(api_host="", api_key="ak_" + "0" * 32, auth_application_id="", auth_private_key_path="")
    config = ClientConfig.from_options(values.get)
    assert config.auth_method == "access_key"
    assert config.api_host == DEFAULT_HOST
