#!/usr/bin/env bash
# izuma_verification_key and izuma_verification_key_info against the local emulator: every path in check mode, for
# real, then converged (check mode and real, no write); refusals; openssl cross-checks of the generated material.
set -eux
# shellcheck source=../setup_emulator/emulator.sh
source ../setup_emulator/emulator.sh
ansible-playbook -i "${INVENTORY_PATH}" playbook.yml "$@"
