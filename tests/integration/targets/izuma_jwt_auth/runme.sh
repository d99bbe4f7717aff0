#!/usr/bin/env bash
# JWT authentication for the collection's own API calls (auth_application_id with a private key), against the
# emulator: accepted while the verification key is ACTIVE, refused once it is INACTIVE; no secret in the -vvvv output.
set -eux -o pipefail
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh

PY="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
WORK="${OUTPUT_DIR}/izuma_jwt_auth"
rm -rf "${WORK}"
mkdir -p "${WORK}"
# The modules read IZUMA_API_KEY as a fallback (a task's JWT authentication wins over it, with a warning): keep the
# administrator key under another name so that the JWT tasks authenticate with a JWT and nothing is set aside.
export JWT_TEST_ADMIN_KEY="${IZUMA_API_KEY}" JWT_KEYS_DIR="${WORK}/keys"
unset IZUMA_API_KEY
ADMIN_PASSPHRASE="admin-$("${PY}" -c 'import secrets; print(secrets.token_hex(12))')"
export ADMIN_PASSPHRASE
"${PY}" ../izuma_jwt/make_keys.py "${JWT_KEYS_DIR}" admin:p256:ADMIN_PASSPHRASE developer:rsa
# The same administrator key, unencrypted, for the auth_private_key_content task.
"${PY}" - "${JWT_KEYS_DIR}" <<'PYTHON'
import os
import sys

from cryptography.hazmat.primitives import serialization

directory = sys.argv[1]
with open(os.path.join(directory, "admin.key"), "rb") as handle:
    key = serialization.load_pem_private_key(handle.read(), os.environ["ADMIN_PASSPHRASE"].encode())
fd = os.open(os.path.join(directory, "admin-plain.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "wb") as handle:
    handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PYTHON
(umask 077 && printf 'admin_passphrase: "%s"\n' "${ADMIN_PASSPHRASE}" > "${WORK}/secrets.yml")

ansible-playbook -vvvv -i "${INVENTORY_PATH}" -e "@${WORK}/secrets.yml" jwt_auth.yml "$@" 2>&1 | tee "${WORK}/output.log"
grep -q "ESTABLISH LOCAL CONNECTION" "${WORK}/output.log"
"${PY}" ../izuma_jwt/find_secrets.py "${WORK}/output.log" --keys "${JWT_KEYS_DIR}"/*.key --public "${JWT_KEYS_DIR}"/*.crt --passphrases ADMIN_PASSPHRASE JWT_TEST_ADMIN_KEY
