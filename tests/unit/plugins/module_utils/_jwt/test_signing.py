# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_jwt/signing.py (algorithms, signing) and _token_status.py (decoding, status)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import typing as t
import uuid

import jwt
import pytest

from cryptography import x509

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import status as token_status
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import jws
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaTokenError

NOW = 1795885200  # 2026-11-28T17:00:00Z
ALGORITHM_KEYS = {
    "RS256": "rsa", "RS384": "rsa", "RS512": "rsa", "PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
    "ES256": "P-256", "ES384": "P-384", "ES512": "P-521",
}


@pytest.fixture(scope="module")
def key_for(rsa2048: t.Any, ec_keys: t.Dict[str, t.Any]) -> t.Callable[[str], t.Any]:
    def pick(algorithm: str) -> t.Any:
        name = ALGORITHM_KEYS[algorithm]
        return rsa2048 if name == "rsa" else ec_keys[name]
    return pick


def token_error(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> str:
    with pytest.raises(IzumaTokenError) as info:
        func(*args, **kwargs)
    return info.value.message


def b64(data: t.Dict[str, t.Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_constants() -> None:
    assert tokens.ALGORITHMS == ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
    assert tokens.RESERVED_CLAIMS == ("exp", "iat", "nbf")
    assert tokens.RESERVED_HEADERS == ("alg", "jku", "jwk", "x5u", "x5c", "crit")
    assert jws.pyjwt() is jwt


def test_pyjwt_is_required_where_it_is_used(monkeypatch: pytest.MonkeyPatch, rsa2048: t.Any) -> None:
    # Without PyJWT (None in sys.modules: "import jwt" fails), signing still works: the token library writes the JWS
    # itself. Decoding, verifying and the headers only PyJWT writes need it, and say so.
    token = tokens.sign_token(rsa2048, subject="s")
    monkeypatch.setitem(sys.modules, "jwt", None)
    assert tokens.sign_token(rsa2048, subject="s", now=NOW).count(".") == 2
    for call in (lambda: token_status.decode_unverified(token), lambda: token_status.token_status(token, key=rsa2048),
                 lambda: tokens.sign_token(rsa2048, headers={"b64": False})):
        with pytest.raises(IzumaTokenError) as caught:
            call()
        assert caught.value.message == jws.PYJWT_MISSING_MESSAGE and "import of jwt" in str(caught.value.details["import_error"])
    monkeypatch.undo()
    monkeypatch.setattr(keys, "HAS_CRYPTOGRAPHY", False)
    assert "cryptography" in token_error(token_status.decode_unverified, "a.b.c")
    assert "cryptography" in token_error(tokens.sign_token, rsa2048)


def test_importing_the_signing_path_imports_neither_pyjwt_nor_pkcs11_nor_certificate_building() -> None:
    # What the API client on a managed host imports to sign its tokens, and what the lookup imports: PyJWT (a tenth
    # of a second), python-pkcs11 and the certificate builder only when used.
    code = ("import sys\n"
            "from ansible_collections.izuma.device_management.plugins.module_utils._jwt import key_source, signing, status\n"
            "from ansible_collections.izuma.device_management.plugins.plugin_utils import _jwt_plugin\n"
            "print(sorted(name for name in ('jwt', 'pkcs11', 'ansible_collections.izuma.device_management.plugins.module_utils._x509.issuing')"
            " if name in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


class RawSigner:
    """A key object that makes JWS signatures itself (as a PKCS#11 key does) and whose sign() must not be used."""

    def __init__(self, key: t.Any) -> None:
        self.key = key
        self.calls: t.List[str] = []

    def public_key(self) -> t.Any:
        return self.key.public_key()

    def private_bytes(self, *_args: t.Any) -> bytes:
        raise AssertionError("never exported")

    def sign(self, *_args: t.Any) -> bytes:
        raise AssertionError("the JWS writer takes the raw signature from sign_jws")

    def sign_jws(self, data: bytes, algorithm: str) -> bytes:
        self.calls.append(algorithm)
        return jws._signer(self.key, algorithm, {})(data)  # pylint: disable=protected-access


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "PS256"])
def test_a_key_that_signs_jws_itself_gives_its_raw_signature(algorithm: str, key_for: t.Callable[[str], t.Any]) -> None:
    key = RawSigner(key_for(algorithm))
    for subject in ("a", "b"):
        token = tokens.sign_token(key, algorithm=algorithm, subject=subject)
        assert jwt.decode(token, key.public_key(), algorithms=[algorithm])["sub"] == subject
    assert key.calls == [algorithm, algorithm]


# ---------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------

def test_default_algorithm(rsa2048: t.Any, rsa4096: t.Any, ec_keys: t.Dict[str, t.Any], ed25519_key: t.Any) -> None:
    assert tokens.default_algorithm(rsa2048) == "RS256"
    assert tokens.default_algorithm(rsa4096.public_key()) == "RS256"
    assert [tokens.default_algorithm(ec_keys[c]) for c in ("P-256", "P-384", "P-521")] == ["ES256", "ES384", "ES512"]
    assert "no supported JWT algorithm signs with a Ed25519 key" in token_error(tokens.default_algorithm, ed25519_key)
    assert "expected a private key, public key or certificate" in token_error(tokens.default_algorithm, "key")


def test_default_algorithm_other_curve() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    message = token_error(tokens.default_algorithm, ec.generate_private_key(ec.SECP256K1()))
    assert "EC key on secp256k1" in message


@pytest.mark.parametrize("algorithm", tokens.ALGORITHMS)
def test_check_algorithm_accepts_matching_key(algorithm: str, key_for: t.Callable[[str], t.Any]) -> None:
    tokens.check_algorithm(algorithm, key_for(algorithm))
    tokens.check_algorithm(algorithm, key_for(algorithm).public_key())


@pytest.mark.parametrize("algorithm, expected", [
    ("none", "unsigned tokens (alg none) are rejected"),
    ("None", "unsigned tokens"),
    ("HS256", "HMAC algorithms use a shared secret"),
    ("hs512", "HMAC"),
    ("rs256", "case-sensitive; did you mean RS256?"),
    ("ES256K", "does not accept it"),
    ("EdDSA", "does not accept it"),
    ("", "must be a non-empty string"),
    (None, "must be a non-empty string"),
])
def test_check_algorithm_refuses(algorithm: t.Any, expected: str, rsa2048: t.Any) -> None:
    message = token_error(tokens.check_algorithm, algorithm, rsa2048)
    assert expected in message
    if algorithm:
        assert "Choose one of RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512" in message


@pytest.mark.parametrize("algorithm, key_name, expected", [
    ("ES256", "P-384", "JWT algorithm ES256 needs an EC key on P-256, but the key is an EC key on P-384: use ES384, or a key on P-256"),
    ("ES384", "P-256", "ES384 needs an EC key on P-384, but the key is an EC key on P-256: use ES256"),
    ("ES512", "P-256", "ES512 needs an EC key on P-521"),
    ("ES512", "P-384", "ES512 needs an EC key on P-521"),
    ("ES256", "rsa", "ES256 needs an EC key on P-256, but the key is an RSA key of 2048 bits: use RS256, RS384, RS512, PS256, PS384 or PS512"),
    ("RS256", "P-256", "JWT algorithm RS256 needs an RSA key, but the key is an EC key on P-256: use ES256, or an RSA key"),
    ("PS384", "P-521", "PS384 needs an RSA key, but the key is an EC key on P-521: use ES512"),
    ("RS512", "rsa1024", "RS512 needs an RSA key of at least 2048 bits, but the key has 1024 bits"),
    ("PS256", "ed25519", "PS256 needs an RSA key, but the key is a Ed25519 key"),
])
def test_check_algorithm_mismatches(algorithm: str, key_name: str, expected: str, rsa2048: t.Any, rsa1024: t.Any,
                                    ec_keys: t.Dict[str, t.Any], ed25519_key: t.Any) -> None:
    key = {"rsa": rsa2048, "rsa1024": rsa1024, "ed25519": ed25519_key}.get(key_name) or ec_keys[key_name]
    assert expected in token_error(tokens.check_algorithm, algorithm, key)


# ---------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", tokens.ALGORITHMS)
def test_sign_and_verify_round_trip(algorithm: str, key_for: t.Callable[[str], t.Any]) -> None:
    key = key_for(algorithm)
    cert = issuing.create_certificate(key, "round-trip", 30)
    token = tokens.sign_token(key, algorithm, lifetime=120, claims={"scope": "devices"})
    # PyJWT alone, with only the certificate's public key, accepts it.
    claims = jwt.decode(token, cert.public_key(), algorithms=[algorithm])
    assert claims["scope"] == "devices" and claims["exp"] - claims["iat"] == 120
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT"}
    # And so does PyJWT with the public key read back from the certificate's PEM.
    from_pem = x509.load_pem_x509_certificate(certs.dump_certificate(cert).encode("ascii")).public_key()
    assert jwt.decode(token, from_pem, algorithms=[algorithm])["scope"] == "devices"


def test_sign_default_algorithm(ec_keys: t.Dict[str, t.Any], rsa2048: t.Any) -> None:
    assert token_status.decode_unverified(tokens.sign_token(ec_keys["P-521"]))["header"]["alg"] == "ES512"
    assert token_status.decode_unverified(tokens.sign_token(rsa2048))["header"]["alg"] == "RS256"


def test_sign_claims_and_times(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, lifetime=600, claims={"scope": ["a", "b"], "n": 1}, issuer="ansible", subject="app-1",
                              audience=["izuma"], jwt_id="fixed-id", not_before_skew=30, now=NOW + 0.9)
    claims = token_status.decode_unverified(token)["claims"]
    assert claims == {"iat": NOW, "exp": NOW + 600, "nbf": NOW - 30, "scope": ["a", "b"], "n": 1, "iss": "ansible", "sub": "app-1",
                      "aud": ["izuma"], "jti": "fixed-id"}
    assert all(isinstance(claims[name], int) for name in ("iat", "exp", "nbf"))


def test_sign_defaults_now_and_no_optional_claims(ec256: t.Any) -> None:
    claims = token_status.decode_unverified(tokens.sign_token(ec256))["claims"]
    assert set(claims) == {"iat", "exp"} and claims["exp"] - claims["iat"] == 300


def test_sign_random_jti(ec256: t.Any) -> None:
    first = token_status.decode_unverified(tokens.sign_token(ec256, jwt_id=True, now=NOW))["claims"]["jti"]
    second = token_status.decode_unverified(tokens.sign_token(ec256, jwt_id=True, now=NOW))["claims"]["jti"]
    assert first != second and uuid.UUID(hex=first).version == 4
    assert "jti" not in token_status.decode_unverified(tokens.sign_token(ec256, jwt_id=False, now=NOW))["claims"]


def test_sign_nbf_zero_skew(ec256: t.Any) -> None:
    assert token_status.decode_unverified(tokens.sign_token(ec256, not_before_skew=0, now=NOW))["claims"]["nbf"] == NOW


def test_sign_headers_and_kid(ec256: t.Any) -> None:
    header = token_status.decode_unverified(tokens.sign_token(ec256, headers={"kid": "my-key", "typ": "at+jwt", "x-note": 1}))["header"]
    assert header == {"alg": "ES256", "kid": "my-key", "typ": "at+jwt", "x-note": 1}
    header = token_status.decode_unverified(tokens.sign_token(ec256, key_id=True))["header"]
    assert header["kid"] == keys.public_key_fingerprint(ec256)[:32] == tokens.kid_for_key(ec256)
    assert token_status.decode_unverified(tokens.sign_token(ec256, key_id="v2"))["header"]["kid"] == "v2"
    assert "kid" not in token_status.decode_unverified(tokens.sign_token(ec256))["header"]


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_sign_refuses_reserved_claims(claim: str, ec256: t.Any) -> None:
    message = token_error(tokens.sign_token, ec256, claims={claim: 1, "ok": 2})
    assert "claims may not set %s" % claim in message and "remove it from claims" in message


def test_sign_refuses_several_reserved_claims(ec256: t.Any) -> None:
    assert "claims may not set exp, iat: " in token_error(tokens.sign_token, ec256, claims={"iat": 1, "exp": 2})


@pytest.mark.parametrize("header", ["alg", "jku", "jwk", "x5u", "x5c", "crit"])
def test_sign_refuses_reserved_headers(header: str, ec256: t.Any) -> None:
    message = token_error(tokens.sign_token, ec256, headers={header: "x"})
    assert "headers may not set %s" % header in message and "kid and typ are allowed" in message


@pytest.mark.parametrize("kwargs, expected", [
    ({"issuer": "a", "claims": {"iss": "b"}}, "claim iss is given both as issuer and in claims"),
    ({"subject": "a", "claims": {"sub": "a"}}, "claim sub is given both as subject and in claims"),
    ({"audience": "a", "claims": {"aud": "a"}}, "claim aud is given both as audience"),
    ({"jwt_id": True, "claims": {"jti": "a"}}, "claim jti is given both as jwt_id"),
    ({"key_id": True, "headers": {"kid": "a"}}, "header kid is given both as key_id and in headers"),
    ({"key_id": ""}, "key_id must be true"),
    ({"issuer": ""}, "issuer must be a non-empty string"),
    ({"subject": 5}, "subject must be a non-empty string"),
    ({"audience": ["a", 1]}, "audience must be a string or a list of strings"),
    ({"claims": {"iss": 5}}, "claim iss must be a string"),
    ({"claims": ["a"]}, "claims must be a mapping"),
    ({"headers": "kid"}, "headers must be a mapping"),
    ({"claims": {"when": object()}}, "claim 'when' has a value of type object, which JSON cannot represent"),
    ({"headers": {"x": {1, 2}}}, "header 'x' has a value of type set"),
    ({"claims": {1: "x"}}, "claim names must be strings"),
    ({"lifetime": 0}, "lifetime must be a positive whole number of seconds, got 0"),
    ({"lifetime": -5}, "lifetime must be a positive"),
    ({"lifetime": "300"}, "lifetime must be a positive"),
    ({"lifetime": 1.5}, "lifetime must be a positive"),
    ({"lifetime": True}, "lifetime must be a positive"),
    ({"lifetime": 7200, "max_lifetime": 3600}, "lifetime 7200 seconds is longer than max_lifetime 3600 seconds: shorten lifetime or raise max_lifetime"),
    ({"max_lifetime": 0}, "max_lifetime must be a positive"),
    ({"lifetime": 315360001}, "lifetime 315360001 seconds is longer than any token may live, 315360000 seconds (10 years)"),
    ({"lifetime": 10 ** 12, "max_lifetime": 10 ** 12}, "max_lifetime 1000000000000 seconds is longer than any token may live"),
    ({"not_before_skew": -1}, "not_before_skew must be a non-negative whole number of seconds"),
])
def test_sign_refusals(kwargs: t.Dict[str, t.Any], expected: str, ec256: t.Any) -> None:
    assert expected in token_error(tokens.sign_token, ec256, **kwargs)


def test_sign_max_lifetime_equal_is_fine(ec256: t.Any) -> None:
    claims = token_status.decode_unverified(tokens.sign_token(ec256, lifetime=3600, max_lifetime=3600, now=NOW))["claims"]
    assert claims["exp"] == NOW + 3600


def test_sign_hard_ceiling_is_inclusive(ec256: t.Any) -> None:
    claims = token_status.decode_unverified(tokens.sign_token(ec256, lifetime=315360000, now=NOW))["claims"]
    assert claims["exp"] == NOW + 315360000


def test_sign_needs_private_key(ec256: t.Any) -> None:
    assert "a private key is needed to sign a token, got" in token_error(tokens.sign_token, ec256.public_key())
    cert = issuing.create_certificate(ec256, "c", 3)
    assert "a private key is needed" in token_error(tokens.sign_token, cert)


def test_sign_wraps_library_errors(monkeypatch: pytest.MonkeyPatch, ec256: t.Any, safe_message: t.Callable[..., None]) -> None:
    def broken(*_args: t.Any, **_kwargs: t.Any) -> str:
        raise ValueError("secret-ish library detail")
    # The signer is made once per key and algorithm (_jws._signer); a failing one stands for any library error.
    monkeypatch.setattr(jws, "_signer", lambda _key, _algorithm, _signers: broken)
    message = token_error(tokens.sign_token, ec256)
    assert message == "the token could not be signed with ES256 (ValueError): check that the key and algorithm match"
    safe_message(message, "secret-ish library detail")


@pytest.mark.parametrize("algorithm", tokens.ALGORITHMS)
@pytest.mark.parametrize("headers", [None, {"kid": "k-1"}, {"typ": "at+jwt", "cty": "x"}, {"typ": ""}, {"x-list": [1, 2]}, {"b64": True}])
def test_tokens_are_pyjwts_bytes(algorithm: str, headers: t.Any, key_for: t.Callable[[str], t.Any]) -> None:
    # sign_token serializes the JWS itself (header segment and signer made once per key): the same header and
    # payload bytes as jwt.encode, the same signature where the algorithm is deterministic (RS*), and PyJWT verifies it.
    key = key_for(algorithm)
    claims = {"lifetime": 300, "subject": "device-7", "audience": ["a", "b"], "claims": {"n": 1, "nested": {"z": [1, "é"]}}}
    request = tokens.signing_request(key, now=NOW, algorithm=algorithm, headers=headers, **claims)
    for _again in range(2):  # the second time from the cached header segment and signer
        token = tokens.sign_token(key, algorithm=algorithm, now=NOW, headers=headers, **claims)
        reference = jwt.encode(request["claims"], key, algorithm=algorithm, headers=request["headers"] or None)
        if algorithm.startswith("RS"):
            assert token == reference
        assert token.split(".")[:2] == reference.split(".")[:2]
        assert jwt.decode(token, key.public_key(), algorithms=[algorithm], audience="a", options={"verify_exp": False})["nested"] == {"z": [1, "é"]}


def test_headers_pyjwt_treats_specially_are_signed_by_pyjwt(ec256: t.Any) -> None:
    # b64=false (an unencoded payload) and a kid that is not a string: PyJWT's own rules, so PyJWT signs.
    detached = tokens.sign_token(ec256, now=NOW, headers={"b64": False})
    assert detached.split(".")[1] == "" and jwt.get_unverified_header(detached)["b64"] is False
    message = token_error(tokens.sign_token, ec256, headers={"kid": 7})
    assert message == "the token could not be signed with ES256 (InvalidTokenError): check that the key and algorithm match"


def test_key_facts_are_computed_once_per_key(monkeypatch: pytest.MonkeyPatch, rsa2048: t.Any) -> None:
    tokens.sign_token(rsa2048, key_id=True)
    calls = []
    for name in ("key_description", "public_key_fingerprint"):
        monkeypatch.setattr(tokens._keys, name, lambda *args, _name=name: calls.append(_name))
    for _token in range(3):
        tokens.sign_token(rsa2048, key_id=True)
    assert calls == []
    # A bad algorithm for a known key is still refused.
    assert "needs an EC key on P-256" in token_error(tokens.sign_token, rsa2048, algorithm="ES256")


# ---------------------------------------------------------------------------
# Decoding and verification
# ---------------------------------------------------------------------------

def test_decode_unverified(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, claims={"a": 1}, now=NOW)
    for form in (token, token.encode(), " %s\n" % token):
        decoded = token_status.decode_unverified(form)
        assert decoded["header"]["alg"] == "ES256" and decoded["claims"]["a"] == 1


@pytest.mark.parametrize("token, expected", [
    ("", "has 1 part(s)"),
    ("abc", "has 1 part(s)"),
    ("a.b", "has 2 part(s)"),
    ("a.b.c.d.e", "has 5 part(s)"),
    ("!!!.@@@.###", "not a well-formed JWT"),
    (b64({"alg": "ES256"}) + ".bm90IGpzb24." + "c2ln", "not a well-formed JWT"),
    (b64({"alg": "ES256"}) + "." + b64([1, 2]) + ".c2ln", "not a well-formed JWT"),  # type: ignore[arg-type]
    ("W10." + b64({"a": 1}) + ".c2ln", "not a well-formed JWT"),
])
def test_decode_unverified_malformed(token: str, expected: str, safe_message: t.Callable[..., None]) -> None:
    message = token_error(token_status.decode_unverified, token)
    assert expected in message
    if len(token) > 5:
        safe_message(message, token)


def test_decode_unverified_wrong_type() -> None:
    assert "the token must be a string" in token_error(token_status.decode_unverified, 42)
    assert "non-ASCII" in token_error(token_status.decode_unverified, "é.a.b".encode("utf-8"))


def test_malformed_message_never_echoes_token(ec256: t.Any, safe_message: t.Callable[..., None]) -> None:
    token = tokens.sign_token(ec256, now=NOW)
    broken = token[:-10] + "." + token[-10:]
    message = token_error(token_status.decode_unverified, broken)
    safe_message(message, token, broken)
    for part in token.split("."):
        assert part not in message


def test_seconds_left(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, lifetime=300, now=NOW)
    assert token_status.seconds_left(token, now=NOW) == 300
    assert token_status.seconds_left(token, now=NOW + 0.5) == 299
    assert token_status.seconds_left(token, now=NOW + 300) == 0
    assert token_status.seconds_left(token, now=NOW + 300.5) == -1
    assert token_status.seconds_left({"exp": NOW + 10}, now=NOW) == 10
    assert 0 < token_status.seconds_left(tokens.sign_token(ec256)) <= 300
    assert "has no exp claim" in token_error(token_status.seconds_left, {"iat": NOW}, now=NOW)


# ---------------------------------------------------------------------------
# token_status
# ---------------------------------------------------------------------------

STATUS_KEYS = {"valid", "expires_at", "seconds_left", "signed_by_key", "claims_match", "needs_renewal", "reason", "algorithm"}


def test_status_fresh_token(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, lifetime=3600, claims={"scope": "x"}, audience="izuma", jwt_id=True, now=NOW)
    status = token_status.token_status(token, key=ec256, required_claims={"scope": "x", "aud": ["izuma"], "jti": "ignored", "exp": 1},
                                       renew_margin=600, now=NOW + 100)
    assert set(status) == STATUS_KEYS
    json.dumps(status)
    assert status == {"valid": True, "expires_at": "2026-11-28T18:00:00Z", "seconds_left": 3500, "signed_by_key": True, "claims_match": True,
                      "needs_renewal": False, "reason": "the token is valid for another 3500 seconds and matches the request", "algorithm": "ES256"}


def test_status_without_key_or_claims(ec256: t.Any) -> None:
    status = token_status.token_status(tokens.sign_token(ec256, now=NOW), now=NOW)
    assert status["signed_by_key"] is None and status["claims_match"] is None and status["valid"] is True and not status["needs_renewal"]


def test_status_within_margin(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, lifetime=3600, now=NOW)
    status = token_status.token_status(token, key=ec256, renew_margin=600, now=NOW + 3000)
    assert status["valid"] is True and status["needs_renewal"] is True
    assert status["reason"] == "the token expires in 600 seconds, within the renewal margin of 600 seconds"
    assert token_status.token_status(token, key=ec256, renew_margin=600, now=NOW + 2999)["needs_renewal"] is False


def test_status_expired(ec256: t.Any) -> None:
    status = token_status.token_status(tokens.sign_token(ec256, lifetime=60, now=NOW), key=ec256, now=NOW + 60)
    assert status["valid"] is False and status["needs_renewal"] is True and status["seconds_left"] == 0
    assert status["reason"] == "the token expired at 2026-11-28T17:01:00Z"


def test_status_signed_by_other_key(rsa2048: t.Any, rsa2048_other: t.Any) -> None:
    token = tokens.sign_token(rsa2048, lifetime=3600, now=NOW)
    cert = issuing.create_certificate(rsa2048_other, "new", 30)
    status = token_status.token_status(token, key=cert, now=NOW)
    assert status["signed_by_key"] is False and status["valid"] is False and status["needs_renewal"] is True
    assert "not signed by the current key" in status["reason"]


def test_status_key_of_other_type(rsa2048: t.Any, ec256: t.Any) -> None:
    status = token_status.token_status(tokens.sign_token(rsa2048, now=NOW), key=ec256, now=NOW)
    assert status["signed_by_key"] is False and status["needs_renewal"] is True


def test_status_claims_differ(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, lifetime=3600, claims={"scope": "read", "extra": 1}, now=NOW)
    status = token_status.token_status(token, key=ec256, required_claims={"scope": "write", "missing": True}, now=NOW)
    assert status["claims_match"] is False and status["needs_renewal"] is True and status["valid"] is True
    assert status["reason"] == "the token's claims differ from the requested ones (missing, scope)"
    # Extra claims are ignored unless exact_claims is set.
    assert token_status.token_status(token, required_claims={"scope": "read"}, now=NOW)["needs_renewal"] is False
    exact = token_status.token_status(token, required_claims={"scope": "read"}, exact_claims=True, now=NOW)
    assert exact["claims_match"] is False and "(extra)" in exact["reason"]
    assert token_status.token_status(token, required_claims={"scope": "read", "extra": 1}, exact_claims=True, now=NOW)["claims_match"] is True


def test_status_claim_values_compare_by_json(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, claims={"m": {"b": 1, "a": [1, 2]}}, audience="x", now=NOW)
    assert token_status.token_status(token, required_claims={"m": {"a": [1, 2], "b": 1}, "aud": "x"}, now=NOW)["claims_match"] is True
    assert token_status.token_status(token, required_claims={"m": {"a": [2, 1], "b": 1}}, now=NOW)["claims_match"] is False
    assert token_status.token_status(token, required_claims={"aud": ["x", "y"]}, now=NOW)["claims_match"] is False


def test_status_algorithm_change(rsa2048: t.Any) -> None:
    token = tokens.sign_token(rsa2048, "RS256", now=NOW)
    status = token_status.token_status(token, key=rsa2048, algorithm="PS256", now=NOW)
    assert status["needs_renewal"] is True and "signed with RS256, not the requested PS256" in status["reason"]
    assert status["valid"] is True


def test_status_not_yet_valid(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, now=NOW + 1000, not_before_skew=0)
    status = token_status.token_status(token, key=ec256, now=NOW)
    assert status["valid"] is False and status["needs_renewal"] is True and "not valid before" in status["reason"]


@pytest.mark.parametrize("token, expected", [
    (None, "there is no token yet"),
    ("", "there is no token yet"),
    ("  \n", "there is no token yet"),
    ("garbage", "the token is not a JWT"),
])
def test_status_missing_or_garbage(token: t.Any, expected: str, ec256: t.Any) -> None:
    status = token_status.token_status(token, key=ec256, now=NOW)
    assert status["valid"] is False and status["needs_renewal"] is True and expected in status["reason"]
    assert status["expires_at"] is None and status["seconds_left"] is None


def test_status_without_exp_and_bad_algorithm(ec256: t.Any) -> None:
    status = token_status.token_status(jwt.encode({"a": 1}, ec256, algorithm="ES256"), key=ec256, now=NOW)
    assert status["valid"] is False and "has no exp claim" in status["reason"] and status["signed_by_key"] is True
    hs = jwt.encode({"exp": NOW + 100}, "a-shared-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    status = token_status.token_status(hs, key=ec256, now=NOW)
    assert status["valid"] is False and status["signed_by_key"] is False and "'HS256', which Izuma Device Management does not accept" in status["reason"]


def test_status_bad_arguments(ec256: t.Any) -> None:
    token = tokens.sign_token(ec256, now=NOW)
    assert "renew_margin must be a non-negative" in token_error(token_status.token_status, token, renew_margin=-1)
    assert "expected a private key" in token_error(token_status.token_status, token, key=object())


@pytest.mark.parametrize("sort_keys", [False, True])
def test_compact_json_is_json_dumps(sort_keys: bool) -> None:
    value = {"b": [1, 2.5, None, True, "é\u2028"], "a": {"z": "x", "y": -1}, "c": "plain"}
    encoder = jws.CompactJson(sort_keys=sort_keys)
    assert encoder.encode(value) == json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)
    assert encoder.encode("text") == json.dumps("text")
    with pytest.raises(TypeError):
        encoder.encode({"x": object()})
    circular = []  # type: t.List[t.Any]
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        encoder.encode({"x": circular})
    with_default = jws.CompactJson(sort_keys=True, default=lambda value: "<%s>" % type(value).__name__)
    assert with_default.encode({"x": object()}) == '{"x":"<object>"}'
