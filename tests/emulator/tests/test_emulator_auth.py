# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication (admin key, access keys, JWTs) and authorization (groups, own application)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import jwt
import pytest

from emulator_helpers import ALGORITHM_KEYS, ApiClient, CertFactory, assert_error, make_jwt, unsigned_jwt


def _jwt_application(api: ApiClient, certs: CertFactory, algorithm: str, group: str | None = "Administrators",
                     **key_fields: Any) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """An application with one verification key for ``algorithm``; returns (application, key, private key)."""
    groups = [api.group_id(group)] if group else []
    application = api.create_application(f"jwt-{algorithm}", groups=groups)
    private_key = certs.for_algorithm(algorithm)
    key = api.add_verification_key(application["id"], "signer", certs.certificate(private_key), **key_fields)
    return application, key, private_key


def test_missing_authorization_is_invalid_auth(api: ApiClient) -> None:
    response = api.session.get(api.url + "/v3/applications")
    assert_error(response, 401, "invalid_auth")


@pytest.mark.parametrize("value", ["Bearer ak_unknown", "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-key", "ak_without_scheme"])
def test_bad_credentials_are_invalid_auth(api: ApiClient, value: str) -> None:
    response = api.session.get(api.url + "/v3/applications", headers={"Authorization": value})
    assert_error(response, 401, "invalid_auth")


def test_admin_key_may_call_everything(api: ApiClient) -> None:
    assert api.get("/v3/applications").status_code == 200
    assert api.get("/v3/policy-groups").status_code == 200


def test_access_key_authenticates_as_its_application(api: ApiClient, emulator) -> None:
    application = api.create_application("worker", groups=[api.group_id("Administrators")])
    created = api.create_access_key(application["id"], "ci", description="for CI")
    assert created["key"].startswith("ak_") and created["object"] == "access-key"
    assert created["status"] == "ACTIVE" and "expiration" not in created
    response = api.get("/v3/applications", token=created["key"])
    assert response.status_code == 200
    entry = emulator.log()[-1]
    assert entry["auth"] == "access_key" and entry["application_id"] == application["id"]
    assert api.get(f"/v3/applications/{application['id']}").json()["last_used_at"] is not None
    # The secret is shown once only: other answers carry the key without its secret part, which authenticates nothing.
    fetched = api.get(f"/v3/applications/{application['id']}/access-keys/{created['id']}").json()
    public = fetched["key"]
    assert public.startswith("ak_2") and public.endswith(created["id"]) and created["key"].startswith(public)
    assert len(created["key"]) == len(public) + 64 and fetched["last_used_at"] is not None
    assert api.get(f"/v3/applications/{application['id']}/access-keys").json()["data"][0]["key"] == public
    assert_error(api.get("/v3/applications", token=public), 401, "invalid_auth")
    emulator.settings(show_access_key_without_secret=False)
    assert api.get(f"/v3/applications/{application['id']}/access-keys/{created['id']}").json()["key"] is None


def test_inactive_and_expired_access_keys_are_refused(api: ApiClient, emulator) -> None:
    application = api.create_application("worker", groups=[api.group_id("Administrators")])
    key = api.create_access_key(application["id"], "k", expiration="2099-01-01T00:00:00Z")
    path = f"/v3/applications/{application['id']}/access-keys/{key['id']}"
    assert api.put(path, json={"status": "INACTIVE"}).status_code == 200
    assert_error(api.get("/v3/applications", token=key["key"]), 401, "invalid_auth")
    assert api.put(path, json={"status": "ACTIVE", "expiration": "2030-01-01T00:00:00Z"}).status_code == 200
    assert api.get("/v3/applications", token=key["key"]).status_code == 200
    emulator.clock(datetime(2030, 1, 2, tzinfo=timezone.utc).timestamp() - time.time())
    assert api.get(path).json()["status"] == "EXPIRED"
    assert_error(api.get("/v3/applications", token=key["key"]), 401, "invalid_auth")


def test_access_key_of_inactive_application_is_refused(api: ApiClient) -> None:
    application = api.create_application("worker", groups=[api.group_id("Administrators")])
    key = api.create_access_key(application["id"], "k")
    api.put(f"/v3/applications/{application['id']}", json={"status": "INACTIVE"})
    assert_error(api.get("/v3/applications", token=key["key"]), 401, "invalid_auth")


