# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local emulator accepts the token-issued certificates as verification keys and the token-signed JWTs."""

from __future__ import annotations

import typing as t

import pytest
import requests
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as _certificates
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing as _issuing
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens

from conftest import spec_id


class Api:
    """Plain requests against the emulator, as the administrator unless a JWT is given."""

    def __init__(self, emulator: t.Any) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never through a proxy

    def call(self, method: str, path: str, token: t.Optional[str] = None, application_id: t.Optional[str] = None,
             **kwargs: t.Any) -> requests.Response:
        """Send one request and return the response."""
        headers = {"Authorization": "Bearer %s" % (token or self.emulator.admin_key)}
        if application_id:
            headers["X-Application-ID"] = application_id
        return self.session.request(method, self.emulator.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def api() -> t.Iterator[Api]:
    """An emulator in a thread of this process."""
    emulator = start_in_thread()
    yield Api(emulator)
    emulator.stop()


def test_emulator_accepts_the_certificate_and_every_algorithm(hsm, api, pairs, spec) -> None:
    pair = pairs[spec]
    application = api.call("POST", "/v3/applications", json={"name": "pkcs11-" + spec_id(spec)})
    assert application.status_code == 201, application.text
    application_id = application.json()["id"]
    signing_key = _pkcs11_signing.private_key(pair)
    pem = _certificates.dump_certificate(_issuing.create_certificate(signing_key, "izuma-emulator-" + spec_id(spec), 30))
    key = api.call("POST", "/v3/applications/%s/verification-keys" % application_id, json={"name": "hsm", "certificate": pem})
    assert key.status_code == 201, key.text
    assert key.json()["certificate_fingerprint"] == _certificates.certificate_info(_certificates.load_certificate(pem))["fingerprint"]
    for algorithm in hsm.profile.algorithms(spec):
        token = _tokens.sign_token(signing_key, algorithm, lifetime=120, subject="pkcs11-test")
        response = api.call("GET", "/v3/applications/%s" % application_id, token=token, application_id=application_id)
        assert response.status_code == 200, (algorithm, response.text)
        assert api.emulator.log()[-1]["auth"] == "jwt"


def test_emulator_refuses_a_token_of_a_key_it_does_not_know(api, token, pairs) -> None:
    # The acceptance above means something: a token-signed JWT from a key that was not uploaded is refused.
    spec = ("EC", None, "P-256")
    application = api.call("POST", "/v3/applications", json={"name": "pkcs11-unknown-key"}).json()
    pem = _certificates.dump_certificate(_issuing.create_certificate(_pkcs11_signing.private_key(pairs[spec]), "izuma-known", 30))
    assert api.call("POST", "/v3/applications/%s/verification-keys" % application["id"],
                    json={"name": "known", "certificate": pem}).status_code == 201
    label = _pkcs11_keys.key_label("not-uploaded")
    _pkcs11_keys.destroy_key_pair(token, label)
    stranger = _pkcs11_keys.generate_key_pair(token, label, "EC", curve="P-256")
    try:
        refused = api.call("GET", "/v3/applications/%s" % application["id"], token=_tokens.sign_token(_pkcs11_signing.private_key(stranger), "ES256"),
                           application_id=application["id"])
        assert refused.status_code == 401 and refused.json()["type"] == "invalid_token", refused.text
    finally:
        _pkcs11_keys.destroy_key_pair(token, label)
