#!/usr/bin/env bash
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
ansible-playbook -i "${INVENTORY_PATH}" playbook.yml "$@"
