# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification-key core against the emulator: create, edit, renew, rotate, retire, delete, refuse, survive kills."""

from __future__ import annotations

import datetime
import os
import stat
import threading
from typing import Any, Dict, List, Optional, Tuple

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import certificates as certs
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import issuing
from ansible_collections.izuma.device_management.plugins.module_utils._x509 import keys
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import state
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaError
from ansible_collections.izuma.device_management.plugins.module_utils import _times as times
from ansible_collections.izuma.device_management.tests.unit.plugins.module_utils.emulated_runs import (
    Killed, KillingSession, desired, kinds, remote, run, snapshot)

DAY = 86400
APPLICATION_NAME = "vk-test"  # the conftest app fixture's name


def now_of(emulator: Any) -> datetime.datetime:
    """The emulator's clock (tests move it forward)."""
    offset = emulator.status().get("clock_offset_seconds", 0) if hasattr(emulator, "status") else 0
    return times.utcnow() + datetime.timedelta(seconds=offset or 0)


def fingerprint_of(path: str) -> str:
    return keys.public_key_fingerprint(keys.load_private_key(open(path, "rb").read()))


# -- create and converge -------------------------------------------------------------------------------------


def test_create_writes_a_0600_key_uploads_it_and_a_second_run_is_converged(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path, description="signs tokens")
    first = run(admin_client, app, want)
    assert kinds(first) == ["WritePendingKey", "UploadKey", "PromoteFiles"]
    key_file = tmp_path / "signing.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert not (tmp_path / "signing.key.next").exists()
    uploaded = remote(admin_client, app)["signing"]
    assert uploaded["public_key_fingerprint"] == fingerprint_of(str(key_file))
    assert uploaded["description"] == "signs tokens" and uploaded["status"] == "ACTIVE"
    assert (tmp_path / "signing.crt").read_text().strip() == uploaded["certificate"].strip()

    emulator.clear_log()
    second = run(admin_client, app, want)
    assert second["plan"] == []
    assert [(entry["method"], entry["path"]) for entry in emulator.log()] == [("GET", "/v3/applications/%s/verification-keys" % app["id"])]


def test_check_mode_plans_everything_and_writes_nothing(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path)
    emulator.clear_log()
    result = run(admin_client, app, want, check=True)
    assert result["plan"] == [
        "write private key '%s.next'" % want.private_key_path,
        "create verification key 'signing'",
        "promote private key '%s'" % want.private_key_path,
    ]
    assert os.listdir(tmp_path) == []
    assert emulator.writes() == []
    predicted = [item for item in result["verification_keys"] if item["name"] == "signing"]
    assert predicted and predicted[0]["status"] == "ACTIVE"


def test_existing_key_and_certificate_content_are_uploaded_as_given(tmp_path, admin_client, app) -> None:
    key = keys.generate_private_key("RSA", size=2048)
    cert = certs.dump_certificate(issuing.create_certificate(key, "given", 30))
    want = Desired(name="given", private_key_content=keys.dump_private_key(key).decode(), certificate_content=cert, renew_before=7)
    run(admin_client, app, want)
    uploaded = remote(admin_client, app)["given"]
    assert uploaded["certificate"].strip() == cert.strip()
    assert uploaded["algorithm"] == "RSA" and uploaded["key_size"] == 2048
    assert os.listdir(tmp_path) == []
    assert run(admin_client, app, want)["plan"] == []


# -- edit --------------------------------------------------------------------------------------------------


