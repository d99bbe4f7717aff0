# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""An exclusive lock tied to a file that a run is about to change (a private key, a token).

Two runs on one host that change the same file (a cron job and a manual run, two AWX jobs or two slices of one job
on the same execution node) must not interleave their observe -> plan -> apply: the second one waits, then observes
what the first one did. The lock is an ``fcntl.flock`` on ``<path>.lock`` (mode 0600), held for the whole run.

The holder removes the lock file before it unlocks, so that no file is left behind. That is safe because a waiter,
once it has the lock, checks that the lock file it locked is still the one at ``<path>.lock`` (same device and
inode) and starts again if not: two runs can never both believe they hold the lock. ``flock`` locks are released
by the kernel when a process dies, so a killed run never leaves a stale lock.

Runs on different hosts cannot share such a lock; there the API's name uniqueness and ETags keep the outcome clean.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl; Ansible modules do not run there
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"
DEFAULT_LOCK_TIMEOUT = 300
# How often a waiting run tries again; short, because key generation or an API round trip is what it waits for.
POLL_SECONDS = 0.05


def lock_path(path: str) -> str:
    """The lock file of ``path``."""
    return path + LOCK_SUFFIX


def _same_file(fd: int, path: str) -> bool:
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _open_lock_file(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IzumaConfigError("The lock file %s is a symbolic link; remove it (the module creates its own)." % path) from None
        raise IzumaError("Cannot create the lock file %s: %s. The directory must exist and be writable by the user "
                         "that runs the task." % (path, exc.strerror or exc)) from None


@contextlib.contextmanager
def exclusive_lock(path: str, timeout: float = DEFAULT_LOCK_TIMEOUT, option: str = "lock_timeout",
                   what: str = "the same key") -> t.Iterator[str]:
    """Hold the exclusive lock of ``path`` for the ``with`` block; yield the lock file's path.

    Waits up to ``timeout`` seconds for another run to finish, then raises an error that names ``option``, the
    lock file and ``what`` the other run is working on. Nothing is locked (and nothing written) when the directory
    of ``path`` does not exist: then no other run can have a file there to protect, and the run's own writes fail
    with their own message.
    """
    if fcntl is None or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        yield ""
        return
    name = lock_path(path)
    deadline = time.monotonic() + max(timeout, 0)
    while True:
        fd = _open_lock_file(name)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise IzumaError(
                        "Another run is working on %s and still holds the lock file %s after %s seconds (%s=%s). "
                        "Wait for it to finish, or raise %s." % (what, name, _seconds(timeout), option, _seconds(timeout), option))
                time.sleep(POLL_SECONDS)
            if _same_file(fd, name):
                break
            # The holder we waited for removed the file: lock the one now there instead.
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield name
    finally:
        # Remove before unlocking: a run that waits on this file then sees that it is gone and starts again.
        with contextlib.suppress(OSError):
            if _same_file(fd, name):
                os.unlink(name)
        os.close(fd)


def _seconds(value: float) -> str:
    return ("%d" % value) if float(value).is_integer() else ("%g" % value)
