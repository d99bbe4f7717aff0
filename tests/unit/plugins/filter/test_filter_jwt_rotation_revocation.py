# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the jwt_rotation role's revocation filters: the key to revoke, the outcome, the report."""

from __future__ import annotations

import datetime
import json
import os
import typing as t

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible.errors import AnsibleFilterError

from ansible_collections.izuma.device_management.plugins.filter import jwt_rotation_revocation as revoke
from ansible_collections.izuma.device_management.plugins.filter import jwt_rotation_state as rotation

APPS = [{"name": "telemetry", "hosts": ["collectors"]}]


def certificate() -> t.Tuple[str, str]:
    """A self-signed certificate (PEM) and its public key fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "t")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), digest.finalize().hex()


def record(fingerprint: str) -> str:
    return json.dumps({"application": "telemetry", "revoking_public_key_fingerprint": fingerprint, "started_at": "2026-12-08T00:00:00Z"})


@pytest.mark.parametrize("name", sorted(revoke.FilterModule().filters()))
def test_documented_as_internal_to_the_role(name: str) -> None:
    with open(os.path.join(os.path.dirname(revoke.__file__), name + ".yml"), encoding="utf-8") as stream:
        doc = yaml.safe_load(stream)
    assert doc["DOCUMENTATION"]["name"] == name and "_value" in doc["RETURN"]
    assert doc["DOCUMENTATION"]["short_description"].startswith("Internal to the jwt_rotation role: ")


def test_a_new_revocation_revokes_the_current_key_and_rotates() -> None:
    pem, fingerprint = certificate()
    plan = revoke.jwt_rotation_revocation(APPS, {}, {"telemetry": pem})
    assert plan == {"telemetry": {"revoking": fingerprint, "rotate": True, "resumed": False, "started_at": ""}}


def test_a_resumed_revocation_rotates_only_while_the_revoked_key_is_current() -> None:
    pem, fingerprint = certificate()
    # Killed before its rotation finished: the current key is still the revoked one.
    before = revoke.jwt_rotation_revocation(APPS, {"telemetry": record(fingerprint)}, {"telemetry": pem})["telemetry"]
    assert before["rotate"] and before["resumed"] and before["revoking"] == fingerprint
    # Killed after the rotation (before or after the deletion): no second rotation, the recorded key is the revoked one.
    after = revoke.jwt_rotation_revocation(APPS, {"telemetry": record("ab" * 32)}, {"telemetry": pem})["telemetry"]
    assert not after["rotate"] and after["resumed"] and after["revoking"] == "ab" * 32


@pytest.mark.parametrize("records, certificates, message", [
    pytest.param({}, {}, "Cannot revoke telemetry: it has no current key on the controller", id="no-key"),
    pytest.param({"telemetry": "{"}, {}, "The revocation record of telemetry", id="broken-record"),
    pytest.param({}, {"telemetry": "not a certificate"}, "Cannot revoke telemetry: ", id="broken-certificate"),
])
def test_refusals_name_the_application(records: t.Dict[str, str], certificates: t.Dict[str, str], message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        revoke.jwt_rotation_revocation(APPS, records, certificates)


def test_outcome_and_summary() -> None:
    key = {"changed": True, "public_key_fingerprint": "f1" * 32, "expires_at": "2027-12-01T00:00:00Z", "rotated": True,
           "verification_key": {"id": "k" * 32, "created_at": "2026-12-01T06:00:00Z"}, "previous_verification_key": {"id": "p" * 32}}
    state = rotation.jwt_rotation_state(APPS, [{"application": {"id": "a" * 32}}], [key], {"telemetry": ["c1", "c2", "c3"]},
                                        "/keys", 86400)
    hosts = {"c1": {rotation.TOKEN_RESULTS_VAR: {"results": [{"item": {"name": "telemetry"}, "key_fingerprint": "f1" * 32,
                                                              "renewed": True, "verified": True}]}}}
    plan = rotation.jwt_rotation_retirement(state, hosts, early=False)
    revocation = {"telemetry": {"revoking": "0e" * 32, "rotate": True, "resumed": False, "started_at": ""}}
    deleted = [{"changed": True, "name": "telemetry-signing", "public_key_fingerprint": "f1" * 32,
                "verification_keys": [{"name": "telemetry-signing", "public_key_fingerprint": "f1" * 32}]}]
    outcome = revoke.jwt_rotation_revoke_outcome(state, plan, revocation, deleted)
    assert outcome == {"telemetry": {
        "application_id": "a" * 32, "revoked_key_fingerprint": "0e" * 32, "revoked": True, "key": "telemetry-signing",
        "key_fingerprint": "f1" * 32, "rotated": True, "resumed": False, "hosts": 3, "hosts_with_new_token": ["c1"],
        "hosts_without_new_token": ["c2", "c3"]}}
    line = revoke.jwt_rotation_revoke_summary(outcome)[0]
    assert line.startswith("telemetry: revoked key (public key 0e0e0e0e0e0e0e0e...) DELETED from the API; new key telemetry-signing")
    assert line.endswith("2 of 3 host(s) did NOT get a token signed by the new key and have no access until they do: c2, c3.")
    # The revoked key still uploaded (the deletion failed): said, with what to do.
    still = revoke.jwt_rotation_revoke_outcome(state, plan, revocation, [{"failed": True}])
    assert still["telemetry"]["revoked"] is False
    assert "STILL UPLOADED: run playbooks/jwt_revoke.yml again" in revoke.jwt_rotation_revoke_summary(still)[0]
    assert "would be DELETED from the API (check mode: nothing was changed)" in revoke.jwt_rotation_revoke_summary(still, True)[0]