def test_rename_description_and_status_in_one_update(tmp_path, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    uploaded = remote(admin_client, app)["signing"]
    admin_client.update(state.key_path(app["id"], uploaded["id"]), {"name": "renamed-elsewhere"})
    result = run(admin_client, app, desired(tmp_path, description="new words", status="inactive"))
    assert result["plan"] == ["update verification key 'renamed-elsewhere': description, name, status"]
    after = remote(admin_client, app)["signing"]
    assert after["id"] == uploaded["id"] and after["status"] == "INACTIVE" and after["description"] == "new words"


def test_replacing_the_certificate_file_replaces_the_uploaded_certificate(tmp_path, admin_client, app) -> None:
    want = desired(tmp_path)
    run(admin_client, app, want)
    key = keys.load_private_key(open(want.private_key_path, "rb").read())
    fresh = certs.dump_certificate(issuing.create_certificate(key, "replacement", 200))
    (tmp_path / "signing.crt").write_text(fresh)
    result = run(admin_client, app, want)
    assert result["plan"] == ["update verification key 'signing': certificate_fingerprint, expires_at"]
    assert remote(admin_client, app)["signing"]["certificate"].strip() == fresh.strip()


def test_activating_an_expired_key_is_refused_without_renewal(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=1, status="inactive"))
    later = times.utcnow() + datetime.timedelta(days=3)
    emulator.clock(3 * DAY)
    before = snapshot(tmp_path)
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=0, status="active"), now=later)
    assert "Cannot activate 'signing'" in str(info.value) and "renew_before" in str(info.value)
    assert snapshot(tmp_path) == before
    assert remote(admin_client, app)["signing"]["status"] == "INACTIVE"


# -- renewal -------------------------------------------------------------------------------------------------


def test_renewal_issues_a_new_certificate_for_the_same_key(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path, valid_days=40, renew_before=10)
    run(admin_client, app, want)
    first = remote(admin_client, app)["signing"]
    emulator.clock(35 * DAY)
    later = times.utcnow() + datetime.timedelta(days=35)
    result = run(admin_client, app, want, now=later)
    assert result["renewed"] is True
    renewed = remote(admin_client, app)["signing"]
    assert renewed["id"] == first["id"]
    assert renewed["public_key_fingerprint"] == first["public_key_fingerprint"]
    assert renewed["certificate_fingerprint"] != first["certificate_fingerprint"]
    assert times.parse_rfc3339(renewed["expires_at"]) > later + datetime.timedelta(days=39)
    assert run(admin_client, app, want, now=later)["plan"] == []


def test_renewal_brings_an_expired_key_back(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=1))
    emulator.clock(5 * DAY)
    later = times.utcnow() + datetime.timedelta(days=5)
    assert remote(admin_client, app)["signing"]["valid"] is False
    run(admin_client, app, desired(tmp_path, valid_days=30, renew_before=1, status="active"), now=later)
    back = remote(admin_client, app)["signing"]
    assert back["valid"] is True and back["status"] == "ACTIVE"


# -- rotation ------------------------------------------------------------------------------------------------


def rotate_once(tmp_path, admin_client, app, **options) -> Dict[str, Any]:
    run(admin_client, app, desired(tmp_path, **options))
    return run(admin_client, app, desired(tmp_path, rotate=True, **options))


