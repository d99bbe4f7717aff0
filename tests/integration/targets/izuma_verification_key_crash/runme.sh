#!/usr/bin/env bash
# Kill a verification-key rotation at each of its API requests, then show that running it again converges.
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" crash.py "${INVENTORY_PATH}" "${OUTPUT_DIR}"
