#!/usr/bin/env bash
# make hsm-demo: a JWT verification key that never leaves a PKCS#11 token, end to end, against the local Izuma API
# emulator (playbooks/hsm.yml): the key generated in the token, tokens signed by the token (izuma_jwt module and
# lookup) and accepted by the API, a call with the API client's JWT authentication signed by the token key, a
# rotation with the previous key retired, and a last run that must change nothing. Then it checks that no file under
# build/hsm-demo holds a private key.
#
# The token: by default a SoftHSM2 token of the demo's own under build/hsm-demo (SoftHSM2 installed where missing).
# With IZUMA_PKCS11_LIBRARY set, the token that library has instead: IZUMA_PKCS11_TOKEN (its label or a pkcs11: URI;
# unset when the library has one token) and IZUMA_PKCS11_PIN (its user PIN) name it; the demo then makes, rotates
# and destroys key pairs labelled izuma:hsm-telemetry-signing:* in it, and nothing else. Without
# IZUMA_PKCS11_LIBRARY, IZUMA_PKCS11_TOKEN and IZUMA_PKCS11_PIN are the label and user PIN of the SoftHSM2 token the
# demo makes (izuma-demo and demo-user-pin by default).
# Arguments are passed to every ansible-playbook run, e.g. hack/hsm-demo.sh -e hsm_key_type=RSA.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/build/hsm-demo"
rm -rf "$work"
mkdir -p "$work/collections" "$work/softhsm/tokens"

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

if [ -n "${IZUMA_PKCS11_LIBRARY:-}" ]; then
    say "The PKCS#11 token of IZUMA_PKCS11_LIBRARY"
    if [ ! -f "$IZUMA_PKCS11_LIBRARY" ]; then
        echo "hsm-demo: IZUMA_PKCS11_LIBRARY is $IZUMA_PKCS11_LIBRARY, which is not a file: give the path of the" \
            "token's PKCS#11 module (.so), or unset it for a SoftHSM2 token of the demo's own." >&2
        exit 2
    fi
    if [ -z "${IZUMA_PKCS11_PIN:-}" ]; then
        echo "hsm-demo: IZUMA_PKCS11_LIBRARY is set, so the demo uses that library's token: set IZUMA_PKCS11_PIN to its" \
            "user PIN (and IZUMA_PKCS11_TOKEN to its label, unless the library has one token)." >&2
        exit 2
    fi
    export IZUMA_PKCS11_LIBRARY IZUMA_PKCS11_PIN
    [ -z "${IZUMA_PKCS11_TOKEN:-}" ] || export IZUMA_PKCS11_TOKEN
    note "token '${IZUMA_PKCS11_TOKEN:-the only one}' through $IZUMA_PKCS11_LIBRARY; the demo's key pairs are labelled izuma:hsm-telemetry-signing:*"
else
    say "SoftHSM2 (installed where missing) and a token of the demo's own"
    IZUMA_PKCS11_LIBRARY=$(hack/install-softhsm.sh)
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
        "$work/softhsm/tokens" > "$work/softhsm/softhsm2.conf"
    export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf"
    # A demo PIN: a real one comes from a vault or an AWX credential, never from a script.
    export IZUMA_PKCS11_LIBRARY IZUMA_PKCS11_TOKEN="${IZUMA_PKCS11_TOKEN:-izuma-demo}" IZUMA_PKCS11_PIN="${IZUMA_PKCS11_PIN:-demo-user-pin}"
    softhsm2-util --init-token --free --label "$IZUMA_PKCS11_TOKEN" --so-pin demo-so-pin --pin "$IZUMA_PKCS11_PIN" >/dev/null
    note "token '$IZUMA_PKCS11_TOKEN' through $IZUMA_PKCS11_LIBRARY (SOFTHSM2_CONF=build/hsm-demo/softhsm/softhsm2.conf)"
fi

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
extra=("$@")

run_hsm() {
    local name=$1
    shift
    if ! ansible-playbook -i localhost, -e "ansible_python_interpreter=$(command -v python)" playbooks/hsm.yml \
        ${extra[@]+"${extra[@]}"} "$@" > "$work/run-$name.log"; then
        tail -n 40 "$work/run-$name.log" >&2
        echo "Run $name failed: build/hsm-demo/run-$name.log has the whole output." >&2
        exit 1
    fi
    grep -A2 'Say what the token holds' "$work/run-$name.log" | sed -n 's/^ *"msg": "\(.*\)"$/    \1/p'
}
changes() { grep -Eo 'changed=[0-9]+' "$work/run-$1.log" | awk -F= '{sum += $2} END {print sum + 0}'; }

say "Run 1: the application, the key generated inside the token, tokens from the module and the lookup, API calls"
note "(one of them by a module authenticated with a JWT the token signs, no access key)"
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
if grep -q 'IZUMA_API_KEY is set in the environment but not used' "$work"/run-*.log; then
    echo "An access key reached the task that authenticates with the token key's JWT: that is a bug." >&2
    exit 1
fi
echo "- The token signed the certificates and every JWT, the client's own included; no file under build/hsm-demo holds a private key."
echo "- Run 3 changed nothing (changed=0). Logs: build/hsm-demo/run-*.log. Next: docs/hsm.md."