def test_rotation_uploads_a_new_key_next_to_the_old_one_and_keeps_the_old_private_key(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    old_fingerprint = fingerprint_of(str(tmp_path / "signing.key"))
    old_certificate = (tmp_path / "signing.crt").read_text()
    result = run(admin_client, app, desired(tmp_path, rotate=True))
    assert result["rotated"] is True
    assert result["plan"] == [
        "write private key '%s/signing.key.next'" % tmp_path,
        "update verification key 'signing': name",
        "create verification key 'signing'",
        "promote private key '%s/signing.key'" % tmp_path,
    ]
    uploaded = remote(admin_client, app)
    assert sorted(uploaded) == ["signing", "signing-previous"]
    assert uploaded["signing-previous"]["public_key_fingerprint"] == old_fingerprint
    assert uploaded["signing"]["public_key_fingerprint"] == fingerprint_of(str(tmp_path / "signing.key"))
    assert fingerprint_of(str(tmp_path / "signing.key.previous")) == old_fingerprint
    assert stat.S_IMODE(os.stat(tmp_path / "signing.key.previous").st_mode) == 0o600
    assert (tmp_path / "signing.crt.previous").read_text() == old_certificate
    assert not (tmp_path / "signing.key.next").exists()
    # Within the grace period, the next run keeps both keys and changes nothing.
    emulator.clear_log()
    assert run(admin_client, app, desired(tmp_path))["plan"] == []
    assert emulator.writes() == []


def test_previous_key_is_retired_after_the_grace_period_and_its_file_removed_on_request(tmp_path, emulator, admin_client, app) -> None:
    rotate_once(tmp_path, admin_client, app, grace_period=3600)
    emulator.clock(7200)
    later = times.utcnow() + datetime.timedelta(seconds=7200)
    result = run(admin_client, app, desired(tmp_path, grace_period=3600, remove_previous_private_key=True), now=later)
    assert result["plan"] == [
        "delete verification key 'signing-previous'",
        "remove file '%s/signing.key.previous'" % tmp_path,
        "remove file '%s/signing.crt.previous'" % tmp_path,
    ]
    assert sorted(remote(admin_client, app)) == ["signing"]
    assert not (tmp_path / "signing.key.previous").exists()
    assert run(admin_client, app, desired(tmp_path, grace_period=3600, remove_previous_private_key=True), now=later)["plan"] == []


def test_retire_previous_never_keeps_it_and_now_deletes_it_at_once(tmp_path, admin_client, app) -> None:
    rotate_once(tmp_path, admin_client, app, grace_period=0, retire_previous="never")
    assert run(admin_client, app, desired(tmp_path, grace_period=0, retire_previous="never"))["plan"] == []
    assert sorted(remote(admin_client, app)) == ["signing", "signing-previous"]
    run(admin_client, app, desired(tmp_path, retire_previous="now"))
    assert sorted(remote(admin_client, app)) == ["signing"]
    assert (tmp_path / "signing.key.previous").exists()


def test_second_rotation_within_the_grace_period_fails_and_changes_nothing(tmp_path, emulator, admin_client, app) -> None:
    rotate_once(tmp_path, admin_client, app)
    before_files, before_keys = snapshot(tmp_path), remote(admin_client, app)
    emulator.clear_log()
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path, rotate=True))
    message = str(info.value)
    assert "'signing-previous'" in message and "grace_period" in message and "retire_previous=now" in message
    assert snapshot(tmp_path) == before_files
    assert remote(admin_client, app) == before_keys
    assert emulator.writes() == []


def test_second_rotation_after_the_grace_period_retires_the_oldest_generation(tmp_path, emulator, admin_client, app) -> None:
    rotate_once(tmp_path, admin_client, app, grace_period=60)
    middle = fingerprint_of(str(tmp_path / "signing.key"))
    emulator.clock(120)
    later = times.utcnow() + datetime.timedelta(seconds=120)
    run(admin_client, app, desired(tmp_path, rotate=True, grace_period=60), now=later)
    uploaded = remote(admin_client, app)
    assert sorted(uploaded) == ["signing", "signing-previous"]
    assert uploaded["signing-previous"]["public_key_fingerprint"] == middle
    assert fingerprint_of(str(tmp_path / "signing.key.previous")) == middle


def test_rotation_by_age_and_by_expiry_margin(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, rotate_after_days=30))
    assert run(admin_client, app, desired(tmp_path, rotate_after_days=30))["plan"] == []
    emulator.clock(31 * DAY)
    later = times.utcnow() + datetime.timedelta(days=31)
    result = run(admin_client, app, desired(tmp_path, rotate_after_days=30), now=later)
    assert result["rotated"] and "31 days old" in result["rotation_reason"]

    other = tmp_path / "other"
    other.mkdir()
    second_app = admin_client.create("/v3/applications", {"name": "vk-test-2"})
    run(admin_client, second_app, desired(other, name="margin", valid_days=40, rotate_before_days=20, renew_before=5), now=later)
    emulator.clock(31 * DAY + 25 * DAY)
    much_later = later + datetime.timedelta(days=25)
    result = run(admin_client, second_app, desired(other, name="margin", valid_days=40, rotate_before_days=20, renew_before=5),
                 now=much_later)
    assert "expires in" in result["rotation_reason"]


