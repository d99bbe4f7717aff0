# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Search captured ansible-playbook output for access-key secrets.

Usage: python find_secrets.py OUTPUT_FILE SEEN_DIR

Fails (exit 1) when the output holds anything shaped like a full access key (``ak_``, the public part, then the
64-hex secret: at least 96 hex characters at its end), the content (or the last 32 characters) of any file in
SEEN_DIR (every secret the test saw written), the vault password ($AK_VAULT_PASSWORD) or the administrator key
($IZUMA_API_KEY). Prints line numbers, never the secret.
"""

from __future__ import annotations

import os
import re
import sys


def main() -> int:
    """Scan one output file."""
    with open(sys.argv[1], encoding="utf-8", errors="replace") as handle:
        output = handle.read()
    needles = {}
    for name in sorted(os.listdir(sys.argv[2])):
        with open(os.path.join(sys.argv[2], name), encoding="utf-8", errors="replace") as handle:
            secret = handle.read().strip()
        if secret:
            needles["the secret in %s" % name] = secret
            needles["the end of the secret in %s" % name] = secret[-32:]
    for variable in ("AK_VAULT_PASSWORD", "IZUMA_API_KEY"):
        needles["$" + variable] = os.environ[variable]

    def where(needle: str) -> str:
        lines = sorted({output.count("\n", 0, match.start()) + 1 for match in re.finditer(re.escape(needle), output)})
        return "line(s) %s" % ", ".join(str(line) for line in lines[:5])

    found = []
    match = re.search(r"ak_[A-Za-z0-9+/=]*[0-9a-f]{96}", output)
    if match:
        found.append("something shaped like a full access key at %s" % where(match.group(0)))
    found.extend("%s at %s" % (label, where(needle)) for label, needle in needles.items() if needle in output)
    if found:
        print("SECRETS FOUND in %s (%d characters): %s" % (sys.argv[1], len(output), "; ".join(found)))
        return 1
    print("no secret in %s (%d characters; %d secrets checked)" % (sys.argv[1], len(output), len(needles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
