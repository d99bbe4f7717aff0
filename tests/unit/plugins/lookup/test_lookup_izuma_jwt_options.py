# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The izuma_jwt lookup's options, loaded by Ansible's plugin loader and resolved by its set_options.

Precedence (a keyword argument, then the last defined of an option's variables, then the environment, ansible.cfg,
the default; a None argument is no argument), conversion to each option's documented type, and Ansible's errors for a
bad value, seen in the tokens the lookup signs. ansible.cfg as a source is covered by the izuma_jwt integration target
(lookup_sources.yml).
"""

from __future__ import annotations

import typing as t

import jwt
import pytest

from ansible.errors import AnsibleOptionsError

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin as jwt_plugin
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import make_lookup, private_key, write_key

ENVIRONMENT = ("IZUMA_PRIVATE_KEY_PATH", "IZUMA_PRIVATE_KEY", "IZUMA_PRIVATE_KEY_PASSPHRASE", "IZUMA_JWT_ALGORITHM", "IZUMA_JWT_LIFETIME",
               "IZUMA_JWT_MAX_LIFETIME", "IZUMA_JWT_ISSUER", "IZUMA_JWT_AUDIENCE", "IZUMA_JWT_NOT_BEFORE_SKEW", "IZUMA_JWT_REUSE_TOKENS")


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty process caches, and no IZUMA_* variables from the calling shell."""
    key_source.SIGNING_KEY_CACHE.clear()
    jwt_plugin.TOKEN_CACHE.clear()
    jwt_plugin.CALL_CACHE.clear()
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key_path(tmp_path: t.Any) -> str:
    return write_key(tmp_path / "signing.key", private_key("P-256"))


def claims_of(token: str) -> t.Dict[str, t.Any]:
    return jwt.decode(token, private_key("P-256").public_key(), algorithms=["ES256"], options={"verify_aud": False})


def signed(variables: t.Dict[str, t.Any], key_path: str, **direct: t.Any) -> t.Dict[str, t.Any]:
    """The claims of the token the lookup signs for these variables and keyword arguments."""
    return claims_of(make_lookup().run([], dict(variables, izuma_jwt_private_key_path=key_path), **direct)[0])


def lifetime(claims: t.Mapping[str, t.Any]) -> int:
    return claims["exp"] - claims["iat"]


def test_defaults_variables_and_arguments(key_path: str) -> None:
    claims = signed({}, key_path)
    assert lifetime(claims) == 600 and "iss" not in claims
    # A variable given as a string is converted to the option's type; a keyword argument sets another option.
    claims = signed({"izuma_jwt_lifetime": "60"}, key_path, issuer="me")
    assert lifetime(claims) == 60 and claims["iss"] == "me"
    claims = signed({"izuma_jwt_claims": {"a": 1}}, key_path, lifetime=5)
    assert lifetime(claims) == 5 and claims["a"] == 1


def test_precedence_direct_then_variables_then_environment(key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IZUMA_JWT_LIFETIME", "30")
    assert lifetime(signed({}, key_path)) == 30
    assert lifetime(signed({"izuma_jwt_lifetime": "45"}, key_path)) == 45
    assert lifetime(signed({"izuma_jwt_lifetime": 45}, key_path, lifetime="15")) == 15
    # A None argument is no argument, as for Ansible.
    assert lifetime(signed({}, key_path, lifetime=None)) == 30
    # A variable set to None is not defined: the environment applies.
    assert lifetime(signed({"izuma_jwt_lifetime": None}, key_path)) == 30


def test_the_environment_is_read_on_each_call(key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ansible's set_options reads the environment on every call; the cache of whole calls keys the resolved options.
    lookup = make_lookup()
    monkeypatch.setenv("IZUMA_JWT_ISSUER", "first")
    assert claims_of(lookup.run([], {}, private_key_path=key_path)[0])["iss"] == "first"
    monkeypatch.setenv("IZUMA_JWT_ISSUER", "second")
    assert claims_of(lookup.run([], {}, private_key_path=key_path)[0])["iss"] == "second"


def test_option_variables_and_bad_values(key_path: str) -> None:
    lookup = make_lookup()
    variables = {"izuma_jwt_private_key_path": key_path, "izuma_jwt_lifetime": 70, "izuma_jwt_reuse_tokens": False}
    first, second = (claims_of(lookup.run([], variables, random_jwt_id=True)[0]) for _call in range(2))
    assert lifetime(first) == lifetime(second) == 70 and first["jti"] != second["jti"]
    with pytest.raises(AnsibleOptionsError, match=r"'lifetime'.* from 'Direct' has an invalid value"):
        lookup.run([], {}, private_key_path=key_path, lifetime="soon")
    with pytest.raises(AnsibleOptionsError, match=r"'lifetime'.* from 'var: izuma_jwt_lifetime' has an invalid value"):
        lookup.run([], {"izuma_jwt_lifetime": "soon"}, private_key_path=key_path)


def test_values_are_converted_to_their_option_types(key_path: str) -> None:
    lookup = make_lookup()
    # Values of the option's type as they are.
    variables = {"izuma_jwt_reuse_tokens": False, "izuma_jwt_claims": {"a": [1]}}  # type: t.Dict[str, t.Any]
    token = lookup.run([], variables, private_key_path=key_path, lifetime=30, audience=["x"], subject="s")[0]
    claims = claims_of(token)
    assert (lifetime(claims), claims["aud"], claims["sub"], claims["a"]) == (30, "x", "s", [1])
    assert lookup.get_option("reuse_tokens") is False
    # Others converted: "no" and "yes" to booleans, 40.0 and True to integers, "x,y" to a list.
    variables = {"izuma_jwt_reuse_tokens": "no", "izuma_jwt_lifetime": 40.0}
    claims = claims_of(lookup.run([], variables, private_key_path=key_path, audience="x,y", random_jwt_id="yes")[0])
    assert lifetime(claims) == 40 and claims["aud"] == ["x", "y"] and claims["jti"]
    assert lookup.get_option("reuse_tokens") is False and lookup.get_option("random_jwt_id") is True
    claims = claims_of(lookup.run([], variables, private_key_path=key_path, lifetime=True)[0])
    assert lifetime(claims) == 1
