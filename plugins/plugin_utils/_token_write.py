# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Controller-side helpers of the izuma_jwt action plugin: write a new token through the connection, without a module.

Where the deployed token was read through the connection (plugin_utils ``_deployed_token``), the new one is written
the same way: one POSIX shell command receives the token on its standard input (never in its command line or its
environment) and, holding the module's lock (an ``flock`` on ``<dest>.lock``), it

1. creates a temporary file in the destination directory with ``mktemp`` (mode 0600 whatever the umask, which is also
   set to 077) and copies its standard input into it, then flushes it to disk;
2. checks that ``dest`` still holds what this run read (the SHA-256 of its content, empty when absent, as the
   module's ``_expected``): otherwise another run wrote it meanwhile and the command reports ``superseded``;
3. gives the temporary file the owner and group asked for (or, as ``atomic_move`` does, those of the file it replaces),
   then the final mode, and only then renames it over ``dest`` (``mv -f`` in one directory: rename(2)).

Any failure before the rename removes the temporary file (an exit trap) and leaves ``dest`` as it was; the command
then reports ``cannot <step>`` and the action runs the module, which knows every rule and gives the exact error.
A missing tool (``flock``, ``mktemp``, ``sha256sum``) or a host with SELinux enabled (whose file contexts the module
keeps) is reported the same way before anything is written.

``write_applies`` decides whether to try: it is the pure part, unit-tested on its own.
"""

from __future__ import annotations

import posixpath
import shlex
import typing as t

from ansible_collections.izuma.device_management.plugins.plugin_utils import _deployed_token as deployed_token

MARKER = deployed_token.MARKER
OUTCOMES = ("written", "superseded", "locked", "cannot")
# The message of the module's lock (module_utils _locking), for the same timeout.
LOCKED_MESSAGE = ("Another run is working on the token file %s and still holds the lock file %s after %s seconds (lock_timeout=%s). "
                  "Wait for it to finish, or raise lock_timeout.")


def write_applies(observed: t.Mapping[str, t.Any], dest: str, unsafe_writes_given: bool, become_prompt: bool) -> bool:
    """Whether a new token for ``dest`` can be written through the connection rather than by the module.

    ``observed`` is what the action's observation found; the write through the connection needs all that the read
    through it needed (``observed["read"] == "shell"``: a POSIX shell, an absolute ``dest``, a numeric mode, no SELinux
    or chattr attributes asked, no symbolic link at ``dest``), and moreover an existing directory (the module creates a
    missing one with ``directory_mode``), no ``unsafe_writes`` in the task (the module's fallback for filesystems that
    cannot rename), and no become password to type (the connection then needs the command's standard input for it).
    """
    if observed.get("read") != "shell" or observed.get("directory_missing"):
        return False
    if unsafe_writes_given or become_prompt:
        return False
    name = posixpath.basename(dest)
    return dest.startswith("/") and name not in ("", ".", "..")


def _attribute_commands(owner: t.Optional[str], group: t.Optional[str], mode: int) -> str:
    """Owner, group and mode of the temporary file ``$T`` (``$P`` is dest), as the module's write leaves dest."""
    if owner is not None:
        commands = "chown -- %s \"$T\" || no owner; " % shlex.quote(str(owner))
    else:
        # As atomic_move: the new file takes the owner and group of the file it replaces, where the user may give them.
        commands = "if [ -f \"$P\" ]; then set -- $(ls -ldn -- \"$P\"); chown -- \"$3:$4\" \"$T\" 2>/dev/null; fi; "
    if group is not None:
        commands += "chgrp -- %s \"$T\" || no group; " % shlex.quote(str(group))
    return commands + "chmod %04o \"$T\" || no mode; " % mode


def write_command(dest: str, mode: int, owner: t.Optional[str], group: t.Optional[str], expected: str, lock_timeout: int) -> str:
    """One shell command that writes its standard input to ``dest`` atomically; see the module docstring for the steps.

    It prints ``IZUMA-JWT:written`` and then ``dest``'s ``ls -ldn`` and ``ls -ld`` lines, or ``IZUMA-JWT:superseded``,
    ``IZUMA-JWT:locked`` or ``IZUMA-JWT:cannot <step>`` (nothing written). Its standard input is always read to the end.
    """
    values = {"path": shlex.quote(dest), "dir": shlex.quote(posixpath.dirname(dest) or "/"),
              "template": shlex.quote(".%s.XXXXXXXXXX" % posixpath.basename(dest)), "m": MARKER,
              "expected": shlex.quote(expected), "timeout": max(int(lock_timeout), 0)}
    return (
        "LC_ALL=C; export LC_ALL; umask 077; P=%(path)s; L=\"$P.lock\"; T=; H=; "
        "no() { echo \"%(m)scannot $1\"; exit 0; }; "
        "drop() { rm -f -- \"$T\"; if [ -n \"$H\" ] && [ /dev/fd/9 -ef \"$L\" ]; then rm -f -- \"$L\"; fi; }; "
        "trap drop EXIT; trap 'exit 143' HUP INT TERM; "
        # Read the token first, whatever happens next: the connection writes it all before it reads the answer.
        "for C in flock mktemp sha256sum; do command -v $C >/dev/null 2>&1 || { cat >/dev/null; no $C; }; done; "
        "if [ -e /sys/fs/selinux/enforce ] || [ -e /selinux/enforce ]; then cat >/dev/null; no selinux; fi; "
        "T=$(mktemp %(dir)s/%(template)s) || { T=; cat >/dev/null; no mktemp; }; "
        "cat > \"$T\" || no write; "
        "{ sync -- \"$T\" || sync; } 2>/dev/null; "
        "if [ -L \"$L\" ] || ! ( : <> \"$L\" ) 2>/dev/null; then no lock; fi; "
        "N=0; while :; do exec 9<> \"$L\"; flock -x -w %(timeout)d 9 || { echo %(m)slocked; exit 0; }; "
        "[ /dev/fd/9 -ef \"$L\" ] && break; N=$((N + 1)); [ $N -lt 20 ] || no lock; done; H=1; "
        "if [ -L \"$P\" ] || { [ -e \"$P\" ] && [ ! -f \"$P\" ]; }; then no dest; fi; "
        "S=; if [ -e \"$P\" ]; then S=$(sha256sum < \"$P\") || no read; S=${S%%%% *}; fi; "
        "[ \"$S\" = %(expected)s ] || { echo %(m)ssuperseded; exit 0; }; "
        "%(attributes)s"
        "mv -f -- \"$T\" \"$P\" || no rename; T=; "
        "echo %(m)swritten; ls -ldn -- \"$P\"; ls -ld -- \"$P\"" % dict(values, attributes=_attribute_commands(owner, group, mode)))


def parse_write(output: str) -> t.Dict[str, t.Any]:
    """What ``write_command`` printed: ``{"outcome": one of OUTCOMES or None, "step": ..., "mode", "owner", "group"}``.

    An outcome of None means the command did not say (it did not run, or was cut short): the caller cannot tell
    whether ``dest`` was replaced, and must not run the module in its place.
    """
    lines = [line for line in output.split("\n") if line.strip()]
    for index, line in enumerate(lines):
        if not line.startswith(MARKER):
            continue
        word, _sep, step = line[len(MARKER):].strip().partition(" ")
        if word not in OUTCOMES:
            continue
        result = {"outcome": word, "step": step}  # type: t.Dict[str, t.Any]
        if word == "written":
            attributes = deployed_token.ls_attributes(lines[index + 1:index + 3])
            if attributes is None:
                return {"outcome": None, "step": ""}
            result.update({name: attributes[name] for name in ("mode", "owner", "group")})
        return result
    return {"outcome": None, "step": ""}


def open_mode_warning(mode: str, dest: str) -> t.Optional[str]:
    """The module's warning for a token file that every user of the host may read, or None."""
    if int(mode, 8) & 0o007:
        return "mode %s of %s lets every user of the host use the token in it: use mode 0600, or 0640 with a group" % (mode, dest)
    return None


def numeric_mode(mode: t.Any) -> int:
    """The mode bits of an octal mode given as a number or a string (``write_applies`` holds: it is numeric)."""
    return mode if isinstance(mode, int) else int(str(mode), 8)
