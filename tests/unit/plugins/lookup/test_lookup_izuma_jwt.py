# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the izuma_jwt lookup: options from arguments, variables and environment; terms; caching; refusals; silence."""

from __future__ import annotations

import time
import typing as t

import jwt
import pytest

from ansible.errors import AnsibleError
from ansible.utils.display import Display

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin as jwt_plugin
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import (
    ALGORITHM_KEYS,
    PASSPHRASE,
    assert_no_secret,
    make_lookup,
    pem,
    private_key,
    write_key,
)


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with empty process caches, and no IZUMA_* variables from the calling shell."""
    key_source.SIGNING_KEY_CACHE.clear()
    jwt_plugin.TOKEN_CACHE.clear()
    jwt_plugin.CALL_CACHE.clear()
    for name in ("IZUMA_PRIVATE_KEY_PATH", "IZUMA_PRIVATE_KEY", "IZUMA_PRIVATE_KEY_PASSPHRASE", "IZUMA_JWT_ALGORITHM",
                 "IZUMA_JWT_LIFETIME", "IZUMA_JWT_MAX_LIFETIME", "IZUMA_JWT_ISSUER", "IZUMA_JWT_AUDIENCE",
                 "IZUMA_JWT_NOT_BEFORE_SKEW", "IZUMA_JWT_REUSE_TOKENS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ec_key_path(tmp_path: t.Any) -> str:
    return write_key(tmp_path / "signing.key", private_key("P-256"))


def decode(token: str, kind: str = "P-256", algorithm: str = "ES256", **options: t.Any) -> t.Dict[str, t.Any]:
    return jwt.decode(token, private_key(kind).public_key(), algorithms=[algorithm], **options)


def test_one_token_without_terms(ec_key_path: str) -> None:
    result = make_lookup().run([], {}, private_key_path=ec_key_path)
    assert len(result) == 1
    claims = decode(result[0])
    assert claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(result[0]) == {"alg": "ES256", "typ": "JWT"}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_KEYS))
def test_every_algorithm(tmp_path: t.Any, algorithm: str) -> None:
    kind = ALGORITHM_KEYS[algorithm]
    path = write_key(tmp_path / "k.pem", private_key(kind))
    token = make_lookup().run([], {}, private_key_path=path, algorithm=algorithm)[0]
    decode(token, kind, algorithm)


def test_options_from_arguments(ec_key_path: str) -> None:
    token = make_lookup().run([], {}, private_key_path=ec_key_path, lifetime=120, issuer="ansible", subject="s",
                              audience=["a", "b"], claims={"scope": "read"}, headers={"kid": "k1"}, not_before_skew=5,
                              jwt_id="id-1")[0]
    claims = decode(token, audience="a")
    assert claims["exp"] - claims["iat"] == 120 and claims["nbf"] == claims["iat"] - 5
    assert (claims["iss"], claims["sub"], claims["aud"], claims["scope"], claims["jti"]) == ("ansible", "s", ["a", "b"], "read", "id-1")
    assert jwt.get_unverified_header(token)["kid"] == "k1"


def test_options_from_variables(tmp_path: t.Any) -> None:
    path = write_key(tmp_path / "vars.key", private_key("rsa"), passphrase=PASSPHRASE)
    variables = {"izuma_jwt_private_key_path": path, "izuma_jwt_private_key_passphrase": PASSPHRASE,
                 "izuma_jwt_algorithm": "PS512", "izuma_jwt_lifetime": 60, "izuma_jwt_claims": {"team": "ops"}}
    token = make_lookup().run([], variables)[0]
    claims = decode(token, "rsa", "PS512")
    assert claims["team"] == "ops" and claims["exp"] - claims["iat"] == 60


def test_options_from_the_environment(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    content = pem(private_key("P-384")).decode()
    monkeypatch.setenv("IZUMA_PRIVATE_KEY", content)
    monkeypatch.setenv("IZUMA_JWT_LIFETIME", "90")
    monkeypatch.setenv("IZUMA_JWT_AUDIENCE", "one,two")
    monkeypatch.setenv("IZUMA_JWT_ISSUER", "env-issuer")
    monkeypatch.setenv("IZUMA_JWT_REUSE_TOKENS", "false")
    token = make_lookup().run([], {})[0]
    claims = decode(token, "P-384", "ES384", audience="two")
    assert claims["exp"] - claims["iat"] == 90 and claims["aud"] == ["one", "two"] and claims["iss"] == "env-issuer"
    # Arguments win over variables, which win over the environment.
    token = make_lookup().run([], {"izuma_jwt_lifetime": 30}, lifetime=45)[0]
    claims = decode(token, "P-384", "ES384", audience="one")
    assert claims["exp"] - claims["iat"] == 45


def test_relative_key_path_is_relative_to_the_playbook(tmp_path: t.Any) -> None:
    write_key(tmp_path / "rel.key", private_key("P-521"))
    token = make_lookup(str(tmp_path)).run([], {}, private_key_path="rel.key")[0]
    decode(token, "P-521", "ES512")


def test_terms(ec_key_path: str) -> None:
    result = make_lookup().run(["dev-1", "dev-2", {"subject": "dev-3", "claims": {"n": 3}, "lifetime": 30}], {},
                               private_key_path=ec_key_path, claims={"n": 0})
    claims = [decode(token) for token in result]
    assert [c["sub"] for c in claims] == ["dev-1", "dev-2", "dev-3"]
    assert [c["n"] for c in claims] == [0, 0, 3]
    assert claims[2]["exp"] - claims[2]["iat"] == 30


def test_a_list_term_counts_as_its_items(ec_key_path: str) -> None:
    result = make_lookup().run([["dev-1", "dev-2"]], {}, private_key_path=ec_key_path)
    assert [decode(token)["sub"] for token in result] == ["dev-1", "dev-2"]


def test_relative_key_path_in_a_role(tmp_path: t.Any) -> None:
    (tmp_path / "role").mkdir()
    write_key(tmp_path / "role" / "role.key", private_key("P-256"))
    token = make_lookup(str(tmp_path)).run([], {"role_path": str(tmp_path / "role")}, private_key_path="role.key")[0]
    decode(token)


def test_bad_terms(ec_key_path: str) -> None:
    with pytest.raises(AnsibleError, match="may set only signing options"):
        make_lookup().run([{"private_key_path": "/etc/other.key"}], {}, private_key_path=ec_key_path)
    with pytest.raises(AnsibleError, match="must be a string"):
        make_lookup().run([42], {}, private_key_path=ec_key_path)


def counters() -> t.Tuple[int, int, int, int]:
    return (key_source.SIGNING_KEY_CACHE.misses, key_source.SIGNING_KEY_CACHE.hits, jwt_plugin.TOKEN_CACHE.misses, jwt_plugin.TOKEN_CACHE.hits)


def test_key_is_parsed_once_and_tokens_are_reused(ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The caches below the call cache (test_the_same_call_is_answered_from_the_call_cache covers that one).
    monkeypatch.setattr(jwt_plugin.CALL_CACHE, "get", lambda call, now: None)
    lookup = make_lookup()
    start = counters()
    results = [lookup.run([], {}, private_key_path=ec_key_path, subject="same")[0] for _index in range(200)]
    assert len(set(results)) == 1
    key_misses, key_hits, token_misses, token_hits = (now - then for now, then in zip(counters(), start))
    assert (key_misses, key_hits, token_misses, token_hits) == (1, 199, 1, 199)
    # Other claims: other tokens, the same parsed key.
    per_host = lookup.run(["host-%d" % index for index in range(50)], {}, private_key_path=ec_key_path)
    assert len(set(per_host)) == 50 and key_source.SIGNING_KEY_CACHE.misses - start[0] == 1


def test_reuse_can_be_turned_off(ec_key_path: str) -> None:
    lookup = make_lookup()
    start = counters()
    tokens_seen = [lookup.run([], {}, private_key_path=ec_key_path, random_jwt_id=True, reuse_tokens=False)[0] for _index in range(5)]
    assert len({decode(token)["jti"] for token in tokens_seen}) == 5
    assert key_source.SIGNING_KEY_CACHE.misses - start[0] == 1


def test_a_token_near_its_end_is_not_reused(ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = make_lookup()
    first = lookup.run([], {}, private_key_path=ec_key_path, lifetime=100)[0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 60)  # 40 of 100 seconds left: below half
    second = lookup.run([], {}, private_key_path=ec_key_path, lifetime=100)[0]
    assert second != first and decode(first)["iat"] < jwt.decode(second, options={"verify_signature": False})["iat"]


def test_new_key_at_the_same_path_is_read_again(tmp_path: t.Any) -> None:
    path = write_key(tmp_path / "rotating.key", private_key("P-256"))
    lookup = make_lookup()
    decode(lookup.run([], {}, private_key_path=path)[0], "P-256")
    write_key(path, private_key("P-256-other"))
    decode(lookup.run([], {}, private_key_path=path)[0], "P-256-other")


def lookup_error(**kwargs: t.Any) -> str:
    with pytest.raises(AnsibleError) as info:
        make_lookup().run([], {}, **kwargs)
    return str(info.value)


def test_refusals(tmp_path: t.Any, ec_key_path: str) -> None:
    weak = write_key(tmp_path / "weak.key", private_key("rsa1024"))
    locked = write_key(tmp_path / "locked.key", private_key("P-256"), passphrase=PASSPHRASE)
    assert "unsigned tokens (alg none) are rejected" in lookup_error(private_key_path=ec_key_path, algorithm="none")
    assert "HMAC algorithms use a shared secret" in lookup_error(private_key_path=ec_key_path, algorithm="HS256")
    assert "needs an EC key on P-521" in lookup_error(private_key_path=ec_key_path, algorithm="ES512")
    assert "at least 2048 bits" in lookup_error(private_key_path=weak)
    assert "is encrypted" in lookup_error(private_key_path=locked)
    message = lookup_error(private_key_path=locked, private_key_passphrase="not the passphrase")
    assert "could not be decrypted" in message and "not the passphrase" not in message
    assert "longer than max_lifetime" in lookup_error(private_key_path=ec_key_path, lifetime=3601, max_lifetime=3600)
    assert "headers may not set alg" in lookup_error(private_key_path=ec_key_path, headers={"alg": "none"})
    assert "headers may not set x5u" in lookup_error(private_key_path=ec_key_path, headers={"x5u": "https://x"})
    assert "claims may not set iat" in lookup_error(private_key_path=ec_key_path, claims={"iat": 0})
    assert "give private_key_path" in lookup_error()
    assert "not both" in lookup_error(private_key_path=ec_key_path, private_key_content="PEM")
    assert "not both" in lookup_error(private_key_path=ec_key_path, jwt_id="x", random_jwt_id=True)


def test_wrong_passphrase_is_not_accepted_after_a_right_one(tmp_path: t.Any) -> None:
    locked = write_key(tmp_path / "locked.key", private_key("P-256"), passphrase=PASSPHRASE)
    lookup = make_lookup()
    lookup.run([], {}, private_key_path=locked, private_key_passphrase=PASSPHRASE)
    with pytest.raises(AnsibleError, match="could not be decrypted"):
        lookup.run([], {}, private_key_path=locked, private_key_passphrase="guess")


def test_never_prints_a_token_or_a_key(tmp_path: t.Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Display(), "verbosity", 6)
    content = pem(private_key("rsa"), PASSPHRASE).decode()
    lookup = make_lookup()
    issued = lookup.run(["a", "a", "b"], {}, private_key_content=content, private_key_passphrase=PASSPHRASE)
    with pytest.raises(AnsibleError) as info:
        lookup.run([], {}, private_key_content=content, private_key_passphrase="wrong-" + PASSPHRASE)
    captured = capsys.readouterr()
    output = captured.out + captured.err + str(info.value)
    assert "signed a new token" in output and "reused a cached token" in output
    assert_no_secret(output, content, PASSPHRASE, *issued)


def test_an_absurd_lifetime_is_refused_before_signing(ec_key_path: str) -> None:
    message = lookup_error(private_key_path=ec_key_path, lifetime=10 ** 12)
    assert "lifetime 1000000000000 seconds is longer than max_lifetime 31536000 seconds: shorten lifetime" in message
    assert "out of range" not in message
    message = lookup_error(private_key_path=ec_key_path, lifetime=10 ** 12, max_lifetime=10 ** 12)
    assert "max_lifetime 1000000000000 seconds is longer than any token may live" in message
    # The default ceiling is one year; a policy may raise it below the hard ceiling.
    token = make_lookup().run([], {}, private_key_path=ec_key_path, lifetime=2 * 31536000, max_lifetime=3 * 31536000)[0]
    claims = decode(token)
    assert claims["exp"] - claims["iat"] == 2 * 31536000


def test_the_same_call_is_answered_from_the_call_cache(ec_key_path: str, tmp_path: t.Any) -> None:
    lookup = make_lookup()
    start = counters()
    calls = jwt_plugin.CALL_CACHE.hits
    results = [lookup.run([], {}, private_key_path=ec_key_path, subject="same")[0] for _index in range(200)]
    assert len(set(results)) == 1
    # One parse, one signature; the 199 repeats touch neither the key cache nor the token cache.
    assert tuple(now - then for now, then in zip(counters(), start)) == (1, 0, 1, 0)
    assert jwt_plugin.CALL_CACHE.hits - calls == 199
    # Anything the answer depends on makes another call: arguments, variables, the key file.
    assert lookup.run([], {}, private_key_path=ec_key_path, subject="other")[0] != results[0]
    assert lookup.run([], {"izuma_jwt_issuer": "me"}, private_key_path=ec_key_path, subject="same")[0] != results[0]
    write_key(ec_key_path, private_key("P-256-other"))
    rotated = lookup.run([], {}, private_key_path=ec_key_path, subject="same")[0]
    decode(rotated, kind="P-256-other")
    assert jwt_plugin.CALL_CACHE.hits - calls == 199


def test_the_call_cache_follows_the_token_caches_reuse_rule(ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup = make_lookup()
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    first = lookup.run([], {}, private_key_path=ec_key_path, lifetime=100)[0]
    clock[0] += 49
    assert lookup.run([], {}, private_key_path=ec_key_path, lifetime=100)[0] == first
    clock[0] += 2  # past half of the lifetime: a new token, as without the call cache
    assert lookup.run([], {}, private_key_path=ec_key_path, lifetime=100)[0] != first


def test_no_call_cache_without_token_reuse(ec_key_path: str) -> None:
    lookup = make_lookup()
    seen = {lookup.run([], {}, private_key_path=ec_key_path, random_jwt_id=True, reuse_tokens=False)[0] for _index in range(3)}
    assert len(seen) == 3


# PKCS#11 options (signing in a token is tested in tests/pkcs11, against SoftHSM2).

def test_pkcs11_options_are_checked_before_any_token(ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IZUMA_PKCS11_LIBRARY", "IZUMA_PKCS11_TOKEN", "IZUMA_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)
    message = lookup_error(pkcs11_key_label="izuma:k:current", pkcs11_pin="4711-secret")
    assert "set pkcs11_library or the IZUMA_PKCS11_LIBRARY environment variable" in message and "4711-secret" not in message
    assert "not both" in lookup_error(private_key_path=ec_key_path, pkcs11_key_label="izuma:k:current", pkcs11_library="/lib/p11.so")


def test_a_token_configured_for_the_play_leaves_key_file_calls_alone(ec_key_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As an AWX credential injects them, or ansible.cfg's [izuma_jwt] pkcs11_library and pkcs11_token would.
    monkeypatch.setenv("IZUMA_PKCS11_LIBRARY", "/nonexistent/libp11.so")
    monkeypatch.setenv("IZUMA_PKCS11_TOKEN", "izuma")
    monkeypatch.setenv("IZUMA_PKCS11_PIN", "4711-secret")
    token = make_lookup().run([], {"izuma_jwt_pkcs11_token": "other"}, private_key_path=ec_key_path)[0]
    decode(token)


def test_the_caches_never_hold_a_pin(ec_key_path: str) -> None:
    lookup = make_lookup()
    lookup.run([], {"izuma_jwt_pkcs11_pin": "4711-secret"}, private_key_path=ec_key_path)
    kept = repr(jwt_plugin.CALL_CACHE._entries) + repr(jwt_plugin.TOKEN_CACHE._entries)  # pylint: disable=protected-access
    assert "4711-secret" not in kept and jwt_plugin.CALL_CACHE._entries  # pylint: disable=protected-access
