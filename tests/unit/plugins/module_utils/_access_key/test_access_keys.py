# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access-key core against the emulator: create, edit, rotate, retire, delete, refuse, survive kills, never leak."""

from __future__ import annotations

import datetime
import json
import os
import stat
from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._access_key import files as akfiles
from ansible_collections.izuma.device_management.plugins.module_utils._access_key import converge as access_keys
from ansible_collections.izuma.device_management.plugins.module_utils._access_key.options import Desired
from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaError
from ansible_collections.izuma.device_management.tests.unit.plugins.module_utils.emulated_runs import Killed, KillingSession, kinds

DAY = 86400
APPLICATION_NAME = "ak-test"  # the conftest app fixture's name


def desired(tmp_path: Any, **options: Any) -> Desired:
    values: Dict[str, Any] = dict(name="svc", dest=str(tmp_path / "svc.key"))
    values.update(options)
    want = Desired(**values)
    want.check()
    return want


def run(client: IzumaClient, app: Dict[str, Any], want: Desired, check: bool = False,
        now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    return access_keys.converge(client, want, check_mode=check, diff=True, application_id=app["id"], now=now)


def remote(client: IzumaClient, app: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item for item in client.list("/v3/applications/%s/access-keys" % app["id"])}


def authenticates(emulator: Any, app: Dict[str, Any], secret: str) -> bool:
    """True when the secret is a working access key of the application (it may read its own application)."""
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=secret, retries=0))
    try:
        return client.get("/v3/applications/%s" % app["id"])["id"] == app["id"]
    except IzumaError:
        return False


def secrets_on_disk(tmp_path: Any) -> List[str]:
    return [(tmp_path / name).read_text() for name in ("svc.key", "svc.key.previous") if (tmp_path / name).exists()]


def assert_every_active_key_has_its_secret(emulator: Any, admin_client: IzumaClient, app: Dict[str, Any], tmp_path: Any) -> None:
    on_disk = secrets_on_disk(tmp_path)
    for item in remote(admin_client, app).values():
        if item["status"] == "ACTIVE":
            assert any(secret.startswith(item["key"]) for secret in on_disk), item["name"]
    for secret in on_disk:
        assert authenticates(emulator, app, secret)


def later(days: float) -> datetime.datetime:
    return access_keys.utcnow() + datetime.timedelta(days=days)


# -- create and converge -------------------------------------------------------------------------------------


def test_create_writes_the_secret_0600_with_a_sidecar_and_a_second_run_is_converged(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path, description="billing exporter")
    first = run(admin_client, app, want)
    assert kinds(first) == ["CreateKey"] and first["changed"]
    secret = (tmp_path / "svc.key").read_text()
    assert secret.startswith("ak_") and authenticates(emulator, app, secret)
    assert stat.S_IMODE(os.stat(tmp_path / "svc.key").st_mode) == 0o600
    meta = json.loads((tmp_path / "svc.key.meta").read_text())
    assert meta["id"] == first["access_key"]["id"] and meta["sha256"] == akfiles.digest(secret.encode())
    assert "secret" not in first and secret not in json.dumps(first)
    assert "key" not in first["access_key"]

    emulator.clear_log()
    second = run(admin_client, app, want)
    assert second["plan"] == [] and not second["changed"]
    assert second["diff"]["before"] == second["diff"]["after"]
    assert [(entry["method"], entry["path"]) for entry in emulator.log()] == [("GET", "/v3/applications/%s/access-keys" % app["id"])]


def test_check_mode_plans_the_creation_and_writes_nothing(tmp_path, emulator, admin_client, app) -> None:
    emulator.clear_log()
    result = run(admin_client, app, desired(tmp_path), check=True)
    assert kinds(result) == ["CreateKey"] and result["changed"]
    assert os.listdir(tmp_path) == [] and emulator.writes() == []
    assert result["diff"]["after"]["access_keys"]["svc"]["status"] == "ACTIVE"


def test_return_secret_gives_the_created_secret_and_then_the_one_on_disk(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path, return_secret=True)
    first = run(admin_client, app, want)
    assert first["secret"] == (tmp_path / "svc.key").read_text()
    assert run(admin_client, app, want)["secret"] == first["secret"]
    assert first["secret"] not in json.dumps({key: value for key, value in first.items() if key != "secret"})


