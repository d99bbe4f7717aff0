# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Search captured ansible-playbook output for secrets.

Usage: python find_secrets.py OUTPUT_FILE --tokens FILE... --keys FILE... [--public FILE...] --passphrases ENV_NAME...

Fails (exit 1) when the output holds anything that looks like a JWT, the content of
any token file, any 16-character piece of any private key's PEM body, or the value
of any named passphrase environment variable. Pieces of a key's PEM that also occur
in a --public file (a certificate: an EC private key embeds its public key) are not
secret and are skipped. Prints the line numbers, never the secret itself.
"""

from __future__ import annotations

import os
import re
import sys


def pem_pieces(path: str) -> list[str]:
    """16-character pieces of a PEM body."""
    with open(path, encoding="ascii") as handle:
        body = "".join(line.strip() for line in handle if line.strip() and not line.startswith("-----") and ":" not in line)
    return [body[index:index + 16] for index in range(0, len(body) - 16, 16)]


def main() -> int:
    """Scan one output file."""
    with open(sys.argv[1], encoding="utf-8", errors="replace") as handle:
        output = handle.read()
    groups: dict[str, list[str]] = {"--tokens": [], "--keys": [], "--public": [], "--passphrases": []}
    current = None
    for arg in sys.argv[2:]:
        if arg in groups:
            current = arg
        elif current:
            groups[current].append(arg)
    public = ""
    for path in groups["--public"]:
        with open(path, encoding="ascii") as handle:
            public += "".join(line.strip() for line in handle)
    found = []

    def where(needle: str) -> str:
        lines = sorted({output.count("\n", 0, match.start()) + 1 for match in re.finditer(re.escape(needle), output)})
        return "line(s) %s" % ", ".join(str(line) for line in lines[:5])

    match = re.search(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", output)
    if match:
        found.append("something shaped like a JWT at %s" % where(match.group(0)))
    for path in groups["--tokens"]:
        with open(path, encoding="ascii") as handle:
            token = handle.read().strip()
        for needle in (token, token.rsplit(".", 1)[-1]):
            if needle and needle in output:
                found.append("the token (or its signature) in %s at %s" % (path, where(needle)))
                break
    for path in groups["--keys"]:
        for piece in pem_pieces(path):
            if piece not in public and piece in output:
                found.append("a piece of the private key in %s at %s" % (path, where(piece)))
                break
    for name in groups["--passphrases"]:
        if os.environ[name] in output:
            found.append("the secret in $%s at %s" % (name, where(os.environ[name])))
    size = len(output)
    if found:
        print("SECRETS FOUND in %s (%d characters): %s" % (sys.argv[1], size, "; ".join(found)))
        return 1
    print("no secret in %s (%d characters; %d token files, %d keys, %d passphrases checked)"
          % (sys.argv[1], size, len(groups["--tokens"]), len(groups["--keys"]), len(groups["--passphrases"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
