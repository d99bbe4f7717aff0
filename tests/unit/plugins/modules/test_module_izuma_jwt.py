# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the host side of izuma_jwt: inspect, atomic 0600 write, owner/group/mode."""

from __future__ import annotations

import os
import stat
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils._jwt import algorithms as jwt_algorithms
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import options as jwt_options
from ansible_collections.izuma.device_management.plugins.module_utils._jwt import signing as tokens
from ansible_collections.izuma.device_management.plugins.modules import izuma_jwt
from ansible_collections.izuma.device_management.tests.unit.plugins.jwt_support import private_key, run_module

TOKEN = tokens.sign_token(private_key("P-256"), lifetime=600)


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_algorithm_choices_are_the_token_librarys() -> None:
    assert jwt_options.argument_spec()["algorithm"]["choices"] == list(jwt_algorithms.ALGORITHMS)
    assert tokens.ALGORITHMS is jwt_algorithms.ALGORITHMS


def test_secret_options_are_no_log() -> None:
    spec = jwt_options.task_argument_spec()
    assert {name for name, value in spec.items() if value.get("no_log")} == {"private_key_content", "private_key_passphrase", "pkcs11_pin", "_token"}


def test_refuses_to_run_without_the_action_plugin(tmp_path: t.Any) -> None:
    result = run_module({"dest": str(tmp_path / "t.jwt")})
    assert result["failed"] and "action plugin" in result["msg"]


def test_inspect_missing_file(tmp_path: t.Any) -> None:
    result = run_module({"dest": str(tmp_path / "t.jwt"), "_operation": "inspect"})
    assert result["changed"] is False and result["exists"] is False and result["token"] is None
    assert not (tmp_path / "t.jwt").exists()


def test_inspect_existing_file_changes_nothing(tmp_path: t.Any) -> None:
    dest = tmp_path / "t.jwt"
    dest.write_text(TOKEN + "\n")
    os.chmod(dest, 0o644)
    before = os.stat(dest)
    result = run_module({"dest": str(dest), "_operation": "inspect"})
    assert result["token"] == TOKEN and result["exists"] is True
    assert result["mode"] == "0644" and result["attributes_differ"] is True
    after = os.stat(dest)
    assert (after.st_mode, after.st_ino, after.st_mtime_ns) == (before.st_mode, before.st_ino, before.st_mtime_ns)
    os.chmod(dest, 0o600)
    assert run_module({"dest": str(dest), "_operation": "inspect"})["attributes_differ"] is False


def test_inspect_refuses_a_directory_and_a_missing_directory(tmp_path: t.Any) -> None:
    result = run_module({"dest": str(tmp_path), "_operation": "inspect"})
    assert result["failed"] and "is a directory" in result["msg"]
    result = run_module({"dest": str(tmp_path / "nowhere" / "t.jwt"), "_operation": "inspect"})
    assert result["failed"] and "does not exist; create it first" in result["msg"]


def test_write_creates_a_0600_file_atomically(tmp_path: t.Any) -> None:
    dest = tmp_path / "t.jwt"
    dest.write_text("old\n")
    old_inode = os.stat(dest).st_ino
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN})
    assert result["changed"] is True and result["mode"] == "0600"
    assert dest.read_text() == TOKEN + "\n"
    assert mode_of(dest) == 0o600
    assert os.stat(dest).st_ino != old_inode  # renamed over, not rewritten in place
    assert [name for name in os.listdir(tmp_path) if name != "t.jwt"] == []  # no temporary file left
    # The token is a no_log option: it is masked wherever the module would echo it.
    assert TOKEN not in str(result)


def test_write_applies_a_group_mode_and_warns_for_a_world_readable_one(tmp_path: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "t.jwt"
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "mode": "0640"})
    assert mode_of(dest) == 0o640 and not result.get("warnings")
    assert "every user of the host" not in capsys.readouterr().err
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "mode": "u=rw,g=r,o=r"})
    assert mode_of(dest) == 0o644
    # On a host the warning is in the result; in a controller process ansible-core 2.19+ displays it at once.
    warnings = " ".join(result.get("warnings", [])) + capsys.readouterr().err
    assert "every user of the host" in warnings


def test_write_in_check_mode_writes_nothing(tmp_path: t.Any) -> None:
    dest = tmp_path / "t.jwt"
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN}, check_mode=True)
    assert result["changed"] is True and not dest.exists()


def test_write_refuses_what_is_not_a_token(tmp_path: t.Any) -> None:
    result = run_module({"dest": str(tmp_path / "t.jwt"), "_operation": "write", "_token": "not a token"})
    assert result["failed"] and "not a JWT" in result["msg"]


def test_attributes_only(tmp_path: t.Any) -> None:
    dest = tmp_path / "t.jwt"
    dest.write_text(TOKEN + "\n")
    os.chmod(dest, 0o666)
    inode = os.stat(dest).st_ino
    check = run_module({"dest": str(dest), "_operation": "attributes"}, check_mode=True)
    assert check["changed"] is True and mode_of(dest) == 0o666
    result = run_module({"dest": str(dest), "_operation": "attributes"})
    assert result["changed"] is True and mode_of(dest) == 0o600 and os.stat(dest).st_ino == inode
    assert run_module({"dest": str(dest), "_operation": "attributes"})["changed"] is False
    assert dest.read_text() == TOKEN + "\n"


