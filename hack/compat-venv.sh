#!/usr/bin/env bash
# One virtual environment of make compat-test: an ansible-core release with the collection's runtime libraries
# (requirements.txt: cryptography, PyJWT, requests) at one end of their declared range.
#
# Usage: hack/compat-venv.sh DIR PYTHON ANSIBLE_CORE_VERSION lowest|newest
#   lowest  the floors requirements.txt declares, exactly (each ">=" read as "==")
#   newest  whatever the package index serves now: pip install --upgrade, no pins, dependencies upgraded too; a
#           cached environment is upgraded on every run, so a new release is tested the day it appears
#
# The environment is kept (DIR/.key) while its key holds: the ansible-core version, the Python, the end and the
# contents of requirements.txt. A change of any of them makes it again. Builds use pip's cache.
set -euo pipefail
dir=${1:?directory of the virtual environment}
python=${2:?python to make it with}
core=${3:?ansible-core version}
deps=${4:?lowest or newest}
root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/requirements.txt"

case "$deps" in
    lowest | newest) ;;
    *) echo "hack/compat-venv.sh: the end of the range is 'lowest' or 'newest', not '$deps'" >&2; exit 2 ;;
esac
test -x "$python" || { echo "hack/compat-venv.sh: no Python at '$python'" >&2; exit 1; }

key="ansible-core==$core $("$python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])') $deps $(sha256sum "$requirements" | cut -c1-16)"
# The runtime libraries as pip requirements: the declared names and floors, or the floors as exact pins.
libraries=$(grep -v -e '^#' -e '^[[:space:]]*$' "$requirements")
if [ "$deps" = lowest ]; then
    libraries=${libraries//>=/==}
fi

if [ -f "$dir/.key" ] && [ "$(cat "$dir/.key")" = "$key" ]; then
    if [ "$deps" = newest ]; then
        # shellcheck disable=SC2086  # one requirement a word
        "$dir/bin/pip" install --quiet --upgrade --upgrade-strategy eager $libraries
    fi
else
    rm -rf "$dir"
    "$python" -m venv "$dir"
    # shellcheck disable=SC2086
    "$dir/bin/pip" install --quiet "ansible-core==$core" $libraries
    echo "$key" >"$dir/.key"
fi
"$dir/bin/python" - <<'PY'
from importlib.metadata import version
import sys
print("%s: Python %d.%d, ansible-core %s, cryptography %s, PyJWT %s, requests %s" % (
    sys.prefix, *sys.version_info[:2], version("ansible-core"), version("cryptography"), version("PyJWT"), version("requests")))
PY
