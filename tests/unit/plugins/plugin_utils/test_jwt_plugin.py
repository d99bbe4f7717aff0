# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugin_utils/_jwt_plugin.py: key path resolution, plugin options, the token cache."""

from __future__ import annotations

import os
import threading
import typing as t

import jwt
import pytest

from ansible.parsing.dataloader import DataLoader

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_facts
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError
from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin as jwt_plugin

NOW = 1795885200  # 2026-11-28T17:00:00Z


def getter(**values: t.Any) -> t.Callable[[str], t.Any]:
    return values.get


def token_error(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> str:
    with pytest.raises(IzumaTokenError) as info:
        func(*args, **kwargs)
    return info.value.message


def sign(cache: jwt_plugin.TokenCache, key: t.Any, **options: t.Any) -> str:
    """The token the cache hands out (the lookup's call, without the window)."""
    return cache.get_or_sign_window(key, **options)[0]


def loader_at(basedir: str) -> DataLoader:
    loader = DataLoader()
    loader.set_basedir(basedir)
    return loader


def test_resolve_key_path_relative_to_the_playbook(tmp_path: t.Any) -> None:
    loader = loader_at(str(tmp_path))
    assert jwt_plugin.resolve_key_path("keys/a.pem", {}, loader) == os.path.join(str(tmp_path), "keys/a.pem")
    assert jwt_plugin.resolve_key_path("keys/a.pem", {"role_path": None}, loader) == os.path.join(str(tmp_path), "keys/a.pem")


def test_resolve_key_path_relative_to_the_role(tmp_path: t.Any) -> None:
    role = str(tmp_path / "roles" / "r")
    assert jwt_plugin.resolve_key_path("a.pem", {"role_path": role}, loader_at(str(tmp_path))) == os.path.join(role, "a.pem")


def test_resolve_key_path_absolute_home_and_none(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    loader = loader_at(str(tmp_path / "playbooks"))
    assert jwt_plugin.resolve_key_path("/etc/izuma/a.pem", {"role_path": "/r"}, loader) == "/etc/izuma/a.pem"
    assert jwt_plugin.resolve_key_path("~/a.pem", {"role_path": "/r"}, loader) == str(tmp_path / "home" / "a.pem")
    assert jwt_plugin.resolve_key_path(None, {}, loader) is None
    assert jwt_plugin.resolve_key_path("", {}, loader) is None
    # Without a loader (no playbook), a relative path stays as given.
    assert jwt_plugin.resolve_key_path("a.pem", {}, None) == "a.pem"


def test_sign_options_maps_plugin_options() -> None:
    assert jwt_plugin.sign_options(getter()) == {}
    options = jwt_plugin.sign_options(getter(algorithm="ES256", lifetime=60, audience=["a"], jwt_id="j", key_id=True, subject="s",
                                             claims={"x": 1}, headers={"typ": "at+jwt"}, not_before_skew=0, max_lifetime=60, issuer="i"))
    assert options == {"algorithm": "ES256", "lifetime": 60, "audience": "a", "jwt_id": "j", "key_id": True, "subject": "s",
                       "claims": {"x": 1}, "headers": {"typ": "at+jwt"}, "not_before_skew": 0, "max_lifetime": 60, "issuer": "i"}
    assert jwt_plugin.sign_options(getter(audience=["a", "b"]))["audience"] == ["a", "b"]
    assert "audience" not in jwt_plugin.sign_options(getter(audience=[]))
    assert jwt_plugin.sign_options(getter(random_jwt_id=True))["jwt_id"] is True
    assert "key_id" not in jwt_plugin.sign_options(getter(key_id=False, random_jwt_id=False))
    with pytest.raises(IzumaTokenError, match="not both"):
        jwt_plugin.sign_options(getter(jwt_id="x", random_jwt_id=True))


def test_token_cache_reuses_until_half_life(ec256: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = []
    real_sign = tokens.sign_token

    def counting_sign(*args: t.Any, **kwargs: t.Any) -> str:
        signed.append(kwargs.get("now"))
        return real_sign(*args, **kwargs)

    monkeypatch.setattr(tokens, "sign_token", counting_sign)
    cache = jwt_plugin.TokenCache()
    first = sign(cache, ec256, lifetime=600, claims={"scope": "x"}, now=NOW)
    assert sign(cache, ec256, lifetime=600, claims={"scope": "x"}, now=NOW + 299) == first
    assert len(signed) == 1 and cache.hits == 1
    # Half of the lifetime gone: sign anew.
    renewed = sign(cache, ec256, lifetime=600, claims={"scope": "x"}, now=NOW + 300)
    assert renewed != first and len(signed) == 2
    assert token_status.decode_unverified(renewed)["claims"]["iat"] == NOW + 300
    # Other claims, lifetime, algorithm or key: another token.
    assert sign(cache, ec256, lifetime=600, claims={"scope": "y"}, now=NOW + 300) != renewed
    assert sign(cache, ec256, lifetime=601, claims={"scope": "x"}, now=NOW + 300) != renewed
    other = keys.generate_private_key("EC")
    assert sign(cache, other, lifetime=600, claims={"scope": "x"}, now=NOW + 300) != renewed
    assert len(signed) == 5
    cache.clear()
    sign(cache, ec256, lifetime=600, claims={"scope": "x"}, now=NOW + 300)
    assert len(signed) == 6


def test_token_cache_min_seconds_and_errors(ec256: t.Any) -> None:
    cache = jwt_plugin.TokenCache(min_remaining_fraction=0.0, min_remaining_seconds=30)
    first = sign(cache, ec256, lifetime=60, now=NOW)
    assert sign(cache, ec256, lifetime=60, now=NOW + 29) == first
    assert sign(cache, ec256, lifetime=60, now=NOW + 30) != first
    assert "token options must be JSON values" in token_error(sign, cache, ec256, claims={"x": object()}, now=NOW)
    assert "lifetime must be a positive" in token_error(sign, cache, ec256, lifetime=0, now=NOW)


def test_token_cache_threads(ec256: t.Any) -> None:
    cache = jwt_plugin.TokenCache(max_entries=4)
    results: t.List[str] = []
    errors: t.List[BaseException] = []

    def worker(index: int) -> None:
        try:
            for _round in range(20):
                results.append(sign(cache, ec256, claims={"n": index % 3}, now=NOW))
        except BaseException as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 160
    assert len(set(results)) <= 3 * 8  # racing threads may sign twice, never more than once each
    assert cache.hits + cache.misses == 160
    for token in set(results):
        jwt.decode(token, ec256.public_key(), algorithms=["ES256"], options={"verify_exp": False})


def test_token_cache_fingerprints_each_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fingerprint comes from the key's one fact table (key_facts), worked out once per key object: not again for
    # another token, nor after the token cache forgets its tokens; and the signer's kid is the same fact.
    calls = []
    real = key_facts._keys.public_key_fingerprint  # pylint: disable=protected-access
    monkeypatch.setattr(key_facts._keys, "public_key_fingerprint", lambda key: calls.append(1) or real(key))  # pylint: disable=protected-access
    key = keys.generate_private_key("EC")
    cache = jwt_plugin.TokenCache()
    first = sign(cache, key, now=NOW, lifetime=600, subject="a")
    assert sign(cache, key, now=NOW + 299, lifetime=600, subject="a") == first
    assert sign(cache, key, now=NOW, lifetime=600, subject="b") != first
    assert len(calls) == 1
    # The expiry the cache keeps is the token's own: reused before half the lifetime, re-signed after.
    assert sign(cache, key, now=NOW + 301, lifetime=600, subject="a") != first
    cache.clear()
    sign(cache, key, now=NOW, lifetime=600, subject="a")
    assert tokens.kid_for_key(key) == key_facts.fingerprint(key)[:tokens.KID_LENGTH]
    assert len(calls) == 1
    # Another key object: its fingerprint, once.
    sign(cache, keys.generate_private_key("EC"), now=NOW, lifetime=600, subject="a")
    assert len(calls) == 2


def test_module_level_cache_exists() -> None:
    assert isinstance(jwt_plugin.TOKEN_CACHE, jwt_plugin.TokenCache)


def test_call_cache_within_its_window_and_key_file(tmp_path: t.Any) -> None:
    cache = jwt_plugin.CallCache(max_entries=2)
    key_file = tmp_path / "k.pem"
    key_file.write_text("one")
    call = cache.key("lookup", ["a"], {"private_key_passphrase": "secret-pass"})
    assert "secret-pass" not in call and call == cache.key("lookup", ["a"], {"private_key_passphrase": "secret-pass"})
    assert cache.get(call, 100.0) is None
    cache.put(call, ["token"], (99.0, 200.0), str(key_file))
    assert cache.get(call, 100.0) == ["token"] and cache.hits == 1
    assert cache.get(call, 200.0) is None and cache.get(call, 98.0) is None
    key_file.write_text("two, a new key")
    assert cache.get(call, 100.0) is None
    # Without a key file (key given as content) only the window counts; the oldest entry goes beyond max_entries.
    cache.put(call, ["t1"], (0.0, 10.0), None)
    cache.put(cache.key(2), ["t2"], (0.0, 10.0), None)
    cache.put(cache.key(3), ["t3"], (0.0, 10.0), None)
    assert cache.get(call, 1.0) is None and cache.get(cache.key(3), 1.0) == ["t3"]
    cache.clear()
    assert cache.get(cache.key(3), 1.0) is None
    # A key file that cannot be read is never trusted.
    cache.put(call, ["t"], (0.0, 10.0), str(tmp_path / "missing.pem"))
    assert cache.get(call, 1.0) is None


def test_token_cache_window(ec256: t.Any) -> None:
    cache = jwt_plugin.TokenCache()
    token, start, until = cache.get_or_sign_window(ec256, lifetime=600, now=NOW)
    assert (start, until) == (NOW - 1, NOW + 300)
    assert cache.get_or_sign_window(ec256, lifetime=600, now=NOW + 299) == (token, start, until)


def test_resolve_key_path_follows_home_and_basedir_each_call(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Resolved paths are kept per (path, base directory); a path with ~ follows HOME on every call.
    for home in ("one", "two"):
        monkeypatch.setenv("HOME", str(tmp_path / home))
        assert jwt_plugin.resolve_key_path("~/a.pem", {}, loader_at(str(tmp_path))) == str(tmp_path / home / "a.pem")
    for base in ("p1", "p2"):
        assert jwt_plugin.resolve_key_path("k.pem", {}, loader_at(str(tmp_path / base))) == str(tmp_path / base / "k.pem")


def test_call_cache_takes_the_key_files_identity_from_the_caller(tmp_path: t.Any) -> None:
    # The lookup passes the identity its key was read with (one stat per call); a later change still counts.
    key_file = tmp_path / "k.pem"
    key_file.write_text("one")
    cache = jwt_plugin.CallCache()
    call = cache.key("lookup", [], {})
    cache.put(call, ["token"], (0.0, 10.0), str(key_file), files.file_identity(str(key_file)))
    assert cache.get(call, 1.0) == ["token"]
    cache.put(call, ["token"], (0.0, 10.0), str(key_file), (0, 0, 0, 0))
    assert cache.get(call, 1.0) is None
