# shellcheck shell=bash
# Sourced by a target's runme.sh: start the local Izuma API emulator for this target, export the
# connection variables the collection reads, and stop the emulator when the script exits.
# Extra arguments go to the emulator (for example --tls).

COLLECTION_ROOT="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/izuma/device_management"
EMULATOR_READY="${OUTPUT_DIR}/emulator-$$.json"
rm -f "${EMULATOR_READY}"
PYTHONPATH="${COLLECTION_ROOT}/tests/emulator" "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" -m izuma_emulator \
    --port 0 --ready-file "${EMULATOR_READY}" "$@" > "${OUTPUT_DIR}/emulator-$$.log" 2>&1 &
EMULATOR_PID=$!
trap 'kill "${EMULATOR_PID}" 2>/dev/null || true; wait "${EMULATOR_PID}" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    [ -s "${EMULATOR_READY}" ] && break
    if ! kill -0 "${EMULATOR_PID}" 2>/dev/null; then
        cat "${OUTPUT_DIR}/emulator-$$.log" >&2
        echo "The Izuma emulator did not start." >&2
        exit 1
    fi
    sleep 0.1
done

_emulator_field() {
    "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(v or "")' \
        "${EMULATOR_READY}" "$1"
}
IZUMA_API_HOST=$(_emulator_field url)
IZUMA_API_KEY=$(_emulator_field admin_key)
export IZUMA_API_HOST IZUMA_API_KEY
if [ -n "$(_emulator_field ca_bundle)" ]; then
    IZUMA_CA_BUNDLE=$(_emulator_field ca_bundle)
    export IZUMA_CA_BUNDLE
fi
export ANSIBLE_COLLECTIONS_PATH
