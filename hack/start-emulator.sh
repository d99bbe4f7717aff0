# shellcheck shell=bash
# Sourced by hack/demo.sh and hack/hsm-demo.sh: start_emulator DIR starts the local Izuma API emulator in the
# background on a free port, stops it when the script exits, and exports IZUMA_API_HOST and IZUMA_API_KEY (a fresh
# administrator key). Its log is DIR/emulator.log. Needs python with the emulator's needs on PATH.
start_emulator() {
    local dir=$1 repo
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    PYTHONPATH="$repo/tests/emulator" python -m izuma_emulator --port 0 --ready-file "$dir/emulator.json" \
        > "$dir/emulator.log" 2>&1 &
    emulator_pid=$!
    trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do [ -s "$dir/emulator.json" ] && break; sleep 0.1; done
    [ -s "$dir/emulator.json" ] || { cat "$dir/emulator.log"; echo "The emulator did not start." >&2; exit 1; }
    IZUMA_API_HOST=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$dir/emulator.json")
    IZUMA_API_KEY=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin_key"])' "$dir/emulator.json")
    export IZUMA_API_HOST IZUMA_API_KEY
}