def test_edit_description_status_and_expiration(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    expiration = (later(30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    want = desired(tmp_path, description="new", status="inactive", expiration=expiration)
    result = run(admin_client, app, want)
    assert kinds(result) == ["UpdateKey"] and result["plan"] == ["update access key 'svc': description, expiration, status"]
    item = remote(admin_client, app)["svc"]
    assert (item["description"], item["status"]) == ("new", "INACTIVE") and item["expiration"].startswith(expiration[:19])
    assert run(admin_client, app, want)["plan"] == []
    cleared = run(admin_client, app, desired(tmp_path, expiration=""))
    assert kinds(cleared) == ["UpdateKey"] and "expiration" not in remote(admin_client, app)["svc"]


def test_vault_encrypted_secret_is_decrypted_by_ansible_vault(tmp_path, emulator, admin_client, app) -> None:
    vault = pytest.importorskip("ansible.parsing.vault")
    want = desired(tmp_path, vault_password="pw-0f3c", return_secret=True)
    result = run(admin_client, app, want)
    data = (tmp_path / "svc.key").read_bytes()
    assert data.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n") and b"ak_" not in data
    lib = vault.VaultLib([("default", vault.VaultSecret(b"pw-0f3c"))])
    assert lib.decrypt(data).decode() == result["secret"]
    theirs = lib.encrypt(b"ak_theirs")
    assert akfiles.vault_decrypt(theirs, "pw-0f3c") == b"ak_theirs"
    with pytest.raises(IzumaConfigError, match="vault_password does not decrypt"):
        akfiles.vault_decrypt(data, "wrong")
    assert run(admin_client, app, want)["plan"] == []


# -- rotation ------------------------------------------------------------------------------------------------


def test_rotation_keeps_the_previous_secret_and_retires_it_after_the_grace_period(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    old = (tmp_path / "svc.key").read_text()
    want = desired(tmp_path, rotate_after_days=30, grace_period=DAY)
    assert run(admin_client, app, want)["plan"] == []
    rotated = run(admin_client, app, want, now=later(31))
    assert kinds(rotated) == ["KeepPrevious", "RenameKey", "CreateKey"] and rotated["rotated"]
    assert rotated["rotation_reason"] == "rotate: key is 31 days old (rotate_after_days=30)"
    assert (tmp_path / "svc.key.previous").read_text() == old
    assert sorted(remote(admin_client, app)) == ["svc", "svc-previous"]
    assert rotated["previous_dest"] == str(tmp_path / "svc.key.previous")
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)
    assert run(admin_client, app, want)["plan"] == []
    retired = run(admin_client, app, want, now=later(1.01))
    assert kinds(retired) == ["DeleteKey", "RemoveSecret"]
    assert sorted(remote(admin_client, app)) == ["svc"] and not (tmp_path / "svc.key.previous").exists()
    assert not authenticates(emulator, app, old)
    assert run(admin_client, app, want, now=later(1.01))["plan"] == []


def test_rotate_true_within_the_grace_period_is_refused_and_changes_nothing(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    run(admin_client, app, desired(tmp_path, rotate=True))
    emulator.clear_log()
    with pytest.raises(IzumaConfigError, match="still within its grace period"):
        run(admin_client, app, desired(tmp_path, rotate=True))
    assert emulator.writes() == []
    again = run(admin_client, app, desired(tmp_path, rotate=True, retire_previous="now"))
    # retire_previous=now: the generation this rotation makes previous goes at once too.
    assert kinds(again) == ["DeleteKey", "RemoveSecret", "KeepPrevious", "RenameKey", "CreateKey", "DeleteKey", "RemoveSecret"]
    assert sorted(remote(admin_client, app)) == ["svc"]
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)


def test_grace_period_zero_rotates_and_retires_in_one_run(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    result = run(admin_client, app, desired(tmp_path, rotate=True, grace_period=0))
    assert kinds(result) == ["KeepPrevious", "RenameKey", "CreateKey", "DeleteKey", "RemoveSecret"]
    assert sorted(remote(admin_client, app)) == ["svc"] and not (tmp_path / "svc.key.previous").exists()
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)


# -- crashes -------------------------------------------------------------------------------------------------


def killed_run(emulator: Any, app: Dict[str, Any], want: Desired, nth: int, when: str, now: Any = None) -> None:
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=0))
    client.session = KillingSession(client.session, nth, when)
    with pytest.raises(Killed):
        run(client, app, want, now=now)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_create_killed_at_its_post_is_repaired_by_the_next_run(tmp_path, emulator, admin_client, app, when) -> None:
    want = desired(tmp_path)
    killed_run(emulator, app, want, 1, when)
    repaired = run(admin_client, app, want)
    if when == "after":
        assert kinds(repaired) == ["RenameKey", "CreateKey", "DeleteKey"]
        assert "no secret file holds its secret" in repaired["replaced_orphans"][0]
        assert repaired["warnings"] == repaired["replaced_orphans"]
    else:
        assert kinds(repaired) == ["CreateKey"]
    assert sorted(remote(admin_client, app)) == ["svc"]
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)
    assert run(admin_client, app, want)["plan"] == []


