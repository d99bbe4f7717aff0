#!/usr/bin/env bash
# make hsm-demo: a JWT verification key that never leaves a PKCS#11 token, end to end, against SoftHSM2 and the local
# Izuma API emulator (playbooks/hsm.yml): the key generated in a token of its own under build/hsm-demo, tokens signed
# by the token (izuma_jwt module and lookup) and accepted by the API, a rotation with the previous key retired, and a
# last run that must change nothing. Then it checks that no file under build/hsm-demo holds a private key.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/build/hsm-demo"
rm -rf "$work"
mkdir -p "$work/collections" "$work/softhsm/tokens"

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

say "SoftHSM2 (installed where missing) and a token of the demo's own"
IZUMA_PKCS11_LIBRARY=$(hack/install-softhsm.sh)
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$work/softhsm/tokens" > "$work/softhsm/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf"
# A demo PIN: a real one comes from a vault or an AWX credential, never from a script.
export IZUMA_PKCS11_LIBRARY IZUMA_PKCS11_TOKEN=izuma-demo IZUMA_PKCS11_PIN=demo-user-pin
softhsm2-util --init-token --free --label "$IZUMA_PKCS11_TOKEN" --so-pin demo-so-pin --pin "$IZUMA_PKCS11_PIN" >/dev/null
note "token '$IZUMA_PKCS11_TOKEN' through $IZUMA_PKCS11_LIBRARY (SOFTHSM2_CONF=build/hsm-demo/softhsm/softhsm2.conf)"

say "Building the collection and installing it into build/hsm-demo/collections"
export ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_DEPRECATION_WARNINGS=false
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
ansible-galaxy collection install --force -p "$work/collections" "$work"/izuma-device_management-*.tar.gz >/dev/null

say "Starting the local Izuma Device Management API emulator"
# shellcheck source=hack/start-emulator.sh
source "$root/hack/start-emulator.sh"
start_emulator "$work"
export IZUMA_HSM_DIR="$work/hsm"

run_hsm() {
    local name=$1
    shift
    ansible-playbook -i localhost, -e "ansible_python_interpreter=$(command -v python)" playbooks/hsm.yml "$@" > "$work/run-$name.log"
    grep -A2 'Say what the token holds' "$work/run-$name.log" | sed -n 's/^ *"msg": "\(.*\)"$/    \1/p'
}
changes() { grep -Eo 'changed=[0-9]+' "$work/run-$1.log" | awk -F= '{sum += $2} END {print sum + 0}'; }

say "Run 1: the application, the key generated inside the token, tokens from the module and the lookup, API calls"
run_hsm 1-setup
say "Run 2 (hsm_rotate=true): a new key pair in the token, new tokens and calls, the previous key retired"
run_hsm 2-rotate -e hsm_rotate=true
say "Run 3, converged: nothing may change"
run_hsm 3-converged

say "What happened"
if [ "$(changes 3-converged)" != "0" ]; then
    echo "The last run changed something: that is a bug (build/hsm-demo/run-3-converged.log)." >&2
    exit 1
fi
# The installed collection's own sources and tests mention PEM headers; everything else the runs left is scanned.
if grep -rlE --exclude-dir=collections --exclude='*.tar.gz' -e '-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----' "$work"; then
    echo "A private key was written to disk: that is a bug." >&2
    exit 1
fi
echo "- The token signed the certificates and every JWT; no file under build/hsm-demo holds a private key."
echo "- Run 3 changed nothing (changed=0). Logs: build/hsm-demo/run-*.log. Next: docs/hsm.md."
