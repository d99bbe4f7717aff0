# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the jwt_claims and jwt_seconds_left filters."""

from __future__ import annotations

import os
import typing as t

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.filter import jwt_claims as jwt_filters
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import assert_no_secret, private_key

NOW = 1795885200  # 2026-11-28T17:00:00Z
TOKEN = tokens.sign_token(private_key("P-256"), lifetime=600, subject="dev-1", now=NOW, key_id=True)


def test_filters_are_registered() -> None:
    assert set(jwt_filters.FilterModule().filters()) == {"jwt_claims", "jwt_seconds_left"}


def test_jwt_claims() -> None:
    assert jwt_filters.jwt_claims(TOKEN) == {"iat": NOW, "exp": NOW + 600, "sub": "dev-1"}
    both = jwt_filters.jwt_claims(TOKEN, header=True)
    assert both["claims"]["sub"] == "dev-1"
    assert both["header"]["alg"] == "ES256" and len(both["header"]["kid"]) == 32
    assert jwt_filters.jwt_claims(TOKEN.encode() + b"\n")["sub"] == "dev-1"


def test_jwt_claims_does_not_verify() -> None:
    forged = TOKEN.rsplit(".", 1)[0] + ".AAAA"
    assert jwt_filters.jwt_claims(forged)["sub"] == "dev-1"


@pytest.mark.parametrize("bad, message", [
    ("not-a-token", "three base64url parts"),
    ("a.b.c", "not a well-formed JWT"),
    (42, "expected a token (a string), got int"),
])
def test_jwt_claims_errors_do_not_quote_the_input(bad: t.Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as info:
        jwt_filters.jwt_claims(bad)
    assert message in str(info.value)


def test_errors_never_quote_a_token() -> None:
    damaged = TOKEN[:-1] + "." + TOKEN[-1]
    with pytest.raises(AnsibleFilterError) as info:
        jwt_filters.jwt_claims(damaged)
    assert_no_secret(str(info.value), damaged)


def test_jwt_seconds_left() -> None:
    assert jwt_filters.jwt_seconds_left(TOKEN, NOW) == 600
    assert jwt_filters.jwt_seconds_left(TOKEN, NOW + 600.5) == -1
    assert jwt_filters.jwt_seconds_left(jwt_filters.jwt_claims(TOKEN), NOW + 100) == 500
    assert jwt_filters.jwt_seconds_left(jwt_filters.jwt_claims(TOKEN, header=True), NOW + 100) == 500
    fresh = tokens.sign_token(private_key("P-256"), lifetime=300)
    assert 298 <= jwt_filters.jwt_seconds_left(fresh) <= 300


def test_jwt_seconds_left_errors() -> None:
    with pytest.raises(AnsibleFilterError, match="no exp claim"):
        jwt_filters.jwt_seconds_left({"sub": "x"})
    with pytest.raises(AnsibleFilterError, match="now must be a number"):
        jwt_filters.jwt_seconds_left(TOKEN, "soon")
    with pytest.raises(AnsibleFilterError, match="expected a token"):
        jwt_filters.jwt_seconds_left(None)


@pytest.mark.parametrize("name", ["jwt_claims", "jwt_seconds_left"])
def test_each_filter_has_documentation(name: str) -> None:
    path = os.path.join(os.path.dirname(jwt_filters.__file__), name + ".yml")
    with open(path) as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["name"] == name
    assert "EXAMPLES" in doc and "_value" in doc["RETURN"]
    # The public filters; the jwt_rotation_* ones are internal to the role (test_filter_jwt_rotation.py).
    assert "internal" not in doc["DOCUMENTATION"]["short_description"].lower()