@pytest.mark.parametrize("nth", [1, 2, 3])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_rotation_killed_at_any_write_converges(tmp_path, emulator, admin_client, app, nth, when) -> None:
    run(admin_client, app, desired(tmp_path))
    want = desired(tmp_path, rotate_after_days=30, grace_period=0)
    killed_run(emulator, app, want, nth, when, now=later(31))
    run(admin_client, app, want, now=later(31))
    assert sorted(remote(admin_client, app)) == ["svc"]
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)
    assert run(admin_client, app, want)["plan"] == []


def test_a_run_killed_between_the_secret_and_its_sidecar_finds_the_key_again(tmp_path, emulator, admin_client, app) -> None:
    want = desired(tmp_path)
    run(admin_client, app, want)
    (tmp_path / "svc.key.meta").unlink()
    repaired = run(admin_client, app, want)
    assert kinds(repaired) == ["WriteMeta"]
    assert json.loads((tmp_path / "svc.key.meta").read_text())["id"] == remote(admin_client, app)["svc"]["id"]
    assert run(admin_client, app, want)["plan"] == []


def test_an_ambiguous_create_is_not_sent_twice_and_says_the_next_run_replaces_it(tmp_path, emulator, admin_client, app) -> None:
    emulator.faults({"method": "POST", "path": "/access-keys$", "drop": "after"})
    client = IzumaClient(ClientConfig(api_host=emulator.url, api_key=emulator.admin_key, retries=2))
    with pytest.raises(IzumaError, match="its answer, the only copy of the secret, was lost"):
        run(client, app, desired(tmp_path))
    assert len(remote(admin_client, app)) == 1
    run(admin_client, app, desired(tmp_path))
    assert_every_active_key_has_its_secret(emulator, admin_client, app, tmp_path)


def test_a_secret_that_cannot_be_written_deletes_its_key_again(tmp_path, emulator, admin_client, app, monkeypatch) -> None:
    def full_disk(path: str, data: bytes, mode: int = 0o600) -> None:
        raise akfiles.IzumaFileError("cannot write %s: No space left on device" % path, path=path)

    monkeypatch.setattr(akfiles.files, "atomic_write", full_disk)
    with pytest.raises(IzumaError, match="No space left on device. The access key 'svc' created for it was deleted again"):
        run(admin_client, app, desired(tmp_path))
    assert remote(admin_client, app) == {}


def test_a_dest_in_a_missing_directory_is_refused_before_any_write(tmp_path, emulator, admin_client, app) -> None:
    emulator.clear_log()
    with pytest.raises(IzumaConfigError, match="dest: the directory .* does not exist"):
        run(admin_client, app, desired(tmp_path, dest=str(tmp_path / "missing" / "svc.key")))
    assert emulator.writes() == []