def test_access_key_validation(api: ApiClient) -> None:
    application = api.create_application("worker")
    path = f"/v3/applications/{application['id']}/access-keys"
    assert_error(api.post(path, json={}), 400, "validation_error", "name")
    assert_error(api.post(path, json={"name": "k", "expiration": "tomorrow"}), 400, "validation_error", "expiration")
    assert_error(api.post(path, json={"name": "k", "expiration": "2001-01-01T00:00:00Z"}), 400, "validation_error", "expiration")
    assert_error(api.post(path, json={"name": "k", "status": "EXPIRED"}), 400, "validation_error", "status")
    api.create_access_key(application["id"], "k")
    assert_error(api.post(path, json={"name": "k"}), 409, "duplicate", "name")


def test_deleted_access_key_stops_working(api: ApiClient) -> None:
    application = api.create_application("worker", groups=[api.group_id("Administrators")])
    key = api.create_access_key(application["id"], "k")
    assert api.delete(f"/v3/applications/{application['id']}/access-keys/{key['id']}").status_code == 204
    assert_error(api.get("/v3/applications", token=key["key"]), 401, "invalid_auth")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_KEYS))
def test_jwt_with_each_documented_algorithm(api: ApiClient, certs: CertFactory, emulator, algorithm: str) -> None:
    application, key, private_key = _jwt_application(api, certs, algorithm)
    token = make_jwt(private_key, algorithm)
    response = api.get("/v3/applications", token=token, application_id=application["id"])
    assert response.status_code == 200, response.text
    entry = emulator.log()[-1]
    assert entry["auth"] == "jwt" and entry["application_id"] == application["id"]
    used = api.get(f"/v3/applications/{application['id']}/verification-keys/{key['id']}").json()
    assert used["last_used_at"] is not None
    assert api.get(f"/v3/applications/{application['id']}").json()["last_used_at"] is not None


def test_jwt_hs256_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, _private = _jwt_application(api, certs, "RS256")
    token = jwt.encode({"exp": int(time.time()) + 300}, "a-shared-secret-of-sufficient-length!", algorithm="HS256")
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_alg_none_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, _private = _jwt_application(api, certs, "RS256")
    assert_error(api.get("/v3/applications", token=unsigned_jwt(), application_id=application["id"]), 401, "invalid_token")


def test_jwt_without_exp_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    token = make_jwt(private_key, "ES256", expires_in=None)
    body = assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")
    assert "exp" in body["message"]


def test_expired_jwt_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    token = make_jwt(private_key, "ES256", expires_in=-1)
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_expiry_follows_the_emulator_clock(api: ApiClient, certs: CertFactory, emulator) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    token = make_jwt(private_key, "ES256", expires_in=60)
    assert api.get("/v3/applications", token=token, application_id=application["id"]).status_code == 200
    emulator.clock(120)
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")
    # A token minted "in the future" is good while the emulator lives there.
    future = make_jwt(private_key, "ES256", expires_in=60, now=time.time() + 120)
    assert api.get("/v3/applications", token=future, application_id=application["id"]).status_code == 200


