# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of each typed change of a verification-key plan: its sentence, why, apply, result, key list and diff."""

from __future__ import annotations

import datetime
import os
import stat
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._verification_key import changes
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError
from ansible_collections.izuma.device_management.plugins.module_utils._plans import Plan
from ansible_collections.izuma.device_management.plugins.module_utils._verification_key.state import KeyFiles, LocalKey, Observed, summary

APP_ID = "0172c9f5a5c3ed9a0a5f5c8f00000000"
NOW = datetime.datetime(2026, 11, 28, 17, 0, 0, tzinfo=datetime.timezone.utc)
KEY = {"id": "k1", "name": "signing", "etag": "3", "status": "ACTIVE", "description": "", "public_key_fingerprint": "fp1",
       "certificate_fingerprint": "c1", "expires_at": "2027-11-28T17:00:00.000Z"}


class FakeClient:
    """Records the calls; ``refuse`` makes a POST fail with that status."""

    def __init__(self, refuse: t.Optional[int] = None) -> None:
        self.calls: t.List[t.Tuple[str, str, t.Any]] = []
        self.refuse = refuse

    def create(self, path: str, body: t.Dict[str, t.Any], read_back: t.Any = None) -> t.Dict[str, t.Any]:
        self.calls.append(("POST", path, body))
        if self.refuse:
            raise IzumaApiError("refused", status=self.refuse)
        return {"id": "k2", "name": body["name"], "status": "ACTIVE"}

    def update(self, path: str, body: t.Dict[str, t.Any], etag: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        self.calls.append(("PUT", path, etag))
        return dict(KEY, **body, certificate="")

    def delete(self, path: str, etag: t.Optional[str] = None) -> bool:
        self.calls.append(("DELETE", path, etag))
        return True


def context(client: t.Optional[FakeClient] = None) -> changes.KeyContext:
    return changes.KeyContext(client or FakeClient(), APP_ID)


def observed(tmp_path: t.Any, **fields: t.Any) -> Observed:
    return Observed(application_id=APP_ID, remote=[dict(KEY)], now=NOW,
                    files=KeyFiles(str(tmp_path / "k.pem"), str(tmp_path / "k.crt")), **fields)


def test_write_pending_key_writes_0600_and_tells_the_upload_which_file_to_take_back(tmp_path: t.Any) -> None:
    path = str(tmp_path / "k.pem.next")
    change = changes.WritePendingKey(path, b"KEY", 0o600, why="rotate: rotation requested", after={"mode": "0600"})
    assert change.describe() == "write private key '%s'" % path
    assert change.details()["why"] == "rotate: rotation requested" and change.details()["kind"] == "WritePendingKey"
    ctx = context()
    assert change.apply(ctx) is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and ctx.written_pending == path
    assert "KEY" not in repr(change)


@pytest.mark.parametrize("status, kept", [(400, False), (502, True)])
def test_an_upload_the_server_refuses_takes_its_new_key_file_back_but_not_after_an_ambiguous_failure(
        tmp_path: t.Any, status: int, kept: bool) -> None:
    path = tmp_path / "k.pem.next"
    path.write_bytes(b"KEY")
    ctx = context(FakeClient(refuse=status))
    ctx.written_pending = str(path)
    change = changes.UploadKey({"name": "signing", "certificate": "PEM"}, "fp2", after={"name": "signing"}, why="create the key")
    with pytest.raises(IzumaApiError):
        change.apply(ctx)
    assert path.exists() is kept


def test_an_upload_returns_the_created_key_with_its_fingerprint_and_settles_the_key_list() -> None:
    change = changes.UploadKey({"name": "signing", "certificate": "PEM"}, "fp2", after={"name": "signing", "id": None}, why="w")
    assert change.describe() == "create verification key 'signing'"
    created = change.apply(context())
    assert created == {"id": "k2", "name": "signing", "status": "ACTIVE", "public_key_fingerprint": "fp2"}
    items: t.Dict[str, t.Any] = {}
    change.settle(items, created)
    assert items == {"k2": created}
    predicted: t.Dict[str, t.Any] = {}
    change.settle(predicted, None)
    assert predicted == {"new:signing": {"name": "signing", "id": None, "public_key_fingerprint": "fp2"}}


def test_update_sends_the_observed_etag_lists_its_fields_and_predicts_the_key() -> None:
    client = FakeClient()
    change = changes.UpdateKey(KEY, {"name": "signing-previous"}, after=dict(summary(KEY) or {}, name="signing-previous"), why="rotate")
    assert change.describe() == "update verification key 'signing': name"
    result = change.apply(context(client))
    assert client.calls == [("PUT", "/v3/applications/%s/verification-keys/k1" % APP_ID, "3")]
    assert result["name"] == "signing-previous" and "public_key_fingerprint" in result
    items = {"k1": dict(KEY)}
    change.settle(items, None)
    assert items["k1"]["name"] == "signing-previous"


def test_delete_sends_the_etag_and_removes_the_key_from_the_list() -> None:
    client = FakeClient()
    change = changes.DeleteKey(KEY, why="retired after the grace period")
    assert change.describe() == "delete verification key 'signing'" and change.why == "retired after the grace period"
    assert change.apply(context(client)) is None
    assert client.calls == [("DELETE", "/v3/applications/%s/verification-keys/k1" % APP_ID, "3")]
    items = {"k1": dict(KEY)}
    change.settle(items, None)
    assert items == {}


def test_promote_keeps_the_current_key_and_certificate_as_previous_and_moves_the_new_key_in(tmp_path: t.Any) -> None:
    paths = KeyFiles(str(tmp_path / "k.pem"), str(tmp_path / "k.crt"))
    (tmp_path / "k.pem").write_bytes(b"OLD")
    (tmp_path / "k.pem.next").write_bytes(b"NEW")
    (tmp_path / "k.crt").write_bytes(b"OLD CERT")
    current = LocalKey("current", paths.private_key, None, b"OLD", "fp1")
    change = changes.PromoteFiles(paths, current, "fp2", "NEW CERT", b"OLD CERT", why="rotate: rotation requested")
    assert change.describe() == "promote private key '%s'" % paths.private_key
    assert change.apply(context()) is None
    assert (tmp_path / "k.pem").read_bytes() == b"NEW" and (tmp_path / "k.pem.previous").read_bytes() == b"OLD"
    assert (tmp_path / "k.crt").read_bytes() == b"NEW CERT" and (tmp_path / "k.crt.previous").read_bytes() == b"OLD CERT"
    assert not (tmp_path / "k.pem.next").exists()
    assert stat.S_IMODE(os.stat(tmp_path / "k.pem.previous").st_mode) == 0o600


def test_promote_of_a_first_key_keeps_no_previous_and_its_diff_hides_the_next_file(tmp_path: t.Any) -> None:
    paths = KeyFiles(str(tmp_path / "k.pem"), None)
    write = changes.WritePendingKey(str(paths.pending), b"NEW", 0o600, why="there is no private key", after={"mode": "0600"})
    promote = changes.PromoteFiles(paths, None, "fp2", "CERT", None, why="create the key")
    plan = Plan([write, promote])
    plan.apply(context())
    assert sorted(os.listdir(tmp_path)) == ["k.pem"]
    shown: t.Dict[str, t.Dict[str, t.Any]] = {"before": {}, "after": {}}
    for change in plan:
        change.show(shown, observed(tmp_path), plan)
    assert shown == {"before": {}, "after": {paths.private_key: {"public_key_fingerprint": "fp2"}}}


def test_remove_file_says_why_and_api_changes_stay_out_of_the_file_diff(tmp_path: t.Any) -> None:
    path = tmp_path / "k.pem.previous"
    path.write_bytes(b"OLD")
    change = changes.RemoveFile(str(path), why="its key is no longer uploaded")
    assert change.details() == {"change": "remove file '%s'" % path, "kind": "RemoveFile", "why": "its key is no longer uploaded"}
    change.apply(context())
    assert not path.exists()
    shown: t.Dict[str, t.Dict[str, t.Any]] = {"before": {}, "after": {}}
    changes.DeleteKey(KEY, why="x").show(shown, observed(tmp_path), Plan())
    assert shown == {"before": {}, "after": {}}


def test_a_name_taken_by_another_controller_in_between_says_so_and_takes_the_new_key_back(tmp_path: t.Any) -> None:
    class Taken(FakeClient):
        def create(self, path: str, body: t.Dict[str, t.Any], read_back: t.Any = None) -> t.Dict[str, t.Any]:
            raise IzumaApiError("the name 'signing' is already used", status=409, error_type="duplicate",
                                fields=[{"name": "name", "message": "the name 'signing' is already used"}])

    path = tmp_path / "k.pem.next"
    path.write_bytes(b"KEY")
    ctx = context(Taken())
    ctx.written_pending = str(path)
    with pytest.raises(Exception) as info:
        changes.UploadKey({"name": "signing", "certificate": "PEM"}, "fp2", after={}, why="create the key").apply(ctx)
    assert "Another run uploaded a key named 'signing'" in str(info.value) and "Run the task again" in str(info.value)
    assert not path.exists()