def test_a_dest_that_is_a_directory_is_refused(tmp_path, emulator, admin_client, app) -> None:
    os.mkdir(tmp_path / "svc.key")
    with pytest.raises(IzumaError, match="is a directory"):
        run(admin_client, app, desired(tmp_path))
    assert remote(admin_client, app) == {}


# -- absent, refusals, info ----------------------------------------------------------------------------------


def test_absent_deletes_every_generation_and_the_files_on_request(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path))
    run(admin_client, app, desired(tmp_path, rotate=True))
    check = run(admin_client, app, desired(tmp_path, state="absent", remove_files=True), check=True)
    assert kinds(check) == ["DeleteKey", "DeleteKey", "RemoveSecret", "RemoveSecret"] and len(remote(admin_client, app)) == 2
    run(admin_client, app, desired(tmp_path, state="absent", remove_files=True))
    assert remote(admin_client, app) == {} and sorted(os.listdir(tmp_path)) == []
    assert run(admin_client, app, desired(tmp_path, state="absent"))["plan"] == []


@pytest.mark.parametrize("options, message", [
    (dict(name="x" * 85), "name must be 1 to 84 characters"),
    (dict(name="svc-previous"), "must not end with '-previous'"),
    (dict(expiration="tomorrow"), "expiration must be an RFC 3339 time"),
    (dict(expiration="2030-01-01T00:00:00"), "expiration must say its time zone"),
    (dict(description="d" * 501), "description must be at most 500"),
    (dict(grace_period=-1), "grace_period must be 0 or more"),
    (dict(vault_password=""), "vault_password must not be empty"),
    (dict(dest=None), "dest is required with state=present"),
    (dict(expiration="2001-01-01T00:00:00Z"), "expiration must be in the future"),
])
def test_bad_input_is_refused_before_any_request(tmp_path, options, message) -> None:
    with pytest.raises(IzumaConfigError, match=message):
        desired(tmp_path, **options)


def test_an_expired_key_cannot_be_set_active_and_a_warning_says_how(tmp_path, emulator, admin_client, app) -> None:
    run(admin_client, app, desired(tmp_path, expiration=later(1).strftime("%Y-%m-%dT%H:%M:%SZ")))
    emulator.clock(2 * DAY)
    result = run(admin_client, app, desired(tmp_path, status="active"))
    assert result["plan"] == [] and "has expired" in result["warnings"][0]


def test_info_lists_one_application_or_all_with_expiry_and_last_use(tmp_path, emulator, admin_client, app) -> None:
    other = admin_client.create("/v3/applications", {"name": "ak-other"})
    run(admin_client, app, desired(tmp_path, expiration=later(5).strftime("%Y-%m-%dT%H:%M:%SZ")))
    run(admin_client, other, desired(tmp_path, name="other", dest=str(tmp_path / "other.key")))
    authenticates(emulator, app, (tmp_path / "svc.key").read_text())
    everything = access_keys.info(admin_client, {})
    assert sorted(item["name"] for item in everything["access_keys"]) == ["other", "svc"]
    assert all("key" not in item for item in everything["access_keys"])
    svc = next(item for item in everything["access_keys"] if item["name"] == "svc")
    assert svc["application_name"] == "ak-test" and svc["expires_in_days"] == 4 and svc["days_since_last_use"] == 0
    assert [item["name"] for item in access_keys.info(admin_client, {"expires_within_days": 10})["access_keys"]] == ["svc"]
    assert [item["name"] for item in access_keys.info(admin_client, {"application": "ak-other"})["access_keys"]] == ["other"]
    assert access_keys.info(admin_client, {"unused_for_days": 1})["access_keys"] == []
    idle = access_keys.info(admin_client, {"unused_for_days": 1}, now=later(3))["access_keys"]
    assert sorted(item["name"] for item in idle) == ["other", "svc"]


def test_a_dest_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path, emulator, admin_client, app) -> None:
    target = tmp_path / "unrelated"
    target.write_text("keep me")
    os.symlink(target, tmp_path / "svc.key")
    emulator.clear_log()
    with pytest.raises(IzumaConfigError, match="is a symbolic link"):
        run(admin_client, app, desired(tmp_path))
    assert target.read_text() == "keep me" and emulator.writes() == []