def test_owner_and_group_by_name(tmp_path: t.Any) -> None:
    import grp  # pylint: disable=import-outside-toplevel
    import pwd  # pylint: disable=import-outside-toplevel
    owner = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    dest = tmp_path / "t.jwt"
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "owner": owner, "group": group})
    assert (result["owner"], result["group"]) == (owner, group)
    inspected = run_module({"dest": str(dest), "_operation": "inspect", "owner": owner, "group": group})
    assert inspected["attributes_differ"] is False


def test_unknown_owner_fails_cleanly(tmp_path: t.Any) -> None:
    result = run_module({"dest": str(tmp_path / "t.jwt"), "_operation": "write", "_token": TOKEN, "owner": "no-such-user-here"})
    assert result["failed"] and "no-such-user-here" in result["msg"]
    assert TOKEN not in str(result)


@pytest.mark.parametrize("size", [izuma_jwt.MAX_TOKEN_BYTES + 1])
def test_inspect_refuses_a_huge_file(tmp_path: t.Any, size: int) -> None:
    dest = tmp_path / "t.jwt"
    dest.write_bytes(b"x" * size)
    result = run_module({"dest": str(dest), "_operation": "inspect"})
    assert result["failed"] and "larger than" in result["msg"]


@pytest.mark.parametrize("existing_mode", [None, 0o644])
def test_write_never_exposes_the_token_even_with_umask_000(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch,
                                                           existing_mode: t.Optional[int]) -> None:
    dest = tmp_path / "t.jwt"
    if existing_mode is not None:
        dest.write_text("old\n")
        os.chmod(dest, existing_mode)
    seen = []  # type: t.List[t.Tuple[str, int]]
    real_rename, real_chmod = os.rename, os.chmod

    def rename(src: t.Any, dst: t.Any) -> None:
        seen.append(("rename", stat.S_IMODE(os.stat(src).st_mode)))
        real_rename(src, dst)

    def chmod(path: t.Any, mode: int, *args: t.Any, **kwargs: t.Any) -> None:
        real_chmod(path, mode, *args, **kwargs)
        if os.path.exists(dest) and dest.read_bytes() == (TOKEN + "\n").encode():
            seen.append(("chmod", stat.S_IMODE(os.stat(dest).st_mode)))

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "chmod", chmod)
    old_umask = os.umask(0)
    try:
        result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN})
    finally:
        os.umask(old_umask)
    assert result["changed"] is True and result["mode"] == "0600" and mode_of(dest) == 0o600
    # The token was 0600 when it reached dest, and never more open afterwards.
    assert seen and seen[0] == ("rename", 0o600)
    assert all(mode == 0o600 for _what, mode in seen), seen


def test_every_operation_refuses_a_symlink_unless_follow(tmp_path: t.Any) -> None:
    unrelated = tmp_path / "unrelated"
    unrelated.write_text("keep me\n")
    os.chmod(unrelated, 0o644)
    dest = tmp_path / "t.jwt"
    os.symlink(str(unrelated), str(dest))
    for args in ({"_operation": "inspect"}, {"_operation": "write", "_token": TOKEN}, {"_operation": "attributes"}):
        result = run_module(dict(args, dest=str(dest)))
        assert result["failed"] and "symbolic link to %s" % unrelated in result["msg"] and "follow: true" in result["msg"]
    assert unrelated.read_text() == "keep me\n" and mode_of(unrelated) == 0o644
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "follow": True})
    assert result["changed"] is True and unrelated.read_text() == TOKEN + "\n" and mode_of(unrelated) == 0o600
    assert os.path.islink(str(dest))


def test_write_keeps_a_token_another_run_wrote_since_inspect(tmp_path: t.Any) -> None:
    dest = tmp_path / "t.jwt"
    inspected = run_module({"dest": str(dest), "_operation": "inspect"})
    assert inspected["content_sha256"] == ""
    dest.write_text("the other run's token\n")
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "_expected": inspected["content_sha256"]})
    assert result["changed"] is False and result["superseded"] is True
    assert dest.read_text() == "the other run's token\n"
    # What it inspected is still there: written.
    again = run_module({"dest": str(dest), "_operation": "inspect"})
    result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "_expected": again["content_sha256"]})
    assert result["changed"] is True and "superseded" not in result and dest.read_text() == TOKEN + "\n"


def test_write_waits_for_the_lock_and_names_lock_timeout(tmp_path: t.Any) -> None:
    from ansible_collections.izuma.device_management.plugins.module_utils import _locking  # pylint: disable=import-outside-toplevel

    dest = tmp_path / "t.jwt"
    with _locking.exclusive_lock(str(dest)):
        result = run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "lock_timeout": 0})
        assert result["failed"] and "lock_timeout" in result["msg"] and str(dest) + ".lock" in result["msg"]
        assert not dest.exists()
        result = run_module({"dest": str(dest), "_operation": "attributes", "lock_timeout": 0})
        assert result["failed"]
    assert run_module({"dest": str(dest), "_operation": "write", "_token": TOKEN, "lock_timeout": 0})["changed"] is True
    assert sorted(os.listdir(str(tmp_path))) == ["t.jwt"]  # the lock file goes with the lock
