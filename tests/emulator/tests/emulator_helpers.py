# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helpers: certificates and keys made with cryptography, JWTs, and a small API client.

Key generation is the slow part of these tests, so keys are cached per session and
reused; every certificate is still unique (random serial), so duplicate-certificate
rules are not tripped by accident.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

# Which key signs which JWT algorithm.
ALGORITHM_KEYS = {
    "RS256": ("rsa", 2048), "RS384": ("rsa", 2048), "RS512": ("rsa", 2048),
    "PS256": ("rsa", 2048), "PS384": ("rsa", 2048), "PS512": ("rsa", 2048),
    "ES256": ("ec", "secp256r1"), "ES384": ("ec", "secp384r1"), "ES512": ("ec", "secp521r1"),
}

_CURVES = {"secp192r1": ec.SECP192R1, "secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1,
           "secp521r1": ec.SECP521R1, "secp256k1": ec.SECP256K1}


class CertFactory:
    """Makes keys (cached by type, size and slot) and self-signed certificates."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, object, int], PrivateKey] = {}

    def rsa(self, bits: int = 2048, slot: int = 0) -> rsa.RSAPrivateKey:
        """An RSA key; the same (bits, slot) always gives the same key within a session."""
        key = self._keys.get(("rsa", bits, slot))
        if key is None:
            key = self._keys[("rsa", bits, slot)] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return key  # type: ignore[return-value]

    def ec(self, curve: str = "secp256r1", slot: int = 0) -> ec.EllipticCurvePrivateKey:
        """An EC key on ``curve`` (secp256r1, secp384r1, secp521r1, secp192r1, secp256k1)."""
        key = self._keys.get(("ec", curve, slot))
        if key is None:
            key = self._keys[("ec", curve, slot)] = ec.generate_private_key(_CURVES[curve]())
        return key  # type: ignore[return-value]

    def ed25519(self) -> ed25519.Ed25519PrivateKey:
        """An Ed25519 key (the product refuses these)."""
        return ed25519.Ed25519PrivateKey.generate()

    def for_algorithm(self, algorithm: str, slot: int = 0) -> PrivateKey:
        """A key able to sign JWTs with ``algorithm``."""
        kind, size = ALGORITHM_KEYS[algorithm]
        return self.rsa(int(size), slot) if kind == "rsa" else self.ec(str(size), slot)

    @staticmethod
    def certificate(key: PrivateKey, days: float = 30, start_days: float = -1, common_name: str = "izuma-test") -> str:
        """A self-signed PEM certificate for ``key`` valid from now+start_days for ``days`` days."""
        now = datetime.now(timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Izuma emulator tests")])
        start = now + timedelta(days=start_days)
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + timedelta(days=days)))
        algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode("ascii")

    @staticmethod
    def expired_certificate(key: PrivateKey) -> str:
        """A certificate that expired yesterday."""
        return CertFactory.certificate(key, days=1, start_days=-2)


def make_jwt(key: PrivateKey, algorithm: str, expires_in: float | None = 300, now: float | None = None, **claims: Any) -> str:
    """Sign a JWT; ``expires_in=None`` leaves out ``exp``."""
    payload: dict[str, Any] = {"iss": "izuma-emulator-tests", **claims}
    if expires_in is not None:
        payload["exp"] = int((now or time.time()) + expires_in)
    return jwt.encode(payload, key, algorithm=algorithm)  # type: ignore[arg-type]


def unsigned_jwt(expires_in: float = 300) -> str:
    """A JWT with ``alg: none`` (which the product refuses)."""
    return jwt.encode({"exp": int(time.time() + expires_in)}, None, algorithm="none")  # type: ignore[arg-type]


class ApiClient:
    """requests against the emulator; authenticates as the admin unless told otherwise."""

    def __init__(self, url: str, admin_key: str, verify: str | bool = True) -> None:
        self.url = url
        self.admin_key = admin_key
        self.session = requests.Session()
        self.session.trust_env = False  # never send loopback traffic through a proxy
        self.session.verify = verify

    def request(self, method: str, path: str, token: str | None = None, application_id: str | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """Send a request; ``token`` replaces the admin key, ``application_id`` adds X-Application-ID."""
        all_headers = {"Authorization": f"Bearer {token or self.admin_key}"}
        if application_id:
            all_headers["X-Application-ID"] = application_id
        all_headers.update(headers or {})
        return self.session.request(method, self.url + path, headers=all_headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)

    def create_application(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create an application (admin) and return it."""
        response = self.post("/v3/applications", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def group_id(self, name: str) -> str:
        """Resolve a policy group name to its id."""
        return next(group["id"] for group in self.get("/v3/policy-groups").json()["data"] if group["name"] == name)

    def add_verification_key(self, application_id: str, name: str, certificate: str, **fields: Any) -> dict[str, Any]:
        """Upload a verification key (admin) and return it."""
        response = self.post(f"/v3/applications/{application_id}/verification-keys",
                             json={"name": name, "certificate": certificate, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def create_access_key(self, application_id: str, name: str, **fields: Any) -> dict[str, Any]:
        """Create an access key (admin) and return it, secret included."""
        response = self.post(f"/v3/applications/{application_id}/access-keys", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return response.json()


def assert_error(response: requests.Response, status: int, error_type: str, field: str | None = None) -> dict[str, Any]:
    """Check an error answer's status, envelope and type (and that ``field`` is named); return the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["object"] == "error" and body["code"] == status and body["type"] == error_type, body
    assert len(body["request_id"]) == 32 and int(body["request_id"], 16) >= 0
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert field in [item["name"] for item in body.get("fields", [])], body
    return body
