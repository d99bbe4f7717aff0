# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/_files.py: atomic secret writes, reads, backups, modes, file identity."""

from __future__ import annotations

import errno
import os
import stat
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaFileError

SECRET = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbCBmb3IgdGVzdHM=\n-----END PRIVATE KEY-----\n"


def file_error(func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> str:
    with pytest.raises(IzumaFileError) as info:
        func(*args, **kwargs)
    return info.value.message


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def leftovers(directory: t.Any) -> t.List[str]:
    return sorted(name for name in os.listdir(str(directory)) if name.endswith(".tmp"))


@pytest.fixture()
def umask() -> t.Iterator[t.Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


# ---------------------------------------------------------------------------
# atomic_write
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_atomic_write_mode_0600_whatever_the_umask(mask: int, tmp_path: t.Any, umask: t.Callable[[int], None]) -> None:
    umask(mask)
    path = tmp_path / "jwt.key"
    files.atomic_write(str(path), SECRET)
    assert path.read_bytes() == SECRET and mode_of(path) == 0o600
    assert leftovers(tmp_path) == []


def test_atomic_write_custom_mode_and_replace(tmp_path: t.Any, umask: t.Callable[[int], None]) -> None:
    umask(0o077)
    path = tmp_path / "cert.pem"
    path.write_bytes(b"old")
    os.chmod(str(path), 0o666)
    files.atomic_write(str(path), b"new", mode=0o644)
    assert path.read_bytes() == b"new" and mode_of(path) == 0o644
    files.atomic_write(str(path), b"newer")
    assert path.read_bytes() == b"newer" and mode_of(path) == 0o600


def test_atomic_write_temp_file_created_private_and_exclusive(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: t.List[t.Tuple[str, int, int]] = []
    real_open = os.open

    def recording_open(path: t.Any, flags: int, mode: int = 0o777, *args: t.Any, **kwargs: t.Any) -> int:
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", recording_open)
    files.atomic_write(str(tmp_path / "token"), SECRET)
    temp_path, flags, mode = opened[0]
    assert os.path.dirname(temp_path) == str(tmp_path) and temp_path.endswith(".tmp")
    assert flags & os.O_CREAT and flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert mode == 0o600


def test_atomic_write_replace_failure_keeps_old_file(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch,
                                                     safe_message: t.Callable[..., None]) -> None:
    path = tmp_path / "jwt.key"
    path.write_bytes(b"old secret")
    os.chmod(str(path), 0o600)

    def failing_replace(_src: str, _dst: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    message = file_error(files.atomic_write, str(path), SECRET)
    assert message == "cannot write %s: Input/output error" % path
    assert path.read_bytes() == b"old secret"
    assert leftovers(tmp_path) == []
    safe_message(message, SECRET)


def test_atomic_write_write_failure_cleans_up(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "jwt.key"
    path.write_bytes(b"old")

    def failing_write(_fd: int, _data: t.Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", failing_write)
    assert file_error(files.atomic_write, str(path), SECRET) == "cannot write %s: No space left on device" % path
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_atomic_write_missing_directory(tmp_path: t.Any) -> None:
    path = tmp_path / "absent" / "jwt.key"
    message = file_error(files.atomic_write, str(path), SECRET)
    assert message == "cannot write %s: directory %s does not exist; create it first" % (path, tmp_path / "absent")


def test_atomic_write_target_is_directory(tmp_path: t.Any) -> None:
    (tmp_path / "dir").mkdir()
    assert "it is a directory" in file_error(files.atomic_write, str(tmp_path / "dir"), SECRET)


def test_atomic_write_refuses_text(tmp_path: t.Any) -> None:
    assert "the content must be bytes, got str" in file_error(files.atomic_write, str(tmp_path / "x"), "text")  # type: ignore[arg-type]


def test_atomic_write_unwritable_directory(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_args: t.Any, **_kwargs: t.Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.os, "open", denied)
    assert file_error(files.atomic_write, str(tmp_path / "k"), SECRET) == "cannot write %s: permission denied" % (tmp_path / "k")


def test_atomic_write_follows_symlink(tmp_path: t.Any) -> None:
    real = tmp_path / "real.key"
    real.write_bytes(b"old")
    link = tmp_path / "link.key"
    link.symlink_to(real)
    files.atomic_write(str(link), SECRET)
    assert os.path.islink(str(link)) and real.read_bytes() == SECRET and mode_of(real) == 0o600


def test_file_identity(tmp_path: t.Any) -> None:
    path = tmp_path / "f"
    assert files.file_identity(str(path)) is None
    path.write_text("x")
    first = files.file_identity(str(path))
    assert first is not None and files.file_identity(str(path)) == first
    os.replace(str(path), str(tmp_path / "g"))
    path.write_text("x")
    assert files.file_identity(str(path)) != first


# ---------------------------------------------------------------------------
# read_file
# ---------------------------------------------------------------------------

def test_read_file(tmp_path: t.Any) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(SECRET)
    assert files.read_file(str(path)) == SECRET


def test_read_file_missing(tmp_path: t.Any) -> None:
    path = tmp_path / "absent.pem"
    assert file_error(files.read_file, str(path)) == "private key file %s does not exist: check the path" % path
    assert file_error(files.read_file, str(path), what="certificate").startswith("certificate file %s" % path)


def test_read_file_directory(tmp_path: t.Any) -> None:
    assert file_error(files.read_file, str(tmp_path)) == "private key file %s is a directory: give the path of the file itself" % tmp_path


def test_read_file_permission_denied(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(SECRET)

    def denied(*_args: t.Any, **_kwargs: t.Any) -> t.Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    # Tests may run as root, for whom chmod 000 denies nothing; simulate the error instead.
    monkeypatch.setattr(files, "open", denied, raising=False)
    message = file_error(files.read_file, str(path), what="token")
    assert message == "cannot read token file %s: permission denied; fix its owner and mode or run the task with become" % path


def test_read_file_other_error(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: t.Any, **_kwargs: t.Any) -> t.Any:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files, "open", broken, raising=False)
    assert file_error(files.read_file, str(tmp_path / "x")) == "cannot read private key file %s: Input/output error" % (tmp_path / "x")


def test_read_file_too_large(tmp_path: t.Any) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    assert "is larger than 100 bytes" in file_error(files.read_file, str(path), max_size=100)
    assert files.read_file(str(path), max_size=101) == b"x" * 101


# ---------------------------------------------------------------------------
# remove_file
# ---------------------------------------------------------------------------

def test_remove_file(tmp_path: t.Any) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    assert files.remove_file(str(path)) is True and not path.exists()
    assert files.remove_file(str(path)) is False
    assert file_error(files.remove_file, str(tmp_path)) == "cannot remove %s: it is a directory" % tmp_path


def test_remove_file_error(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(_path: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.os, "unlink", denied)
    assert file_error(files.remove_file, str(tmp_path / "f")) == "cannot remove %s: permission denied" % (tmp_path / "f")
