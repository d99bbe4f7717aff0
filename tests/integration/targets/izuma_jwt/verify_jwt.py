# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An independent verifier: PyJWT with an explicit algorithm list and nothing but a certificate.

Usage: python verify_jwt.py CERTIFICATE ALGORITHM [TOKEN_FILE]   (the token on stdin without TOKEN_FILE)

Prints the verified claims as JSON (never the token) and exits 0, or prints why
verification failed and exits 1. exp is required and checked.
"""

from __future__ import annotations

import json
import sys

import jwt
from cryptography import x509


def main() -> int:
    """Verify one token."""
    with open(sys.argv[1], "rb") as handle:
        public_key = x509.load_pem_x509_certificate(handle.read()).public_key()
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="ascii") as handle:
            token = handle.read().strip()
    else:
        token = sys.stdin.read().strip()
    try:
        claims = jwt.decode(token, public_key, algorithms=[sys.argv[2]], options={"require": ["exp", "iat"], "verify_aud": False})
    except jwt.PyJWTError as exc:
        print("rejected: %s" % type(exc).__name__)
        return 1
    print(json.dumps({"algorithm": jwt.get_unverified_header(token)["alg"], "claims": claims}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
