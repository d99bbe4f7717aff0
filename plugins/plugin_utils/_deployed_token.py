# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""Controller-side helpers of the izuma_jwt action plugin for a deployed token:

* read it, with its mode, owner and group, through the connection with one POSIX shell command (no module, no Python
  on the host), so that a host whose token is already right costs no module run;
* prove it works with one authenticated API request from the controller (``verify``).

Reading is attempted only where the answer is exact: a POSIX shell (``sh`` family), an absolute ``dest`` without
``~``, a numeric mode, and no other file attribute asked for (SELinux context, ``attributes``). Anything else (a
symbolic link, a missing directory, a file too large, an output that does not parse) returns ``None``, and the action
falls back to the module, which knows every rule.
"""

from __future__ import annotations

import re
import shlex
import typing as t

import hashlib

from ansible_collections.izuma.device_management.plugins.module_utils._api import IzumaClient
from ansible_collections.izuma.device_management.plugins.module_utils._api_config import ClientConfig
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaApiError, IzumaError

# File arguments that the read cannot compare (the module does): SELinux context and chattr attributes.
UNREADABLE_FILE_OPTIONS = ("seuser", "serole", "selevel", "setype", "attributes")
# A token is a few hundred bytes; larger files are left to the module, which refuses them clearly.
MAX_TOKEN_BYTES = 64 * 1024
MARKER = "IZUMA-JWT:"
_OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")
_PERMISSIONS = re.compile(r"^-([r-])([w-])([xsS-])([r-])([w-])([xsS-])([r-])([w-])([xtT-])[.+@]?$")


def can_read(dest: str, shell_family: str, mode: t.Any, other_file_options: t.Iterable[str]) -> bool:
    """Whether a read through the connection gives the exact answer for this task."""
    if shell_family != "sh" or not dest.startswith("/") or "~" in dest:
        return False
    if any(other_file_options):
        return False
    if isinstance(mode, int) and not isinstance(mode, bool):
        return True
    return isinstance(mode, str) and bool(_OCTAL_MODE.match(mode))


def read_command(dest: str) -> str:
    """One shell command that prints what the action needs about ``dest``, and its content when it is a token file.

    The content is printed in hexadecimal (``od``): a connection that gives the command a terminal (ssh's ``-tt``)
    turns every newline of its output into CR LF, and the content's SHA-256 must be that of the file's bytes.
    """
    path = shlex.quote(dest)
    return ("LC_ALL=C; export LC_ALL; P=%(path)s; "
            "if [ -L \"$P\" ]; then echo %(m)slink; "
            "elif [ -f \"$P\" ]; then "
            "if [ \"$(wc -c < \"$P\")\" -gt %(max)d ]; then echo %(m)sbig; "
            "else echo %(m)sfile; ls -ldn -- \"$P\"; ls -ld -- \"$P\"; od -An -v -tx1 -- \"$P\" && echo %(m)send; fi; "
            "elif [ -e \"$P\" ]; then echo %(m)sother; "
            "elif [ -d \"$(dirname -- \"$P\")\" ]; then echo %(m)sabsent; "
            "else echo %(m)snodir; fi" % {"path": path, "m": MARKER, "max": MAX_TOKEN_BYTES})


def mode_of(permissions: str) -> t.Optional[int]:
    """The mode bits of a regular file from its ``ls -l`` permissions (``-rw-r-----``); None when not one."""
    match = _PERMISSIONS.match(permissions)
    if not match:
        return None
    bits = 0
    for index, char in enumerate(match.groups()):
        shift = 8 - index
        if char in "rwx" or char in "st":
            bits |= 1 << shift
    special = {2: 0o4000, 5: 0o2000, 8: 0o1000}
    for index, flag in special.items():
        if match.group(index + 1) in "sStT":
            bits |= flag
    return bits


def parse_read(output: str, directory_allowed: bool = False) -> t.Optional[t.Dict[str, t.Any]]:
    """What ``read_command`` printed: ``{"exists": False}``, a token file's facts and content, or None to fall back.

    Lines may end in CR LF (a terminal); the content is read from its hexadecimal dump, so its bytes are exact.
    """
    lines = output.split("\n")
    marker = lines[0].strip()
    if marker == MARKER + "absent":
        return {"exists": False, "content_sha256": ""}
    if marker == MARKER + "nodir" and directory_allowed:
        return {"exists": False, "content_sha256": "", "directory_missing": True}
    if marker != MARKER + "file":
        return None
    ends = [index for index, line in enumerate(lines) if line.strip() == MARKER + "end"]
    if len(lines) < 4 or not ends:
        return None
    observed = ls_attributes(lines[1:3])
    if observed is None:
        return None
    try:
        content = bytes.fromhex("".join("".join(lines[3:ends[0]]).split()))
    except ValueError:
        return None
    observed.update(exists=True, token=content.decode("ascii", "replace").strip(),
                    # As the module computes it, so that a write replaces only what was read (see its _expected option).
                    content_sha256=hashlib.sha256(content).hexdigest())
    return observed


def ls_attributes(lines: t.Sequence[str]) -> t.Optional[t.Dict[str, t.Any]]:
    """Mode, uid, gid, owner and group of a regular file from its ``ls -ldn`` and ``ls -ld`` lines; None when not that."""
    if len(lines) < 2:
        return None
    numbers, names = lines[0].split(), lines[1].split()
    if len(numbers) < 4 or len(names) < 4 or not numbers[2].isdigit() or not numbers[3].isdigit():
        return None
    mode = mode_of(numbers[0])
    if mode is None:
        return None
    return {"mode": "%04o" % mode, "uid": int(numbers[2]), "gid": int(numbers[3]), "owner": names[2], "group": names[3]}


def attributes_differ(observed: t.Mapping[str, t.Any], owner: t.Optional[str], group: t.Optional[str], mode: t.Any) -> bool:
    """Whether owner, group or mode of the deployed file differ from those asked for (each by name or number)."""
    if not observed.get("exists"):
        return True
    if owner is not None and str(owner) not in (observed["owner"], str(observed["uid"])):
        return True
    if group is not None and str(group) not in (observed["group"], str(observed["gid"])):
        return True
    wanted = mode if isinstance(mode, int) else int(str(mode), 8)
    return wanted != int(observed["mode"], 8)


class TokenAuth:
    """Authenticate one request with a deployed token, the way the host's service does."""

    def __init__(self, token: str, application_id: str) -> None:
        self._token = token
        self._application_id = application_id

    def headers(self) -> t.Dict[str, str]:
        """Headers for one request."""
        return {"Authorization": "Bearer " + self._token, "X-Application-ID": self._application_id}


def verify_token(token: str, application_id: str, get: t.Callable[[str], t.Any]) -> None:
    """One request, ``GET /v3/applications/<id>`` with the token; raise IzumaError saying why when the API refuses it.

    ``get`` reads the connection options (api_host, validate_certs, ca_path, timeout). An application may always read
    its own application object, so this needs no policy. The client retries what it always retries (429, 5xx,
    connection errors), never a refusal; the token is never quoted.
    """
    config = ClientConfig(**{name: get(name) for name in ("api_host", "validate_certs", "ca_path", "timeout")
                             if get(name) is not None and get(name) != ""})
    client = IzumaClient(config)
    client.auth = TokenAuth(token, application_id)
    try:
        client.get("/v3/applications/" + application_id)
    except IzumaApiError as exc:
        raise IzumaError("the API refused the token (HTTP %s %s): %s" % (exc.status, exc.type or "", exc.message)) from None
