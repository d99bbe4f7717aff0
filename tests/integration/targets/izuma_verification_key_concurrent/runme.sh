#!/usr/bin/env bash
# Run the same verification-key task several times at once (create, rotate, renew; RSA 4096 so that key generation
# is slow), and the same key name from two key paths at once (two controllers), then check that nothing is lost.
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" races.py "${INVENTORY_PATH}" "${OUTPUT_DIR}"
