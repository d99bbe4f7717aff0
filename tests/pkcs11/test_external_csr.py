# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""izuma_verification_key with key_backend=pkcs11 and certificate_provider=external, on a real token (no mock).

The key pair is generated in the token, the token signs the certificate signing request (it verifies with the
token's public key and asks for that key), a CA the module never sees issues the certificate, and the next run
uploads it; a converged run then changes nothing. A rotation makes a new pair and a new request while the current key
stays in use; a certificate that is due is requested again for the same pair.
"""

from __future__ import annotations

import datetime
import os
import typing as t

import jwt
import pytest
import requests
from izuma_emulator.testing import start_in_thread

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys as _keys
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as _tokens
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import key_pairs as _pkcs11_keys
from ansible_collections.izuma.device_management.plugins.module_utils._pkcs11 import signing as _pkcs11_signing
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import converge as vk
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import state
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times


KEY_TYPES = [("EC", None, "P-256"), ("RSA", 2048, None)]


@pytest.fixture(scope="module")
def emulator() -> t.Iterator[t.Any]:
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture()
def client(emulator) -> IzumaClient:
    emulator.reset()
    return IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))


@pytest.fixture()
def app(client) -> t.Dict[str, t.Any]:
    return client.create("/v3/applications", {"name": "pkcs11-external"})


class Authority:
    """The user's CA, which the module never sees: it issues a certificate for the public key a request asks for."""

    def __init__(self) -> None:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

        self.key = _keys.generate_private_key("EC", curve="P-256")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "External test CA")])
        start = times.utcnow() - datetime.timedelta(days=1)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(start)
                     .not_valid_after(start + datetime.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(self.key, hashes.SHA256()))

    def issue(self, csr_pem: bytes, valid_days: int = 90) -> str:
        """A certificate for the request's public key and subject, after checking the request's signature."""
        from cryptography import x509  # pylint: disable=import-outside-toplevel

        request = x509.load_pem_x509_csr(csr_pem)
        assert request.is_signature_valid
        cn = request.subject.rfc4514_string().split("CN=", 1)[1].split(",", 1)[0]
        return certs.dump_certificate(issuing.create_certificate(request.public_key(), cn, valid_days, issuer=(self.cert, self.key)))


def desired(hsm: t.Any, tmp_path: t.Any, name: str, **options: t.Any) -> Desired:
    values: t.Dict[str, t.Any] = dict(name=name, key_backend="pkcs11", certificate_provider="external", pkcs11_library=hsm.module,
                                      pkcs11_token=hsm.label, pkcs11_pin=hsm.pin, certificate_path=str(tmp_path / ("%s.crt" % name)))
    values.update(options)
    want = Desired(**values)
    want.validate()
    return want


