# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the signing request (_tokens.signing_request) and the renewal rule (_token_status.renewal_status)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError

NOW = 1795885200  # 2026-11-28T17:00:00Z


def test_signing_request_checks_without_signing(ec256: t.Any, rsa2048: t.Any) -> None:
    request = tokens.signing_request(ec256, now=NOW, lifetime=60, subject="s", key_id=True)
    assert request["algorithm"] == "ES256"
    assert request["claims"] == {"iat": NOW, "exp": NOW + 60, "sub": "s"}
    assert request["headers"] == {"kid": tokens.kid_for_key(ec256)}
    assert tokens.signing_request(rsa2048, algorithm="PS384")["algorithm"] == "PS384"
    with pytest.raises(IzumaTokenError, match="ES384 needs an EC key on P-384"):
        tokens.signing_request(ec256, algorithm="ES384")
    with pytest.raises(IzumaTokenError, match="unknown token option"):
        tokens.signing_request(ec256, colour="blue")
    with pytest.raises(IzumaTokenError, match="a private key is needed"):
        tokens.signing_request(ec256.public_key())


def deployed(key: t.Any, **options: t.Any) -> str:
    options.setdefault("now", NOW)
    return tokens.sign_token(key, **options)


def status(token: t.Optional[str], key: t.Any, **options: t.Any) -> t.Dict[str, t.Any]:
    options.setdefault("lifetime", 3600)
    return token_status.renewal_status(token, key, renew_margin=600, now=NOW + 100, **options)


def test_renewal_status_keeps_a_matching_token(ec256: t.Any) -> None:
    token = deployed(ec256, lifetime=3600, subject="s", audience="a", key_id=True, not_before_skew=30,
                     jwt_id=True, headers={"typ": "at+jwt"}, claims={"x": [1, 2]})
    result = status(token, ec256, subject="s", audience=["a"], key_id=True, not_before_skew=30, jwt_id=True,
                    headers={"typ": "at+jwt"}, claims={"x": [1, 2]})
    assert result["needs_renewal"] is False, result["reason"]
    assert result["valid"] and result["signed_by_key"] and result["claims"]["sub"] == "s" and result["header"]["typ"] == "at+jwt"
    assert result["request"]["algorithm"] == "ES256"


@pytest.mark.parametrize("signed, requested, reason", [
    (dict(lifetime=7200), dict(), "lifetime is 7200 seconds, not the requested 3600"),
    (dict(lifetime=3600), dict(max_lifetime=1800, lifetime=1800), "lifetime is 3600 seconds, not the requested 1800"),
    (dict(lifetime=3600, not_before_skew=10), dict(), "has an nbf claim"),
    (dict(lifetime=3600), dict(not_before_skew=10), "nbf is not iat minus not_before_skew"),
    (dict(lifetime=3600, not_before_skew=5), dict(not_before_skew=10), "nbf is not iat minus not_before_skew"),
    (dict(lifetime=3600), dict(jwt_id=True), "no jti claim"),
    (dict(lifetime=3600, jwt_id="a"), dict(jwt_id="b"), "jti is not the requested jwt_id"),
    (dict(lifetime=3600, headers={"kid": "x"}), dict(), "headers differ from the requested ones (kid)"),
    (dict(lifetime=3600), dict(key_id=True), "headers differ from the requested ones (kid)"),
    (dict(lifetime=3600, headers={"typ": "at+jwt"}), dict(), "headers differ from the requested ones (typ)"),
    (dict(lifetime=3600, claims={"extra": 1}), dict(), "claims differ from the requested ones (extra)"),
    (dict(lifetime=3600), dict(issuer="me"), "claims differ from the requested ones (iss)"),
])
def test_renewal_status_reasons(ec256: t.Any, signed: t.Dict[str, t.Any], requested: t.Dict[str, t.Any], reason: str) -> None:
    result = status(deployed(ec256, **signed), ec256, **requested)
    assert result["needs_renewal"] is True and reason in result["reason"], result["reason"]


def test_renewal_status_combines_reasons(ec256: t.Any, rsa2048: t.Any) -> None:
    expiring = deployed(ec256, lifetime=3600, now=NOW - 3000, headers={"kid": "x"})
    result = status(expiring, ec256)
    assert result["reason"].startswith("the token expires in 500 seconds, within the renewal margin")
    assert "headers differ" in result["reason"]
    other = status(deployed(rsa2048, lifetime=3600), ec256)
    assert "not signed by the current key" in other["reason"] and "not the requested ES256" in other["reason"]


def test_renewal_status_without_a_usable_token(ec256: t.Any) -> None:
    assert status(None, ec256)["reason"] == "there is no token yet"
    garbage = status("garbage", ec256)
    assert garbage["needs_renewal"] and garbage["claims"] is None and garbage["header"] is None
    with pytest.raises(IzumaTokenError, match="longer than max_lifetime"):
        status(None, ec256, lifetime=10, max_lifetime=5)
