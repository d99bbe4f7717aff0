# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which credential authenticates when several reach the client (issue 19, item 5), every combination.

The choice the task spells out (its arguments or module_defaults) wins over one from the environment; at the same
level the access key wins over JWT authentication; of two keys for the JWT, the task's wins over the environment's,
and two at the same level are refused. Whatever is set aside is named in a warning (its option or its variable),
never by its value.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._auth import AccessKeyAuth, JwtAuth, authentication
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError

HOST = "http://127.0.0.1:8080"
ACCESS_KEY = "ak_" + "5" * 32
APP = "0123456789abcdef0123456789abcdef"
# The environment variable of each option (the module's argument spec and the doc fragment).
VARIABLES = {"api_key": "IZUMA_API_KEY", "auth_application_id": "IZUMA_APPLICATION_ID",
             "auth_private_key_path": "IZUMA_PRIVATE_KEY_PATH", "auth_private_key_content": "IZUMA_PRIVATE_KEY"}
# Short names for the table below.
VALUES = {"key": ("api_key", ACCESS_KEY), "app": ("auth_application_id", APP), "path": ("auth_private_key_path", "/keys/app.pem"),
          "content": ("auth_private_key_content", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
          "label": ("auth_pkcs11_key_label", "izuma:automation:current")}


def configure(task: str, env: str, **more: Any) -> ClientConfig:
    """A configuration from the short names the task gives and those the environment gives (as a module sees them)."""
    values: Dict[str, Any] = {"api_host": HOST}
    if "label" in task.split():
        values["auth_pkcs11_library"] = "/usr/lib/softhsm/libsofthsm2.so"
    sources = {}
    for where, names in (("task", task), ("env", env)):
        for short in names.split():
            option, value = VALUES[short]
            values[option] = value
            if where == "env":
                sources[option] = VARIABLES[option]
    values.update(more)
    return ClientConfig.from_options(values.get, sources=sources)


def used(config: ClientConfig) -> List[str]:
    """The credential options the configuration kept (short names)."""
    return [short for short, (option, _value) in VALUES.items() if getattr(config, option)]


# (task, environment, method, the options kept, words of the one warning or None)
CASES = [
    # One credential: nothing to settle, nothing said.
    ("key", "", "access_key", ["key"], None),
    ("", "key", "access_key", ["key"], None),
    ("app label", "", "jwt", ["app", "label"], None),
    ("", "app path", "jwt", ["app", "path"], None),
    ("app", "path", "jwt", ["app", "path"], None),
    # The task's JWT authentication wins over the environment's access key.
    ("app label", "key", "jwt", ["app", "label"],
     "IZUMA_API_KEY is set in the environment but not used: the task asks for JWT authentication (auth_application_id and "
     "auth_pkcs11_key_label)"),
    ("app path", "key", "jwt", ["app", "path"], "IZUMA_API_KEY is set in the environment but not used"),
    ("app content", "key", "jwt", ["app", "content"], "IZUMA_API_KEY is set in the environment but not used"),
    ("label", "key app", "jwt", ["app", "label"], "JWT authentication (IZUMA_APPLICATION_ID and auth_pkcs11_key_label)"),
    ("app", "key path", "jwt", ["app", "path"], "JWT authentication (auth_application_id and IZUMA_PRIVATE_KEY_PATH)"),
    # The task's access key wins over JWT options from the environment (a whole JWT configuration is named).
    ("key", "app path", "access_key", ["key"],
     "IZUMA_APPLICATION_ID and IZUMA_PRIVATE_KEY_PATH are set in the environment but not used: the task gives api_key"),
    ("key", "app content", "access_key", ["key"], "IZUMA_APPLICATION_ID and IZUMA_PRIVATE_KEY are set in the environment"),
    ("key", "app", "access_key", ["key"], None),
    ("key", "path", "access_key", ["key"], None),
    # Both in the task: the access key wins, and the JWT options are named.
    ("key app label", "", "access_key", ["key"],
     "auth_application_id and auth_pkcs11_key_label are not used: the task gives api_key too, and an access key wins"),
    ("key app path", "", "access_key", ["key"], "auth_application_id and auth_private_key_path are not used"),
    ("key label", "", "access_key", ["key"], "auth_pkcs11_key_label is not used: the task gives api_key too"),
    ("key label", "app", "access_key", ["key"], "IZUMA_APPLICATION_ID and auth_pkcs11_key_label are not used: the task gives api_key too"),
    # Both from the environment: the access key wins, and the variables are named.
    ("", "key app path", "access_key", ["key"],
     "IZUMA_APPLICATION_ID and IZUMA_PRIVATE_KEY_PATH are set in the environment but not used: IZUMA_API_KEY is set too"),
    ("", "key app content", "access_key", ["key"], "IZUMA_APPLICATION_ID and IZUMA_PRIVATE_KEY are set in the environment"),
    ("", "key app", "access_key", ["key"], None),
    # Two keys for the JWT: the task's wins over the environment's.
    ("app label", "path", "jwt", ["app", "label"],
     "IZUMA_PRIVATE_KEY_PATH is set in the environment but not used: the task gives auth_pkcs11_key_label"),
    ("app path", "content", "jwt", ["app", "path"], "IZUMA_PRIVATE_KEY is set in the environment but not used"),
    ("app label", "path content", "jwt", ["app", "label"], "IZUMA_PRIVATE_KEY_PATH and IZUMA_PRIVATE_KEY are set in the environment"),
]


@pytest.mark.parametrize("task, env, method, kept, words", CASES)
def test_the_credential_that_authenticates(task: str, env: str, method: str, kept: List[str], words: Optional[str]) -> None:
    config = configure(task, env)
    assert config.auth_method == method
    assert used(config) == kept
    assert isinstance(authentication(config), AccessKeyAuth if method == "access_key" else JwtAuth)
    warnings = config.warnings()
    if words is None:
        assert warnings == []
    else:
        [warning] = warnings
        assert words in warning, warning
    for warning in warnings:
        for _option, value in VALUES.values():
            assert value not in warning


def test_both_kinds_of_note_when_the_task_wins_twice() -> None:
    config = configure("app label", "key path")
    assert config.auth_method == "jwt" and used(config) == ["app", "label"]
    first, second = config.warnings()
    # The first names the options that authenticate, not the key from the environment that the second sets aside.
    assert first.startswith("IZUMA_API_KEY is set in the environment but not used: the task asks for JWT authentication "
                            "(auth_application_id and auth_pkcs11_key_label), which wins")
    assert second.startswith("IZUMA_PRIVATE_KEY_PATH is set in the environment but not used")


def test_an_ignored_access_key_is_never_checked_nor_quoted() -> None:
    # Used, it is refused (without being quoted) ...
    with pytest.raises(IzumaConfigError, match="ak_") as info:
        ClientConfig.from_options({"api_host": HOST, "api_key": "not-an-access-key-4711"}.get)
    assert "not-an-access-key-4711" not in str(info.value)
    # ... set aside, it is neither checked nor named by its value.
    values = {"api_host": HOST, "api_key": "not-an-access-key-4711", "auth_application_id": APP, "auth_private_key_path": "/k.pem"}
    config = ClientConfig.from_options(values.get, sources={"api_key": "IZUMA_API_KEY"})
    assert config.auth_method == "jwt" and config.api_key is None
    assert "not-an-access-key-4711" not in " ".join(config.warnings())


def test_an_empty_access_key_from_the_environment_is_no_access_key() -> None:
    """AWX injects '' for an input a credential leaves empty: nothing is set aside, nothing said."""
    values = {"api_host": HOST, "api_key": "", "auth_application_id": APP, "auth_pkcs11_key_label": "izuma:a:current",
              "auth_pkcs11_library": "/lib.so"}
    config = ClientConfig.from_options(values.get, sources={"api_key": "IZUMA_API_KEY"})
    assert config.auth_method == "jwt" and config.warnings() == []


@pytest.mark.parametrize("task, env, words", [
    ("label", "key", "auth_pkcs11_key_label is given but auth_application_id is not"),
    ("path", "key", "auth_private_key_path is given but auth_application_id is not"),
    ("app", "key", "auth_application_id is given but no key to sign the JWT"),
])
def test_a_partial_jwt_in_the_task_is_refused_rather_than_replaced_by_the_environments_access_key(task: str, env: str, words: str) -> None:
    with pytest.raises(IzumaConfigError) as info:
        configure(task, env)
    message = str(info.value)
    assert words in message and "IZUMA_API_KEY in the environment is not used in its place" in message
    assert ACCESS_KEY not in message


@pytest.mark.parametrize("task, env, words", [
    ("app path label", "", "auth_private_key_path and auth_pkcs11_key_label were given"),
    ("app", "path content", "auth_private_key_path (IZUMA_PRIVATE_KEY_PATH) and auth_private_key_content (IZUMA_PRIVATE_KEY) were given"),
    ("app path", "key content", None),
])
def test_two_keys_at_the_same_level_are_refused_naming_where_they_came_from(task: str, env: str, words: Optional[str]) -> None:
    if words is None:
        # A task key beside an environment key is settled, not refused.
        assert configure(task, env).auth_private_key_content is None
        return
    with pytest.raises(IzumaConfigError) as info:
        configure(task, env)
    assert "Give one of auth_private_key_path, auth_private_key_content and auth_pkcs11_key_label: " + words in str(info.value)


def test_the_notes_come_before_the_tls_warning() -> None:
    config = configure("app label", "key", validate_certs=False)
    notes = config.warnings()
    assert len(notes) == 2 and notes[0].startswith("IZUMA_API_KEY") and notes[1].startswith("TLS certificate verification is off")