def test_a_key_it_cannot_account_for_is_never_deleted(tmp_path, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    stranger = keys.generate_private_key("EC", curve="P-256")
    pem = certs.dump_certificate(issuing.create_certificate(stranger, "stranger", 30))
    admin_client.create(state.keys_path(app["id"]), {"name": "someone-else", "certificate": pem})
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path, rotate=True, retire_previous="now"))
    assert "'someone-else'" in str(info.value)
    assert sorted(remote(admin_client, app)) == ["signing", "someone-else"]
    assert not (tmp_path / "signing.key.next").exists()


# -- refusals ------------------------------------------------------------------------------------------------


def test_a_name_held_by_another_key_is_refused(tmp_path, admin_client, app) -> None:
    stranger = keys.generate_private_key("EC", curve="P-256")
    pem = certs.dump_certificate(issuing.create_certificate(stranger, "x", 30))
    admin_client.create(state.keys_path(app["id"]), {"name": "signing", "certificate": pem})
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path))
    assert "does not belong to the private key" in str(info.value) and "state=absent" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_certificate_that_does_not_match_the_key_is_refused(tmp_path, admin_client, app) -> None:
    other = keys.generate_private_key("EC", curve="P-256")
    (tmp_path / "signing.crt").write_text(certs.dump_certificate(issuing.create_certificate(other, "x", 30)))
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(keys.generate_private_key("EC", curve="P-256")))
    before = snapshot(tmp_path)
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path))
    assert "does not belong to the private key" in str(info.value)
    assert snapshot(tmp_path) == before
    assert remote(admin_client, app) == {}


@pytest.mark.parametrize("make, words", [
    (lambda: keys.generate_private_key("RSA", size=4096), None),
])
def test_rsa_4096_fits_the_limit(tmp_path, admin_client, app, make, words) -> None:
    want = desired(tmp_path, key_type="RSA", key_size=4096)
    run(admin_client, app, want)
    assert remote(admin_client, app)["signing"]["key_size"] == 4096


def test_a_weak_existing_key_is_refused_before_anything_is_written(tmp_path, admin_client, app) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives import serialization

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "signing.key").write_bytes(weak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    before = snapshot(tmp_path)
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path))
    assert "2048" in str(info.value)
    assert snapshot(tmp_path) == before and remote(admin_client, app) == {}


def test_an_expired_given_certificate_is_reissued_not_uploaded_expired(tmp_path, admin_client, app) -> None:
    key = keys.generate_private_key("EC", curve="P-256")
    past = times.utcnow() - datetime.timedelta(days=10)
    expired = certs.dump_certificate(issuing.create_certificate(key, "old", 2, not_before=past))
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(key))
    (tmp_path / "signing.crt").write_text(expired)
    run(admin_client, app, desired(tmp_path))
    assert remote(admin_client, app)["signing"]["valid"] is True


def test_an_expired_certificate_given_as_content_is_refused_not_replaced(tmp_path, emulator, admin_client, app) -> None:
    key = keys.generate_private_key("EC", curve="P-256")
    past = times.utcnow() - datetime.timedelta(days=10)
    expired = certs.dump_certificate(issuing.create_certificate(key, "old", 2, not_before=past))
    want = Desired(name="given", private_key_content=keys.dump_private_key(key).decode(), certificate_content=expired)
    emulator.clear_log()
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, want)
    assert "certificate_content expired at" in str(info.value) and "has not expired" in str(info.value)
    assert emulator.writes() == [] and remote(admin_client, app) == {}


def test_a_certificate_given_as_content_is_never_renewed_so_runs_converge(tmp_path, emulator, admin_client, app) -> None:
    # Within renew_before: a renewed certificate could not be kept in certificate_content, and every run would renew
    # again. It is uploaded as given, with a warning, and the next run changes nothing.
    key = keys.generate_private_key("EC", curve="P-256")
    cert = certs.dump_certificate(issuing.create_certificate(key, "given", 10))
    want = Desired(name="given", private_key_content=keys.dump_private_key(key).decode(), certificate_content=cert)
    first = run(admin_client, app, want)
    assert first["plan"] == ["create verification key 'given'"]
    assert any("renew_before=30" in warning for warning in first["warnings"])
    assert remote(admin_client, app)["given"]["certificate"].strip() == cert.strip()
    emulator.clear_log()
    second = run(admin_client, app, want)
    assert second["plan"] == [] and not second["renewed"]
    assert emulator.writes() == []


