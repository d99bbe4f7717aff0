#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sign one JWT with PyJWT, the way an administrator without this collection would: the benchmark's plain playbook
calls it once per host (``python sign.py KEY SUBJECT LIFETIME KID``) and deploys what it prints."""

from __future__ import annotations

import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def main() -> None:
    """Print the token."""
    path, subject, lifetime, kid = sys.argv[1:5]
    with open(path, "rb") as stream:
        key = load_pem_private_key(stream.read(), None)
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    now = int(time.time())
    print(jwt.encode({"iat": now, "exp": now + int(lifetime), "sub": subject}, key, algorithm=algorithm, headers={"kid": kid}))


if __name__ == "__main__":
    main()
