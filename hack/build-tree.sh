#!/usr/bin/env bash
# Copy the working tree to DEST/ansible_collections/izuma/device_management, the layout that
# ansible-test and ansible-galaxy need. A copy, not a symlink: ansible-test resolves the real path.
set -euo pipefail
dest=${1:?destination folder}
src=$(cd "$(dirname "$0")/.." && pwd)
tree="$dest/ansible_collections/izuma/device_management"
rm -rf "$tree"
mkdir -p "$tree"
(cd "$src" && tar --exclude=./.git --exclude=./build --exclude=./.venv --exclude=./tests/output \
    --exclude='__pycache__' --exclude=.pytest_cache -cf - .) | tar -xf - -C "$tree"
# A repository of its own: ansible-test lists files through git, and the enclosing checkout ignores build/.
git -C "$tree" init -q
echo "$tree"
