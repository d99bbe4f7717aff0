# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_jwt/key_source.py: the signing-key loader and its per-process cache."""

from __future__ import annotations

import base64
import os
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError, IzumaKeyError, IzumaTokenError


class CountingLoader:
    """Wraps keys.load_private_key to count real parses."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = keys.load_private_key

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture()
def counting_loader(monkeypatch: pytest.MonkeyPatch) -> CountingLoader:
    loader = CountingLoader()
    monkeypatch.setattr(key_source._keys, "load_private_key", loader)  # pylint: disable=protected-access
    return loader


def test_signing_key_cache_file(tmp_path: t.Any, ec256: t.Any, counting_loader: CountingLoader) -> None:
    path = str(tmp_path / "jwt.key")
    files.atomic_write(path, keys.dump_private_key(ec256, "pw"))
    cache = key_source.SigningKeyCache()
    first = cache.load_file(path, "pw")
    second = cache.load_file(path, "pw")
    assert first is second and counting_loader.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    # A wrong passphrase is never accepted because an earlier call had the right one.
    with pytest.raises(IzumaKeyError, match="could not be decrypted"):
        cache.load_file(path, "wrong")
    # Rewriting the file (a new inode) makes the next call parse again.
    other = keys.generate_private_key("EC")
    files.atomic_write(path, keys.dump_private_key(other, "pw"))
    third = cache.load_file(path, "pw")
    assert keys.public_key_fingerprint(third) == keys.public_key_fingerprint(other)
    assert counting_loader.calls == 3


def test_signing_key_cache_missing_file(tmp_path: t.Any) -> None:
    with pytest.raises(IzumaError, match="does not exist"):
        key_source.SigningKeyCache().load_file(str(tmp_path / "absent.key"))


def test_signing_key_cache_content_and_eviction(rsa2048: t.Any, ec_keys: t.Dict[str, t.Any], to_pkcs8: t.Callable[..., bytes],
                                                counting_loader: CountingLoader) -> None:
    cache = key_source.SigningKeyCache(max_entries=2)
    pem = to_pkcs8(rsa2048)
    assert cache.load_content(pem) is cache.load_content(pem.decode()) and counting_loader.calls == 1
    for key in ec_keys.values():
        cache.load_content(to_pkcs8(key))
    cache.load_content(pem)
    assert counting_loader.calls == 5  # evicted, parsed again
    cache.clear()
    cache.load_content(pem)
    assert counting_loader.calls == 6


def test_caches_hold_no_passphrase(tmp_path: t.Any, ec256: t.Any) -> None:
    path = str(tmp_path / "k.pem")
    files.atomic_write(path, keys.dump_private_key(ec256, "very-secret-passphrase"))
    cache = key_source.SigningKeyCache()
    cache.load_file(path, "very-secret-passphrase")
    assert "very-secret-passphrase" not in repr(cache.__dict__)
    assert os.path.exists(path)


def test_module_level_cache_exists() -> None:
    assert isinstance(key_source.SIGNING_KEY_CACHE, key_source.SigningKeyCache)


def test_load_signing_key(tmp_path: t.Any, ec256: t.Any, to_pkcs8: t.Callable[..., bytes]) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(to_pkcs8(ec256, b"pw"))
    cache = key_source.SigningKeyCache()
    first = key_source.load_signing_key(str(path), passphrase="pw", cache=cache)
    assert key_source.load_signing_key(str(path), passphrase="pw", cache=cache) is first and cache.misses == 1
    from_content = key_source.load_signing_key(content=to_pkcs8(ec256).decode(), cache=cache)
    assert from_content.private_numbers() == ec256.private_numbers()
    with pytest.raises(IzumaTokenError, match="give private_key_path .*, private_key_content .* or pkcs11_key_label"):
        key_source.load_signing_key(cache=cache)
    with pytest.raises(IzumaTokenError, match="not both"):
        key_source.load_signing_key(str(path), "PEM", cache=cache)
    with pytest.raises(IzumaError, match="does not exist"):
        key_source.load_signing_key(str(tmp_path / "missing.pem"), cache=cache)


def _der(tag: int, body: bytes) -> bytes:
    """One DER element: tag, length, body."""
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def damaged_rsa_pem(key: t.Any) -> bytes:
    """An RSA key whose private exponents do not belong to its modulus (parses only without validation).

    Written as DER by hand (PKCS#1 RSAPrivateKey): every cryptography version refuses to build such a key object.
    """
    numbers = key.private_numbers()
    fields = (0, numbers.public_numbers.n, numbers.public_numbers.e, numbers.d + 2, numbers.p, numbers.q,
              numbers.dmp1 + 2, numbers.dmq1 + 2, numbers.iqmp)
    der = _der(0x30, b"".join(_der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big")) for value in fields))
    text = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [text[start:start + 64] for start in range(0, len(text), 64)]
    return ("-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----\n" % "\n".join(lines)).encode("ascii")


class RecordingLoader(CountingLoader):
    """Also records whether each parse skipped cryptography's RSA checks."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = []  # type: t.List[bool]

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self.skipped.append(bool(kwargs.get("skip_rsa_validation")))
        return super().__call__(*args, **kwargs)


def test_a_good_key_is_parsed_once_without_the_rsa_checks(rsa2048: t.Any, ec256: t.Any, to_pkcs8: t.Callable[..., bytes],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    loader = RecordingLoader()
    monkeypatch.setattr(key_source._keys, "load_private_key", loader)  # pylint: disable=protected-access
    for key in (rsa2048, ec256):
        parsed = key_source.parse_private_key(to_pkcs8(key), source="k")
        assert keys.public_key_fingerprint(parsed) == keys.public_key_fingerprint(key)
    assert loader.skipped == [True, True]


def test_a_damaged_rsa_key_is_refused_clearly(tmp_path: t.Any, rsa2048: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    loader = RecordingLoader()
    monkeypatch.setattr(key_source._keys, "load_private_key", loader)  # pylint: disable=protected-access
    path = tmp_path / "damaged.key"
    path.write_bytes(damaged_rsa_pem(rsa2048))
    with pytest.raises(IzumaKeyError) as info:
        key_source.load_signing_key(str(path), cache=key_source.SigningKeyCache())
    assert str(path) in info.value.message and "not a valid private key" in info.value.message
    # The fast parse, its failed self-test, then the full checks that name the reason; a cryptography that cannot skip
    # the checks (before 39) refuses the key in the first parse.
    assert loader.skipped == ([True, False] if keys.CAN_SKIP_RSA_VALIDATION else [True])


def test_a_key_that_cannot_sign_is_refused_even_if_it_parses(rsa2048: t.Any, to_pkcs8: t.Callable[..., bytes],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_source, "_signs_and_verifies", lambda key: False)
    with pytest.raises(IzumaKeyError, match="k is damaged: a signature made with it does not verify with its own public key"):
        key_source.parse_private_key(to_pkcs8(rsa2048), source="k")
