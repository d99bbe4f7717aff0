# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""certificate_provider of izuma_verification_key against the emulator: selfsigned, ownca (a CA the user gives issues
and renews) and external (requests for the user's CA, certificates picked up from certificate_path)."""

from __future__ import annotations

import datetime
import os
import stat
from typing import Any, Dict, Optional, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times
from ansible_collections.izuma.device_management.tests.unit.plugins.module_utils.emulated_runs import desired, kinds, remote, run, snapshot

DAY = 86400
APPLICATION_NAME = "provider-test"  # the conftest app fixture's name


@pytest.fixture
def app(app: Dict[str, Any], emulator: Any) -> Dict[str, Any]:
    """The conftest's fresh application; here the log starts after it."""
    emulator.clear_log()
    return app


def make_ca(tmp_path: Any, name: str = "Example Root CA", days: int = 3650, is_ca: bool = True,
            passphrase: Optional[str] = None) -> Tuple[Any, Any]:
    """A CA certificate and key, made with cryptography directly (not the code under test), written to tmp_path."""
    key = keys.generate_private_key("EC", curve="P-384")
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = times.utcnow() - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .sign(key, hashes.SHA384()))
    (tmp_path / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(keys.dump_private_key(key, passphrase))
    return cert, key


def assert_issued_by(cert: Any, ca_cert: Any) -> None:
    """The CA (an EC key, see make_ca) signed ``cert``: checked with cryptography directly, as in every version
    (Certificate.verify_directly_issued_by needs cryptography 40)."""
    assert cert.issuer == ca_cert.subject
    ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))


