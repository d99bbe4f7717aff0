# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification keys: the product's certificate rules, limits, uniqueness, expiry and reactivation."""

from __future__ import annotations

from datetime import timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from emulator_helpers import ApiClient, CertFactory, assert_error
from izuma_emulator.clock import parse_time

FIELDS = {"object", "id", "account_id", "application_id", "name", "description", "status", "certificate",
          "certificate_fingerprint", "subject", "issuer", "algorithm", "key_size", "valid_from", "expires_at",
          "valid", "created_at", "updated_at", "etag"}  # last_used_at once the key has verified a JWT


def _keys_path(application_id: str) -> str:
    return f"/v3/applications/{application_id}/verification-keys"


def _upload(api: ApiClient, application_id: str, certificate: str, name: str = "k", **fields: object):
    return api.post(_keys_path(application_id), json={"name": name, "certificate": certificate, **fields})


def test_upload_reports_every_field(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    pem = certs.certificate(certs.rsa(), common_name="device-signer")
    response = _upload(api, application["id"], pem, description="first")
    assert response.status_code == 201, response.text
    key = response.json()
    assert set(key) == FIELDS
    parsed = x509.load_pem_x509_certificate(pem.encode())
    assert key["object"] == "verification-key" and key["application_id"] == application["id"]
    assert key["status"] == "ACTIVE" and key["valid"] is True and "last_used_at" not in key
    assert key["certificate"] == pem and key["description"] == "first"
    assert key["certificate_fingerprint"] == parsed.fingerprint(hashes.SHA256()).hex()
    assert key["subject"] == parsed.subject.rfc4514_string() and "CN=device-signer" in key["subject"]
    assert key["issuer"] == parsed.issuer.rfc4514_string()
    assert (key["algorithm"], key["key_size"]) == ("RSA", 2048)
    # not_valid_*_utc since cryptography 42; naive UTC values before.
    after = getattr(parsed, "not_valid_after_utc", None) or parsed.not_valid_after.replace(tzinfo=timezone.utc)
    before = getattr(parsed, "not_valid_before_utc", None) or parsed.not_valid_before.replace(tzinfo=timezone.utc)
    assert parse_time(key["expires_at"]) == after
    assert parse_time(key["valid_from"]) == before
    assert api.get(f"{_keys_path(application['id'])}/{key['id']}").json() == key


@pytest.mark.parametrize("curve,size", [("secp256r1", 256), ("secp384r1", 384), ("secp521r1", 521)])
def test_ec_keys_report_curve_size(api: ApiClient, certs: CertFactory, curve: str, size: int) -> None:
    application = api.create_application("a")
    key = _upload(api, application["id"], certs.certificate(certs.ec(curve))).json()
    assert (key["algorithm"], key["key_size"]) == ("EC", size)


def test_status_may_be_given_on_upload(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    assert _upload(api, application["id"], certs.certificate(certs.ec()), status="INACTIVE").json()["status"] == "INACTIVE"


@pytest.mark.parametrize("text", ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_certificate_must_be_pem(api: ApiClient, text: str) -> None:
    application = api.create_application("a")
    assert_error(_upload(api, application["id"], text), 400, "validation_error", "certificate")


def test_certificate_must_be_exactly_one(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    one, two = certs.certificate(certs.ec()), certs.certificate(certs.ec())
    body = assert_error(_upload(api, application["id"], one + two), 400, "validation_error", "certificate")
    assert "exactly one" in body["fields"][0]["message"]
    key_pem = certs.ec().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    assert_error(_upload(api, application["id"], key_pem), 400, "validation_error", "certificate")
    assert_error(_upload(api, application["id"], "subject=CN foo\n" + one), 400, "validation_error", "certificate")


def test_certificate_is_at_most_2000_characters(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    pem = certs.certificate(certs.rsa(), common_name="x" * 60)
    padded = pem + " " * (2001 - len(pem))
    body = assert_error(_upload(api, application["id"], padded), 400, "validation_error", "certificate")
    assert "2000 characters" in body["fields"][0]["message"]
    assert _upload(api, application["id"], pem + " " * (2000 - len(pem))).status_code == 201


def test_rsa_below_2048_bits_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    body = assert_error(_upload(api, application["id"], certs.certificate(certs.rsa(1024))), 400, "validation_error", "certificate")
    assert "2048" in body["fields"][0]["message"]


@pytest.mark.parametrize("curve", ["secp192r1", "secp256k1"])
def test_ec_below_256_bits_or_unusable_curves_are_refused(api: ApiClient, certs: CertFactory, curve: str) -> None:
    application = api.create_application("a")
    assert_error(_upload(api, application["id"], certs.certificate(certs.ec(curve))), 400, "validation_error", "certificate")


def test_ed25519_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    body = assert_error(_upload(api, application["id"], certs.certificate(certs.ed25519())), 400, "validation_error", "certificate")
    assert "Ed25519" in body["fields"][0]["message"]


def test_expired_certificate_is_refused_on_upload(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    body = assert_error(_upload(api, application["id"], certs.expired_certificate(certs.ec())), 400, "validation_error", "certificate")
    assert "expired" in body["fields"][0]["message"]


def test_not_yet_valid_certificate_is_accepted_but_not_valid(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    key = _upload(api, application["id"], certs.certificate(certs.ec(), start_days=2)).json()
    assert key["valid"] is False


def test_two_keys_per_application(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    for name in ("k1", "k2"):
        assert _upload(api, application["id"], certs.certificate(certs.ec()), name=name).status_code == 201
    assert_error(_upload(api, application["id"], certs.certificate(certs.ec()), name="k3"), 400, "account_limit_exceeded")
    # The limit is per application.
    other = api.create_application("b")
    assert _upload(api, other["id"], certs.certificate(certs.ec()), name="k3").status_code == 201


def test_key_limit_is_a_setting(api: ApiClient, certs: CertFactory, emulator) -> None:
    emulator.settings(max_verification_keys=3)
    application = api.create_application("a")
    for name in ("k1", "k2", "k3"):
        assert _upload(api, application["id"], certs.certificate(certs.ec()), name=name).status_code == 201


def test_key_names_are_unique_within_an_application(api: ApiClient, certs: CertFactory) -> None:
    application, other = api.create_application("a"), api.create_application("b")
    first = _upload(api, application["id"], certs.certificate(certs.ec()), name="signer").json()
    assert_error(_upload(api, application["id"], certs.certificate(certs.ec()), name="signer"), 409, "duplicate", "name")
    assert _upload(api, other["id"], certs.certificate(certs.ec()), name="signer").status_code == 201
    second = _upload(api, application["id"], certs.certificate(certs.ec()), name="second").json()
    assert_error(api.put(f"{_keys_path(application['id'])}/{second['id']}", json={"name": "signer"}), 409, "duplicate", "name")
    assert api.put(f"{_keys_path(application['id'])}/{first['id']}", json={"name": "signer"}).status_code == 200


def test_same_certificate_twice_in_the_account_is_a_duplicate(api: ApiClient, certs: CertFactory) -> None:
    application, other = api.create_application("a"), api.create_application("b")
    pem = certs.certificate(certs.ec())
    key = _upload(api, application["id"], pem, name="k1").json()
    assert_error(_upload(api, application["id"], pem, name="k2"), 409, "duplicate", "certificate")
    assert_error(_upload(api, other["id"], pem, name="k1"), 409, "duplicate", "certificate")
    # Putting a key's own certificate back is not a conflict.
    assert api.put(f"{_keys_path(application['id'])}/{key['id']}", json={"certificate": pem}).status_code == 200


def test_name_description_and_required_fields(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    body = assert_error(api.post(_keys_path(application["id"]), json={}), 400, "validation_error")
    assert {item["name"] for item in body["fields"]} == {"name", "certificate"}
    pem = certs.certificate(certs.ec())
    assert_error(_upload(api, application["id"], pem, name="n" * 101), 400, "validation_error", "name")
    assert_error(_upload(api, application["id"], pem, description="d" * 501), 400, "validation_error", "description")
    assert_error(_upload(api, application["id"], pem, status="EXPIRED"), 400, "validation_error", "status")


def test_put_changes_name_description_status_and_certificate(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    key = _upload(api, application["id"], certs.certificate(certs.rsa())).json()
    path = f"{_keys_path(application['id'])}/{key['id']}"
    replacement = certs.certificate(certs.ec("secp384r1"))
    response = api.put(path, json={"name": "renamed", "description": "d", "status": "INACTIVE", "certificate": replacement})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["description"], updated["status"]) == ("renamed", "d", "INACTIVE")
    assert updated["certificate"] == replacement and (updated["algorithm"], updated["key_size"]) == ("EC", 384)
    assert updated["certificate_fingerprint"] != key["certificate_fingerprint"]
    assert updated["etag"] != key["etag"]
    assert_error(api.put(path, json={"status": "ACTIVE"}, headers={"If-Match": key["etag"]}), 412, "precondition_failed")


def test_put_refuses_bad_and_expired_certificates(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    key = _upload(api, application["id"], certs.certificate(certs.ec())).json()
    path = f"{_keys_path(application['id'])}/{key['id']}"
    assert_error(api.put(path, json={"certificate": certs.certificate(certs.rsa(1024))}), 400, "validation_error", "certificate")
    assert_error(api.put(path, json={"certificate": certs.expired_certificate(certs.ec())}), 400, "validation_error", "certificate")


def test_expired_key_cannot_be_activated_until_its_certificate_is_renewed(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a")
    signing_key = certs.ec()
    key = _upload(api, application["id"], certs.certificate(signing_key, days=2), status="INACTIVE").json()
    path = f"{_keys_path(application['id'])}/{key['id']}"
    emulator.clock(3 * 86400)  # the certificate has expired now
    assert api.get(path).json()["valid"] is False
    body = assert_error(api.put(path, json={"status": "ACTIVE"}), 400, "validation_error", "status")
    assert "expired" in body["fields"][0]["message"]
    # A renewed certificate (same key, later expiry) makes it usable again, in the same request.
    renewed = certs.certificate(signing_key, days=30, start_days=2)
    response = api.put(path, json={"status": "ACTIVE", "certificate": renewed})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ACTIVE" and response.json()["valid"] is True


def test_verification_keys_of_unknown_application_or_key(api: ApiClient) -> None:
    application = api.create_application("a")
    assert_error(api.get(_keys_path("f" * 32)), 404, "not_found")
    assert_error(api.get(f"{_keys_path(application['id'])}/{'f' * 32}"), 404, "not_found")
    assert_error(api.delete(f"{_keys_path(application['id'])}/{'f' * 32}"), 404, "not_found")


def test_key_of_another_application_is_not_found_through_this_one(api: ApiClient, certs: CertFactory) -> None:
    application, other = api.create_application("a"), api.create_application("b")
    key = _upload(api, application["id"], certs.certificate(certs.ec())).json()
    assert_error(api.get(f"{_keys_path(other['id'])}/{key['id']}"), 404, "not_found")


def test_delete_key_frees_a_slot(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    keys = [_upload(api, application["id"], certs.certificate(certs.ec()), name=name).json() for name in ("k1", "k2")]
    assert api.delete(f"{_keys_path(application['id'])}/{keys[0]['id']}").status_code == 204
    assert _upload(api, application["id"], certs.certificate(certs.ec()), name="k3").status_code == 201


def test_list_filters(api: ApiClient, certs: CertFactory) -> None:
    application = api.create_application("a")
    _upload(api, application["id"], certs.certificate(certs.ec()), name="one")
    _upload(api, application["id"], certs.certificate(certs.ec()), name="two", status="INACTIVE")
    path = _keys_path(application["id"])
    assert [key["name"] for key in api.get(path, params={"name__eq": "two"}).json()["data"]] == ["two"]
    assert [key["name"] for key in api.get(path, params={"status__eq": "ACTIVE"}).json()["data"]] == ["one"]
    assert api.get(path, params={"status__eq": "ACTIVE", "name__eq": "two"}).json()["data"] == []
    assert_error(api.get(path, params={"status__eq": "active"}), 400, "validation_error", "status__eq")
    assert_error(api.get(path, params={"algorithm__eq": "EC"}), 400, "validation_error", "algorithm__eq")


def test_valid_follows_the_emulator_clock(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a")
    _upload(api, application["id"], certs.certificate(certs.ec(), days=10))
    assert api.get(_keys_path(application["id"])).json()["data"][0]["valid"] is True
    emulator.clock(11 * 86400)
    listed = api.get(_keys_path(application["id"])).json()["data"][0]
    assert listed["valid"] is False and listed["status"] == "ACTIVE"