def test_jwt_not_before_is_checked(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    token = make_jwt(private_key, "ES256", nbf=int(time.time()) + 100)
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_signed_by_an_inactive_key_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "RS256", status="INACTIVE")
    token = make_jwt(private_key, "RS256")
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_signed_by_an_expired_key_is_refused(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a", groups=[api.group_id("Administrators")])
    private_key = certs.ec("secp256r1", slot=1)
    api.add_verification_key(application["id"], "short", certs.certificate(private_key, days=2))
    emulator.clock(3 * 86400)
    token = make_jwt(private_key, "ES256", now=time.time() + 3 * 86400)
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_signed_by_an_unknown_key_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, _private = _jwt_application(api, certs, "RS256")
    token = make_jwt(certs.rsa(2048, slot=1), "RS256")
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")


def test_jwt_tries_every_key_of_the_application(api: ApiClient, certs: CertFactory) -> None:
    """During a rotation the old and the new key both verify."""
    application, _key, old_key = _jwt_application(api, certs, "RS256")
    new_key = certs.rsa(2048, slot=2)
    api.add_verification_key(application["id"], "new", certs.certificate(new_key))
    for private_key in (old_key, new_key):
        response = api.get("/v3/applications", token=make_jwt(private_key, "RS256"), application_id=application["id"])
        assert response.status_code == 200


def test_jwt_with_wrong_or_missing_application_id_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    other = api.create_application("other", groups=[api.group_id("Administrators")])
    token = make_jwt(private_key, "ES256")
    assert_error(api.get("/v3/applications", token=token, application_id=other["id"]), 401, "invalid_token")
    assert_error(api.get("/v3/applications", token=token, application_id="0" * 32), 401, "invalid_token")
    assert_error(api.get("/v3/applications", token=token), 401, "invalid_token")


def test_jwt_of_inactive_application_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256")
    api.put(f"/v3/applications/{application['id']}", json={"status": "INACTIVE"})
    assert_error(api.get("/v3/applications", token=make_jwt(private_key, "ES256"), application_id=application["id"]), 401, "invalid_token")


def test_malformed_jwt_is_refused(api: ApiClient, certs: CertFactory) -> None:
    application, _key, _private = _jwt_application(api, certs, "ES256")
    assert_error(api.get("/v3/applications", token="abc.def.ghi", application_id=application["id"]), 401, "invalid_token")


def test_developers_application_is_denied_iam_but_reads_itself(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "ES256", group="Developers")
    other = api.create_application("other")
    access_key = api.create_access_key(application["id"], "dev")
    for credentials in ({"token": make_jwt(private_key, "ES256"), "application_id": application["id"]}, {"token": access_key["key"]}):
        own = api.get(f"/v3/applications/{application['id']}", **credentials)
        assert own.status_code == 200 and own.json()["id"] == application["id"]
        assert_error(api.get("/v3/applications", **credentials), 403, "access_denied")
        assert_error(api.get(f"/v3/applications/{other['id']}", **credentials), 403, "access_denied")
        assert_error(api.put(f"/v3/applications/{application['id']}", json={"description": "x"}, **credentials), 403, "access_denied")
        assert_error(api.get(f"/v3/applications/{application['id']}/verification-keys", **credentials), 403, "access_denied")
        assert_error(api.post("/v3/applications", json={"name": "x"}, **credentials), 403, "access_denied")
        assert_error(api.get("/v3/policy-groups", **credentials), 403, "access_denied")


def test_application_without_groups_reads_only_itself(api: ApiClient) -> None:
    application = api.create_application("plain")
    key = api.create_access_key(application["id"], "k")
    assert api.get(f"/v3/applications/{application['id']}", token=key["key"]).status_code == 200
    assert_error(api.get("/v3/applications", token=key["key"]), 403, "access_denied")


def test_administrators_application_may_manage_iam(api: ApiClient, certs: CertFactory) -> None:
    application, _key, private_key = _jwt_application(api, certs, "PS256")
    credentials = {"token": make_jwt(private_key, "PS256"), "application_id": application["id"]}
    created = api.post("/v3/applications", json={"name": "made-by-jwt"}, **credentials)
    assert created.status_code == 201
    assert api.delete(f"/v3/applications/{created.json()['id']}", **credentials).status_code == 204


def test_renewing_the_certificate_makes_an_expired_active_key_verify_again(api: ApiClient, certs: CertFactory, emulator) -> None:
    application = api.create_application("a", groups=[api.group_id("Administrators")])
    private_key = certs.ec("secp256r1", slot=3)
    key = api.add_verification_key(application["id"], "signer", certs.certificate(private_key, days=2))
    emulator.clock(3 * 86400)
    token = make_jwt(private_key, "ES256", now=time.time() + 3 * 86400)
    assert_error(api.get("/v3/applications", token=token, application_id=application["id"]), 401, "invalid_token")
    renewed = certs.certificate(private_key, days=30, start_days=2)
    path = f"/v3/applications/{application['id']}/verification-keys/{key['id']}"
    assert api.put(path, json={"certificate": renewed}).json()["valid"] is True
    assert api.get("/v3/applications", token=token, application_id=application["id"]).status_code == 200
