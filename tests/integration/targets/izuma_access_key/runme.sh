#!/usr/bin/env bash
# izuma_access_key and izuma_access_key_info against the local emulator: every path in check mode, for real, then
# converged with no write request; refusals; the JWT -> access key move of playbooks/access_key_migration.yml; and a
# canary that finds no secret in the whole -vvvv output (check, diff, failures included).
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
PY="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
WORK="${OUTPUT_DIR}/access-keys"
mkdir -p "${WORK}/seen"
export AK_WORK="${WORK}"
export AK_VAULT_PASSWORD="ak-itest-Vault-7c2e19"
LOG="${WORK}/playbook.log"
ansible-playbook -vvvv --diff -i "${INVENTORY_PATH}" playbook.yml "$@" > "${LOG}" 2>&1 || { tail -n 200 "${LOG}"; exit 1; }
tail -n 40 "${LOG}"

# The example move from a JWT verification key to an access key, with no request refused on the way.
COLLECTION_ROOT="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/izuma/device_management"
MIGRATION_LOG="${WORK}/migration.log"
ansible-playbook -vvvv --diff -i "${INVENTORY_PATH}" migration_test.yml \
    -e "migration_playbook=${COLLECTION_ROOT}/playbooks/access_key_migration.yml" \
    -e "access_key_migration_switch_tasks=${PWD}/migration_switch.yml" > "${MIGRATION_LOG}" 2>&1 \
    || { tail -n 200 "${MIGRATION_LOG}"; exit 1; }
tail -n 20 "${MIGRATION_LOG}"

: The audit playbook reports the access keys that were not used for N days, and nothing with the defaults.
AUDIT=("${COLLECTION_ROOT}/playbooks/jwt_audit.yml" -i "${INVENTORY_PATH}" -e '{"jwt_rotation_applications": []}' -e jwt_fleet_hosts=testhost)
ansible-playbook "${AUDIT[@]}" > "${WORK}/audit-fine.log" 2>&1 || { tail -n 60 "${WORK}/audit-fine.log"; exit 1; }
grep -q "Every key and token is fine." "${WORK}/audit-fine.log"
if ansible-playbook "${AUDIT[@]}" -e jwt_audit_access_key_unused_days=0 > "${WORK}/audit-unused.log" 2>&1; then exit 1; fi
grep -q "ak-rotate: access key rot not used for 0 days" "${WORK}/audit-unused.log"
grep -q "4 finding(s)" "${WORK}/audit-unused.log"

cp "${WORK}/migration/service.key" "${WORK}/seen/migration-service.key"

# The canary: first show that it finds a leak when there is one, then that the real output holds none.
FIRST_SECRET=$(find "${WORK}/seen" -type f | sort | head -n 1)
(cat "${LOG}" "${FIRST_SECRET}" > "${WORK}/leak.log")
if "${PY}" find_secrets.py "${WORK}/leak.log" "${WORK}/seen" > /dev/null; then exit 1; fi
rm -f "${WORK}/leak.log"
grep -q "ESTABLISH LOCAL CONNECTION" "${LOG}"
grep -q "the output has been hidden" "${LOG}"
grep -q "replaced by a new key" "${LOG}"
"${PY}" find_secrets.py "${LOG}" "${WORK}/seen"
"${PY}" find_secrets.py "${MIGRATION_LOG}" "${WORK}/seen"
