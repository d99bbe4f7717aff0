#!/usr/bin/env bash
# Prints every file under DIR with its mode, modification time and SHA-256, sorted: the same output before and after a
# task means the task left the files exactly as they were.
set -euo pipefail
cd "${1:?directory}"
find . -type f -printf '%p %m %T@\n' | sort
find . -type f -exec sha256sum {} + | sort -k 2
