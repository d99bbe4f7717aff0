#!/usr/bin/env bash
# izuma_jwt, the izuma_jwt lookup and the JWT filters against the local emulator:
#  1. every algorithm end to end (module and lookup tokens accepted by the emulator and by an independent verifier);
#  2. every refusal, with its message, writing nothing;
#  3. the lookup's option sources and caches;
#  4. a fleet of ten hosts that converges (changed=false, no file rewritten: inode and mtime checked), and re-issues every
#     token after a key rotation (a new key at the same path), in check mode (writing nothing) and for real;
#  5. no token, private key, passphrase or access key in the output of any of those runs, all made at -vvvv, with
#     check mode, diff mode and failures among them.
set -eux -o pipefail
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh

PY="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
WORK="${OUTPUT_DIR}/izuma_jwt"
rm -rf "${WORK}"
mkdir -p "${WORK}/fleet" "${WORK}/old"
export JWT_WORK_DIR="${WORK}" JWT_KEYS_DIR="${WORK}/keys" JWT_TEST_ADMIN_KEY="${IZUMA_API_KEY}"
FLEET_PASSPHRASE="fleet-$("${PY}" -c 'import secrets; print(secrets.token_hex(12))')"
WRONG_PASSPHRASE="wrong-$("${PY}" -c 'import secrets; print(secrets.token_hex(12))')"
export FLEET_PASSPHRASE WRONG_PASSPHRASE
"${PY}" make_keys.py "${JWT_KEYS_DIR}" rsa:rsa p256:p256 p384:p384 p521:p521 weak:rsa1024 fleet:rsa:FLEET_PASSPHRASE

# Passphrases reach Ansible in a vars file, never on a command line.
(umask 077 && printf 'fleet_passphrase: "%s"\nwrong_passphrase: "%s"\n' "${FLEET_PASSPHRASE}" "${WRONG_PASSPHRASE}" > "${WORK}/secrets.yml")
{
    echo "[fleet]"
    for i in $(seq -w 1 10); do echo "host${i}"; done
    echo "[fleet:vars]"
    echo "ansible_connection=local"
    echo "ansible_python_interpreter=${PY}"
} > "${WORK}/fleet.ini"

LOG="${WORK}/all-output.log"
# Every run: -vvvv, output kept whole for the secret search at the end.
run() {
    ansible-playbook -vvvv -e "@${WORK}/secrets.yml" "$@" 2>&1 | tee -a "${LOG}"
}

# 1, 2
run -i "${INVENTORY_PATH}" algorithms.yml "$@"
run -i "${INVENTORY_PATH}" refusals.yml "$@"

# 3: options from ansible.cfg and the environment; count the lookup's own -vvv lines in the loop.
printf '[izuma_jwt]\nprivate_key_path = %s\nalgorithm = ES384\nlifetime = 777\n' "${JWT_KEYS_DIR}/p384.key" > "${WORK}/ansible.cfg"
ANSIBLE_CONFIG="${WORK}/ansible.cfg" IZUMA_JWT_ISSUER=from-environment IZUMA_JWT_AUDIENCE=aud-1,aud-2 \
    run -i "${INVENTORY_PATH}" lookup_sources.yml "$@" > "${WORK}/lookup.log"
signed=$(grep -c "izuma_jwt: signed a new token (ES384" "${WORK}/lookup.log" || true)
reused=$(grep -c "izuma_jwt: reused a cached token (ES384" "${WORK}/lookup.log" || true)
echo "lookup lines: ${signed} signed, ${reused} reused"
[ "${reused}" -ge 49 ]
[ "${signed}" -le 6 ]

# 4: the fleet.
tokens=("${WORK}"/fleet/host{01..10}.jwt)
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=true -e expect_reason="there is no token yet" "$@"
"${PY}" files_state.py save "${WORK}/state.json" "${tokens[@]}"
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=false "$@"
"${PY}" files_state.py same "${WORK}/state.json"
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=false --check --diff "$@"
"${PY}" files_state.py same "${WORK}/state.json"

# Key rotation: a new key at the same path. Keep the old tokens and key for the secret search.
cp "${tokens[@]}" "${JWT_KEYS_DIR}/fleet.key" "${JWT_KEYS_DIR}/fleet.crt" "${WORK}/old/"
"${PY}" make_keys.py "${JWT_KEYS_DIR}" fleet:rsa:FLEET_PASSPHRASE
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=true -e expect_reason="not signed by the current key" --check --diff "$@"
"${PY}" files_state.py same "${WORK}/state.json"
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=true -e expect_reason="not signed by the current key" --diff "$@"
"${PY}" files_state.py all-new "${WORK}/state.json"
for token in "${tokens[@]}"; do
    "${PY}" verify_jwt.py "${JWT_KEYS_DIR}/fleet.crt" RS256 "${token}" > /dev/null
done
"${PY}" files_state.py save "${WORK}/state.json" "${tokens[@]}"
run -i "${WORK}/fleet.ini" fleet.yml -e expect_changed=false "$@"
"${PY}" files_state.py same "${WORK}/state.json"

# 5: the whole output, searched for every secret. First make sure that the search finds a leak when there is one,
# and that the output is the verbose output it should be.
(cat "${LOG}" "${tokens[0]}" > "${WORK}/leak.log")
if "${PY}" find_secrets.py "${WORK}/leak.log" --tokens "${tokens[0]}" > /dev/null; then exit 1; fi
(cat "${LOG}" "${JWT_KEYS_DIR}/p384.key" > "${WORK}/leak.log")
if "${PY}" find_secrets.py "${WORK}/leak.log" --keys "${JWT_KEYS_DIR}/p384.key" --public "${JWT_KEYS_DIR}/p384.crt" > /dev/null; then exit 1; fi
rm -f "${WORK}/leak.log"
grep -q "ESTABLISH LOCAL CONNECTION" "${LOG}"
grep -q "signing_key_fingerprint" "${LOG}"
grep -q "could not be decrypted" "${LOG}"
"${PY}" find_secrets.py "${LOG}" \
    --tokens "${WORK}"/*.jwt "${WORK}"/fleet/*.jwt "${WORK}"/old/*.jwt \
    --keys "${JWT_KEYS_DIR}"/*.key "${WORK}/old/fleet.key" --public "${JWT_KEYS_DIR}"/*.crt "${WORK}"/*.crt "${WORK}"/old/*.crt \
    --passphrases FLEET_PASSPHRASE WRONG_PASSPHRASE JWT_TEST_ADMIN_KEY
