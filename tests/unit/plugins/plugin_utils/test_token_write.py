# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The izuma_jwt action's write through the connection: when it applies, and the command itself, run here in /bin/sh on
real files the way a connection runs it (``/bin/sh -c`` with the token on standard input)."""

from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import threading
import time
import typing as t

import pytest

from ansible_collections.izuma.device_management.plugins.plugin_utils import _token_write as token_write

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
OLD = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvbGQifQ.b2xk"


def sha256_of(path: t.Any) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest() if os.path.lexists(path) else ""


def write(path: t.Any, token: str = TOKEN, mode: int = 0o600, owner: t.Optional[str] = None, group: t.Optional[str] = None,
          expected: t.Optional[str] = None, lock_timeout: int = 5, env: t.Optional[t.Dict[str, str]] = None,
          umask: t.Optional[int] = None) -> t.Tuple[t.Dict[str, t.Any], subprocess.CompletedProcess]:
    """Run the write command as a connection does and parse its answer."""
    command = token_write.write_command(str(path), mode, owner, group, sha256_of(path) if expected is None else expected, lock_timeout)
    assert token not in command
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    done = subprocess.run(["/bin/sh", "-c", command], input=(token + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, preexec_fn=preexec, check=False, timeout=60)
    return token_write.parse_write(done.stdout.decode("utf-8", "surrogateescape")), done


def leftovers(directory: t.Any) -> t.List[str]:
    """Files other than the token file in ``directory`` (temporary and lock files)."""
    return sorted(name for name in os.listdir(str(directory)) if not name.endswith(".jwt"))


SHELL_READ = {"read": "shell", "exists": True, "content_sha256": ""}


@pytest.mark.parametrize("observed, dest, unsafe, prompt, expected", [
    (SHELL_READ, "/etc/app.jwt", False, False, True),
    ({"read": "shell", "exists": False, "content_sha256": ""}, "/etc/app.jwt", False, False, True),
    # The module inspected (a symbolic link, a symbolic mode, a relative dest, another shell, SELinux options...).
    ({"exists": True, "content_sha256": ""}, "/etc/app.jwt", False, False, False),
    # A missing directory to create with directory_mode.
    (dict(SHELL_READ, exists=False, directory_missing=True), "/etc/new/app.jwt", False, False, False),
    (SHELL_READ, "/etc/app.jwt", True, False, False),
    # A become password: the connection needs the command's standard input to type it.
    (SHELL_READ, "/etc/app.jwt", False, True, False),
    (SHELL_READ, "/etc/", False, False, False),
    (SHELL_READ, "etc/app.jwt", False, False, False),
])
def test_write_applies(observed: t.Dict[str, t.Any], dest: str, unsafe: bool, prompt: bool, expected: bool) -> None:
    assert token_write.write_applies(observed, dest, unsafe, prompt) is expected


def test_a_new_token_file_is_written_with_the_mode_asked(tmp_path: t.Any) -> None:
    path = tmp_path / "a dir" / "it's.jwt"
    path.parent.mkdir()
    done, process = write(path, mode=0o640)
    assert done == {"outcome": "written", "step": "", "mode": "0640", "owner": pwd.getpwuid(os.getuid()).pw_name,
                    "group": grp.getgrgid(os.getgid()).gr_name}, process
    assert path.read_text() == TOKEN + "\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert leftovers(path.parent) == []


def test_an_existing_token_is_replaced_by_a_new_file(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    path.chmod(0o644)
    inode = path.stat().st_ino
    done, _process = write(path)
    assert done["outcome"] == "written" and done["mode"] == "0600"
    assert path.read_text() == TOKEN + "\n" and path.stat().st_ino != inode and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_as_asked_and_kept_from_the_old_file(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    done, _process = write(path, owner="nobody", group=grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name, mode=0o640)
    assert done["outcome"] == "written" and done["owner"] == "nobody"
    assert path.stat().st_uid == pwd.getpwnam("nobody").pw_uid and path.stat().st_gid == pwd.getpwnam("nobody").pw_gid
    # Neither owner nor group asked: the new file keeps the old one's, as atomic_move does for the module.
    done, _process = write(path, token=OLD)
    assert done["outcome"] == "written" and done["owner"] == "nobody" and path.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    assert path.read_text() == OLD + "\n"


def test_an_unknown_owner_writes_nothing_and_hands_over_to_the_module(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    done, _process = write(path, owner="no-such-user-izuma", group="no-such-group-izuma")
    assert done["outcome"] == "cannot" and done["step"] == "owner"
    assert path.read_text() == OLD + "\n" and leftovers(tmp_path) == []


def test_another_runs_token_is_kept(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    done, _process = write(path, expected=hashlib.sha256(b"what this run read\n").hexdigest())
    assert done == {"outcome": "superseded", "step": ""}
    assert path.read_text() == OLD + "\n" and leftovers(tmp_path) == []
    # Absent when this run read it, present now.
    done, _process = write(path, expected="")
    assert done["outcome"] == "superseded" and path.read_text() == OLD + "\n"


def test_umask_000_never_opens_the_token(tmp_path: t.Any) -> None:
    """The temporary file is 0600 from its creation whatever the umask; a fake mv shows it just before the rename."""
    path = tmp_path / "app.jwt"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mv").write_text("#!/bin/sh\nls -ln \"$3\" > %s\nexec %s \"$@\"\n" % (tmp_path / "seen", shutil.which("mv")))
    (fake / "mv").chmod(0o755)
    done, _process = write(path, mode=0o640, umask=0, env=dict(os.environ, PATH="%s:%s" % (fake, os.environ["PATH"])))
    assert done["outcome"] == "written" and stat.S_IMODE(path.stat().st_mode) == 0o640
    # Just before the rename, the temporary file already had its final mode, and no more.
    assert (tmp_path / "seen").read_text().startswith("-rw-r----- ")
    done, _process = write(path, mode=0o600, umask=0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and leftovers(tmp_path) == ["bin", "seen"]


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_before_the_rename_leaves_dest_as_it_was(tmp_path: t.Any, signum: int) -> None:
    """A fake mv that blocks: the command is killed between writing the temporary file and the rename."""
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    path.chmod(0o600)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mv").write_text("#!/bin/sh\ntouch %s\nexec sleep 60\n" % (tmp_path / "blocked"))
    (fake / "mv").chmod(0o755)
    command = token_write.write_command(str(path), 0o600, None, None, sha256_of(path), 5)
    process = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                               env=dict(os.environ, PATH="%s:%s" % (fake, os.environ["PATH"])), start_new_session=True)
    process.stdin.write((TOKEN + "\n").encode())
    process.stdin.close()
    deadline = time.monotonic() + 30
    while not (tmp_path / "blocked").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    temporary = [name for name in os.listdir(str(tmp_path)) if name.startswith(".app.jwt.")]
    assert len(temporary) == 1 and stat.S_IMODE(os.stat(str(tmp_path / temporary[0])).st_mode) == 0o600
    # The whole process group: the shell and its blocked mv (SIGTERM: the shell's trap runs once mv has died).
    os.killpg(process.pid, signum)
    process.wait(timeout=30)
    assert path.read_text() == OLD + "\n"
    if signum == signal.SIGTERM:
        # The exit trap removed the temporary file and the lock file.
        assert leftovers(tmp_path) == ["bin", "blocked"]
    process.stdout.close()


def test_a_concurrent_reader_never_sees_a_partial_token(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    seen = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for index in range(30):
            done, _process = write(path, token=(TOKEN, OLD)[index % 2])
            assert done["outcome"] == "written"
    finally:
        stop.set()
        reader.join()
    assert seen <= {(TOKEN + "\n").encode(), (OLD + "\n").encode()} and len(seen) == 2


def test_the_lock_held_by_another_run_times_out_with_nothing_written(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    with open(str(path) + ".lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        done, _process = write(path, lock_timeout=0)
    assert done["outcome"] == "locked"
    assert path.read_text() == OLD + "\n" and [name for name in leftovers(tmp_path) if not name.endswith(".lock")] == []


def test_a_missing_tool_hands_over_to_the_module_and_reads_all_its_input(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    path.write_text(OLD + "\n")
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("cat", "mktemp", "sha256sum", "ls", "rm", "chmod", "mv", "sync"):
        os.symlink(shutil.which(name), str(tools / name))
    done, _process = write(path, token=TOKEN * 3000, env={"PATH": str(tools)})
    assert done == {"outcome": "cannot", "step": "flock"}
    assert path.read_text() == OLD + "\n" and leftovers(tmp_path) == ["bin"]


def test_a_link_placed_at_dest_since_the_read_is_left_to_the_module(tmp_path: t.Any) -> None:
    path = tmp_path / "app.jwt"
    (tmp_path / "other").write_text("other\n")
    os.symlink(str(tmp_path / "other"), str(path))
    done, _process = write(path, expected="")
    assert done == {"outcome": "cannot", "step": "dest"}
    assert os.path.islink(str(path)) and (tmp_path / "other").read_text() == "other\n"
    assert leftovers(tmp_path) == ["other"]


def test_parse_write_says_unknown_for_anything_else() -> None:
    assert token_write.parse_write("") == {"outcome": None, "step": ""}
    assert token_write.parse_write("IZUMA-JWT:written\n") == {"outcome": None, "step": ""}
    assert token_write.parse_write("noise\nIZUMA-JWT:cannot mktemp\n") == {"outcome": "cannot", "step": "mktemp"}
    assert token_write.parse_write("IZUMA-JWT:file\n") == {"outcome": None, "step": ""}


def test_open_mode_warning() -> None:
    assert token_write.open_mode_warning("0640", "/a.jwt") is None
    expected = "mode 0644 of /a.jwt lets every user of the host use the token in it: use mode 0600, or 0640 with a group"
    assert token_write.open_mode_warning("0644", "/a.jwt") == expected
