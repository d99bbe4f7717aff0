#!/usr/bin/env bash
# Kill an access-key creation and rotation at each of their API requests (SIGKILL, whole process tree), then show
# that running them again converges with every ACTIVE access key's secret on disk.
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
"${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}" crash.py "${INVENTORY_PATH}" "${OUTPUT_DIR}"