def test_the_diff_of_a_rotation_shows_both_generations_and_no_key_material(tmp_path, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, private_key_passphrase="diff-passphrase"))
    old = remote(admin_client, app)["signing"]
    result = run(admin_client, app, desired(tmp_path, rotate=True, private_key_passphrase="diff-passphrase"))
    shown = result["diff"]
    assert sorted(name for name in shown["before"] if not name.startswith("/")) == ["signing"]
    assert sorted(name for name in shown["after"] if not name.startswith("/")) == ["signing", "signing-previous"]
    assert shown["after"]["signing-previous"]["id"] == old["id"]
    assert shown["after"]["signing-previous"]["public_key_fingerprint"] == old["public_key_fingerprint"]
    assert shown["after"]["signing"]["public_key_fingerprint"] == fingerprint_of_encrypted(str(tmp_path / "signing.key"))
    previous_file = str(tmp_path / "signing.key.previous")
    assert shown["after"][previous_file]["public_key_fingerprint"] == old["public_key_fingerprint"]
    assert str(tmp_path / "signing.key.next") not in shown["after"]
    certificate = str(tmp_path / "signing.crt")
    assert shown["after"][certificate + ".previous"] == shown["before"][certificate]
    assert shown["before"][certificate]["certificate_fingerprint"] == old["certificate_fingerprint"]
    assert shown["after"][certificate]["certificate_fingerprint"] == shown["after"]["signing"]["certificate_fingerprint"]
    text = repr(shown)
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text and "diff-passphrase" not in text
    # Converged: the same state on both sides.
    converged = run(admin_client, app, desired(tmp_path, private_key_passphrase="diff-passphrase"))
    shown = converged["diff"]
    assert shown["before"] == shown["after"]


def fingerprint_of_encrypted(path: str) -> str:
    return keys.public_key_fingerprint(keys.load_private_key(open(path, "rb").read(), "diff-passphrase"))


def test_option_errors_name_the_option() -> None:
    with pytest.raises(IzumaError, match="renew_before"):
        Desired(name="x", private_key_path="/k", renew_before=400, valid_days=365).validate()
    with pytest.raises(IzumaError, match="private_key_path"):
        Desired(name="x", private_key_content="-----BEGIN", rotate=True).validate()
    with pytest.raises(IzumaError, match="100"):
        Desired(name="n" * 101, private_key_path="/k").validate()
    with pytest.raises(IzumaError, match="certificate_path"):
        Desired(name="x", private_key_path="/k", certificate_content="-----BEGIN", rotate_after_days=90).validate()


# -- delete --------------------------------------------------------------------------------------------------


def test_absent_deletes_both_generations_and_files_on_request_then_converges(tmp_path, emulator, admin_client, app) -> None:
    rotate_once(tmp_path, admin_client, app)
    want = desired(tmp_path, state="absent", remove_files=True)
    result = run(admin_client, app, want)
    assert sorted(entry["change"] for entry in result["plan_details"] if entry["kind"] == "DeleteKey") == [
        "delete verification key 'signing'", "delete verification key 'signing-previous'"]
    assert remote(admin_client, app) == {}
    assert os.listdir(tmp_path) == []
    emulator.clear_log()
    assert run(admin_client, app, want)["plan"] == []
    assert emulator.writes() == []


# -- killed runs ---------------------------------------------------------------------------------------------


