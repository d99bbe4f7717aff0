# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the test key pairs and self-signed certificates with cryptography alone (not with the collection's code).

Usage: python make_keys.py DIR [NAME:KIND[:PASSPHRASE_ENV] ...]

KIND is rsa (2048 bits), rsa1024 (too weak, for refusals), p256, p384 or p521. Writes DIR/NAME.key (PKCS#8 PEM, mode 0600,
encrypted with the passphrase in environment variable PASSPHRASE_ENV when one is named) and
DIR/NAME.crt (valid from a day ago for a year). An existing key is replaced by a new file
(a new inode), as a key rotation would.
"""

from __future__ import annotations

import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CURVES = {"p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1}


def make(directory: str, name: str, kind: str, passphrase: str | None) -> None:
    """Write one key and its certificate."""
    if kind.startswith("rsa"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024 if kind == "rsa1024" else 2048)
    else:
        key = ec.generate_private_key(CURVES[kind]())
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    path = os.path.join(directory, name + ".key")
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(path + ".new", path)
    with open(os.path.join(directory, name + ".crt"), "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def main() -> int:
    """Make every NAME:KIND[:PASSPHRASE_ENV] given."""
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    for spec in sys.argv[2:]:
        parts = spec.split(":")
        make(directory, parts[0], parts[1], os.environ[parts[2]] if len(parts) > 2 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