def ca_sign(csr_pem: bytes, ca: Tuple[Any, Any], days: int = 90) -> str:
    """What the user's CA does with a request: a certificate for its public key and subject (cryptography directly)."""
    request = x509.load_pem_x509_csr(csr_pem)
    assert request.is_signature_valid
    start = times.utcnow() - datetime.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca[0].subject).public_key(request.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .sign(ca[1], hashes.SHA384()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ownca(tmp_path: Any, **options: Any) -> Desired:
    return desired(tmp_path, certificate_provider="ownca", ownca_path=str(tmp_path / "ca.crt"),
                   ownca_privatekey_path=str(tmp_path / "ca.key"), **options)


def external(tmp_path: Any, **options: Any) -> Desired:
    return desired(tmp_path, certificate_provider="external", **options)


def file_cert(path: Any) -> Any:
    return x509.load_pem_x509_certificate(path.read_bytes())


def assert_converged(client: IzumaClient, emulator: Any, app: Dict[str, Any], want: Desired, tmp_path: Any) -> None:
    """A converged run (check mode and real): no plan, no write, one list request, files byte-identical."""
    before = snapshot(tmp_path)
    for check in (True, False):
        emulator.clear_log()
        result = run(client, app, want, check=check)
        assert result["plan"] == [] and not result["changed"], result["plan"]
        assert [(entry["method"], entry["path"]) for entry in emulator.log()] == [("GET", "/v3/applications/%s/verification-keys" % app["id"])]
    assert snapshot(tmp_path) == before


# -- ownca ---------------------------------------------------------------------------------------------------


def test_ownca_issues_the_certificate_with_the_given_ca_and_converges(tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    checked = run(admin_client, app, ownca(tmp_path), check=True)
    assert kinds(checked) == ["WritePendingKey", "UploadKey", "PromoteFiles"] and emulator.writes() == []
    assert sorted(os.listdir(tmp_path)) == ["ca.crt", "ca.key"]
    result = run(admin_client, app, ownca(tmp_path))
    assert result["plan"] == checked["plan"]
    issued = file_cert(tmp_path / "signing.crt")
    assert issued.issuer == ca[0].subject and issued.subject.rfc4514_string() == "CN=signing"
    assert_issued_by(issued, ca[0])
    assert certs.certificate_matches_key(issued, keys.load_private_key((tmp_path / "signing.key").read_bytes()))
    uploaded = remote(admin_client, app)["signing"]
    assert uploaded["issuer"] == ca[0].subject.rfc4514_string() and uploaded["status"] == "ACTIVE" and uploaded["valid"]
    assert uploaded["certificate"].strip() == (tmp_path / "signing.crt").read_text().strip()
    assert result["warnings"] == [] and result["certificate_requested"] is False
    assert_converged(admin_client, emulator, app, ownca(tmp_path), tmp_path)


def test_ownca_renews_within_renew_before_from_the_same_ca_in_place(tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    first = run(admin_client, app, ownca(tmp_path, valid_days=40))
    later = times.utcnow() + datetime.timedelta(days=15)
    emulator.clock(15 * DAY)
    renewed = run(admin_client, app, ownca(tmp_path, valid_days=40), now=later)
    assert renewed["renewed"] and kinds(renewed) == ["UpdateKey", "WriteCertificate"]
    assert renewed["verification_key"]["id"] == first["verification_key"]["id"]
    assert renewed["public_key_fingerprint"] == first["public_key_fingerprint"]
    assert_issued_by(file_cert(tmp_path / "signing.crt"), ca[0])
    assert renewed["certificate_fingerprint"] != first["certificate_fingerprint"]


def test_ownca_rotation_issues_the_new_keys_certificate_from_the_same_ca(tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    first = run(admin_client, app, ownca(tmp_path))
    rotated = run(admin_client, app, ownca(tmp_path, rotate=True))
    assert rotated["rotated"] and rotated["public_key_fingerprint"] != first["public_key_fingerprint"]
    new = file_cert(tmp_path / "signing.crt")
    assert_issued_by(new, ca[0])
    assert certs.certificate_matches_key(new, keys.load_private_key((tmp_path / "signing.key").read_bytes()))
    assert file_cert(tmp_path / "signing.crt.previous").fingerprint(hashes.SHA256()).hex() == first["certificate_fingerprint"]
    assert {item["issuer"] for item in remote(admin_client, app).values()} == {ca[0].subject.rfc4514_string()}


def test_ownca_replaces_the_modules_own_self_signed_certificate_with_the_cas(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    first = certs.load_certificate((tmp_path / "signing.crt").read_bytes())
    assert certs.certificate_info(first)["self_signed"]
    ca = make_ca(tmp_path)
    result = run(admin_client, app, ownca(tmp_path))
    assert result["renewed"] and "certificate_provider=ownca: the certificate is self-signed" in result["plan_details"][0]["why"]
    assert_issued_by(file_cert(tmp_path / "signing.crt"), ca[0])
    assert_converged(admin_client, emulator, app, ownca(tmp_path), tmp_path)


def test_ownca_keeps_a_certificate_another_ca_issued_and_says_so(tmp_path, emulator, admin_client, app) -> None:
    make_ca(tmp_path)
    run(admin_client, app, ownca(tmp_path))
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = make_ca(other_dir, name="Other CA")
    key = keys.load_private_key((tmp_path / "signing.key").read_bytes())
    pem = ca_sign(issuing.create_csr(key, "signing").encode(), other)
    (tmp_path / "signing.crt").write_text(pem)
    result = run(admin_client, app, ownca(tmp_path))
    assert result["plan"] == ["update verification key 'signing': certificate_fingerprint, expires_at"]
    assert any("issued by CN=Other CA,O=Example, not by the CA" in warning and "rotate=true" in warning for warning in result["warnings"])
    assert (tmp_path / "signing.crt").read_text() == pem


@pytest.mark.parametrize("case, expect", [
    ("not a CA", ["is not a CA certificate (basicConstraints CA:FALSE)", "ownca_path"]),
    ("expired CA", ["expired at", "renew the CA certificate"]),
    ("key of another CA", ["does not belong to the CA certificate", "ownca_privatekey_path"]),
    ("wrong passphrase", ["ownca_privatekey_passphrase"]),
])
def test_ownca_refusals_name_the_option_and_change_nothing(tmp_path, emulator, admin_client, app, case, expect) -> None:
    options: Dict[str, Any] = {}
    if case == "not a CA":
        make_ca(tmp_path, is_ca=False)
    elif case == "expired CA":
        make_ca(tmp_path, days=1)
        emulator.clock(3 * DAY)
    elif case == "key of another CA":
        make_ca(tmp_path)
        (tmp_path / "ca.key").write_bytes(keys.dump_private_key(keys.generate_private_key("EC", curve="P-256")))
    else:
        make_ca(tmp_path, passphrase="right-passphrase-1")
        options["ownca_privatekey_passphrase"] = "wrong-passphrase-2"
    before = snapshot(tmp_path)
    emulator.clear_log()
    now = times.utcnow() + datetime.timedelta(days=3) if case == "expired CA" else None
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, ownca(tmp_path, **options), now=now)
    assert all(part in str(info.value) for part in expect), str(info.value)
    assert emulator.writes() == [] and snapshot(tmp_path) == before


@pytest.mark.parametrize("options, expect", [
    (dict(certificate_provider="ownca"), "needs the CA certificate: give ownca_path"),
    (dict(certificate_provider="ownca", ownca_path="/ca.crt"), "needs the CA's private key: give ownca_privatekey_path"),
    (dict(ownca_path="/ca.crt"), "ownca_path is for certificate_provider=ownca"),
    (dict(csr_path="/x.csr"), "csr_path is for certificate_provider=external"),
    (dict(certificate_provider="external", certificate_path=None), "certificate_provider=external needs certificate_path"),
    (dict(certificate_provider="external", certificate_path=None, certificate_content="x"), "give certificate_path instead of certificate_content"),
    (dict(certificate_provider="external", csr_path="/k/signing.crt", certificate_path="/k/signing.crt"), "csr_path must be a file of its own"),
])
def test_provider_options_that_cannot_work_are_refused(tmp_path, options, expect) -> None:
    with pytest.raises(IzumaError) as info:
        desired(tmp_path, **options)
    assert expect in str(info.value)


# -- external ------------------------------------------------------------------------------------------------


def test_external_new_key_writes_a_request_fails_until_the_certificate_is_there_then_uploads_it(
        tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    checked = run(admin_client, app, external(tmp_path), check=True)
    assert checked["failed"] and kinds(checked) == ["WritePendingKey", "WriteCsr"] and emulator.writes() == []
    assert checked["diff"]["after"][str(tmp_path / "signing.crt.csr")]["subject"] == "CN=signing"
    first = run(admin_client, app, external(tmp_path))
    assert first["failed"] and first["changed"] and first["certificate_requested"]
    assert "put it at certificate_path" in first["msg"] and first["csr_path"] == str(tmp_path / "signing.crt.csr")
    assert emulator.writes() == [] and not (tmp_path / "signing.key").exists()
    csr = tmp_path / "signing.crt.csr"
    assert stat.S_IMODE(os.stat(csr).st_mode) == 0o644
    request = x509.load_pem_x509_csr(csr.read_bytes())
    assert keys.public_key_fingerprint(request.public_key()) == keys.public_key_fingerprint(
        keys.load_private_key((tmp_path / "signing.key.next").read_bytes()))
    # Again without the certificate: the same request, nothing written (an EC signature differs each time).
    before = snapshot(tmp_path)
    again = run(admin_client, app, external(tmp_path))
    assert again["failed"] and again["plan"] == [] and snapshot(tmp_path) == before
    (tmp_path / "signing.crt").write_text(ca_sign(csr.read_bytes(), ca))
    done = run(admin_client, app, external(tmp_path))
    assert not done.get("failed") and kinds(done) == ["UploadKey", "PromoteFiles"]
    assert remote(admin_client, app)["signing"]["issuer"] == ca[0].subject.rfc4514_string()
    assert_converged(admin_client, emulator, app, external(tmp_path), tmp_path)
    gone = run(admin_client, app, external(tmp_path, state="absent", remove_files=True))
    assert "remove file '%s'" % csr in gone["plan"] and sorted(os.listdir(tmp_path)) == ["ca.crt", "ca.key"]


def test_external_renewal_due_writes_a_request_warns_and_picks_up_the_renewed_certificate(
        tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    key = keys.generate_private_key("EC", curve="P-256")
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(key))
    (tmp_path / "signing.crt").write_text(ca_sign(issuing.create_csr(key, "signing").encode(), ca, days=20))
    uploaded = run(admin_client, app, external(tmp_path))
    assert kinds(uploaded) == ["WriteCsr", "UploadKey"] and uploaded["certificate_requested"]
    assert any("certificate_provider=external" in warning and "put it at certificate_path" in warning for warning in uploaded["warnings"])
    assert "renew_before=30" in uploaded["certificate_request"]
    before = snapshot(tmp_path)
    emulator.clear_log()
    waiting = run(admin_client, app, external(tmp_path))
    assert waiting["plan"] == [] and waiting["certificate_requested"] and emulator.writes() == [] and snapshot(tmp_path) == before
    renewed_pem = ca_sign((tmp_path / "signing.crt.csr").read_bytes(), ca, days=90)
    (tmp_path / "signing.crt").write_text(renewed_pem)
    picked = run(admin_client, app, external(tmp_path))
    assert picked["plan"] == ["update verification key 'signing': certificate_fingerprint, expires_at"]
    assert picked["verification_key"]["id"] == uploaded["verification_key"]["id"] and not picked["certificate_requested"]
    assert picked["verification_key"]["certificate"].strip() == renewed_pem.strip()
    assert_converged(admin_client, emulator, app, external(tmp_path), tmp_path)


def test_external_expired_certificate_fails_after_writing_the_request(tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    key = keys.generate_private_key("EC", curve="P-256")
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(key))
    (tmp_path / "signing.crt").write_text(ca_sign(issuing.create_csr(key, "signing").encode(), ca, days=10))
    assert kinds(run(admin_client, app, external(tmp_path, renew_before=5))) == ["UploadKey"]
    assert not (tmp_path / "signing.crt.csr").exists()
    later = times.utcnow() + datetime.timedelta(days=12)
    emulator.clock(12 * DAY)
    emulator.clear_log()
    result = run(admin_client, app, external(tmp_path, renew_before=5), now=later)
    assert result["failed"] and kinds(result) == ["WriteCsr"] and emulator.writes() == []
    assert "expired at" in result["msg"] and "cannot verify JWTs" in result["msg"]
    assert x509.load_pem_x509_csr((tmp_path / "signing.crt.csr").read_bytes()).is_signature_valid


def test_external_rotation_waits_for_the_new_keys_certificate_with_the_current_key_in_use(
        tmp_path, emulator, admin_client, app) -> None:
    ca = make_ca(tmp_path)
    key = keys.generate_private_key("EC", curve="P-256")
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(key))
    old_pem = ca_sign(issuing.create_csr(key, "signing").encode(), ca)
    (tmp_path / "signing.crt").write_text(old_pem)
    first = run(admin_client, app, external(tmp_path))
    emulator.clear_log()
    waiting = run(admin_client, app, external(tmp_path, rotate=True))
    assert kinds(waiting) == ["WritePendingKey", "WriteCsr"] and not waiting.get("failed") and not waiting["rotated"]
    assert emulator.writes() == [] and waiting["usable"] and waiting["certificate_requested"]
    assert any("is not uploaded yet" in warning and "current key stays in use" in warning for warning in waiting["warnings"])
    assert keys.public_key_fingerprint(x509.load_pem_x509_csr((tmp_path / "signing.crt.csr").read_bytes()).public_key()) == \
        keys.public_key_fingerprint(keys.load_private_key((tmp_path / "signing.key.next").read_bytes()))
    (tmp_path / "signing.crt").write_text(ca_sign((tmp_path / "signing.crt.csr").read_bytes(), ca))
    done = run(admin_client, app, external(tmp_path, rotate=False))
    assert done["rotated"] and kinds(done) == ["UpdateKey", "UploadKey", "PromoteFiles"]
    assert done["public_key_fingerprint"] != first["public_key_fingerprint"]
    assert (tmp_path / "signing.crt.previous").read_text().strip() == old_pem.strip()
    assert keys.public_key_fingerprint(keys.load_private_key((tmp_path / "signing.key.previous").read_bytes())) == \
        first["public_key_fingerprint"]
    assert set(remote(admin_client, app)) == {"signing", "signing-previous"}
    assert_converged(admin_client, emulator, app, external(tmp_path), tmp_path)


def test_selfsigned_is_the_default_and_writes_no_request(tmp_path, emulator, admin_client, app) -> None:
    result = run(admin_client, app, desired(tmp_path))
    assert result["certificate_requested"] is False and "csr_path" not in result
    assert certs.certificate_info(certs.load_certificate((tmp_path / "signing.crt").read_bytes()))["self_signed"]
    assert sorted(os.listdir(tmp_path)) == ["signing.crt", "signing.key"]
