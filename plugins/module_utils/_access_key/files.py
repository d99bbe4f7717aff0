# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to izuma.device_management: not a public API. It may change in any release, minor or patch;
# do not import it from outside this collection.
"""The local side of an access key: its secret file, the sidecar that names the key, and Ansible Vault encryption.

``<dest>`` holds the secret alone (``ak_...``, no newline) or, with a vault password, the secret encrypted in the
Ansible Vault 1.1 format, so that a service reads it as it is (``lookup('file')``, ``$(cat dest)``, ``ansible-vault
view``). ``<dest>.meta`` (JSON) names the key the secret belongs to: its id, name and application, and the SHA-256 of
``<dest>``'s bytes. The secret is written first and the sidecar second, so a run killed between the two leaves a
sidecar whose digest does not match: the file is then attributed again from the API (see ``state``).
Both are written atomically with mode 0600. ``<dest>.previous`` and ``<dest>.previous.meta`` keep the previous
generation during a rotation.

Vault: ``ansible.parsing.vault`` is controller code that AnsiballZ does not ship to the host a module runs on, so this
file implements the documented Vault 1.1 AES256 format (PBKDF2-SHA256 10,000 rounds, AES-256-CTR, HMAC-SHA256) with
``cryptography``; a unit test proves that Ansible's own ``VaultLib`` decrypts what it writes and the other way round.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ansible_collections.izuma.device_management.plugins.module_utils import _files as files
from ansible_collections.izuma.device_management.plugins.module_utils._errors import IzumaConfigError, IzumaFileError

try:
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:  # pragma: no cover - the module says which library to install
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

PREVIOUS = ".previous"
META = ".meta"
SECRET_MODE = 0o600
VAULT_HEADER = b"$ANSIBLE_VAULT;1.1;AES256"
_VAULT_ROUNDS = 10000


def previous_path(dest: str) -> str:
    """Where the previous generation's secret is kept during a rotation."""
    return dest + PREVIOUS


def meta_path(path: str) -> str:
    """The sidecar of a secret file."""
    return path + META


def digest(data: bytes) -> str:
    """SHA-256 of a secret file's bytes, hex (a digest of 256 random bits tells nothing about them)."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class SecretFile:
    """A secret file as observed: its bytes (never shown), and the key its sidecar names if the digest matches."""

    path: str
    data: Optional[bytes] = None
    key_id: Optional[str] = None
    # The sidecar is missing or names another content: the file's key is found from the API instead.
    stale_meta: bool = False

    @property
    def exists(self) -> bool:
        """True when the secret file is there."""
        return self.data is not None

    def state(self) -> Optional[Dict[str, Any]]:
        """What a diff shows of the file: its path and key id, never its content."""
        return {"path": self.path, "access_key_id": self.key_id} if self.exists else None


def read_secret_file(path: str) -> SecretFile:
    """The secret file at ``path`` and its sidecar (missing files are not an error)."""
    if not os.path.lexists(path):
        return SecretFile(path)
    data = files.read_file(path, what="access key secret")
    meta = _read_meta(meta_path(path))
    if meta.get("sha256") == digest(data) and isinstance(meta.get("id"), str):
        return SecretFile(path, data, meta["id"])
    return SecretFile(path, data, None, stale_meta=True)


def _read_meta(path: str) -> Dict[str, Any]:
    if not os.path.exists(path):
        return {}
    try:
        meta = json.loads(files.read_file(path, what="access key metadata").decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def write_secret_file(path: str, data: bytes, key: Dict[str, Any]) -> None:
    """Write the secret (first: it may be the only copy) and then its sidecar, both atomically with mode 0600."""
    files.atomic_write(path, data, mode=SECRET_MODE)
    write_meta(path, data, key)


def write_meta(path: str, data: bytes, key: Dict[str, Any]) -> None:
    """Write the sidecar that says which key the secret file at ``path`` belongs to."""
    meta = {"id": key.get("id"), "name": key.get("name"), "application_id": key.get("application_id"), "sha256": digest(data)}
    files.atomic_write(meta_path(path), (json.dumps(meta, sort_keys=True) + "\n").encode("utf-8"), mode=SECRET_MODE)


def remove_secret_file(path: str) -> bool:
    """Remove a secret file and its sidecar; True when the secret file was there."""
    removed = files.remove_file(path)
    files.remove_file(meta_path(path))
    return removed


def encode_secret(secret: str, vault_password: Optional[str]) -> bytes:
    """The bytes written for a secret: the secret itself, or its Ansible Vault encryption."""
    plain = secret.encode("utf-8")
    return vault_encrypt(plain, vault_password) if vault_password else plain


def decode_secret(data: bytes, vault_password: Optional[str], path: str) -> str:
    """The secret held by a secret file's bytes (decrypted with the vault password when it is encrypted)."""
    if data.startswith(b"$ANSIBLE_VAULT;"):
        if not vault_password:
            raise IzumaConfigError("%s is encrypted with Ansible Vault: give vault_password to read it." % path)
        data = vault_decrypt(data, vault_password, path)
    return data.decode("utf-8").strip()


def _derive(password: str, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=_VAULT_ROUNDS)
    return kdf.derive(password.encode("utf-8"))


def vault_encrypt(plaintext: bytes, password: str) -> bytes:
    """Ansible Vault 1.1 (AES256) encryption of ``plaintext``, as ``ansible-vault encrypt`` writes it."""
    if not HAS_CRYPTOGRAPHY:
        raise IzumaConfigError("vault_password needs the Python library cryptography on the host the task runs on.")
    salt = os.urandom(32)
    derived = _derive(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(derived[64:80])).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    mac = hmac.new(derived[32:64], ciphertext, hashlib.sha256).hexdigest().encode("ascii")
    body = binascii.hexlify(b"\n".join([binascii.hexlify(salt), mac, binascii.hexlify(ciphertext)]))
    lines = [VAULT_HEADER] + [body[index:index + 80] for index in range(0, len(body), 80)] + [b""]
    return b"\n".join(lines)


def vault_decrypt(vaulttext: bytes, password: str, path: str = "the file") -> bytes:
    """Decrypt Ansible Vault 1.1/1.2 AES256 text; a wrong password or damaged file names ``path``."""
    lines = vaulttext.strip().splitlines()
    if not lines or not lines[0].startswith(b"$ANSIBLE_VAULT;1.") or not lines[0].split(b";")[2:3] == [b"AES256"]:
        raise IzumaFileError("%s is not Ansible Vault 1.1 AES256 text." % path, path=path)
    try:
        salt_hex, mac, ciphertext_hex = binascii.unhexlify(b"".join(lines[1:])).split(b"\n", 2)
        salt, ciphertext = binascii.unhexlify(salt_hex), binascii.unhexlify(ciphertext_hex)
    except (ValueError, binascii.Error):
        raise IzumaFileError("%s is damaged: it is not valid Ansible Vault text." % path, path=path) from None
    derived = _derive(password, salt)
    if not hmac.compare_digest(hmac.new(derived[32:64], ciphertext, hashlib.sha256).hexdigest().encode("ascii"), mac):
        raise IzumaConfigError("vault_password does not decrypt %s: give the password it was encrypted with." % path)
    decryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(derived[64:80])).decryptor()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