def assert_invariants(client: IzumaClient, app: Dict[str, Any], tmp_path: Any) -> None:
    uploaded = state.list_keys(client, app["id"])
    assert len(uploaded) <= 2
    local = {}
    for suffix in ("", ".next", ".previous"):
        path = tmp_path / ("signing.key" + suffix)
        if path.exists():
            local[fingerprint_of(str(path))] = suffix
    for item in uploaded:
        assert item["public_key_fingerprint"] in local, "an uploaded key lost its private key: %s" % item["name"]
    assert any(state.is_usable(item, times.utcnow()) for item in uploaded), "no usable key left"


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("nth_write", [1, 2, 3])
def test_a_rotation_killed_at_any_write_converges_when_run_again(tmp_path, emulator, admin_client, app, nth_write, when) -> None:
    # Two generations exist and the grace period has passed, so the rotation makes three writes: delete, rename, upload.
    rotate_once(tmp_path, admin_client, app, grace_period=0, retire_previous="never")
    killing = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    killing.session = KillingSession(killing.session, nth_write, when)
    with pytest.raises(Killed):
        run(killing, app, desired(tmp_path, rotate=True, retire_previous="now"))
    assert_invariants(admin_client, app, tmp_path)
    # The same task run again finishes the rotation it started: no third key, no second upload, no lost private key.
    run(admin_client, app, desired(tmp_path, rotate=True, retire_previous="now"))
    assert_invariants(admin_client, app, tmp_path)
    uploaded = remote(admin_client, app)
    assert sorted(uploaded) == ["signing", "signing-previous"]
    assert uploaded["signing"]["public_key_fingerprint"] == fingerprint_of(str(tmp_path / "signing.key"))
    assert uploaded["signing-previous"]["public_key_fingerprint"] == fingerprint_of(str(tmp_path / "signing.key.previous"))
    assert not (tmp_path / "signing.key.next").exists()
    assert run(admin_client, app, desired(tmp_path, grace_period=0, retire_previous="never"))["plan"] == []


class FileKiller:
    """'Kills the run' at the Nth local file write (atomic write, move, removal), before it or after it."""

    def __init__(self, monkeypatch: Any, nth: Optional[int] = None, when: str = "before") -> None:
        self.nth, self.when, self.names = nth, when, []  # type: Tuple[Optional[int], str, List[str]]
        for name in ("atomic_write", "move_file", "remove_file"):
            monkeypatch.setattr(files, name, self.wrap(name, getattr(files, name)))

    def wrap(self, name: str, function: Any) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            self.names.append(name)
            if len(self.names) == self.nth and self.when == "before":
                raise Killed(name)
            result = function(*args, **kwargs)
            if len(self.names) == self.nth and self.when == "after":
                raise Killed(name)
            return result
        return step


# The local writes of a rotation with a certificate file: the new key, the old key kept as .previous with its
# certificate, the new key moved into place, its certificate.
FILE_STEPS = ["atomic_write", "atomic_write", "atomic_write", "move_file", "atomic_write"]


def test_the_file_steps_of_a_rotation_are_the_ones_the_kill_test_kills_at(tmp_path, emulator, admin_client, app, monkeypatch) -> None:
    rotate_once(tmp_path, admin_client, app, grace_period=0, retire_previous="never")
    with monkeypatch.context() as patch:
        killer = FileKiller(patch)
        run(admin_client, app, desired(tmp_path, rotate=True, retire_previous="now"))
    assert killer.names == FILE_STEPS


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("nth", range(1, len(FILE_STEPS) + 1))
def test_a_rotation_killed_at_any_file_write_converges(tmp_path, emulator, admin_client, app, monkeypatch, nth, when) -> None:
    rotate_once(tmp_path, admin_client, app, grace_period=0, retire_previous="never")
    with monkeypatch.context() as patch:
        FileKiller(patch, nth, when)
        with pytest.raises(Killed):
            run(admin_client, app, desired(tmp_path, rotate=True, retire_previous="now"))
    assert_invariants(admin_client, app, tmp_path)
    # The next scheduled run (no rotate) finishes what the killed run started.
    run(admin_client, app, desired(tmp_path, grace_period=0))
    assert_invariants(admin_client, app, tmp_path)
    uploaded = remote(admin_client, app)
    current = fingerprint_of(str(tmp_path / "signing.key"))
    assert uploaded["signing"]["public_key_fingerprint"] == current
    certificate = certs.load_certificate((tmp_path / "signing.crt").read_text())
    assert certs.certificate_matches_key(certificate, keys.load_private_key((tmp_path / "signing.key").read_bytes()))
    assert not (tmp_path / "signing.key.next").exists()
    assert run(admin_client, app, desired(tmp_path, grace_period=0, retire_previous="never"))["plan"] == []


