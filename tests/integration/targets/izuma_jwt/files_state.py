# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record and compare the identity of token files: inode, mtime (ns), mode; never their content.

Usage:
  python files_state.py save STATE_FILE FILE...      record the files' state
  python files_state.py same STATE_FILE              every file is as recorded (not rewritten, not touched)
  python files_state.py all-new STATE_FILE           every file was replaced (new inode)
"""

from __future__ import annotations

import json
import os
import stat
import sys


def state(path: str) -> list[int]:
    """Inode, mtime in nanoseconds and permission bits of ``path``."""
    info = os.stat(path)
    return [info.st_ino, info.st_mtime_ns, stat.S_IMODE(info.st_mode)]


def main() -> int:
    """Save or compare."""
    command, state_file = sys.argv[1], sys.argv[2]
    if command == "save":
        with open(state_file, "w", encoding="utf-8") as handle:
            json.dump({path: state(path) for path in sys.argv[3:]}, handle)
        return 0
    with open(state_file, encoding="utf-8") as handle:
        saved = json.load(handle)
    problems = []
    for path, before in sorted(saved.items()):
        now = state(path)
        if now[2] != 0o600:
            problems.append("%s has mode %04o, not 0600" % (path, now[2]))
        if command == "same" and now != before:
            problems.append("%s was rewritten or touched: %s -> %s" % (path, before, now))
        if command == "all-new" and now[0] == before[0]:
            problems.append("%s was not replaced (same inode)" % path)
    print("\n".join(problems) or "%d files: %s" % (len(saved), "unchanged" if command == "same" else "all replaced"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
