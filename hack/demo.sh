#!/usr/bin/env bash
# make demo: build and install the collection, start the local Izuma API emulator, run the main
# job twice (the second run must change nothing), stop the emulator, and say what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/build/demo"
rm -rf "$work"
mkdir -p "$work/collections"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Building the collection and installing it into build/demo/collections"
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
# The demo runs on the implicit localhost; these two notes about it would only distract.
export ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
ansible-galaxy collection install --force -p "$work/collections" "$work"/izuma-device_management-*.tar.gz >/dev/null

say "Starting the local Izuma Device Management API emulator"
PYTHONPATH="$root/tests/emulator" python -m izuma_emulator --port 0 --ready-file "$work/emulator.json" \
    > "$work/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$work/emulator.json" ] && break; sleep 0.1; done
[ -s "$work/emulator.json" ] || { cat "$work/emulator.log"; echo "The emulator did not start." >&2; exit 1; }
field() { python -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]] or "")' "$work/emulator.json" "$1"; }
IZUMA_API_HOST=$(field url)
IZUMA_API_KEY=$(field admin_key)
export IZUMA_API_HOST IZUMA_API_KEY
echo "Emulator at $IZUMA_API_HOST (an administrator access key was generated for this run)."

run_demo() {
    IZUMA_DEMO_DIR="$work" ansible-playbook playbooks/demo.yml | tee "$work/run-$1.log"
}

say "First run: the application does not exist yet, so it is created"
run_demo 1
say "Second run: everything is already as asked, so nothing may change"
run_demo 2

changed_first=$(grep -Eo 'changed=[0-9]+' "$work/run-1.log" | tail -n 1)
changed_second=$(grep -Eo 'changed=[0-9]+' "$work/run-2.log" | tail -n 1)
writes=$(python - "$IZUMA_API_HOST" <<'PY'
import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/log"))
print(sum(1 for entry in log if entry["method"] != "GET"), len(log))
PY
)

say "What happened"
echo "- First run:  $changed_first (the application and its verification key were created; the private key stayed in build/demo/keys)."
echo "- Second run: $changed_second (idempotent: the run found everything as asked)."
echo "- The emulator received $(cut -d' ' -f2 <<<"$writes") API requests, of which $(cut -d' ' -f1 <<<"$writes") wrote anything."
if [ "$changed_second" != "changed=0" ]; then
    echo "The second run changed something: that is a bug." >&2
    exit 1
fi
echo "Demo finished; the emulator is stopped. Next: read README.md and docs/."