def test_a_first_upload_refused_by_the_server_leaves_no_key_behind(tmp_path, emulator, admin_client, app) -> None:
    emulator.settings(max_verification_keys=0)
    try:
        with pytest.raises(IzumaError):
            run(admin_client, app, desired(tmp_path))
    finally:
        emulator.settings(max_verification_keys=2)
    assert os.listdir(tmp_path) == []


# -- runs at once, rotations under way, unusable keys, repairs ----------------------------------------------------


def test_runs_at_once_on_one_key_take_turns_and_upload_it_once(tmp_path, emulator, admin_client, app) -> None:
    # Each run has its own client and its own lock file descriptor, as separate processes would.
    results: Dict[int, Any] = {}

    def one_run(number: int) -> None:
        client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
        try:
            results[number] = run(client, app, desired(tmp_path, key_type="RSA", key_size=2048))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            results[number] = exc

    emulator.clear_log()
    threads = [threading.Thread(target=one_run, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(isinstance(result, dict) for result in results.values()), results
    assert sorted(result["changed"] for result in results.values()) == [False, False, True]
    assert [entry["method"] for entry in emulator.writes()] == ["POST"]
    assert remote(admin_client, app)["signing"]["public_key_fingerprint"] == fingerprint_of(str(tmp_path / "signing.key"))
    assert sorted(os.listdir(tmp_path)) == ["signing.crt", "signing.key"]


def test_a_run_that_cannot_get_the_lock_names_lock_timeout_and_the_lock_file(tmp_path, admin_client, app) -> None:
    from ansible_collections.izuma.device_management.plugins.module_utils import _locking as locking

    want = desired(tmp_path, lock_timeout=0)
    with locking.exclusive_lock(str(want.private_key_path)):
        with pytest.raises(IzumaError) as info:
            run(admin_client, app, want)
    assert "lock_timeout=0" in str(info.value) and str(tmp_path / "signing.key.lock") in str(info.value)
    assert remote(admin_client, app) == {}
    # Check mode writes nothing, not even a lock file, so it neither waits nor fails.
    with locking.exclusive_lock(str(want.private_key_path)):
        assert run(admin_client, app, want, check=True)["changed"] is True
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_a_rotation_due_while_one_is_under_way_is_skipped_or_refused(tmp_path, emulator, admin_client, app, policy) -> None:
    first = rotate_once(tmp_path, admin_client, app, grace_period=0)
    assert first["rotation_under_way"] is True
    before_files, before_keys = snapshot(tmp_path), remote(admin_client, app)
    emulator.clear_log()
    want = desired(tmp_path, rotate=True, grace_period=0, retire_previous="never", on_rotation_under_way=policy)
    if policy == "fail":
        with pytest.raises(IzumaError) as info:
            run(admin_client, app, want)
        assert "'signing-previous' is still uploaded" in str(info.value) and "on_rotation_under_way" in str(info.value)
    else:
        result = run(admin_client, app, want)
        assert result["plan"] == [] and result["rotated"] is False and result["rotation_under_way"] is True
        assert "rotation requested" in result["rotation_skipped"] and "'signing-previous'" in result["rotation_skipped"]
    assert snapshot(tmp_path) == before_files and remote(admin_client, app) == before_keys
    assert emulator.writes() == []


def test_skip_still_rotates_once_the_previous_generation_is_retired(tmp_path, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    result = run(admin_client, app, desired(tmp_path, rotate=True, on_rotation_under_way="skip"))
    assert result["rotated"] is True and "rotation_skipped" not in result


def test_an_active_key_that_cannot_verify_tokens_fails_with_the_fix_unless_inactive_is_asked(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=1))
    emulator.clock(3 * DAY)
    later = times.utcnow() + datetime.timedelta(days=3)
    before = snapshot(tmp_path)
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=0), now=later)
    message = str(info.value)
    assert "is ACTIVE but cannot verify JWTs" in message and "expired at" in message
    assert "renew_before" in message and "rotate" in message
    assert snapshot(tmp_path) == before
    # Asking for inactive is not refused as unusable, but the product changes no status while the certificate has
    # expired, so the module says that before any request.
    emulator.clear_log()
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path, valid_days=2, renew_before=0, status="inactive"), now=later)
    assert "Cannot set 'signing' to inactive: its certificate expired at" in str(info.value) and "renew_before" in str(info.value)
    assert "cannot verify JWTs" not in str(info.value) and emulator.writes() == []
    # Renewal is the way out: a new certificate for the same key, active and usable again.
    assert run(admin_client, app, desired(tmp_path, valid_days=30, renew_before=1), now=later)["usable"] is True