def run(client: IzumaClient, app: t.Dict[str, t.Any], want: Desired, check: bool = False,
        now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    return vk.converge(client, want, check_mode=check, diff=True, application_id=app["id"], now=now)


def kinds(result: t.Dict[str, t.Any]) -> t.List[str]:
    return [entry["kind"] for entry in result["plan_details"]]


def uploaded(client: IzumaClient, app: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    return {item["name"]: item["public_key_fingerprint"] for item in state.list_keys(client, app["id"])}


def pair_of(token: t.Any, name: str, generation: str) -> t.Any:
    return _pkcs11_keys.find_key_pair(token, _pkcs11_keys.key_label(name, generation))


def assert_request_is_the_tokens(csr_pem: bytes, pair: t.Any, name: str) -> None:
    """The request verifies, asks for the pair's public key with the module's subject, and csr_matches says so."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel

    request = x509.load_pem_x509_csr(csr_pem)
    assert request.is_signature_valid, "the token's signature on the request does not verify"
    assert _keys.public_key_fingerprint(request.public_key()) == _keys.public_key_fingerprint(pair.public_key())
    assert request.subject.rfc4514_string() == "CN=%s" % name
    assert issuing.csr_matches(csr_pem, pair.public_key(), name)
    assert issuing.csr_matches(csr_pem, _pkcs11_signing.private_key(pair), name)
    assert not issuing.csr_matches(csr_pem, _keys.generate_private_key("EC"), name)


@pytest.mark.parametrize("spec", KEY_TYPES, ids=lambda spec: "%s-%s" % (spec[0], spec[1] or spec[2]))
def test_the_token_signs_the_request_and_the_cas_certificate_is_uploaded(hsm, token, client, emulator, app, tmp_path, spec) -> None:
    key_type, size, curve = spec
    name = "external-%s" % key_type.lower()
    want = desired(hsm, tmp_path, name, key_type=key_type, key_size=size, curve=curve)
    csr_path = tmp_path / ("%s.crt.csr" % name)

    # Check mode: nothing generated, nothing written; the request it would write is for a key not made yet.
    emulator.clear_log()
    predicted = run(client, app, want, check=True)
    assert predicted["changed"] and kinds(predicted) == ["GenerateKey", "WriteCsr"], predicted["plan_details"]
    assert predicted["failed"] and predicted["certificate_requested"]
    assert pair_of(token, name, "next") is None and os.listdir(tmp_path) == [] and emulator.writes() == []
    # The key is unknown until the token generates it: the request's fingerprint is not made up.
    assert predicted["diff"]["after"][str(csr_path)] == {"public_key_fingerprint": None, "subject": "CN=%s" % name}

    # First run: the pair is generated, the token signs the request; the run fails (no certificate yet) after writing it.
    first = run(client, app, want)
    assert first["failed"] and first["changed"] and kinds(first) == ["GenerateKey", "WriteCsr"], first["plan_details"]
    assert "have your CA issue a certificate from it" in first["msg"] and first["csr_path"] == str(csr_path)
    pending = pair_of(token, name, "next")
    assert pending is not None and pair_of(token, name, "current") is None
    described = pending.describe()
    assert described["sensitive"] and not described["extractable"]
    assert_request_is_the_tokens(csr_path.read_bytes(), pending, name)
    assert uploaded(client, app) == {} and sorted(os.listdir(tmp_path)) == [csr_path.name]

    # Again without a certificate: the same request stands, nothing is written.
    emulator.clear_log()
    before = csr_path.read_bytes()
    waiting = run(client, app, want)
    assert waiting["failed"] and not waiting["changed"] and emulator.writes() == [] and csr_path.read_bytes() == before

    # The CA issues the certificate; the next run uploads it and the pair becomes the current one.
    ca = Authority()
    (tmp_path / ("%s.crt" % name)).write_text(ca.issue(before))
    done = run(client, app, want)
    assert not done.get("failed") and done["changed"] and "UploadKey" in kinds(done), done["plan_details"]
    current = pair_of(token, name, "current")
    assert current is not None and pair_of(token, name, "next") is None
    fingerprint = _keys.public_key_fingerprint(current.public_key())
    assert uploaded(client, app) == {name: fingerprint} == {name: done["public_key_fingerprint"]}
    assert certs.issued_by(certs.load_certificate(done["verification_key"]["certificate"]), ca.cert)

    # The API accepts a JWT the token signs, verified with the CA-issued certificate.
    algorithm = "ES256" if key_type == "EC" else "RS256"
    token_jwt = _tokens.sign_token(_pkcs11_signing.private_key(current), algorithm, lifetime=300, subject="collector")
    cert = certs.load_certificate((tmp_path / ("%s.crt" % name)).read_text())
    assert jwt.decode(token_jwt, cert.public_key(), algorithms=[algorithm])["sub"] == "collector"
    answer = requests.get("%s/v3/applications/%s" % (emulator.url, app["id"]), timeout=30,
                          headers={"Authorization": "Bearer " + token_jwt, "X-Application-ID": app["id"]})
    assert answer.status_code == 200, answer.text

    # Converged: nothing changes, in the application, the token or on disk.
    emulator.clear_log()
    files = {entry: (tmp_path / entry).read_bytes() for entry in os.listdir(tmp_path)}
    again = run(client, app, want)
    assert not again["changed"] and again["plan"] == [] and not again.get("failed") and emulator.writes() == []
    assert {entry: (tmp_path / entry).read_bytes() for entry in os.listdir(tmp_path)} == files
    assert not again["certificate_requested"]
    assert repr([first, waiting, done, again]).count(hsm.pin) == 0 and "PRIVATE KEY" not in repr([first, waiting, done, again])

    # state=absent with remove_files: the key deleted, then its pair destroyed, its certificate and request removed.
    removed = run(client, app, desired(hsm, tmp_path, name, state="absent", remove_files=True))
    assert kinds(removed) == ["DeleteKey", "DestroyKey", "RemoveFile", "RemoveFile"], removed["plan_details"]
    assert uploaded(client, app) == {} and pair_of(token, name, "current") is None and os.listdir(tmp_path) == []


def test_a_rotation_waits_for_the_new_keys_certificate_while_the_current_key_stays_in_use(hsm, token, client, app, tmp_path) -> None:
    name = "external-rotation"
    want = desired(hsm, tmp_path, name)
    csr_path = tmp_path / ("%s.crt.csr" % name)
    ca = Authority()
    run(client, app, want)
    (tmp_path / ("%s.crt" % name)).write_text(ca.issue(csr_path.read_bytes()))
    run(client, app, want)
    first = _keys.public_key_fingerprint(pair_of(token, name, "current").public_key())

    rotating = run(client, app, desired(hsm, tmp_path, name, rotate=True))
    assert not rotating.get("failed") and rotating["changed"] and kinds(rotating) == ["GenerateKey", "WriteCsr"], rotating["plan_details"]
    assert "the current key stays in use" in " ".join(rotating["warnings"])
    pending = pair_of(token, name, "next")
    assert pending is not None and _keys.public_key_fingerprint(pending.public_key()) != first
    assert_request_is_the_tokens(csr_path.read_bytes(), pending, name)
    assert uploaded(client, app) == {name: first}

    (tmp_path / ("%s.crt" % name)).write_text(ca.issue(csr_path.read_bytes()))
    rotated = run(client, app, want)
    assert rotated["changed"] and rotated["rotated"] and not rotated.get("failed"), rotated["plan_details"]
    second = _keys.public_key_fingerprint(pair_of(token, name, "current").public_key())
    assert second == _keys.public_key_fingerprint(pending.public_key())
    assert _keys.public_key_fingerprint(pair_of(token, name, "previous").public_key()) == first
    assert uploaded(client, app) == {name: second, name + "-previous": first}
    assert run(client, app, want)["plan"] == []


def test_a_certificate_due_for_renewal_is_requested_for_the_same_pair(hsm, token, client, app, tmp_path) -> None:
    name = "external-renewal"
    want = desired(hsm, tmp_path, name)
    csr_path = tmp_path / ("%s.crt.csr" % name)
    ca = Authority()
    run(client, app, want)
    (tmp_path / ("%s.crt" % name)).write_text(ca.issue(csr_path.read_bytes(), valid_days=20))
    run(client, app, want)
    current = pair_of(token, name, "current")
    csr_path.unlink()

    due = run(client, app, want)
    assert not due.get("failed") and due["certificate_requested"] and kinds(due) == ["WriteCsr"], due["plan_details"]
    assert "expires in" in due["certificate_request"]
    assert_request_is_the_tokens(csr_path.read_bytes(), current, name)
