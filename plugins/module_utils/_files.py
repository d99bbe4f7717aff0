# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Safe local files for secrets: atomic writes with a private mode from the start, reads, removal, identity.

A private key or token file is written to a temporary file in the same
directory, created with its final mode (0600 by default) so the secret is never
readable by others even for a moment, flushed to disk, then renamed over the
target. Readers see the old file or the new one, never a partial one, and a
failure leaves the old file as it was.

A file's identity (``file_identity``: device, inode, size, mtime) tells that
it changed, an atomic rewrite included (a new inode): the key caches of the
signing path use it.

Failures raise IzumaFileError naming the path and the reason. File contents
never appear in messages.
"""

from __future__ import annotations

import errno
import os
import typing as t

from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaFileError

# Key, certificate and token files are small; a huge file is a wrong path.
MAX_READ_BYTES = 1024 * 1024


def _reason(exc: OSError) -> str:
    """Describe an OSError without repeating the (possibly temporary) file name."""
    if exc.errno == errno.EACCES or exc.errno == errno.EPERM:
        return "permission denied"
    return exc.strerror or type(exc).__name__


def file_identity(path: str) -> t.Optional[t.Tuple[int, int, int, int]]:
    """(device, inode, size, mtime in ns) of the file at ``path``, or None when it cannot be read.

    Links are followed: the device and inode name the file itself, whatever path leads to it. A rewritten file
    (an atomic write makes a new inode) or an edited one has another identity.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def read_file(path: str, what: str = "private key", max_size: int = MAX_READ_BYTES) -> bytes:
    """Return the bytes of ``path``; ``what`` names the file's role in messages.

    Raises IzumaFileError when the file is missing, a directory, unreadable
    (permission denied) or larger than ``max_size`` bytes.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_size + 1)
    except FileNotFoundError:
        raise IzumaFileError("%s file %s does not exist: check the path" % (what, path), path=path) from None
    except IsADirectoryError:
        raise IzumaFileError("%s file %s is a directory: give the path of the file itself" % (what, path), path=path) from None
    except PermissionError:
        raise IzumaFileError("cannot read %s file %s: permission denied; fix its owner and mode or run the task with become"
                             % (what, path), path=path) from None
    except OSError as exc:
        raise IzumaFileError("cannot read %s file %s: %s" % (what, path, _reason(exc)), path=path) from None
    if len(data) > max_size:
        raise IzumaFileError("%s file %s is larger than %d bytes: check the path" % (what, path, max_size), path=path)
    return data


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not every platform or filesystem allows it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _create_exclusive(directory: str, base: str, mode: int) -> t.Tuple[str, int]:
    """Create a new file next to the target, with ``mode`` from the first instant."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        temp = os.path.join(directory, ".%s.%s.tmp" % (base, os.urandom(6).hex()))
        try:
            return temp, os.open(temp, flags, mode)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file")


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically, with permission bits ``mode``.

    The temporary file is created in the target's directory with O_EXCL and
    ``mode`` (then set exactly, whatever the umask), written,
    fsynced and renamed over ``path``; the directory is fsynced too. A
    symbolic link at ``path`` is followed: its target is replaced, so a linked
    deployment keeps its link. On failure the temporary file is removed and
    the old file is untouched. Raises IzumaFileError with the path and reason.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise IzumaFileError("cannot write %s: the content must be bytes, got %s" % (path, type(data).__name__), path=path)
    target = os.path.realpath(path)
    directory, base = os.path.split(target)
    if not os.path.isdir(directory):
        raise IzumaFileError("cannot write %s: directory %s does not exist; create it first" % (path, directory), path=path)
    if os.path.isdir(target):
        raise IzumaFileError("cannot write %s: it is a directory; give a file path" % path, path=path)
    temp = None  # type: t.Optional[str]
    try:
        temp, fd = _create_exclusive(directory, base, mode)
        try:
            # The umask may have removed bits from ``mode``; it can never have added any.
            os.fchmod(fd, mode)
            _write_all(fd, bytes(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        temp = None
        _fsync_directory(directory)
    except OSError as exc:
        raise IzumaFileError("cannot write %s: %s" % (path, _reason(exc)), path=path) from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass


def remove_file(path: str) -> bool:
    """Remove ``path``; return True if it existed, False if there was nothing to remove."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        raise IzumaFileError("cannot remove %s: it is a directory" % path, path=path) from None
    except OSError as exc:
        if exc.errno == errno.EISDIR or (exc.errno == errno.EPERM and os.path.isdir(path)):
            raise IzumaFileError("cannot remove %s: it is a directory" % path, path=path) from None
        raise IzumaFileError("cannot remove %s: %s" % (path, _reason(exc)), path=path) from None
    return True


def move_file(source: str, dest: str) -> bool:
    """Rename ``source`` over ``dest`` atomically and durably; return False if ``source`` is not there.

    Both must be in the same directory (a rename never copies), so ``dest`` holds either its old or its new content
    at every instant.
    """
    try:
        os.replace(source, dest)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise IzumaFileError("cannot move %s to %s: %s" % (source, dest, _reason(exc)), path=dest) from None
    _fsync_directory(os.path.dirname(os.path.abspath(dest)))
    return True