@pytest.mark.parametrize("leftover", ["signing.key.previous", ".signing.key.next.0123456789ab.tmp"])
def test_an_uploaded_key_whose_private_key_was_left_beside_a_never_uploaded_one_is_repaired(
        tmp_path, emulator, admin_client, app, leftover) -> None:
    run(admin_client, app, desired(tmp_path))
    uploaded = fingerprint_of(str(tmp_path / "signing.key"))
    os.rename(tmp_path / "signing.key", tmp_path / leftover)
    stranger = keys.generate_private_key("EC", curve="P-256")
    (tmp_path / "signing.key").write_bytes(keys.dump_private_key(stranger))
    os.chmod(tmp_path / "signing.key", 0o600)
    emulator.clear_log()
    result = run(admin_client, app, desired(tmp_path))
    assert "belongs to the private key in %s" % (tmp_path / leftover) in result["repaired"]
    assert any(warning.startswith("Repaired: ") for warning in result["warnings"])
    assert fingerprint_of(str(tmp_path / "signing.key")) == uploaded
    assert fingerprint_of(str(tmp_path / "signing.key.previous")) == keys.public_key_fingerprint(stranger)
    assert not (tmp_path / ".signing.key.next.0123456789ab.tmp").exists() and not (tmp_path / "signing.key.next").exists()
    assert result["rotated"] is False and emulator.writes() == []  # the application was right; only files moved
    assert run(admin_client, app, desired(tmp_path))["plan"] == []
    assert emulator.writes() == []


def test_a_certificate_someone_else_issued_is_never_replaced_it_warns_then_fails_once_expired(
        tmp_path, emulator, admin_client, app, make_cert) -> None:
    from cryptography.hazmat.primitives import serialization

    run(admin_client, app, desired(tmp_path))
    key = keys.load_private_key((tmp_path / "signing.key").read_bytes())
    authority = keys.generate_private_key("EC", curve="P-256")
    start = times.utcnow() - datetime.timedelta(hours=1)
    issued = make_cert(key, common_name="signing", issuer_name="Example CA", signer=authority, not_before=start,
                       not_after=start + datetime.timedelta(days=20))
    pem = issued.public_bytes(serialization.Encoding.PEM).decode()
    (tmp_path / "signing.crt").write_text(pem)
    first = run(admin_client, app, desired(tmp_path))
    assert first["plan"] == ["update verification key 'signing': certificate_fingerprint, expires_at"]
    assert first["renewed"] is False and (tmp_path / "signing.crt").read_text() == pem
    assert any("issued by CN=Example CA, not by this module" in warning and "renew_before=30" in warning
               for warning in first["warnings"])
    emulator.clear_log()
    assert run(admin_client, app, desired(tmp_path))["plan"] == [] and emulator.writes() == []
    later = times.utcnow() + datetime.timedelta(days=25)
    emulator.clock(25 * DAY)
    with pytest.raises(IzumaError) as info:
        run(admin_client, app, desired(tmp_path), now=later)
    message = str(info.value)
    assert "issued by CN=Example CA, not by this module, and expired at" in message and "renew it with its issuer" in message
    assert (tmp_path / "signing.crt").read_text() == pem
