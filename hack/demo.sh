#!/usr/bin/env bash
# make demo: build and install the collection, start the local Izuma API emulator, and tell the whole rotation
# story with the jwt_rotation role on a fleet of six local hosts across two applications: first setup, tokens used
# for a real API call, a rotation with the old and the new key overlapping, the old key retired, and a last run
# that must change nothing. Stops the emulator and says what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/build/demo"
rm -rf "$work"
mkdir -p "$work/collections"
started=$SECONDS

# Bold headings on a terminal only: a file or a pipe gets plain text (and so does NO_COLOR=1 or TERM=dumb).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
note() { printf '    %s\n' "$*"; }

say "Building the collection and installing it into build/demo/collections"
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
# The demo's hosts are all this machine; these notes about it would only distract.
export ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_FORKS=6 ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
ansible-galaxy collection install --force -p "$work/collections" "$work"/izuma-device_management-*.tar.gz >/dev/null

say "Starting the local Izuma Device Management API emulator"
# shellcheck source=hack/start-emulator.sh
source "$root/hack/start-emulator.sh"
start_emulator "$work"
echo "Emulator at $IZUMA_API_HOST (an administrator access key was generated for this run)."

# How long the previous key stays uploaded after a rotation: an hour here (a day or more in real life), at least the
# token lifetime. Run 2 keeps the old key (jwt_rotation_early_retire=false), to show the overlap; run 3, the next
# scheduled run, proves that every host holds a verified token from the new key, which retires the old key early.
grace=3600
check() { python "$root/hack/demo_check.py" "$@"; }
tokens="$work/hosts"
for host in collector-1 collector-2 collector-3 gateway-1 gateway-2 gateway-3; do mkdir -p "$tokens/$host"; done

run_demo() {
    local name=$1
    shift
    IZUMA_DEMO_DIR="$work" ansible-playbook -i playbooks/inventory/demo.ini playbooks/demo.yml -e "demo_grace_period=$grace" "$@" \
        > "$work/run-$name.log"
    # The role's own summary (the whole log is in build/demo/run-<name>.log).
    awk '/Say what happened/ {on = 1} on && /^        "/ {sub(/^ *"/, "    "); sub(/",?$/, ""); print} on && /^}/ {on = 0}' \
        "$work/run-$name.log"
}
# Changes reported by a run, summed over its hosts.
changes() { grep -Eo 'changed=[0-9]+' "$work/run-$1.log" | awk -F= '{sum += $2} END {print sum + 0}'; }

say "Run 1, first setup: two applications, a key pair each, a token for each of the six hosts"
run_demo 1-setup
note "Private keys stay on the controller: keys/demo-telemetry.key, keys/demo-gateway.key (mode 0600)"
note "Token files on the hosts: hosts/collector-1/demo-telemetry.jwt ... hosts/gateway-3/demo-gateway.jwt (mode 0600)"
note "collector-1 calls the API with its token: $(check call "$tokens/collector-1/demo-telemetry.jwt" demo-telemetry)"
note "gateway-2 calls the API with its token:   $(check call "$tokens/gateway-2/demo-gateway.jwt" demo-gateway)"
cp "$tokens/collector-1/demo-telemetry.jwt" "$work/old-collector-1.jwt"

say "Run 2, rotation (demo_rotate=true; a schedule would use rotate_after_days): new keys, new tokens everywhere"
run_demo 2-rotate -e demo_rotate=true -e jwt_rotation_early_retire=false
note "demo-telemetry keys now: $(check keys demo-telemetry)"
note "demo-gateway keys now:   $(check keys demo-gateway)"
note "Old and new key overlap, so a service still holding its old token keeps working:"
note "  collector-1's OLD token: $(check call "$work/old-collector-1.jwt" demo-telemetry)"
note "  collector-1's NEW token: $(check call "$tokens/collector-1/demo-telemetry.jwt" demo-telemetry)"
note "The reload handler ran on $(grep -c 'reloads its service' "$work/run-2-rotate.log") of 6 hosts (hooked with listen: jwt_rotation token deployed)."

say "Run 3, the next scheduled run: every host holds a verified token from the new key, so the old keys go"
run_demo 3-retire
note "demo-telemetry keys now: $(check keys demo-telemetry)"
note "demo-gateway keys now:   $(check keys demo-gateway)"
note "Every host held a token signed by the new key that the API had accepted, so retiring the old key was safe:"
note "  collector-1's OLD token: $(check call "$work/old-collector-1.jwt" demo-telemetry)"
note "  collector-1's NEW token: $(check call "$tokens/collector-1/demo-telemetry.jwt" demo-telemetry)"

say "Run 4, converged: everything is as asked, so nothing may change"
run_demo 4-converged

read -r writes requests <<<"$(check writes)"
say "What happened"
echo "- Run 1 set up 2 applications, 2 keys and 6 tokens, each checked with a real API call."
echo "- Run 2 rotated both keys, re-issued all 6 tokens, reloaded the hosts, and kept the old keys for the grace period."
echo "- Run 3 retired the old keys before the grace period, every host being verified: old tokens are now refused."
echo "- Run 4 changed nothing (changed=0 on every host): the role is idempotent."
echo "- The emulator received $requests API requests, of which $writes wrote anything. Took $((SECONDS - started))s."
if [ "$(changes 4-converged)" != "0" ]; then
    echo "The last run changed something: that is a bug." >&2
    exit 1
fi
echo "Demo finished; the emulator is stopped. Logs: build/demo/run-*.log. Next: docs/rotation.md and README.md."
